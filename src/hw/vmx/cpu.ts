// A physical x86 CPU with VMX (Intel SDM vol. 3 ch. 24-29) as the interrupt path needs it: its local
// APIC (the shared LAPIC model), root and non-root operation, the loaded VMCS, and what the processor
// does with an interrupt:
// - non-root, vector == VMCS PINV and "process posted interrupts": posted-interrupt processing (29.6):
//   acknowledge, clear ON, EOI, OR PIR into VIRR (PIR cleared), RVI = max(RVI, highest PIR), evaluate
//   pending virtual interrupts - no VM exit;
// - non-root, any other vector: VM exit "external interrupt" (acknowledge-interrupt-on-exit);
// - root with RFLAGS.IF=1: the hypervisor's handler for the vector (its IDT); with IF=0 it stays pending.
// In non-root the CPU executes the guest program (src/guest) in slices of instructions. With
// virtual-interrupt delivery it delivers a virtual interrupt when RVI[7:4] > VPPR[7:4] and the guest
// can take one (29.2), and virtualizes EOI and TPR writes (29.1); other APIC writes trap (APIC-write
// exit). Without it the hypervisor injects at VM entry, the guest's EOI exits (APIC access) and a TPR
// write below the threshold exits. HLT exits. A guest that spins without halting is parked after a
// slice until something can change its course (an interrupt, a change of its program's inputs).
import type { Scheduler } from '../../sim/scheduler.js';
import { WorkItem } from '../../sim/scheduler.js';
import type { TraceBus } from '../../sim/trace.js';
import { getU32, setU32 } from '../../../abi/bytes.js';
import { GUEST_IO_FAULT, STEP_FAULT, STEP_HALT, STEP_IO_FAULT, type GuestBus } from '../../guest/cpu.js';
import { APIC_DEFAULT_PHYS_BASE, APIC_DM_FIXED, APIC_EOI, APIC_SPIV, APIC_SPIV_APIC_ENABLED, APIC_TASKPRI } from '../x86/apicdef.js';
import { Lapic, type LapicHooks } from '../x86/lapic.js';
import type { LocalApicPort } from '../x86/apic-bus.js';
import {
  bitmapTest, EXIT_APIC_ACCESS, EXIT_APIC_WRITE, EXIT_EOI_INDUCED, EXIT_EXTINT, EXIT_HLT, EXIT_INTR_WINDOW, EXIT_TPR_THRESHOLD, EXIT_TRIPLE_FAULT,
  VM_EXIT_REASONS, type Vmcs,
} from './vmcs.js';

/** The hypervisor's entry points: its interrupt handlers (root) and its VM-exit handler. */
export interface VmxHost {
  hostInterrupt(cpu: VmxCpu, vector: number): void;
  vmExit(cpu: VmxCpu, vmcs: Vmcs, reason: number, vector: number): void;
}

export interface VmxCaps {
  /** CPU_BASED_TPR_SHADOW */
  readonly tprShadow: boolean;
  /** SECONDARY_EXEC_APIC_REGISTER_VIRT */
  readonly apicRegVirt: boolean;
  /** SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY */
  readonly virtualIntrDelivery: boolean;
  /** PIN_BASED_POSTED_INTERRUPT */
  readonly postedIntrProcessing: boolean;
}

/** Guest instructions per slice before a spinning guest is parked. */
export const GUEST_SLICE = 256;
const NO_EXIT = -1;

export class VmxCpu implements LocalApicPort, GuestBus {
  /** The CPU's own local APIC (host vectors). */
  readonly lapic: Lapic;
  nonRoot = false;
  vmcs: Vmcs | null = null;
  /** RFLAGS.IF in root operation. */
  rootIf = true;
  /** Halted in root (idle), woken by an interrupt. */
  halted = false;
  online = true;
  host: VmxHost | null = null;
  /** Host interrupts taken in root, and notification-vector interrupts processed in non-root. */
  hostInterrupts = 0;
  piNotifications = 0;
  readonly exitCounts = new Uint32Array(VM_EXIT_REASONS.length);
  private readonly intrWork: WorkItem;
  private readonly guestWork: WorkItem;
  /** An exit the current guest instruction causes once it completes (trap-like APIC exits). */
  private pendingExit = NO_EXIT;
  readonly label: string;

