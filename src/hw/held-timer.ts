// A device timer on the machine's virtual time (src/sim/scheduler.ts) that its owner may hold while an
// expiry is still pending: KVM's APIC timer and PIT keep their hrtimers running, and expiries that
// arrive while one is pending are lost (APIC: lapic_timer.pending is one flag) or only counted (PIT,
// for reinjection). Here those expiries are not fired at all: the owner holds the timer, and resume()
// says how many it skipped and re-arms it at its next period boundary. The interrupts come out the
// same, and no timer fires for nobody, so a program with nothing else to wait on gets EINTR instead of
// the scheduler running forever. expiresAt() gives the expiry the kernel's timer would hold meanwhile.

import { Timer, type Scheduler } from '../sim/scheduler.js';

export class HeldTimer {
  /** The next expiry (hrtimer expires, virtual ns); a periodic timer's moves one period on at each it fires. Kept after stop(). */
  expires = 0;
  /** The period (ns) and whether the timer re-arms itself with it; kept after stop(). */
  period = 0;
  periodic = false;
  /** The owner holds it: a periodic timer does not re-arm until resume(). */
  held = false;
  private timer: Timer | null = null;

  constructor(
    private readonly name: string,
    private readonly sched: () => Scheduler | null,
    /** Called at each expiry the timer fires (the owner may hold() from here). */
    private readonly onExpiry: () => void,
  ) {}

  private hostTimer(): Timer {
    return (this.timer ??= new Timer(this.name, () => this.fire()));
  }

  private fire(): void {
    if (this.periodic) this.expires += this.period;
    this.onExpiry();
    if (this.periodic && !this.held) this.sched()?.arm(this.hostTimer(), this.expires);
  }

  /** Arms the timer for `expires`; with `periodic` it then fires every `period`. */
  start(expires: number, period: number, periodic: boolean): void {
    const s = this.sched();
    if (s === null) return;
    this.stop();
    this.expires = expires;
    this.period = period;
    this.periodic = periodic;
    s.arm(this.hostTimer(), expires);
  }

  /** Moves the next expiry; the timer is armed for it unless held or `arm` is false. */
  retarget(expires: number, arm: boolean): void {
    const s = this.sched();
    if (this.timer !== null) s?.cancel(this.timer);
    this.expires = expires;
    if (arm && !this.held) s?.arm(this.hostTimer(), expires);
  }

  /** The host timer stops (hrtimer_cancel); expiry and period stay. */
  stop(): void {
    if (this.timer !== null) this.sched()?.cancel(this.timer);
    // The kernel's timer kept firing while this one was held, each time one period on: it stops there.
    if (this.held) {
      const s = this.sched();
      if (s !== null) this.expires = this.expiresAt(s.now);
    }
    this.held = false;
  }

  /** From onExpiry: a periodic timer stops re-arming until resume(). */
  hold(): void {
    if (this.periodic) this.held = true;
  }

  /** Releases a hold: the expiries it skipped up to now, and the timer fires again from its next one. */
  resume(): number {
    if (!this.held) return 0;
    this.held = false;
    const s = this.sched();
    if (s === null) return 0;
    let n = 0;
    if (this.expires <= s.now) {
      n = Math.floor((s.now - this.expires) / this.period) + 1;
      this.expires += n * this.period;
    }
    s.arm(this.hostTimer(), this.expires);
    return n;
  }

  /** The expiry the kernel's timer would hold at `now`: a held periodic timer's moves on each period. */
  expiresAt(now: number): number {
    if (!this.held || this.expires > now) return this.expires;
    return this.expires + (Math.floor((now - this.expires) / this.period) + 1) * this.period;
  }
}
