// KVM_RUN on x86 (arch/x86/kvm/x86.c: kvm_arch_vcpu_ioctl_run, vcpu_run, vcpu_enter_guest,
// vcpu_block, kvm_vcpu_has_events, kvm_apic_accept_events, post_kvm_run_save).
//
// - Without an in-kernel LAPIC, kvm_run.cr8 is loaded into the vCPU's CR8 ("re-sync apic's tpr"),
//   after the sync-register block and before anything else: a value with bits above 3 fails KVM_RUN
//   with EINVAL (the registers a dirty sync block carried stay set, as in the kernel).
// - A pending userspace access (the MMIO read or port IN userspace just answered) is completed next,
//   then `immediate_exit` is honoured: -1/EINTR with exit_reason untouched.
// - Every return, error or not, rewrites if_flag, cr8 (kvm_get_cr8: TPR[7:4], or the vCPU's CR8),
//   apic_base (vcpu->arch.apic_base, LAPIC or not) and ready_for_interrupt_injection in kvm_run
//   (post_kvm_run_save: the full irqchip, or kvm_vcpu_ready_for_interrupt_injection: IF=1, no shadow,
//   no ExtINT waiting, LINT0 taking ExtINT, nothing waiting for re-injection, no pending exception).
// - kvm_run.s.regs: KVM_SYNC_X86_REGS and KVM_SYNC_X86_EVENTS are loaded before entry (sync_regs) and
//   stored on every return (store_regs); a refused events block fails KVM_RUN with EINVAL.
// - request_interrupt_window without the full irqchip (dm_request_for_irq_injection): KVM_RUN ends with
//   KVM_EXIT_IRQ_WINDOW_OPEN at the first instruction boundary where the vCPU is ready for injection
//   (VMX's interrupt-window exit), or after a HLT the kernel handled; without an in-kernel LAPIC, HLT
//   exits with KVM_EXIT_HLT first.
// - vcpu_run sets exit_reason = KVM_EXIT_UNKNOWN, then alternates guest execution and blocking.
// - Before each guest instruction KVM injects what is pending (kvm_check_and_inject_events, with
//   vcpu-events.ts): a requested triple fault exits KVM_EXIT_SHUTDOWN; an injected exception, NMI or
//   interrupt is re-injected whatever IF says, then a pending exception; when nothing waits for
//   re-injection, NMIs (process_nmi's count, not while blocked or in a shadow), then (IF=1, no STI shadow)
//   the ExtINT (8259, a split irqchip's KVM_INTERRUPT vector) or the highest deliverable LAPIC vector
//   (IRR -> ISR); a split irqchip's IOAPIC EOI exits as KVM_EXIT_IOAPIC_EOI.
// - HLT with the in-kernel LAPIC blocks inside KVM_RUN until an interrupt the guest can take (IF=1),
//   an NMI or INIT/SIPI arrives; the model runs its scheduler (work items, device timers) meanwhile.
//   When nothing in the model can ever wake the vCPU, KVM_RUN returns -1/EINTR with exit_reason =
//   KVM_EXIT_INTR, as if a signal had arrived, so single-threaded VMMs never hang; the async form
//   (proc.ioctlAsync) waits instead. A vCPU without an in-kernel LAPIC exits with KVM_EXIT_HLT.
// - An AP (vCPU other than the BSP) with the in-kernel LAPIC starts UNINITIALIZED: KVM_RUN blocks until
//   INIT/SIPI, then returns -1/EAGAIN so userspace re-enters.
// - A guest that runs `budget` instructions without exiting returns -1/EINTR (KVM_EXIT_INTR) too, with
//   a reason: a real vCPU would spin until a signal.
// - A triple fault (vector without handler) is KVM_EXIT_SHUTDOWN; no program loaded is
//   KVM_EXIT_INTERNAL_ERROR (emulation failure: nothing to execute at the reset vector).

