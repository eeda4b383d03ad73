// host.control.kvm: the mock-only side of KVM — loading guest programs into vCPUs and reading the
// state a test or a lesson wants to see (IOAPIC pins, LAPIC IRR/ISR/TMR, PIC, routing table, line
// sources, irqfds and resamplers, ioeventfds, guest handler counts). Nothing here is reachable
// through a file descriptor.

import type { Kernel } from '../kernel.js';
import type { Process } from '../process.js';
import type { GuestProgram } from '../../guest/program.js';
import type { IoapicPinState } from '../../hw/x86/ioapic.js';
import { APIC_IRR, APIC_ISR, APIC_TMR } from '../../hw/x86/apicdef.js';
import { KVM_IRQ_ROUTING_MSI, KVM_IRQCHIP_IOAPIC, KVM_MP_STATE_HALTED, KVM_MP_STATE_RUNNABLE } from '../../../include-ts/linux/kvm.js';
import { KVM_IRQCHIP_KERNEL, KVM_IRQCHIP_SPLIT } from './kvm-host.js';
import { KvmVcpuFile, KvmVmFile } from './kvm-main.js';
import type { KvmVcpu } from './vcpu.js';
import type { Kvm } from './vm.js';
import { vcpuRunnable } from './x86-run.js';
import { MsixTableControl } from './msix-table/control.js';
import { kvmVfioOps, type KvmVfio } from './vfio-device.js';

export interface RouteView {
  readonly gsi: number;
  readonly type: 'irqchip' | 'msi';
  readonly irqchip?: number;
  readonly pin?: number;
  readonly addressLo?: number;
  readonly addressHi?: number;
  readonly data?: number;
}

export interface IrqfdView {
  /** The eventfd's id (as in trace events: `eventfd#<id>`). */
  readonly eventfd: number;
  readonly gsi: number;
  readonly resample: boolean;
  readonly resamplefd: number | null;
  readonly route: string;
  readonly signals: number;
}

export interface LapicView {
  readonly id: number;
  readonly enabled: boolean;
  readonly tpr: number;
  readonly ppr: number;
  readonly irr: number[];
  readonly isr: number[];
  readonly tmr: number[];
  readonly nmiPending: number;
  /** IA32_APIC_BASE. */
  readonly apicBase: number;
}

export interface GuestView {
  readonly program: string | null;
  readonly pc: number;
  readonly ifFlag: boolean;
  readonly halted: boolean;
  readonly depth: number;
  readonly vector: number;
  readonly fault: string | null;
  readonly instructions: number;
  readonly regs: readonly number[];
  /** Handler entries per vector (only vectors seen). */
  readonly handled: ReadonlyMap<number, number>;
}

export class KvmVcpuControl {
  constructor(readonly vcpu: KvmVcpu) {}

  /**
   * Loads a guest program: the CPU restarts at its entry with IF clear (registers zeroed), and a
   * halted vCPU becomes runnable. An AP that waits for INIT/SIPI keeps waiting (it starts at the
   * program's entry on SIPI, or when the VMM sets KVM_MP_STATE_RUNNABLE).
   */
  loadGuest(program: GuestProgram): void {
    this.vcpu.loadProgram(program);
    if (this.vcpu.mpState === KVM_MP_STATE_HALTED) this.vcpu.mpState = KVM_MP_STATE_RUNNABLE;
  }

  /** Guest instructions one KVM_RUN may execute without an exit before it returns EINTR. */
  setRunBudget(n: number): void {
    this.vcpu.budget = n;
  }

  get mpState(): number {
    return this.vcpu.mpState;
  }

  /** Whether a blocked KVM_RUN would wake now (kvm_arch_vcpu_runnable). */
  get runnable(): boolean {
    return vcpuRunnable(this.vcpu);
  }

