// The local APIC timer, one-shot and periodic, as KVM emulates it with an hrtimer (arch/x86/kvm/lapic.c:
// update_divide_count, tmict_to_ns, set_target_expiration, limit_periodic_timer_frequency,
// apic_update_lvtt, apic_timer_fn/apic_timer_expired, kvm_apic_inject_pending_timer_irqs,
// apic_get_tmcct, update_target_expiration, __start_apic_timer), on the machine's virtual time.
// - The count runs at the APIC bus clock (KVM: 1 ns a cycle) divided by TDCR (2..128, or 1).
//   Writing TMICT (not in TSC-deadline mode) cancels the timer and starts it again; 0 stops it.
// - Periodic periods are raised to min_timer_period_us (KVM's module parameter, 200 us; 0 for the
//   bare hardware model). Each expiry of a periodic timer re-arms it one period on.
// - An expiry only marks the timer pending and wakes the vCPU; the hypervisor injects it (LVTT's
//   vector and delivery mode, unless LVTT is masked or the APIC hardware-disabled) when it next enters
//   the guest (KVM: kvm_inject_apic_timer_irqs). A second expiry while one is pending is lost.
// - TMCCT = (remaining ns mod period) / (bus cycle * divide), 0 once a one-shot timer expired (and,
//   by that formula, also at the very instant it starts: guest instructions take no virtual time).
// - Switching LVTT between TSC-deadline and the other modes stops the timer and zeroes TMICT; switching
//   between one-shot and periodic keeps it running. Changing TDCR rescales the time left.
// - KVM_SET_LAPIC restarts the timer from the TMCCT in the page (a one-shot one with TMCCT 0 fires at
//   once) and stores TMCCT as 0.
// - TSC-deadline mode: the hypervisor, which knows the guest TSC, arms the timer for a deadline
//   (armDeadline, from IA32_TSC_DEADLINE writes); the deadline is cleared when its expiry is injected.
// Not modelled: KVM's timer advance (the interrupt fires at the deadline, as the guest sees it after
// kvm_wait_lapic_expire) and the VMX preemption timer.

import type { Scheduler } from '../../sim/scheduler.js';
import { HeldTimer } from '../held-timer.js';
import { APIC_LVTT, APIC_TDCR, APIC_TMICT } from './apicdef.js';

export const APIC_LVT_TIMER_ONESHOT = 0;
export const APIC_LVT_TIMER_PERIODIC = 1 << 17;
export const APIC_LVT_TIMER_TSCDEADLINE = 2 << 17;
/** APIC_BUS_CYCLE_NS_DEFAULT. */
const BUS_CYCLE_NS = 1;

/** What the timer needs of its APIC. */
export interface TimerApic {
  readonly regs: Uint32Array;
  /** The LVT timer mode bits a write keeps (KVM's lapic_timer.timer_mode_mask). */
  readonly timerModeMask: number;
  /** Expiry: wake the vCPU so the hypervisor injects (kvm_vcpu_kick). */
  timerExpired(): void;
}

export class ApicTimer {
  /** apic->divide_count. */
  divideCount = 2;
  /** lapic_timer.period in ns (0: not running). */
  period = 0;
  /** lapic_timer.timer_mode: LVTT's mode bits as the mask keeps them. */
  mode = APIC_LVT_TIMER_ONESHOT;
  /** lapic_timer.pending: an expiry waiting to be injected. */
  pending = false;
  /** min_timer_period_us in ns (KVM's module parameter; 0 on hardware). */
  minPeriodNs = 0;
  /** lapic_timer.tscdeadline (TSC-deadline mode): the guest TSC to fire at, 0 when disarmed. */
  tscDeadline = 0n;
  /** restart_apic_timer() in TSC-deadline mode (start_sw_tscdeadline): set by the hypervisor, which can turn a deadline into time. */
  restartDeadline: (() => void) | null = null;
  /**
   * The hrtimer; its expiry is lapic_timer.target_expiration. An expiry holds it until injected() (KVM
   * re-arms a periodic timer at once and loses the expiries that come while one is pending: the same
   * interrupts, see held-timer.ts).
   */
  private readonly timer: HeldTimer;

  constructor(
    private readonly apic: TimerApic,
    private readonly sched: () => Scheduler | null,
  ) {
    this.timer = new HeldTimer('lapic-timer', sched, () => this.expire());
  }

  private get tmict(): number {
    return this.apic.regs[APIC_TMICT >> 2]!;
  }

  /** update_divide_count(): TDCR bits 0, 1 and 3 select 2, 4, ..., 128, or 1. */
  updateDivide(): void {
    const t = this.apic.regs[APIC_TDCR >> 2]! & 0xf;
    this.divideCount = 1 << ((((t & 3) | ((t & 8) >> 1)) + 1) & 7);
  }