import { kerr, WouldBlock } from '../errors.js';
import type { FileContext } from '../fs/file.js';
import { getU32, getU64n, setU32, setU64n } from '../../../abi/bytes.js';
import {
  KVM_EXIT_DIRTY_RING_FULL, KVM_EXIT_HLT, KVM_EXIT_INTERNAL_ERROR, KVM_EXIT_IRQ_WINDOW_OPEN, KVM_EXIT_INTR, KVM_EXIT_IOAPIC_EOI, KVM_EXIT_SHUTDOWN, KVM_EXIT_UNKNOWN,
  KVM_INTERNAL_ERROR_EMULATION, KVM_MP_STATE_HALTED, KVM_MP_STATE_INIT_RECEIVED, KVM_MP_STATE_RUNNABLE,
  KVM_MP_STATE_UNINITIALIZED,
} from '../../../include-ts/linux/kvm.js';
import { LAPIC_EVENT_INIT, LAPIC_EVENT_SIPI } from '../../hw/x86/lapic.js';
import { dirtyRingFull } from './dirty-ring.js';
import { STEP_CONTINUE, STEP_FAULT, STEP_HALT, STEP_IO_EXIT, STEP_IO_FAULT, STEP_RETRY } from '../../guest/cpu.js';
import { KVM_SYNC_X86_REGS, KVM_SYNC_X86_VALID_FIELDS } from './kvm-host.js';
import { kvmCpuGetInterrupt, kvmCpuHasInterrupt } from './irq.js';
import { KVM_SYNC_X86_EVENTS, kvm_sync_regs, kvm_vcpu_events } from '../../../include-ts/asm/kvm.js';
import {
  deliverExceptionPayload, exceptionPending, vcpuEventsFromBytes, vcpuEventsToBytes, irqWindowOpen, nmiRequested, processNmi, runReadyForInjection,
} from './vcpu-events.js';
import { vcpuScanIoapic } from './scan-ioapic.js';
import { RUN, type KvmVcpu } from './vcpu.js';
import { kvmGetApicBase, kvmGetCr8, kvmSetCr8, putApicBase, regsFromBytes, regsToBytes } from './x86-regs.js';
import { kvmVcpuDeliverSipiVector, kvmVcpuReset } from './x86-reset.js';
import { MSR_IA32_APICBASE_BSP } from '../../hw/x86/apicdef.js';
import { kvmTscCatchup } from './tsc.js';
import { kvmPvEntry } from './pv-msrs.js';
import { logHistUpdate } from './stats.js';
import { haltPolled } from './halt-poll.js';

const R_CONTINUE = 1;
/** kvm_run.s.regs.events. */
const SYNC_EVENTS = RUN.syncRegs + kvm_sync_regs.offsetof('events');
const R_EXIT = 0;

function setExit(v: KvmVcpu, reason: number): void {
  setU32(v.run, RUN.exitReason, reason);
  v.exits[reason] = (v.exits[reason]! + 1) >>> 0;
}

/** kvm_arch_vcpu_ioctl_run(). */
export function vcpuIoctlRun(v: KvmVcpu, ctx: FileContext): number {
  const run = v.run;
  run[RUN.flags] = 0;
  run[RUN.flags + 1] = 0;
  try {
    const wantsToRun = run[RUN.immediateExit] === 0;
    if (v.mpState === KVM_MP_STATE_UNINITIALIZED) runUninitialized(v, ctx, wantsToRun);
    const valid = getU64n(run, RUN.validRegs);
    const dirty = getU64n(run, RUN.dirtyRegs);
    if (valid > KVM_SYNC_X86_VALID_FIELDS || dirty > KVM_SYNC_X86_VALID_FIELDS) throw kerr('EINVAL', `kvm_valid_regs/kvm_dirty_regs (0x${valid.toString(16)}/0x${dirty.toString(16)}) name fields other than KVM_SYNC_X86_REGS|SREGS|EVENTS`);
    if (dirty & KVM_SYNC_X86_REGS) {
      regsFromBytes(v, run.subarray(RUN.syncRegs));
      setU64n(run, RUN.dirtyRegs, dirty & ~KVM_SYNC_X86_REGS);
    }
    // sync_regs(): the events block goes through kvm_vcpu_ioctl_x86_set_vcpu_events; its refusal fails
    // KVM_RUN with EINVAL (what it stored before refusing stays, the dirty bit stays set).
    if (dirty & KVM_SYNC_X86_EVENTS) {
      vcpuEventsFromBytes(v, run.subarray(SYNC_EVENTS, SYNC_EVENTS + kvm_vcpu_events.size));
      setU64n(run, RUN.dirtyRegs, getU64n(run, RUN.dirtyRegs) & ~KVM_SYNC_X86_EVENTS);
    }
    // Re-sync the TPR a userspace LAPIC keeps in kvm_run.cr8.
    if (v.lapic === null) {
      const cr8 = getU64n(run, RUN.cr8);
      if (!kvmSetCr8(v, cr8)) throw kerr('EINVAL', `kvm_run.cr8 0x${cr8.toString(16)} sets bits reserved in CR8 (only bits 0-3, TPR[7:4], exist); the guest did not run`);
    }
    // complete_userspace_io: a second MMIO fragment ends KVM_RUN at once with its own exit.
    if (v.ioPending && !v.completeUserspaceIo()) return 0;
    // Userspace has handled the exit that held an MSI-X entry (it re-routed the entry's GSI): release it.
    if (v.heldMsix >= 0) v.kvm.msix.releaseHold(v);
    if (!wantsToRun) throw kerr('EINTR', 'immediate_exit is set (pending I/O was completed first; exit_reason is unchanged)');
    return vcpuRun(v, ctx);
  } finally {
    // kvm_load_guest_fpu() at the start, kvm_put_guest_fpu() here: the XSAVE header as the CPU saves it.
    v.fpu.swapThroughCpu();
    const valid = getU64n(run, RUN.validRegs);
    if (valid & KVM_SYNC_X86_REGS) regsToBytes(v, run.subarray(RUN.syncRegs));
    if (valid & KVM_SYNC_X86_EVENTS) vcpuEventsToBytes(v, run.subarray(SYNC_EVENTS, SYNC_EVENTS + kvm_vcpu_events.size));
    postRunSave(v);
  }
}

