// The mock-only control and inspection API of a Xen host (never reachable through an fd): make the
// passed-through device raise an MSI-X vector, drive the guest programs (idle/busy, cli/sti, TPR),
// scheduler events (ticks, migration, a CPU going offline), step or settle the scheduler, and read
// the state the tests and teaching scripts look at: PI descriptors, IRTEs, blocked lists, counters.
import { decodeIrte, IRTE_SIZE, type DecodedIrte } from '../hw/iommu/vtd/irte.js';
import { VM_EXIT_REASONS } from '../hw/vmx/vmcs.js';
import { APIC_IRR } from '../hw/x86/apicdef.js';
import type { MsixNic } from '../hw/devices/msix-nic.js';
import type { GuestMailbox } from '../guest/idle-loop.js';
import type { StepTask } from '../sim/scheduler.js';
import { DEFAULT_NIC_BDF } from './hardware.js';
import type { Domain, Runstate, Vcpu } from './domain.js';
import type { XenCpu } from './percpu.js';
import type { Xen } from './xen.js';
import { cpuDown, domainUnpause, tick, vcpuMigrate } from './sched/core.js';
import { assignDevice, checkAssignable, deassignDevice } from './passthrough/pci.js';
import { SOFTIRQ_NAMES } from './softirq.js';
import { fireGuestTimer } from './hvm/vpt.js';

export interface PiDescState {
  readonly pir: readonly number[];
  readonly on: boolean;
  readonly sn: boolean;
  readonly nv: number;
  readonly ndst: number;
}

export interface VcpuState {
  readonly label: string;
  readonly processor: number;
  readonly runstate: Runstate;
  readonly blocked: boolean;
  /** Executing guest code (VMX non-root) right now. */
  readonly inGuest: boolean;
  /** The CPU whose PI blocking list holds it (pi_blocking.lock), or null. */
  readonly onList: number | null;
  readonly pi: PiDescState;
  /** Vectors pending in the virtual-APIC IRR. */
  readonly virr: readonly number[];
  readonly handled: number;
  readonly exits: Readonly<Record<string, number>>;
  readonly kicks: number;
  readonly piWakeups: number;
}

/** Interrupts a guest handled (all vectors, or one). */
export function handledBy(v: Vcpu, vector?: number): number {
  if (vector !== undefined) return v.guest.handled[vector]!;
  let n = 0;
  for (const c of v.guest.handled) n += c;
  return n;
}

export class XenControl {
  constructor(readonly xen: Xen) {}

  // ---- lookups --------------------------------------------------------------------------------------------

  domain(domid: number): Domain {
    const d = this.xen.domains.get(domid);
    if (!d) throw new RangeError(`no domain ${domid}`);
    return d;
  }

  vcpu(domid: number, vcpu: number): Vcpu {
    const v = this.domain(domid).vcpus[vcpu];
    if (!v) throw new RangeError(`d${domid} has no vCPU ${vcpu}`);
    return v;
  }

  cpu(id: number): XenCpu {
    const c = this.xen.cpus[id];
    if (!c) throw new RangeError(`no CPU ${id}`);
    return c;
  }

  // ---- the device ------------------------------------------------------------------------------------------

  /** The passed-through NIC (or the function at `bdf`). */
  device(bdf = DEFAULT_NIC_BDF): MsixNic {
    const f = this.xen.pci.find(bdf);
    if (!f) throw new RangeError(`no PCI function ${bdf}`);
    return f as MsixNic;
  }

  /** The device raises MSI-X entry `entry` (as if queue `entry` had work); then a scheduling point. */
  raise(entry: number, bdf = DEFAULT_NIC_BDF): void {
    this.device(bdf).ring(entry);
    this.xen.sched.point();
  }

  // ---- guests ----------------------------------------------------------------------------------------------

  /** The guest program's mailbox (what its kernel decides to do next). */
  mailbox(domid: number, vcpu: number): GuestMailbox {
    return this.vcpu(domid, vcpu).box;
  }

  /**
   * The guest kernel decides (busy, TPR, IF while busy). A vCPU executing guest code notices at once;
   * otherwise its timer fires (the guest timer through vlapic_set_irq) so that it runs and notices.
   */
  guestDo(domid: number, vcpu: number, op: (box: GuestMailbox) => void): void {
    const v = this.vcpu(domid, vcpu);
    op(v.box);
    const c = this.xen.cpus.find((x) => x.curr === v && x.hw.nonRoot);
    if (c) c.hw.wakeGuest();
    else fireGuestTimer(this.xen, v);
    this.xen.sched.point();
  }