  private toNs(count: number): number {
    return count * BUS_CYCLE_NS * this.divideCount;
  }

  /** limit_periodic_timer_frequency(). */
  private limitPeriodic(): void {
    if (this.mode === APIC_LVT_TIMER_PERIODIC && this.period !== 0 && this.period < this.minPeriodNs) this.period = this.minPeriodNs;
  }

  /** cancel_apic_timer(): the host timer stopped, and no expiry pending. */
  cancel(): void {
    this.timer.stop();
    this.pending = false;
  }

  /** apic_update_lvtt(), after an LVTT store. */
  updateLvtt(): void {
    const mode = this.apic.regs[APIC_LVTT >> 2]! & this.apic.timerModeMask;
    if (mode === this.mode) return;
    if ((this.mode === APIC_LVT_TIMER_TSCDEADLINE) !== (mode === APIC_LVT_TIMER_TSCDEADLINE)) {
      this.cancel();
      this.apic.regs[APIC_TMICT >> 2] = 0;
      this.period = 0;
      this.tscDeadline = 0n;
    }
    this.mode = mode;
    this.limitPeriodic();
    // One-shot <-> periodic keeps the timer running; whether an expiry re-arms follows the mode
    // (apic_timer_fn asks lapic_is_periodic() each time).
    this.timer.periodic = mode === APIC_LVT_TIMER_PERIODIC;
    this.timer.period = this.period;
  }

  /**
   * __start_apic_timer(count): one-shot and periodic timers start from TMICT, or from `count` (the
   * TMCCT a KVM_SET_LAPIC page holds); nothing runs while TMICT is 0.
   */
  start(count?: number): void {
    this.pending = false;
    if (this.mode === APIC_LVT_TIMER_TSCDEADLINE) {
      if (this.tscDeadline !== 0n) this.restartDeadline?.();
      return;
    }
    this.period = this.toNs(this.tmict);
    if (this.period === 0) return;
    this.limitPeriodic();
    let deadline = this.period;
    if (count !== undefined) {
      deadline = this.toNs(count);
      if (deadline <= 0) deadline = this.mode === APIC_LVT_TIMER_PERIODIC ? this.period : 0;
      else if (deadline > this.period) deadline = this.period;
    }
    const s = this.sched();
    if (s !== null) this.timer.start(s.now + deadline, this.period, this.mode === APIC_LVT_TIMER_PERIODIC);
  }

  /**
   * start_sw_tscdeadline(), from the hypervisor: the deadline is `ns` of virtual time away; one already
   * passed (ns <= 0) expires at once.
   */
  armDeadline(ns: number): void {
    const s = this.sched();
    if (s === null) return;
    if (ns <= 0) this.expire();
    else this.timer.start(s.now + ns, 0, false);
  }

  /** apic_timer_fn() / apic_timer_expired(): the expiry is pending until injected. */
  private expire(): void {
    this.pending = true;
    this.timer.hold();
    this.apic.timerExpired();
  }

  /** apic_get_tmcct(). */
  current(now: number): number {
    if (this.tmict === 0 || this.period === 0) return 0;
    const remaining = Math.max(0, this.timer.expiresAt(now) - now);
    return Math.floor((remaining % this.period) / (BUS_CYCLE_NS * this.divideCount));
  }

  /** The TDCR write: a running timer's time left is rescaled to the new divisor (update_target_expiration). */
  divideChanged(oldDivide: number): void {
    if (this.divideCount === oldDivide || this.period === 0) return;
    const s = this.sched();
    if (s === null) return;
    this.period = this.toNs(this.tmict);
    this.limitPeriodic();
    this.timer.period = this.period;
    const left = Math.max(0, this.timer.expiresAt(s.now) - s.now);
    // restart_apic_timer() (start_sw_timer): nothing while an expiry is pending (a periodic one re-arms
    // when injected); otherwise armed, even for a one-shot timer that already expired and was injected,
    // whose time left is 0: it fires again, as KVM's does.
    this.timer.retarget(s.now + Math.floor((left * this.divideCount) / oldDivide), !this.pending);
  }

  /**
   * kvm_apic_inject_pending_timer_irqs() bookkeeping, after the caller delivered LVTT: a TSC deadline is
   * used up; a periodic timer runs again from its next period boundary.
   */
  injected(): void {
    this.pending = false;
    if (this.mode === APIC_LVT_TIMER_TSCDEADLINE) this.tscDeadline = 0n;
    else if (this.mode === APIC_LVT_TIMER_PERIODIC && this.period !== 0) this.timer.resume();
  }
}
