// The 8254 programmable interval timer as KVM emulates it (arch/x86/kvm/i8254.c: pit_get_count,
// pit_get_out, pit_latch_count, pit_latch_status, pit_set_gate, create_pit_timer, pit_load_count,
// pit_ioport_read/write, speaker_ioport_read/write, kvm_pit_reset), on the machine's virtual time.
// Hypervisor-neutral: the hypervisor says whether channel 0 may run a timer and what an expiry does.
// - Three channels counting at 1193182 Hz. Only channel 0 drives a host timer; its count is derived
//   from the time left on that timer (period - remaining), channels 1 and 2 from count_load_time.
// - Count 0 means 0x10000. Modes 6 and 7 are 2 and 3. Modes 0, 1 and 4 arm a one-shot timer, 2 and 3
//   a periodic one (raised to the hypervisor's minimum period), any other mode (0xff after reset)
//   stops it. The timer's period and expiry stay after it stops: the count keeps moving, as KVM's does.
// - The first expiry comes one programmed interval after the count is loaded, later ones one
//   (possibly raised) period apart.
// - Port 0x43 writes a control word (counter latch, read-back of count and/or status, or the
//   access mode, mode and BCD bit); ports 0x40-0x42 read and write the counts in the access mode
//   (lobyte, hibyte, lobyte then hibyte). Reads of 0x43 return 0 (KVM does not write the data).
// - Port 0x61 (only with a speaker device): bit 0 is channel 2's gate, bit 1 the speaker data; reads
//   add channel 2's output (bit 5) and a refresh clock toggling every 2^14 ns (bit 4).
// Not modelled: NULL COUNT (status bit 6: KVM has a TODO for it too), BCD counting (KVM counts in
// binary whatever the BCD bit says), the gate of channels 0 and 1 (KVM never changes them).

import type { Scheduler } from '../../sim/scheduler.js';
import { HeldTimer } from '../held-timer.js';

/** KVM_PIT_FREQ. */
export const PIT_FREQ = 1193182;
const NSEC_PER_SEC = 1_000_000_000;
export const PIT_BASE = 0x40;
export const PIT_LENGTH = 4;
export const SPEAKER_PORT = 0x61;
/** pit_state.flags bits (KVM_PIT_FLAGS_HPET_LEGACY, KVM_PIT_FLAGS_SPEAKER_DATA_ON). */
export const PIT_FLAGS_HPET_LEGACY = 1;
export const PIT_FLAGS_SPEAKER_DATA_ON = 2;

export const RW_STATE_LSB = 1;
export const RW_STATE_MSB = 2;
export const RW_STATE_WORD0 = 3;
export const RW_STATE_WORD1 = 4;

/** struct kvm_kpit_channel_state (the layout of struct kvm_pit_channel_state). */
export class PitChannel {
  count = 0;
  latchedCount = 0;
  countLatched = 0;
  statusLatched = 0;
  status = 0;
  readState = 0;
  writeState = 0;
  writeLatch = 0;
  rwMode = 0;
  mode = 0;
  bcd = 0;
  gate = 0;
  /** ktime of the last count load (virtual ns); a 64-bit value kept as a number. */
  countLoadTime = 0;
}

/** What the PIT needs of its hypervisor. */
export interface PitHooks {
  /** Whether channel 0 may start its timer (KVM: an in-kernel IOAPIC, and no HPET legacy mode). */
  timerAllowed(): boolean;
  /** The minimum period of a periodic timer in ns (KVM's min_timer_period_us). */
  readonly minPeriodNs: number;
  /** Channel 0's timer was cancelled (KVM: kthread_flush_work of the expiry work). */
  timerCancelled(): void;
  /** A new channel 0 timer was programmed (KVM: kvm_pit_reset_reinject). */
  timerProgrammed(): void;
  /** Channel 0's timer expired (pit_timer_fn); it is re-armed afterwards unless suspended. */
  expired(): void;
}

/** floor(t * PIT_FREQ / 1e9) for t >= 0 without losing precision (mul_u64_u32_div). */
export function nsToTicks(t: number): number {
  if (t <= 0) return 0;
  const s = Math.floor(t / NSEC_PER_SEC);
  return s * PIT_FREQ + Math.floor(((t - s * NSEC_PER_SEC) * PIT_FREQ) / NSEC_PER_SEC);
}