  /** The guest's timer fires (software vIRQ through vlapic_set_irq on its CPU). */
  guestTimer(domid: number, vcpu: number): void {
    fireGuestTimer(this.xen, this.vcpu(domid, vcpu));
    this.xen.sched.point();
  }

  /** Interrupts the guest on a vCPU handled (one vector, or all). */
  handled(domid: number, vcpu: number, vector?: number): number {
    return handledBy(this.vcpu(domid, vcpu), vector);
  }

  // ---- scheduling ------------------------------------------------------------------------------------------

  /** XEN_DOMCTL_unpausedomain for a domain created paused (or paused by `pause`). */
  unpause(domid: number): void {
    const d = this.domain(domid);
    if (d.pauseCount === 0) throw new RangeError(`d${domid} is not paused`);
    domainUnpause(this.xen, d);
    this.xen.sched.point();
  }

  /** A scheduler tick on `cpu`: the running vCPU is preempted if another is waiting. */
  tick(cpu: number): void {
    tick(this.xen, this.cpu(cpu));
    this.xen.sched.point();
  }

  /** Moves a vCPU to `cpu` (vcpu_migrate: now, or when it is descheduled). */
  migrate(domid: number, vcpu: number, cpu: number): void {
    if (!this.cpu(cpu).schedulable) throw new RangeError(`cpu${cpu} is offline (or going offline)`);
    vcpuMigrate(this.xen, this.vcpu(domid, vcpu), cpu);
    this.xen.sched.point();
  }

  /** Starts taking `cpu` offline (vCPUs leave it; CPU_DEAD runs vmx_pi_desc_fixup); returns the task. */
  beginCpuDown(cpu: number): StepTask {
    const c = this.cpu(cpu);
    if (!c.schedulable) throw new RangeError(`cpu${cpu} is already offline (or going offline)`);
    if (!this.xen.cpus.some((x) => x.schedulable && x !== c)) throw new RangeError(`cpu${cpu} is the last online CPU`);
    return this.xen.sched.spawn(`cpu_down(${cpu})`, cpuDown(this.xen, c));
  }

  /** Starts assigning a device (first device: vmx_pi_hooks_assign); returns the task. */
  beginAssign(domid: number, bdf = DEFAULT_NIC_BDF): StepTask {
    const d = this.domain(domid);
    const f = checkAssignable(this.xen, this.xen.pci.find(bdf), bdf);
    return this.xen.sched.spawn(`assign ${bdf}`, assignDevice(this.xen, d, f));
  }

  /** Starts deassigning a device (last device: vmx_pi_hooks_deassign); returns the task. */
  beginDeassign(domid: number, bdf = DEFAULT_NIC_BDF): StepTask {
    const d = this.domain(domid);
    const f = this.xen.pci.find(bdf);
    if (!f || !d.devices.has(f)) throw new RangeError(`${bdf} is not assigned to d${domid}`);
    return this.xen.sched.spawn(`deassign ${bdf}`, deassignDevice(this.xen, d, f));
  }

  // ---- driving the scheduler ---------------------------------------------------------------------------------

  /** Runs up to `n` pending units (work items, task steps; chosen at random under 'interleave'). */
  step(n = 1): number {
    const s = this.xen.sched;
    let k = 0;
    while (k < n && s.runOne(s.policy === 'interleave')) k++;
    return k;
  }

  /**
   * Runs until nothing is pending. While some runnable vCPU still has an interrupt to take (PIR bits,
   * or a vIRR vector its guest could take), every online CPU gets a scheduler tick - the periodic timer
   * interrupt of a real host - which exits a busy guest, rotates the runqueue and re-runs
   * vmx_intr_assist. False if `maxRounds` ticks were not enough (an interrupt is stuck).
   */
  settle(maxRounds = 64): boolean {
    const s = this.xen.sched;
    for (let r = 0; r < maxRounds; r++) {
      s.flush();
      if (!this.xen.cpus.some((c) => c.online && this.cpuHasWork(c))) return true;
      for (const c of this.xen.cpus) if (c.online) tick(this.xen, c);
    }
    s.flush();
    return false;
  }

  private cpuHasWork(c: XenCpu): boolean {
    const work = (v: Vcpu) => v.runnable && (!v.piDesc.pirEmpty() || (v.guest.ifFlag && v.vlapic.pendingVector() >= 0));
    return (c.curr !== null && work(c.curr)) || c.runq.some(work);
  }

  // ---- inspection ----------------------------------------------------------------------------------------------

