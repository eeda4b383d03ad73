// A physical x86 CPU with VMX (Intel SDM vol. 3 ch. 24-29) as the interrupt path needs it: its local
// APIC (pending host vectors), root and non-root operation, the loaded VMCS, and what the processor does
// with an interrupt:
// - non-root, vector == VMCS PINV and "process posted interrupts": posted-interrupt processing (29.6):
//   ack, clear ON, EOI, OR PIR into VIRR (PIR cleared), RVI = max(RVI, highest PIR), evaluate pending
//   virtual interrupts - no VM exit;
// - non-root, any other vector: VM exit "external interrupt" (acknowledge-on-exit);
// - root with RFLAGS.IF=1: the hypervisor's handler for the vector (its IDT); with IF=0 it stays pending.
// With virtual-interrupt delivery the CPU delivers a virtual interrupt when RVI[7:4] > VPPR[7:4] and the
// guest has IF=1 (29.2), and virtualizes the guest's EOI (29.1.2); without it the hypervisor injects at
// VM entry and the guest's EOI exits (APIC access). A guest in its idle loop executes HLT (VM exit)
// when nothing is deliverable. Everything runs in scheduler work items, so events interleave.
import type { Scheduler } from '../../sim/scheduler.js';
import { WorkItem } from '../../sim/scheduler.js';
import type { TraceBus } from '../../sim/trace.js';
import { getU32, setU32 } from '../../../abi/bytes.js';
import type { LocalApicPort } from '../x86/apic-bus.js';
import { vecClear, vecHighest, vecSet, vecTest } from '../x86/lapic-standin.js';
import type { GuestCpuOps } from './guest-port.js';
import { EXIT_APIC_ACCESS, EXIT_EOI_INDUCED, EXIT_EXTINT, EXIT_HLT, EXIT_INTR_WINDOW, EXIT_TPR_THRESHOLD, VM_EXIT_REASONS, type Vmcs } from './vmcs.js';

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