/** floor(val * 1e9 / PIT_FREQ): a count's interval in ns. */
export function ticksToNs(val: number): number {
  return Math.floor((val * NSEC_PER_SEC) / PIT_FREQ);
}

export class Pit {
  readonly channels = [new PitChannel(), new PitChannel(), new PitChannel()] as const;
  /** pit_state.flags. */
  flags = 0;
  /** Channel 0's timer (pit_timer_fn): the hypervisor may hold it while a pulse is unacked. */
  private readonly timer: HeldTimer;

  constructor(
    private readonly hooks: PitHooks,
    private readonly sched: Scheduler,
  ) {
    this.timer = new HeldTimer('i8254', () => sched, () => hooks.expired());
  }

  private get now(): number {
    return this.sched.now;
  }

  /** pit_state.period (ns; 0 until a channel 0 timer was first created). */
  get period(): number {
    return this.timer.period;
  }

  /** The channel 0 timer's expiry (hrtimer expires), virtual ns; kept after it stops. */
  get expires(): number {
    return this.timer.expires;
  }

  /** The hypervisor holds the periodic timer: expiries are counted at resume, not fired. */
  get suspended(): boolean {
    return this.timer.held;
  }

  /** Called from expired(): stop firing; resume() tells how many expiries were held back. */
  suspend(): void {
    this.timer.hold();
  }

  /** The expiries a suspended periodic timer skipped up to now; it fires again from the next one. */
  resume(): number {
    return this.timer.resume();
  }

  /** destroy_pit_timer(): the timer stops; period and expiry stay. */
  stopTimer(): void {
    this.timer.stop();
    this.hooks.timerCancelled();
  }

  /** create_pit_timer(): the first expiry one interval on, then (periodic) every period, raised to the minimum. */
  private createTimer(val: number, periodic: boolean): void {
    if (!this.hooks.timerAllowed()) return;
    const interval = ticksToNs(val);
    this.stopTimer();
    this.hooks.timerProgrammed();
    this.timer.start(this.now + interval, periodic && interval < this.hooks.minPeriodNs ? this.hooks.minPeriodNs : interval, periodic);
  }

  /** kpit_elapsed(): ns since the channel's count was loaded (channel 0: period - time left). */
  private elapsed(ch: number): number {
    if (ch !== 0) return this.now - this.channels[ch]!.countLoadTime;
    if (this.period === 0) return 0;
    return this.period - (this.timer.expiresAt(this.now) - this.now);
  }

  /** pit_get_count(). */
  getCount(ch: number): number {
    const c = this.channels[ch]!;
    const d = nsToTicks(this.elapsed(ch));
    switch (c.mode) {
      case 0:
      case 1:
      case 4:
      case 5:
        return (c.count - d) & 0xffff;
      case 3:
        return c.count - ((2 * d) % c.count);
      default:
        return c.count - (d % c.count);
    }
  }

  /** pit_get_out(). */
  getOut(ch: number): number {
    const c = this.channels[ch]!;
    const d = nsToTicks(this.elapsed(ch));
    switch (c.mode) {
      case 1:
        return d < c.count ? 1 : 0;
      case 2:
        return d % c.count === 0 && d !== 0 ? 1 : 0;
      case 3:
        return d % c.count < (c.count + 1) >> 1 ? 1 : 0;
      case 4:
      case 5:
        return d === c.count ? 1 : 0;
      default:
        return d >= c.count ? 1 : 0;
    }
  }

  private latchCount(ch: number): void {
    const c = this.channels[ch]!;
    if (c.countLatched) return;
    c.latchedCount = this.getCount(ch) & 0xffff;
    c.countLatched = c.rwMode;
  }

  private latchStatus(ch: number): void {
    const c = this.channels[ch]!;
    if (c.statusLatched) return;
    c.status = ((this.getOut(ch) << 7) | (c.rwMode << 4) | (c.mode << 1) | c.bcd) & 0xff;
    c.statusLatched = 1;
  }

  /** pit_set_gate(): modes 1, 2, 3 and 5 restart counting on a rising edge. */
  setGate(ch: number, val: number): void {
    const c = this.channels[ch]!;
    if ((c.mode === 1 || c.mode === 2 || c.mode === 3 || c.mode === 5) && c.gate < val) c.countLoadTime = this.now;
    c.gate = val;
  }