  piDesc(domid: number, vcpu: number): PiDescState {
    const pd = this.vcpu(domid, vcpu).piDesc;
    return { pir: pd.pirVectors(), on: pd.on, sn: pd.sn, nv: pd.nv, ndst: pd.ndst };
  }

  vcpuState(domid: number, vcpu: number): VcpuState {
    const v = this.vcpu(domid, vcpu);
    const exits: Record<string, number> = {};
    VM_EXIT_REASONS.forEach((r, i) => {
      if (v.vmcs.exitCounts[i]) exits[r] = v.vmcs.exitCounts[i]!;
    });
    return {
      label: v.label,
      processor: v.processor,
      runstate: v.runstate,
      blocked: v.blocked,
      inGuest: this.xen.cpus.some((c) => c.curr === v && c.hw.nonRoot),
      onList: v.piBlockingLock?.id ?? null,
      pi: this.piDesc(domid, vcpu),
      virr: v.vlapic.vectors(APIC_IRR),
      handled: handledBy(v),
      exits,
      kicks: v.kicks,
      piWakeups: v.piWakeups,
    };
  }

  /** VM exits of a vCPU (all reasons). */
  exits(domid: number, vcpu: number): number {
    return this.vcpu(domid, vcpu).vmcs.exits;
  }

  /** The vCPUs on `cpu`'s PI blocking list, in order. */
  blockedList(cpu: number): string[] {
    return this.cpu(cpu).piBlocked.map((v) => v.label);
  }

  /** The IRTE that MSI-X entry `entry` of the device uses (through the device's remappable message). */
  irte(entry: number, bdf = DEFAULT_NIC_BDF): DecodedIrte & { readonly index: number } {
    const f = this.device(bdf);
    const lo = f.msix!.entryWord(entry, 0);
    const index = ((lo >>> 5) & 0x7fff) | (lo & 4 ? 0x8000 : 0);
    const ir = this.xen.intremapFor(f);
    if (!ir) throw new RangeError('interrupt remapping is off: no IRTEs');
    return { ...decodeIrte(ir.table, index * IRTE_SIZE), index };
  }

  /** The device's MSI-X entry as programmed (address low, address high, data, vector control). */
  msixEntry(entry: number, bdf = DEFAULT_NIC_BDF): { addrLo: number; addrHi: number; data: number; ctrl: number } {
    const m = this.device(bdf).msix!;
    return { addrLo: m.entryWord(entry, 0), addrHi: m.entryWord(entry, 1), data: m.entryWord(entry, 2), ctrl: m.entryWord(entry, 3) };
  }

  /** Per-CPU counters: softirqs raised by name, IPIs, notification and wakeup handler runs, exits. */
  cpuCounters(cpu: number): { softirqs: Record<string, number>; ipis: number; piNotificationIrqs: number; piWakeupIrqs: number; piProcessed: number; exits: number } {
    const c = this.cpu(cpu);
    const softirqs: Record<string, number> = {};
    c.softirqsRaised.forEach((n, i) => {
      if (n) softirqs[SOFTIRQ_NAMES[i] ?? `softirq ${i}`] = n;
    });
    let exits = 0;
    for (const e of c.hw.exitCounts) exits += e;
    return { softirqs, ipis: c.ipis, piNotificationIrqs: c.piNotificationIrqs, piWakeupIrqs: c.piWakeupIrqs, piProcessed: c.hw.piNotifications, exits };
  }

  /** Sum of softirqs raised on every CPU, by name. */
  softirqTotals(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.xen.cpus) c.softirqsRaised.forEach((n, i) => {
      if (n) out[SOFTIRQ_NAMES[i] ?? `softirq ${i}`] = (out[SOFTIRQ_NAMES[i] ?? `softirq ${i}`] ?? 0) + n;
    });
    return out;
  }

  /** The effective settings and vectors after boot. */
  get settings(): { iommu: boolean; intremap: boolean; intpost: boolean; cpuPostedInterrupts: boolean; virtualInterruptDelivery: boolean; postedIntrVector: number; piWakeupVector: number; mode: string } {
    const x = this.xen;
    return { iommu: x.iommuEnabled, intremap: x.intremap, intpost: x.intpost, cpuPostedInterrupts: x.cpuPi, virtualInterruptDelivery: x.vid, postedIntrVector: x.postedIntrVector, piWakeupVector: x.piWakeupVector, mode: x.mode };
  }

  /** Highest vector pending in a vCPU's vIRR, -1 if none. */
  virrHighest(domid: number, vcpu: number): number {
    return this.vcpu(domid, vcpu).vlapic.highestIrr();
  }

  /** `xl dmesg` */
  dmesg(): string[] {
    return this.xen.console.dmesg();
  }
}