/** KVM_RUN on an AP that waits for INIT/SIPI: block, accept the events, and return EAGAIN (or EINTR). */
function runUninitialized(v: KvmVcpu, ctx: FileContext, wantsToRun: boolean): never {
  if (!wantsToRun) throw kerr('EINTR', 'immediate_exit is set');
  waitFor(v, ctx, () => hasPendingInitSipi(v), () => `vCPU ${v.vcpuId} is an AP waiting for INIT/SIPI (KVM_MP_STATE_UNINITIALIZED)`, false);
  acceptEvents(v);
  throw kerr('EAGAIN', `vCPU ${v.vcpuId} received INIT/SIPI; re-enter KVM_RUN`);
}

/** post_kvm_run_save(). */
function postRunSave(v: KvmVcpu): void {
  const run = v.run;
  run[RUN.ifFlag] = v.cpu.ifFlag ? 1 : 0;
  setU64n(run, RUN.cr8, kvmGetCr8(v));
  // Written on every exit, like if_flag and cr8: kvm_run is shared with userspace, which may have
  // stored anything there since the last exit.
  putApicBase(v, run, RUN.apicBase);
  run[RUN.readyForInterruptInjection] = runReadyForInjection(v) ? 1 : 0;
}

function hasPendingInitSipi(v: KvmVcpu): boolean {
  return v.lapic !== null && v.lapic.pendingEvents !== 0;
}

/**
 * kvm_vcpu_has_events() || kvm_vcpu_running(): a pending exception or triple fault, a queued NMI
 * (KVM_REQ_NMI wakes the vCPU even while NMIs are blocked), a pending NMI it can take, or an interrupt.
 */
export function vcpuRunnable(v: KvmVcpu): boolean {
  if (v.mpState === KVM_MP_STATE_RUNNABLE) return true;
  if (hasPendingInitSipi(v)) return true;
  if (exceptionPending(v)) return true;
  if (nmiRequested(v) || (v.nmiPending > 0 && !v.cpu.nmiBlocked && !v.cpu.shadow)) return true;
  // kvm_cpu_has_pending_timer(): an expired APIC timer wakes a halted vCPU whatever IF says.
  if (v.lapic !== null && v.lapic.timer.pending) return true;
  if (v.cpu.ifFlag && !v.cpu.shadow && kvmCpuHasInterrupt(v)) return true;
  return false;
}