  lapic(): LapicView | null {
    const a = this.vcpu.lapic;
    if (!a) return null;
    return { id: a.xapicId, enabled: a.enabled, tpr: a.tpr, ppr: a.readReg(0xa0), irr: a.vectors(APIC_IRR), isr: a.vectors(APIC_ISR), tmr: a.vectors(APIC_TMR), nmiPending: a.nmiPending, apicBase: a.apicBase };
  }

  guest(): GuestView {
    const c = this.vcpu.cpu;
    const handled = new Map<number, number>();
    c.handled.forEach((n, v) => {
      if (n) handled.set(v, n);
    });
    return { program: c.program?.name ?? null, pc: c.pc, ifFlag: c.ifFlag, halted: c.halted, depth: c.depth, vector: c.vector, fault: c.fault, instructions: c.instructions, regs: Array.from(c.regs), handled };
  }

  /** Handler entries for one vector. */
  handled(vector: number): number {
    return this.vcpu.cpu.handled[vector]!;
  }

  /** Exits to userspace with a given KVM_EXIT_* reason. */
  exits(reason: number): number {
    return this.vcpu.exits[reason]!;
  }
}

export class KvmVmControl {
  constructor(readonly kvm: Kvm) {}

  get id(): number {
    return this.kvm.id;
  }

  get irqchipMode(): 'none' | 'kernel' | 'split' {
    const m = this.kvm.irqchipMode;
    return m === KVM_IRQCHIP_KERNEL ? 'kernel' : m === KVM_IRQCHIP_SPLIT ? 'split' : 'none';
  }

  vcpus(): KvmVcpuControl[] {
    return this.kvm.vcpus.map((v) => new KvmVcpuControl(v));
  }

  vcpu(vcpuId: number): KvmVcpuControl {
    const v = this.kvm.vcpuById(vcpuId);
    if (!v) throw new Error(`VM ${this.kvm.id} has no vCPU ${vcpuId}`);
    return new KvmVcpuControl(v);
  }

  /** The IOAPIC's pins, with each pin's asserting sources (bit 0 userspace, bit 1 resampling irqfds). */
  ioapic(): { id: number; irr: number; pins: (IoapicPinState & { sources: number })[] } | null {
    const io = this.kvm.ioapic;
    if (!io) return null;
    const pins = [];
    for (let p = 0; p < 24; p++) pins.push({ ...io.chip.pinState(p), sources: io.irqStates[p]! });
    return { id: io.chip.id, irr: io.chip.irr, pins };
  }

  ioapicPin(pin: number): IoapicPinState & { sources: number } {
    const io = this.kvm.ioapic;
    if (!io) throw new Error(`VM ${this.kvm.id} has no in-kernel IOAPIC`);
    return { ...io.chip.pinState(pin), sources: io.irqStates[pin]! };
  }

  /** Storm-guard delays so far (re-deliveries postponed by 10 ms). */
  get ioapicStormDelays(): number {
    return this.kvm.ioapic?.delayedEoiInjections ?? 0;
  }

  pic(): { master: Record<string, number>; slave: Record<string, number>; output: boolean } | null {
    const p = this.kvm.pic;
    if (!p) return null;
    const chip = (i: 0 | 1) => {
      const c = p.chips.pics[i];
      return { irr: c.irr, imr: c.imr, isr: c.isr, elcr: c.elcr, irqBase: c.irqBase, lastIrr: c.lastIrr, sources: 0 };
    };
    return { master: chip(0), slave: chip(1), output: p.output };
  }

  routes(): RouteView[] {
    return this.kvm.routing.all().map((e) =>
      e.type === KVM_IRQ_ROUTING_MSI
        ? { gsi: e.gsi, type: 'msi' as const, addressLo: e.msiLo, addressHi: e.msiHi, data: e.msiData }
        : { gsi: e.gsi, type: 'irqchip' as const, irqchip: e.irqchip, pin: e.irqchip === KVM_IRQCHIP_IOAPIC ? e.pin : e.pin % 8 },
    );
  }