export class VmxCpu implements LocalApicPort, GuestCpuOps {
  /** Host local APIC IRR (pending host vectors). */
  readonly irr = new Uint32Array(8);
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
  private readonly hltWork: WorkItem;
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
    this.hltWork = new WorkItem(`${this.label}: guest HLT`, () => this.guestHlt());
  }

  /** An interrupt message for this CPU's local APIC. */
  accept(vector: number): void {
    if (!this.online) return;
    vecSet(this.irr, vector);
    this.sched.queueWork(this.intrWork);
  }

  /** sti / cli in root operation. */
  setRootIf(on: boolean): void {
    this.rootIf = on;
    if (on && vecHighest(this.irr) >= 0) this.sched.queueWork(this.intrWork);
  }

  /** Runs pending interrupts now (the CPU recognizes them at an instruction boundary). */
  processInterrupts(): void {
    for (;;) {
      const v = vecHighest(this.irr);
      if (v < 0) return;
      if (this.nonRoot) {
        const vm = this.vmcs!;
        vecClear(this.irr, v);
        if (vm.postedIntr && v === vm.pinv) {
          this.postedInterruptProcessing(vm);
          continue;
        }
        this.exit(vm, EXIT_EXTINT, v);
        return;
      }
      if (!this.rootIf || !this.online) return;
      vecClear(this.irr, v);
      this.halted = false;
      this.hostInterrupts++;
      this.host!.hostInterrupt(this, v);
    }
  }

  /** SDM 29.6, steps after the notification vector was acknowledged. */
  private postedInterruptProcessing(vm: Vmcs): void {
    const pd = vm.piDesc!;
    this.piNotifications++;
    vm.piProcessed++;
    pd[32] = pd[32]! & ~1; // clear ON
    const virr = vm.vapic.irr;
    let hi = -1;
    for (let i = 0; i < 8; i++) {
      const w = getU32(pd, i * 4);
      if (w === 0) continue;
      setU32(pd, i * 4, 0);
      virr[i] = (virr[i]! | w) >>> 0;
      hi = i * 32 + 31 - Math.clz32(w);
    }
    if (hi > vm.rvi) vm.rvi = hi;
    const tr = this.trace;
    if (tr.active) tr.emit({ type: 'irq', t: this.sched.now, hop: 'lapic-irr', at: vm.label, vector: hi, detail: `posted-interrupt processing on ${this.label}: PIR -> VIRR without a VM exit, RVI=0x${vm.rvi.toString(16)}` });
    this.evaluate();
  }

  /** VM entry with `vm` (after the hypervisor's last root-mode step). */
  vmentry(vm: Vmcs): void {
    this.nonRoot = true;
    this.vmcs = vm;
    this.halted = false;
    if (!vm.vid && vm.injectVector >= 0) {
      const v = vm.injectVector;
      vm.injectVector = -1;
      this.deliverToGuest(vm, v);
      if (!this.nonRoot || this.vmcs !== vm) return;
    }
    if (vecHighest(this.irr) >= 0) {
      this.processInterrupts();
      if (!this.nonRoot || this.vmcs !== vm) return;
    }
    this.evaluate();
  }

  private vppr(vm: Vmcs): number {
    const tpr = vm.vapic.tpr & 0xff;
    return (tpr & 0xf0) >= (vm.svi & 0xf0) ? tpr : vm.svi & 0xf0;
  }

  /** Evaluates pending virtual interrupts (VID) and the guest's idle HLT. */
  evaluate(): void {
    const vm = this.vmcs;
    if (!this.nonRoot || vm === null) return;
    if (vm.vid) {
      for (;;) {
        const rvi = vm.rvi;
        if ((rvi & 0xf0) <= (this.vppr(vm) & 0xf0) || !vm.guest.ifFlag) break;
        vecSet(vm.vapic.isr, rvi);
        vm.svi = rvi;
        vecClear(vm.vapic.irr, rvi);
        const h = vecHighest(vm.vapic.irr);
        vm.rvi = h < 0 ? 0 : h;
        this.deliverToGuest(vm, rvi);
        if (!this.nonRoot || this.vmcs !== vm) return;
      }
    }
    if (vm.guest.halting && !this.deliverable(vm)) this.sched.queueWork(this.hltWork);
  }

  private deliverable(vm: Vmcs): boolean {
    if (!vm.guest.ifFlag) return false;
    if (vm.vid) return (vm.rvi & 0xf0) > (this.vppr(vm) & 0xf0);
    return vm.injectVector >= 0;
  }

  private deliverToGuest(vm: Vmcs, vector: number): void {
    vm.delivered++;
    const tr = this.trace;
    if (tr.active) tr.emit({ type: 'irq', t: this.sched.now, hop: 'guest-handler', at: vm.label, vector, detail: vm.vid ? 'virtual-interrupt delivery' : 'injected at VM entry' });
    vm.guest.interrupt(vector, this);
  }

  /** GuestCpuOps: the guest's EOI write. */
  eoi(): void {
    const vm = this.vmcs;
    if (!this.nonRoot || vm === null) return;
    const tr = this.trace;
    if (vm.vid) {
      // EOI virtualization (29.1.2): clear VISR[SVI], SVI = highest VISR; EOI-exit bitmap decides.
      const v = vm.svi;
      vecClear(vm.vapic.isr, v);
      const h = vecHighest(vm.vapic.isr);
      vm.svi = h < 0 ? 0 : h;
      if (tr.active) tr.emit({ type: 'irq', t: this.sched.now, hop: 'eoi', at: vm.label, vector: v, detail: 'virtualized EOI' });
      if (vecTest(vm.eoiExitBitmap, v)) this.exit(vm, EXIT_EOI_INDUCED, v);
      return;
    }
    // Without APIC-register virtualization the EOI write to the APIC page exits.
    if (tr.active) tr.emit({ type: 'irq', t: this.sched.now, hop: 'eoi', at: vm.label, detail: 'EOI write to the APIC page: VM exit' });
    this.exit(vm, EXIT_APIC_ACCESS, -1);
  }

  /** The guest changed IF, TPR or its idle state while running: what the CPU does about it. */
  guestChanged(): void {
    const vm = this.vmcs;
    if (!this.nonRoot || vm === null) return;
    if (!vm.vid) {
      if (vm.intrWindowExiting && vm.guest.ifFlag) return this.exit(vm, EXIT_INTR_WINDOW, -1);
      if ((vm.vapic.tpr & 0xf0) < (vm.tprThreshold & 0xf0)) return this.exit(vm, EXIT_TPR_THRESHOLD, -1);
    }
    this.evaluate();
  }

  private guestHlt(): void {
    const vm = this.vmcs;
    if (!this.nonRoot || vm === null || !vm.guest.halting || this.deliverable(vm)) return;
    this.exit(vm, EXIT_HLT, -1);
  }

  /** A VM exit: back to root operation (IF=0 until the hypervisor enables it), handled by the host. */
  exit(vm: Vmcs, reason: number, vector: number): void {
    this.nonRoot = false;
    this.rootIf = false;
    vm.exitCounts[reason]!++;
    this.exitCounts[reason]!++;
    const tr = this.trace;
    if (tr.active) tr.emit({ type: 'irq', t: this.sched.now, hop: 'vm-exit', at: vm.label, vector: vector >= 0 ? vector : undefined, detail: `${VM_EXIT_REASONS[reason]} on ${this.label}` });
    this.host!.vmExit(this, vm, reason, vector);
  }

  /** The hypervisor leaves non-root for good (context switch): the VMCS is no longer current. */
  clearVmcs(): void {
    this.vmcs = null;
  }
}