/** kvm_apic_accept_events(). */
export function acceptEvents(v: KvmVcpu): void {
  const apic = v.lapic;
  if (apic === null || apic.pendingEvents === 0) return;
  if (apic.pendingEvents & LAPIC_EVENT_INIT) {
    apic.pendingEvents &= ~LAPIC_EVENT_INIT;
    // kvm_vcpu_reset(vcpu, true); then kvm_vcpu_is_bsp() — the BSP bit of IA32_APIC_BASE, not the
    // vCPU ID — decides whether the vCPU runs from the RESET vector or waits for a SIPI.
    kvmVcpuReset(v, true);
    v.mpState = kvmGetApicBase(v) & MSR_IA32_APICBASE_BSP ? KVM_MP_STATE_RUNNABLE : KVM_MP_STATE_INIT_RECEIVED;
  }
  if (apic.pendingEvents & LAPIC_EVENT_SIPI) {
    apic.pendingEvents &= ~LAPIC_EVENT_SIPI;
    if (v.mpState === KVM_MP_STATE_INIT_RECEIVED) {
      kvmVcpuDeliverSipiVector(v, apic.sipiVector);
      v.mpState = KVM_MP_STATE_RUNNABLE;
    }
  }
}

/**
 * Blocks (runs the model) until `ready`; EINTR with KVM_EXIT_INTR if nothing can make it true.
 * `halt`: kvm_vcpu_halt() (HLT), which also accounts the time blocked; else kvm_vcpu_block().
 */
function waitFor(v: KvmVcpu, ctx: FileContext, ready: () => boolean, what: () => string, halt: boolean): void {
  const stat = v.stat;
  if (ready()) {
    // An async KVM_RUN that blocked earlier and is re-entered now that the vCPU can run.
    if (stat.blocking !== 0) endBlock(v, true, halt);
    return;
  }
  if (stat.blocking === 0) {
    stat.blocking = 1;
    stat.blockStartNs = v.kvm.sched.now;
  }
  if (ctx.async) throw new WouldBlock(v.wq, what());
  const woke = v.kvm.sched.runUntil(ready);
  endBlock(v, woke, halt);
  if (!woke) {
    // kvm_handle_signal_exit() / kvm_arch_vcpu_ioctl_run(): the "signal" ends KVM_RUN.
    stat.signal_exits++;
    setExit(v, KVM_EXIT_INTR);
    throw kerr('EINTR', `${what()}, and nothing pending in the model can wake it: returning as if a signal arrived (KVM_EXIT_INTR); use ioctlAsync to wait for another part of the program`);
  }
}

/**
 * The end of kvm_vcpu_halt() / kvm_vcpu_block(): blocking drops to 0; for a halt, halt polling decides
 * whether the vCPU ever blocked (halt-poll.ts); a wakeup of a blocked vCPU counts (kvm_vcpu_wake_up
 * found it waiting), and the time it waited goes to halt_wait_ns and its histogram.
 */
function endBlock(v: KvmVcpu, woke: boolean, halt: boolean): void {
  const stat = v.stat;
  stat.blocking = 0;
  if (!halt) {
    if (woke) stat.halt_wakeup++;
    return;
  }
  const { waited, waitNs } = haltPolled(v, stat.blockStartNs, v.kvm.sched.now);
  if (!waited) return;
  if (woke) stat.halt_wakeup++;
  stat.halt_wait_ns += waitNs;
  logHistUpdate(stat.halt_wait_hist, waitNs);
}

/** #DB, and DR7.GD (general detect: DR accesses fault), which injecting a #DB clears. */
const DB_VECTOR = 1;
const DR7_GD = 1 << 13;
const WINDOW_IRQ = 1;
const WINDOW_NMI = 2;

/**
 * The interrupt- or NMI-window exit of a window armed earlier, once it is open: handle_interrupt_window
 * (VMX) / interrupt_window_interception (SVM), handle_nmi_window / iret_interception.
 */
function windowExits(v: KvmVcpu): void {
  const cpu = v.cpu;
  const stat = v.stat;
  if (v.windowArmed & WINDOW_IRQ && cpu.interruptible) {
    v.windowArmed &= ~WINDOW_IRQ;
    stat.exits++;
    stat.irq_window_exits++;
  }
  if (v.windowArmed & WINDOW_NMI && !cpu.nmiBlocked && !cpu.shadow) {
    v.windowArmed &= ~WINDOW_NMI;
    stat.exits++;
    stat.nmi_window_exits++;
  }
}

