// The hypervisor: its boot-time settings, physical CPUs, domains, host interrupts, and the machinery
// every algorithm runs on. A CPU executes one root-mode thread at a time (exit handling, softirqs, the
// VM-entry path, the idle loop), modeled as a scheduler step task whose yields are the points where
// other CPUs, interrupt handlers and hardware (the IOMMU posting) may run; interrupt handlers run
// between those steps when the CPU has interrupts enabled (arch/x86/irq.c do_IRQ, the direct-vector
// handlers of hvm/vmx/vmx.c). Softirqs and event-check IPIs follow common/softirq.c.
import type { Machine } from '../hw/machine.js';
import { PhysMemory } from '../hw/memory.js';
import { ApicBus } from '../hw/x86/apic-bus.js';
import { VmxCpu, type VmxHost } from '../hw/vmx/cpu.js';
import type { Vmcs } from '../hw/vmx/vmcs.js';
import { VtdPlatform } from '../hw/iommu/vtd/vtd.js';
import type { PciTopology } from '../hw/pci/topology.js';
import type { PciFunction } from '../hw/pci/function.js';
import type { Scheduler } from '../sim/scheduler.js';
import type { TraceBus } from '../sim/trace.js';
import { XenConsole } from './console.js';
import { parseXenCmdline, type XenCmdline } from './cmdline.js';
import type { ResolvedHardware } from './hardware.js';
import { XenCpu } from './percpu.js';
import type { Domain } from './domain.js';
import type { IrqDesc } from './irq.js';
import type { IntRemap } from './passthrough/vtd/intremap.js';
import { cpuThread, vmxVmexitHandler } from './hvm/vmx/entry.js';
import { piNotificationInterrupt, piWakeupInterrupt } from './hvm/vmx/pi.js';
import { doIrq } from './irq.js';
import { LOCAL_TIMER_VECTOR } from './hvm/vpt.js';
import { TIMER_SOFTIRQ } from './softirq.js';

/** `xen-4.22`: Xen as landed (hazards H1, H2); `fixed`: with KVM's fixes (reference xen.md 4.6-4.7). */
export type XenMode = 'xen-4.22' | 'fixed';

/** Where code runs: on a CPU (null: in dom0's hypercall, off the modeled CPUs) and whether in IRQ context. */
export interface ExecCtx {
  readonly cpu: XenCpu | null;
  readonly inIrq: boolean;
}

export const DOM0_CTX: ExecCtx = Object.freeze({ cpu: null, inIrq: false });

/** irq-vectors.h */
export const EVENT_CHECK_VECTOR = 0xfc;
export const FIRST_HIPRIORITY_VECTOR = 0xf1;
export const LAST_HIPRIORITY_VECTOR = 0xf8;
export const FIRST_DYNAMIC_VECTOR = 0x20;
export const LAST_DYNAMIC_VECTOR = 0xef;
/** IO-APIC pins: irqs below are GSIs; MSI irqs and MSI pirqs are allocated above. */
export const NR_IRQS_GSI = 24;

export interface XenOptions {
  readonly machine: Machine;
  readonly hardware: ResolvedHardware;
  readonly cmdline: string;
  readonly mode: XenMode;
}

export class Xen implements VmxHost {
  readonly sched: Scheduler;
  readonly trace: TraceBus;
  readonly console: XenConsole;
  readonly mem = new PhysMemory();
  readonly bus = new ApicBus();
  readonly cpus: XenCpu[];
  readonly vtd: VtdPlatform | null;
  readonly pci: PciTopology;
  readonly cmdline: XenCmdline;
  readonly mode: XenMode;
  readonly hw: ResolvedHardware;

  // Effective settings, decided at boot (boot.ts).
  iommuEnabled = false;
  intremap = false;
  intpost = false;
  qinval = false;
  /** CPU-side posted-interrupt processing (PIN_BASED_POSTED_INTERRUPT kept). */
  cpuPi = false;
  /** Virtual-interrupt delivery in use (VID and apicv). */
  vid = false;
  /** APIC-register virtualization in use. */
  apicRegVirt = false;
  postedIntrVector = 0;
  piWakeupVector = 0;
  nextHipriorityVector = FIRST_HIPRIORITY_VECTOR;

  readonly domains = new Map<number, Domain>();
  readonly irqs: (IrqDesc | undefined)[] = [];
  intremaps: IntRemap[] = [];
  /** ASSERT()s a debug build would have hit (the model records instead of crashing). */
  readonly assertFailures: string[] = [];
  private readonly irqCtx: ExecCtx[];
  private readonly rootCtx: ExecCtx[];

  constructor(opts: XenOptions) {
    const m = opts.machine;
    this.sched = m.sched;
    this.trace = m.trace;
    this.pci = m.pci;
    this.hw = opts.hardware;
    this.mode = opts.mode;
    this.cmdline = parseXenCmdline(opts.cmdline);
    this.console = new XenConsole(this.sched, this.trace);
    this.cpus = this.hw.apicIds.map((apicId, i) => {
      const hw = new VmxCpu(i, apicId, this.hw.vmx, this.sched, this.trace);
      hw.host = this;
      this.bus.attach(hw);
      return new XenCpu(i, hw);
    });
    this.irqCtx = this.cpus.map((c) => Object.freeze({ cpu: c, inIrq: true }));
    this.rootCtx = this.cpus.map((c) => Object.freeze({ cpu: c, inIrq: false }));
    this.vtd = this.hw.dmar ? new VtdPlatform(this.hw.dmar, this.mem, this.bus, this.sched, this.trace, m.pci) : null;
    if (this.vtd) m.pci.msiRouter.target = this.vtd;
  }