  constructor(
    readonly index: number,
    readonly apicId: number,
    readonly caps: VmxCaps,
    private readonly sched: Scheduler,
    private readonly trace: TraceBus,
  ) {
    this.label = `cpu${index}`;
    this.intrWork = new WorkItem(`${this.label}: interrupt`, () => this.processInterrupts());
    this.guestWork = new WorkItem(`${this.label}: guest`, () => this.runGuest());
    const hooks: LapicHooks = {
      eoi: () => {},
      sendIpi: () => {},
      mapChanged: () => {},
      kick: () => this.sched.queueWork(this.intrWork),
    };
    this.lapic = new Lapic(index, hooks, { sched, trace });
    this.lapic.label = this.label;
    this.lapic.writeReg(APIC_SPIV, APIC_SPIV_APIC_ENABLED | 0xff);
  }

  /** An interrupt message for this CPU's local APIC (fixed, edge). */
  accept(vector: number): void {
    if (!this.online) return;
    this.lapic.accept(APIC_DM_FIXED, vector, true, false);
  }

  /** sti / cli in root operation. */
  setRootIf(on: boolean): void {
    this.rootIf = on;
    if (on && this.lapic.pendingVector() >= 0) this.sched.queueWork(this.intrWork);
  }

  /** Recognizes pending interrupts (at an instruction boundary). */
  processInterrupts(): void {
    for (;;) {
      if (this.lapic.pendingVector() < 0) return;
      if (this.nonRoot) {
        const vm = this.vmcs!;
        const v = this.lapic.ackInterrupt();
        if (vm.postedIntr && v === vm.pinv) {
          this.lapic.eoi();
          this.postedInterruptProcessing(vm);
          continue;
        }
        this.exit(vm, EXIT_EXTINT, v);
        return;
      }
      if (!this.rootIf || !this.online) return;
      const v = this.lapic.ackInterrupt();
      this.halted = false;
      this.hostInterrupts++;
      this.host!.hostInterrupt(this, v);
    }
  }

  /** The hypervisor's ack_APIC_irq() (EOI of the in-service host vector). */
  ackApicIrq(): void {
    this.lapic.eoi();
  }

  /** SDM 29.6, the steps after the notification vector was acknowledged. */
  private postedInterruptProcessing(vm: Vmcs): void {
    const pd = vm.piDesc!;
    this.piNotifications++;
    vm.piProcessed++;
    pd[32] = pd[32]! & ~1; // clear ON
    let hi = -1;
    for (let i = 0; i < 8; i++) {
      const w = getU32(pd, i * 4);
      if (w === 0) continue;
      setU32(pd, i * 4, 0);
      vm.vapic.orIrrWord(i, w);
      hi = i * 32 + 31 - Math.clz32(w);
    }
    if (hi > vm.rvi) vm.rvi = hi;
    const tr = this.trace;
    if (tr.active) tr.emit({ type: 'irq', t: this.sched.now, hop: 'lapic-irr', at: vm.label, vector: hi, detail: `posted-interrupt processing on ${this.label}: PIR -> VIRR without a VM exit, RVI=0x${vm.rvi.toString(16)}` });
    this.sched.queueWork(this.guestWork);
  }

  /** VM entry with `vm` (after the hypervisor's last root-mode step). */
  vmentry(vm: Vmcs): void {
    this.nonRoot = true;
    this.vmcs = vm;
    this.halted = false;
    this.pendingExit = NO_EXIT;
    if (!vm.vid && vm.injectVector >= 0) {
      const v = vm.injectVector;
      vm.injectVector = -1;
      this.deliverToGuest(vm, v);
    }
    this.sched.queueWork(this.guestWork);
    if (this.lapic.pendingVector() >= 0) this.processInterrupts();
  }

  /** The guest program may take a different course (its inputs changed): run it. */
  wakeGuest(): void {
    if (this.nonRoot) this.sched.queueWork(this.guestWork);
  }

  private vppr(vm: Vmcs): number {
    const tpr = vm.vapic.tpr & 0xff;
    return (tpr & 0xf0) >= (vm.svi & 0xf0) ? tpr : vm.svi & 0xf0;
  }

  /** Virtual-interrupt delivery (29.2.2) of RVI when it beats VPPR and the guest is interruptible. */
  private vidDeliver(vm: Vmcs): boolean {
    if (!vm.guest.interruptible || (vm.rvi & 0xf0) <= (this.vppr(vm) & 0xf0)) return false;
    const v = vm.vapic.ackInterrupt();
    if (v < 0) return false;
    vm.svi = v;
    const h = vm.vapic.highestIrr();
    vm.rvi = h < 0 ? 0 : h;
    this.deliverToGuest(vm, v);
    return true;
  }

  /** Virtual-interrupt delivery or event injection: the guest CPU enters its handler (it traces the hop). */
  private deliverToGuest(vm: Vmcs, vector: number): void {
    vm.delivered++;
    vm.guest.deliver(vector);
  }