/**
 * The first half of kvm_check_and_inject_events(), out of line (rare): re-injects an injected exception,
 * else (no exception pending) an injected NMI or interrupt (KVM_SET_SREGS, KVM_INTERRUPT,
 * KVM_SET_VCPU_EVENTS), then injects a pending exception. Each completes at once in the model. Returns
 * whether anything was injected (then no new NMI or interrupt is, before the next instruction).
 */
function injectQueued(v: KvmVcpu): boolean {
  const cpu = v.cpu;
  let injected = false;
  if (v.excInjected) {
    deliverException(v);
    injected = true;
  } else if (!v.excPending) {
    if (v.nmiInjected) {
      v.nmiInjected = false;
      cpu.nmiBlocked = false;
      v.stat.nmi_injections++;
      cpu.deliverNmi();
      injected = true;
    } else if (v.injectedIrq >= 0) {
      const vec = v.injectedIrq;
      v.injectedIrq = -1;
      v.stat.irq_injections++;
      cpu.deliver(vec);
      injected = true;
    }
  }
  if (v.excPending) {
    // A #DB clears DR7.GD as it is injected (so the handler's own DR accesses do not fault again).
    if (v.excNr === DB_VECTOR) v.dr7 &= ~DR7_GD;
    deliverException(v);
    injected = true;
  }
  return injected;
}

/** kvm_inject_exception() and its completion: the payload lands (CR2/DR6), the handler is entered. */
function deliverException(v: KvmVcpu): void {
  v.excInjected = false;
  v.excPending = false;
  deliverExceptionPayload(v);
  v.cpu.deliver(v.excNr);
}

/** vcpu_run(). */
function vcpuRun(v: KvmVcpu, ctx: FileContext): number {
  setU32(v.run, RUN.exitReason, KVM_EXIT_UNKNOWN);
  let budget = v.budget;
  for (;;) {
    let r: number;
    if (v.mpState === KVM_MP_STATE_RUNNABLE) {
      r = enterGuest(v, budget);
      if (r < 0) {
        v.stat.signal_exits++;
        setExit(v, KVM_EXIT_INTR);
        throw kerr('EINTR', `vCPU ${v.vcpuId} executed ${v.budget} guest instructions without an exit; returning as if a signal arrived (KVM_EXIT_INTR)`);
      }
      budget = r === R_CONTINUE ? budget - v.lastSlice : budget;
    } else {
      r = vcpuBlock(v, ctx);
    }
    if (r <= 0) return 0;
    // vcpu_run(): after an exit the kernel handled (HLT with an in-kernel LAPIC, a wakeup), a requested
    // interrupt window that is open ends KVM_RUN. Without an in-kernel LAPIC, HLT exits first.
    if (irqWindowOpen(v, v.run[RUN.requestInterruptWindow]!) && !(v.lapic === null && v.mpState === KVM_MP_STATE_HALTED)) {
      v.stat.request_irq_exits++;
      setExit(v, KVM_EXIT_IRQ_WINDOW_OPEN);
      return 0;
    }
  }
}

/** The waiting part of vcpu_block(), out of line so the common (runnable) path allocates no closure. */
function blockHalted(v: KvmVcpu, ctx: FileContext): void {
  const halted = v.mpState === KVM_MP_STATE_HALTED;
  // The reason is formatted only if the wait fails or is handed to an async caller: a HLT the model
  // wakes from (a timer) costs no string.
  waitFor(v, ctx, () => vcpuRunnable(v), () => (halted ? `vCPU ${v.vcpuId} is halted (HLT${v.cpu.ifFlag ? '' : ' with IF=0'})` : `vCPU ${v.vcpuId} is waiting for INIT/SIPI`), halted);
}

/** vcpu_block(). */
function vcpuBlock(v: KvmVcpu, ctx: FileContext): number {
  if (v.mpState === KVM_MP_STATE_HALTED && v.lapic === null) {
    // No in-kernel LAPIC: HLT is userspace's business.
    setExit(v, KVM_EXIT_HLT);
    v.mpState = KVM_MP_STATE_RUNNABLE;
    return R_EXIT;
  }
  if (!vcpuRunnable(v)) blockHalted(v, ctx);
  else if (v.stat.blocking !== 0) endBlock(v, true, v.mpState === KVM_MP_STATE_HALTED);
  acceptEvents(v);
  if (v.mpState === KVM_MP_STATE_HALTED) {
    v.mpState = KVM_MP_STATE_RUNNABLE;
    v.cpu.halted = false;
  }
  return R_CONTINUE;
}