  ctxOf(c: XenCpu, inIrq: boolean): ExecCtx {
    return inIrq ? this.irqCtx[c.id]! : this.rootCtx[c.id]!;
  }

  /** The NDST encoding of CPU `c`'s APIC ID (vmx.c: x2apic_enabled ? dest : MASK_INSR(dest, PI_xAPIC_NDST_MASK)). */
  ndstOf(c: XenCpu): number {
    return this.hw.x2apic ? c.apicId : (c.apicId << 8) & 0xff00;
  }

  firstOnlineCpu(except?: XenCpu): XenCpu | undefined {
    return this.cpus.find((c) => c.online && c !== except);
  }

  /** The hardware domain. */
  get dom0(): Domain {
    return this.domains.get(0)!;
  }

  /** pdev->domain */
  owner(f: PciFunction): Domain {
    for (const d of this.domains.values()) if (d.devices.has(f)) return d;
    return this.dom0;
  }

  /** The remapping driver state of the unit `f` is behind (null without interrupt remapping). */
  intremapFor(f: PciFunction): IntRemap | null {
    const u = this.vtd?.unitFor(f);
    return this.intremaps.find((ir) => ir.unit === u) ?? null;
  }

  /** Runs a multi-step operation of a hypercall to completion (other CPUs keep running meanwhile). */
  complete(steps: Generator<void, void, void>, name: string): void {
    const t = this.sched.spawn(name, steps);
    if (!this.sched.runUntil(() => t.done)) throw new Error(`${name} did not complete`);
  }

  assert(cond: boolean, what: string): void {
    if (!cond) this.assertFailures.push(what);
  }

  // ---- softirqs and IPIs ------------------------------------------------------------------------------

  /** raise_softirq() on the local CPU. */
  raiseSoftirq(c: XenCpu, nr: number): void {
    c.softirqsRaised[nr]!++;
    c.softirqPending |= 1 << nr;
  }

  /** cpu_raise_softirq(): a remote CPU gets an event-check IPI if the softirq was not already pending. */
  cpuRaiseSoftirq(target: XenCpu, nr: number, from: XenCpu | null): void {
    const m = 1 << nr;
    target.softirqsRaised[nr]!++;
    if ((target.softirqPending & m) !== 0) return;
    target.softirqPending |= m;
    if (target !== from) this.sendIpi(target, EVENT_CHECK_VECTOR);
  }

  sendIpi(target: XenCpu, vector: number): void {
    target.ipis++;
    const tr = this.trace;
    if (tr.active) tr.emit({ type: 'irq', t: this.sched.now, hop: 'ipi', at: `cpu${target.id}`, vector, detail: vector === EVENT_CHECK_VECTOR ? 'event check (softirq pending)' : vector === this.postedIntrVector ? 'posted_intr_vector' : `vector 0x${vector.toString(16)}` });
    this.bus.sendPhysical(target.apicId, vector);
  }

  // ---- the CPUs' root-mode threads ----------------------------------------------------------------------

  /** Runs `first` (if any) and then the CPU's main loop as its one root-mode thread. */
  runRoot(c: XenCpu, first: Generator<void, void, void> | null): void {
    c.thread = this.sched.spawn(c.threadName, rootThread(this, c, ++c.threadSeq, first));
  }

  /** A halted CPU with work (a softirq raised by a handler) runs its idle loop again. */
  wakeThread(c: XenCpu): void {
    if (c.thread === null && !c.hw.nonRoot && c.online && c.softirqPending !== 0) this.runRoot(c, null);
  }

  // ---- VmxHost: the IDT and the VM-exit entry point ------------------------------------------------------

  hostInterrupt(hw: VmxCpu, vector: number): void {
    const c = this.cpus[hw.index]!;
    // Every handler starts with ack_APIC_irq() (MSIs: ack_maskable_msi_irq).
    hw.ackApicIrq();
    if (vector === EVENT_CHECK_VECTOR) {
      // event_check_interrupt: ack; the pending softirq is processed on the way out.
    } else if (vector === LOCAL_TIMER_VECTOR) {
      // apic_timer_interrupt -> raise_softirq(TIMER_SOFTIRQ)
      this.raiseSoftirq(c, TIMER_SOFTIRQ);
    } else if (vector === this.postedIntrVector && vector !== 0) {
      piNotificationInterrupt(this, c);
    } else if (vector === this.piWakeupVector && vector !== 0) {
      piWakeupInterrupt(this, c);
    } else {
      const irq = c.vectorIrq[vector]!;
      if (irq >= 0) doIrq(this, c, irq, vector);
      else this.console.printk(`CPU${c.id}: No irq handler for vector ${vector.toString(16)} (IRQ -8)`);
    }
    this.wakeThread(c);
  }

  vmExit(hw: VmxCpu, vmcs: Vmcs, reason: number, vector: number): void {
    const c = this.cpus[hw.index]!;
    const v = c.curr;
    if (v === null || v.vmcs !== vmcs) throw new Error(`cpu${c.id}: VM exit from a VMCS that is not current`);
    this.runRoot(c, vmxVmexitHandler(this, c, v, reason, vector));
  }
}

/** A CPU's root-mode thread: `first`, then the main loop; it clears c.thread unless a newer thread replaced it. */
function* rootThread(xen: Xen, c: XenCpu, seq: number, first: Generator<void, void, void> | null): Generator<void, void, void> {
  try {
    if (first) yield* first;
    yield* cpuThread(xen, c);
  } finally {
    if (c.threadSeq === seq) c.thread = null;
  }
}