  /** A slice of guest execution in non-root operation. */
  private runGuest(): void {
    const vm = this.vmcs;
    if (!this.nonRoot || vm === null) return;
    const g = vm.guest;
    for (let n = 0; n < GUEST_SLICE; n += g.ran) {
      if (vm.vid) this.vidDeliver(vm);
      else if (vm.intrWindowExiting && g.interruptible) return this.exit(vm, EXIT_INTR_WINDOW, -1);
      // Instructions after which the two checks above cannot decide differently run as one batch.
      const r = g.step(this, GUEST_SLICE - n);
      if (!this.nonRoot || this.vmcs !== vm) return;
      if (this.pendingExit !== NO_EXIT) {
        const e = this.pendingExit;
        this.pendingExit = NO_EXIT;
        return this.exit(vm, e, -1);
      }
      if (r === STEP_HALT) return this.exit(vm, EXIT_HLT, -1);
      if (r === STEP_FAULT || r === STEP_IO_FAULT) return this.exit(vm, EXIT_TRIPLE_FAULT, -1);
    }
  }

  // ---- GuestBus: the guest's accesses (the APIC page; nothing else is mapped for these programs) ------------

  read(addr: number, size: number): number {
    const vm = this.vmcs!;
    if (size !== 4 || addr < APIC_DEFAULT_PHYS_BASE || addr >= APIC_DEFAULT_PHYS_BASE + 0x1000) return GUEST_IO_FAULT;
    return vm.vapic.readReg(addr - APIC_DEFAULT_PHYS_BASE);
  }

  write(addr: number, size: number, value: number): number {
    const vm = this.vmcs!;
    if (size !== 4 || addr < APIC_DEFAULT_PHYS_BASE || addr >= APIC_DEFAULT_PHYS_BASE + 0x1000) return GUEST_IO_FAULT;
    const reg = addr - APIC_DEFAULT_PHYS_BASE;
    if (reg === APIC_EOI) {
      if (vm.vid) this.virtualEoi(vm);
      else this.apicExit(vm, EXIT_APIC_ACCESS, reg, value);
      return 0;
    }
    if (reg === APIC_TASKPRI && this.caps.tprShadow) {
      // TPR shadow: the write goes to the virtual-APIC page.
      vm.vapic.writeReg(APIC_TASKPRI, value);
      if (!vm.vid && (value & 0xf0) < (vm.tprThreshold & 0xf0)) this.pendingExit = EXIT_TPR_THRESHOLD;
      return 0;
    }
    // Other registers: with APIC-register virtualization the write completes and traps; without it
    // the access faults to the hypervisor, which emulates it.
    this.apicExit(vm, vm.apicRegVirt ? EXIT_APIC_WRITE : EXIT_APIC_ACCESS, reg, value);
    return 0;
  }

  pioIn(): number {
    return GUEST_IO_FAULT;
  }

  pioOut(): number {
    return GUEST_IO_FAULT;
  }

  private apicExit(vm: Vmcs, reason: number, reg: number, value: number): void {
    vm.apicExitReg = reg;
    vm.apicExitValue = value >>> 0;
    this.pendingExit = reason;
  }

  /** EOI virtualization (29.1.2): VISR[SVI]=0, SVI = highest VISR; the EOI-exit bitmap decides an exit. */
  private virtualEoi(vm: Vmcs): void {
    const v = vm.vapic.eoi();
    const h = vm.vapic.highestIsr();
    vm.svi = h < 0 ? 0 : h;
    if (v >= 0 && bitmapTest(vm.eoiExitBitmap, v)) {
      vm.apicExitReg = v;
      this.pendingExit = EXIT_EOI_INDUCED;
    }
  }

  /** A VM exit: back to root operation (IF=0 until the hypervisor enables it), handled by the host. */
  exit(vm: Vmcs, reason: number, vector: number): void {
    this.nonRoot = false;
    this.rootIf = false;
    this.pendingExit = NO_EXIT;
    vm.exitCounts[reason]!++;
    this.exitCounts[reason]!++;
    const tr = this.trace;
    if (tr.active) tr.emit({ type: 'irq', t: this.sched.now, hop: 'vm-exit', at: vm.label, vector: vector >= 0 ? vector : undefined, detail: `${VM_EXIT_REASONS[reason]} on ${this.label}` });
    this.host!.vmExit(this, vm, reason, vector);
  }

  /** The hypervisor switches away from the VMCS (context switch). */
  clearVmcs(): void {
    this.vmcs = null;
  }
}