/**
 * KVM_REQ_DIRTY_RING_SOFT_FULL, the first request vcpu_enter_guest() serves: no entry while the ring is
 * at its soft limit (a write whose fault filled it runs again after the exit).
 */
function dirtyRingExit(v: KvmVcpu): boolean {
  const ring = v.dirtyRing;
  if (ring === null || !ring.softFullRequest || !dirtyRingFull(ring)) return false;
  setExit(v, KVM_EXIT_DIRTY_RING_FULL);
  return true;
}

/**
 * vcpu_enter_guest() repeated until something leaves the guest: returns R_EXIT (exit_reason set),
 * R_CONTINUE (halted: block next), or -1 when the instruction budget ran out.
 */
function enterGuest(v: KvmVcpu, budget: number): number {
  const cpu = v.cpu;
  const apic = v.lapic;
  const kernel = v.kvm.kernel;
  const sched = v.kvm.sched;
  let n = 0;
  v.lastSlice = 0;
  if (dirtyRingExit(v)) return R_EXIT;
  // KVM_REQ_CLOCK_UPDATE, pending at each entry in catch-up mode: kvm_guest_time_update's catch-up.
  if (v.tsc.tscAlwaysCatchup) kvmTscCatchup(v);
  // The rest of KVM_REQ_CLOCK_UPDATE (the pvclock) and KVM_REQ_STEAL_UPDATE.
  kvmPvEntry(v);
  // In catch-up mode the exit that ends this entry asks for KVM_REQ_CLOCK_UPDATE again (vcpu_enter_guest):
  // the next entry rewrites the pvclock.
  if (v.tsc.tscAlwaysCatchup) v.pv.clockUpdate = true;
  for (;;) {
    // A re-entry after an exit KVM handled (the first one was checked before the PV updates, which may
    // push to the ring and still enter, as record_steal_time() after the check can).
    if (n !== 0 && dirtyRingExit(v)) {
      v.lastSlice = n;
      return R_EXIT;
    }
    // vcpu_enter_guest() serves KVM_REQ_SCAN_IOAPIC before it injects or runs anything.
    if (v.scanIoapicRequested) vcpuScanIoapic(v);
    if (v.pendingIoapicEoi >= 0) {
      v.run[RUN.eoiVector] = v.pendingIoapicEoi;
      v.pendingIoapicEoi = -1;
      setExit(v, KVM_EXIT_IOAPIC_EOI);
      v.lastSlice = n;
      return R_EXIT;
    }
    // vcpu_run(): an expired APIC timer goes to IRR before the next entry (kvm_inject_pending_timer_irqs).
    if (apic !== null && apic.timer.pending) apic.injectPendingTimer();
    // KVM_REQ_TRIPLE_FAULT (KVM_SET_VCPU_EVENTS) is served before anything is injected.
    if (v.tripleFault) {
      v.tripleFault = false;
      setExit(v, KVM_EXIT_SHUTDOWN);
      v.lastSlice = n;
      return R_EXIT;
    }
    // The exits above leave before the guest is entered; from here the vCPU has run
    // (vcpu->arch.last_vmentry_cpu, kvm_vcpu_has_run: only an identical CPUID is accepted after it).
    v.hasRun = true;
    if (cpu.program === null) {
      // handle_emulation_failure(): the emulator decoded nothing it could run.
      v.stat.exits++;
      v.stat.insn_emulation++;
      v.stat.insn_emulation_fail++;
      setExit(v, KVM_EXIT_INTERNAL_ERROR);
      setU32(v.run, RUN.internalSuberror, KVM_INTERNAL_ERROR_EMULATION);
      setU32(v.run, RUN.internalNdata, 0);
      return R_EXIT;
    }
    // KVM_REQ_NMI: process_nmi().
    if (v.nmiQueued !== 0 || (apic !== null && apic.nmiPending !== 0)) processNmi(v);
    // A window armed at an earlier entry exits once it opens.
    if (v.windowArmed !== 0) windowExits(v);
    // kvm_check_and_inject_events(): what was already injected (or a pending exception) goes first,
    // whatever IF says; then, when nothing waits for re-injection, NMIs, then external interrupts.
    if ((v.excInjected || v.excPending || v.nmiInjected || v.injectedIrq >= 0) && injectQueued(v)) {
      // Nothing new this time round (can_inject is false). An NMI or interrupt that is waiting makes
      // the kernel ask for an immediate exit (-EBUSY): the next entry injects before the handler's
      // first instruction.
      if (cpu.fault === null && (v.nmiPending > 0 || kvmCpuHasInterrupt(v))) continue;
    } else if (v.nmiPending > 0 && !cpu.nmiBlocked && !cpu.hasPendingIo && !cpu.shadow) {
      v.nmiPending--;
      v.stat.nmi_injections++;
      cpu.deliverNmi();
    } else if (cpu.interruptible) {
      const vec = kvmCpuGetInterrupt(v);
      if (vec >= 0) {
        // kvm_queue_interrupt(): interrupt.nr keeps the vector after delivery.
        v.irqNr = vec;
        v.stat.irq_injections++;
        cpu.deliver(vec);
      }
    }
    // The end of kvm_check_and_inject_events(): enable_nmi_window / enable_irq_window for what is still
    // pending and cannot be injected now.
    if (v.nmiPending > 0 && (cpu.nmiBlocked || cpu.shadow)) v.windowArmed |= WINDOW_NMI;
    if ((v.windowArmed & WINDOW_IRQ) === 0 && !cpu.interruptible && cpu.fault === null && kvmCpuHasInterrupt(v)) v.windowArmed |= WINDOW_IRQ;
    if (cpu.fault !== null) {
      // The triple fault exits (VMX EXIT_REASON_TRIPLE_FAULT, SVM SVM_EXIT_SHUTDOWN).
      v.stat.exits++;
      setExit(v, KVM_EXIT_SHUTDOWN);
      v.lastSlice = n;
      return R_EXIT;
    }
    // A userspace irqchip asked for an exit once it can inject (request_interrupt_window): VMX's
    // interrupt-window exit fires at the first instruction boundary with IF=1 and no shadow.
    if (v.run[RUN.requestInterruptWindow] !== 0 && irqWindowOpen(v, 1)) {
      // handle_interrupt_window() / interrupt_window_interception(): one exit, whoever armed the window.
      v.windowArmed &= ~WINDOW_IRQ;
      v.stat.exits++;
      v.stat.irq_window_exits++;
      setExit(v, KVM_EXIT_IRQ_WINDOW_OPEN);
      v.lastSlice = n;
      return R_EXIT;
    }
    if (n >= budget) {
      v.lastSlice = n;
      return -1;
    }
    // Instructions that cannot make anything deliverable run as one batch (GuestCpu.step()): the
    // checks above would deliver nothing between them.
    // One at a time while an 'interleave' scheduling point left work pending: each instruction's
    // point may run some of it.
    const st = cpu.step(v, sched.pendingWork === 0 && sched.runnableTasks === 0 ? budget - n : 1);
    n += cpu.ran;
    if (st === STEP_CONTINUE) {
      kernel.point();
      if (v.requestedExit !== 0) {
        // An in-kernel device completed the access and asked for an exit after it (the MSI-X table).
        setExit(v, v.requestedExit);
        v.requestedExit = 0;
        v.lastSlice = n;
        return R_EXIT;
      }
      continue;
    }
    v.lastSlice = n;
    switch (st) {
      case STEP_HALT:
        // __kvm_emulate_halt(), with or without an in-kernel LAPIC.
        v.stat.exits++;
        v.stat.halt_exits++;
        v.mpState = KVM_MP_STATE_HALTED;
        kernel.point();
        return R_CONTINUE;
      case STEP_IO_EXIT:
        v.exits[getU32(v.run, RUN.exitReason)]!++;
        v.retireMmioWrite();
        return R_EXIT;
      case STEP_RETRY:
        // The write's page fault was handled: back to vcpu_enter_guest(), which serves the request.
        continue;
      case STEP_IO_FAULT:
        v.reportMemoryFault();
        throw kerr('EFAULT', `guest access to 0x${v.faultGpa.toString(16)} hit a memory slot whose host address is not mapped (KVM_EXIT_MEMORY_FAULT)`);
      case STEP_FAULT:
      default:
        v.stat.exits++;
        setExit(v, KVM_EXIT_SHUTDOWN);
        return R_EXIT;
    }
  }
}