  /** pit_load_count(). */
  loadCount(ch: number, val: number): void {
    if (val === 0) val = 0x10000;
    const c = this.channels[ch]!;
    c.count = val;
    if (ch !== 0) {
      c.countLoadTime = this.now;
      return;
    }
    switch (c.mode) {
      case 0:
      case 1:
      case 4:
        this.createTimer(val, false);
        break;
      case 2:
      case 3:
        this.createTimer(val, true);
        break;
      default:
        this.stopTimer();
    }
  }

  /** kvm_pit_load_count(): when HPET legacy mode starts, channel 0's timer stops instead. */
  loadCountHpet(ch: number, val: number, hpetLegacyStart: boolean): void {
    if (!hpetLegacyStart) {
      this.loadCount(ch, val);
      return;
    }
    const c = this.channels[0];
    const saved = c.mode;
    c.mode = 0xff;
    this.loadCount(ch, val);
    c.mode = saved;
  }

  /** kvm_pit_reset(). */
  reset(): void {
    this.flags = 0;
    for (let i = 0; i < 3; i++) {
      const c = this.channels[i]!;
      c.mode = 0xff;
      c.gate = i !== 2 ? 1 : 0;
      this.loadCount(i, 0);
    }
  }

  /** pit_ioport_write(): `port` 0x40-0x43, the low byte of `value`. */
  write(port: number, value: number): void {
    const val = value & 0xff;
    const addr = port & 3;
    if (addr === 3) {
      const ch = val >> 6;
      if (ch === 3) {
        // Read-Back: bit 5 clear latches the counts, bit 4 clear the status, of the channels in bits 1-3.
        for (let i = 0; i < 3; i++) {
          if (!(val & (2 << i))) continue;
          if (!(val & 0x20)) this.latchCount(i);
          if (!(val & 0x10)) this.latchStatus(i);
        }
        return;
      }
      const c = this.channels[ch]!;
      const access = (val >> 4) & 3;
      if (access === 0) {
        this.latchCount(ch);
        return;
      }
      c.rwMode = access;
      c.readState = access;
      c.writeState = access;
      c.mode = (val >> 1) & 7;
      if (c.mode > 5) c.mode -= 4;
      c.bcd = val & 1;
      return;
    }
    const c = this.channels[addr]!;
    switch (c.writeState) {
      case RW_STATE_MSB:
        this.loadCount(addr, val << 8);
        break;
      case RW_STATE_WORD0:
        c.writeLatch = val;
        c.writeState = RW_STATE_WORD1;
        break;
      case RW_STATE_WORD1:
        this.loadCount(addr, c.writeLatch | (val << 8));
        c.writeState = RW_STATE_WORD0;
        break;
      default:
        this.loadCount(addr, val);
    }
  }

  /** pit_ioport_read(): a latched status first, then a latched count, else the live count. */
  read(port: number): number {
    const addr = port & 3;
    if (addr === 3) return 0;
    const c = this.channels[addr]!;
    if (c.statusLatched) {
      c.statusLatched = 0;
      return c.status;
    }
    if (c.countLatched) {
      switch (c.countLatched) {
        case RW_STATE_MSB:
          c.countLatched = 0;
          return c.latchedCount >> 8;
        case RW_STATE_WORD0:
          c.countLatched = RW_STATE_MSB;
          return c.latchedCount & 0xff;
        default:
          c.countLatched = 0;
          return c.latchedCount & 0xff;
      }
    }
    switch (c.readState) {
      case RW_STATE_MSB:
        return (this.getCount(addr) >> 8) & 0xff;
      case RW_STATE_WORD0:
        c.readState = RW_STATE_WORD1;
        return this.getCount(addr) & 0xff;
      case RW_STATE_WORD1:
        c.readState = RW_STATE_WORD0;
        return (this.getCount(addr) >> 8) & 0xff;
      default:
        return this.getCount(addr) & 0xff;
    }
  }

  /** speaker_ioport_write(). */
  speakerWrite(value: number): void {
    if (value & 2) this.flags |= PIT_FLAGS_SPEAKER_DATA_ON;
    else this.flags &= ~PIT_FLAGS_SPEAKER_DATA_ON;
    this.setGate(2, value & 1);
  }

  /** speaker_ioport_read(). */
  speakerRead(): number {
    const refresh = Math.floor(this.now / 16384) & 1;
    return ((this.flags & PIT_FLAGS_SPEAKER_DATA_ON ? 1 : 0) << 1) | this.channels[2].gate | (this.getOut(2) << 5) | (refresh << 4);
  }
}