  irqfds(): IrqfdView[] {
    return this.kvm.irqfds.items.map((i) => ({
      eventfd: i.eventfd.id,
      gsi: i.gsi,
      resample: i.resampler !== null,
      resamplefd: i.resamplefd?.id ?? null,
      route: i.describe(),
      signals: i.signals,
    }));
  }

  resamplers(): { gsi: number; irqfds: number; acks: number }[] {
    return this.kvm.irqfds.resamplers.map((r) => ({ gsi: r.gsi, irqfds: r.list.length, acks: r.acks }));
  }

  ioeventfds(): string[] {
    return this.kvm.ioeventfds.list.map((p) => p.describe());
  }

  /** The in-kernel MSI-X table `id` (the proposed KVM_DEFINE_MSIX_TABLE family). */
  msixTable(id: number): MsixTableControl {
    const t = this.kvm.msix.byId.get(id);
    if (!t) throw new Error(`VM ${this.kvm.id} has no MSI-X table ${id}`);
    return new MsixTableControl(t);
  }

  /** Ids of the VM's in-kernel MSI-X tables. */
  msixTables(): number[] {
    return [...this.kvm.msix.byId.keys()];
  }

  memslots(): { slot: number; flags: number; gpa: number; size: number; userspaceAddr: number }[] {
    return this.kvm.memslots.list().map((m) => ({ slot: m.id, flags: m.flags, gpa: m.gpa, size: m.size, userspaceAddr: m.userspaceAddr }));
  }

  /** KVM_CREATE_DEVICE's devices (kvm->devices, newest first) by name, e.g. 'kvm-vfio'. */
  devices(): string[] {
    return this.kvm.devices.map((d) => d.ops.name);
  }

  /** The files the kvm-vfio device lists (their /proc/<pid>/fd link text), in the order they were added. */
  kvmVfioFiles(): string[] {
    const dev = this.kvm.devices.find((d) => d.ops === kvmVfioOps);
    return dev ? (dev.private_ as KvmVfio).files.map((f) => f.path) : [];
  }

  /** kvm->arch.noncoherent_dma_count (kvm-vfio's kvm_arch_register_noncoherent_dma). */
  get noncoherentDmaCount(): number {
    return this.kvm.noncoherentDmaCount;
  }
}

export class KvmControl {
  constructor(private readonly kernel: Kernel) {}

  /** The VM behind `vmFd` in `proc`. */
  vm(proc: Process, vmFd: number): KvmVmControl {
    const f = proc.fileOrNull(vmFd);
    if (!(f instanceof KvmVmFile)) throw new Error(`fd ${vmFd} of process ${proc.pid} is not a KVM VM fd`);
    return new KvmVmControl(f.kvm);
  }

  /** The vCPU behind `vcpuFd` in `proc`. */
  vcpu(proc: Process, vcpuFd: number): KvmVcpuControl {
    const f = proc.fileOrNull(vcpuFd);
    if (!(f instanceof KvmVcpuFile)) throw new Error(`fd ${vcpuFd} of process ${proc.pid} is not a KVM vCPU fd`);
    return new KvmVcpuControl(f.vcpu);
  }

  /** Shorthand: loads `program` into the vCPU behind `vcpuFd`. */
  loadGuest(proc: Process, vcpuFd: number, program: GuestProgram): void {
    this.vcpu(proc, vcpuFd).loadGuest(program);
  }

  /**
   * Model a VMX host's machine-check support (on) or this machine's SVM one (off, the default):
   * KVM_X86_GET_MCE_CAP_SUPPORTED then adds MCG_LMCE_P | MCG_CMCI_P (vmx.c hardware_setup) and
   * MCG_EXT_CTL exists (mce.ts). Needs the KVM module (a /dev/kvm host).
   */
  setVmxMce(on: boolean): void {
    const m = this.kernel.kvm;
    if (!m) throw new Error('this host has no KVM module');
    m.vmxMce = on;
  }

  /** Every live VM. */
  vms(): KvmVmControl[] {
    return [...(this.kernel.kvm?.vms ?? [])].map((k) => new KvmVmControl(k));
  }
}
