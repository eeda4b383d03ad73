// The 8254 as KVM emulates it (src/hw/x86/i8254.ts), checked against arch/x86/kvm/i8254.c's rules:
// pit_get_count/pit_get_out per mode, pit_latch_count/pit_latch_status, the read-back command,
// pit_ioport_read/write's access-mode state machines, pit_load_count (0 = 0x10000; modes 0/1/4
// one-shot, 2/3 periodic, others stop) and create_pit_timer (first expiry one interval away, periodic
// periods raised to min_timer_period_us).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Scheduler } from '../../../src/sim/scheduler.js';
import { Pit, nsToTicks, ticksToNs, PIT_FREQ, type PitHooks } from '../../../src/hw/x86/i8254.js';
import { fcParams } from '../../support/runs.js';

function make(minPeriodNs = 0, allowed = true) {
  const sched = new Scheduler();
  const log: number[] = [];
  /** hold: the hypervisor holds the timer at each expiry (as KVM's glue does while an IRQ is unacked). */
  const ctl = { hold: false };
  const hooks: PitHooks = {
    minPeriodNs,
    timerAllowed: () => allowed,
    timerProgrammed: () => {},
    timerCancelled: () => {},
    expired: () => {
      log.push(sched.now);
      if (ctl.hold) pit.suspend();
    },
  };
  const pit = new Pit(hooks, sched);
  pit.reset();
  const load = (ch: number, ctrl: number, ...bytes: number[]) => {
    pit.write(0x43, (ch << 6) | ctrl);
    for (const b of bytes) pit.write(0x40 + ch, b);
  };
  /** Counter-latch command, then the two bytes (lobyte/hibyte access). */
  const latched = (ch: number) => {
    pit.write(0x43, ch << 6);
    return pit.read(0x40 + ch) | (pit.read(0x40 + ch) << 8);
  };
  return { sched, pit, log, load, latched, ctl };
}

describe('nsToTicks / ticksToNs (mul_u64_u32_div with KVM_PIT_FREQ 1193182)', () => {
  it('is exact for large times', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 52 }), (t) => {
        expect(nsToTicks(t)).toBe(Number((BigInt(t) * BigInt(PIT_FREQ)) / 1_000_000_000n));
      }),
      fcParams(500),
    );
  });
  it('a count of 0x10000 is 54925401 ns', () => {
    expect(ticksToNs(0x10000)).toBe(Math.floor((0x10000 * 1e9) / PIT_FREQ));
  });
});

describe('counter modes on channel 0', () => {
  it('mode 0: counts down from the loaded count, OUT rises at terminal count, one expiry (one-shot)', () => {
    const { sched, pit, log, load, latched } = make();
    load(0, 0x30, 0xe8, 0x03); // lobyte/hibyte, mode 0, 1000
    expect(pit.channels[0].count).toBe(1000);
    sched.advance(ticksToNs(400) + 1);
    expect(latched(0)).toBe(1000 - 400);
    expect(pit.getOut(0)).toBe(0);
    sched.advance(ticksToNs(1000));
    expect(log).toEqual([ticksToNs(1000)]);
    expect(pit.getOut(0)).toBe(1);
    // The counter wraps past zero: (count - d) & 0xffff.
    expect(pit.getCount(0)).toBe((1000 - nsToTicks(sched.now)) & 0xffff);
  });

  it('mode 2: the count reloads every period; OUT is high only at multiples of the count', () => {
    const { sched, pit, log, load } = make();
    load(0, 0x34, 100, 0); // mode 2, 100
    const p = ticksToNs(100);
    sched.advance(3 * p + ticksToNs(30) + 1);
    expect(log.length).toBe(3);
    const d = nsToTicks(pit.period - (pit.expires - sched.now));
    expect(pit.getCount(0)).toBe(100 - (d % 100));
    expect(pit.getOut(0)).toBe(d % 100 === 0 && d !== 0 ? 1 : 0);
  });

  it('mode 3: counts down by two; OUT is high for the first half of each period', () => {
    const { sched, pit, load } = make();
    load(0, 0x36, 100, 0); // mode 3, 100
    sched.advance(ticksToNs(20) + 1);
    expect(pit.getCount(0)).toBe(100 - ((2 * 20) % 100));
    expect(pit.getOut(0)).toBe(1);
    sched.advance(ticksToNs(40));
    expect(pit.getOut(0)).toBe(0);
  });

  it('modes 6 and 7 are 2 and 3', () => {
    const { pit } = make();
    pit.write(0x43, 0x3c);
    expect(pit.channels[0].mode).toBe(6 - 4);
    pit.write(0x43, 0x3e);
    expect(pit.channels[0].mode).toBe(3);
  });

  it('a periodic timer shorter than the minimum period keeps its first expiry and then runs at the minimum', () => {
    const { sched, pit, log, load } = make(200_000);
    load(0, 0x34, 10, 0);
    expect(pit.period).toBe(200_000);
    sched.advance(500_000);
    expect(log).toEqual([ticksToNs(10), ticksToNs(10) + 200_000, ticksToNs(10) + 400_000]);
  });

  it('no timer when the hypervisor forbids it (KVM: no in-kernel IOAPIC, or HPET legacy): the count stands still', () => {
    const { sched, pit, load } = make(0, false);
    load(0, 0x34, 100, 0);
    sched.advance(1_000_000);
    expect(pit.getCount(0)).toBe(100);
    expect(sched.nextTimerAt()).toBeUndefined();
  });

  it('after reset (mode 0xff, count 0x10000) no timer runs and the count reads 0', () => {
    const { sched, pit } = make();
    expect(sched.nextTimerAt()).toBeUndefined();
    expect(pit.channels.map((c) => [c.count, c.mode, c.gate])).toEqual([[0x10000, 0xff, 1], [0x10000, 0xff, 1], [0x10000, 0xff, 0]]);
    expect(pit.read(0x40)).toBe(0);
  });
});

describe('access modes, latch and read-back (pit_ioport_read/write)', () => {
  it('lobyte only loads the byte; hibyte only loads byte << 8; a count of 0 is 0x10000', () => {
    const { pit, load } = make();
    load(1, 0x14, 0x42);
    expect(pit.channels[1].count).toBe(0x42);
    load(1, 0x24, 0x42);
    expect(pit.channels[1].count).toBe(0x4200);
    load(1, 0x14, 0);
    expect(pit.channels[1].count).toBe(0x10000);
  });

  it('lobyte/hibyte reads alternate bytes of the live count', () => {
    const { sched, pit, load } = make();
    load(2, 0xb4, 0x34, 0x12); // channel 2, mode 2, 0x1234: counts from count_load_time
    sched.advance(ticksToNs(0x34) + 1);
    const c = pit.getCount(2);
    expect(pit.read(0x42)).toBe(c & 0xff);
    expect(pit.read(0x42)).toBe((c >> 8) & 0xff);
  });

  it('a latched count stays while time runs, a second latch is ignored until the count was read', () => {
    const { sched, pit, load } = make();
    load(2, 0xb0, 0x00, 0x10); // mode 0, 0x1000
    sched.advance(ticksToNs(0x100) + 1);
    pit.write(0x43, 0x80); // latch channel 2
    const want = pit.getCount(2);
    sched.advance(ticksToNs(0x100));
    pit.write(0x43, 0x80); // ignored: still latched
    expect(pit.read(0x42) | (pit.read(0x42) << 8)).toBe(want);
    expect(pit.channels[2].countLatched).toBe(0);
  });

  it('read-back latches status before count: status = OUT<<7 | rw<<4 | mode<<1 | bcd, then the count', () => {
    const { pit, load } = make();
    load(0, 0x34, 0x00, 0x10);
    pit.write(0x43, 0xc2); // read-back, count and status, channel 0
    expect(pit.read(0x40)).toBe((0 << 7) | (3 << 4) | (2 << 1));
    expect(pit.read(0x40) | (pit.read(0x40) << 8)).toBe(0x1000);
  });

  it('read-back with bit 4 set latches only the count, bit 5 only the status', () => {
    const { pit, load } = make();
    load(1, 0x74, 0x00, 0x20);
    pit.write(0x43, 0xd4); // count only, channel 1
    expect([pit.channels[1].countLatched, pit.channels[1].statusLatched]).toEqual([3, 0]);
    pit.write(0x43, 0xe4); // status only, channel 1
    expect(pit.channels[1].statusLatched).toBe(1);
  });

  it('port 0x43 reads 0', () => {
    const { pit } = make();
    expect(pit.read(0x43)).toBe(0);
  });

  it('channel 2 gate: a rising edge restarts counting in mode 2, not in mode 0', () => {
    const { sched, pit, load } = make();
    load(2, 0xb4, 0x00, 0x10);
    sched.advance(ticksToNs(0x80) + 1);
    pit.speakerWrite(1);
    expect(pit.channels[2].countLoadTime).toBe(sched.now);
    load(2, 0xb0, 0x00, 0x10);
    const t = pit.channels[2].countLoadTime;
    sched.advance(100);
    pit.speakerWrite(0);
    pit.speakerWrite(1);
    expect(pit.channels[2].countLoadTime).toBe(t);
  });
});

describe('the held timer (suspend/resume)', () => {
  it('counts the expiries it skipped and fires again from the next period boundary', () => {
    const { sched, pit, log, load, ctl } = make();
    load(0, 0x34, 100, 0);
    const p = ticksToNs(100);
    ctl.hold = true;
    sched.advance(p);
    ctl.hold = false;
    sched.advance(5 * p + 3);
    expect(log.length).toBe(1);
    // While held the count still moves as the kernel's timer would have it.
    const d = nsToTicks(sched.now - p) % 100;
    expect(pit.getCount(0)).toBe(100 - d);
    expect(pit.resume()).toBe(5);
    sched.advance(p);
    expect(log.length).toBe(2);
    expect(log[1]).toBe(7 * p);
  });

  it('stopped while held, the expiry stays where the kernel\'s periodic hrtimer stopped, moved on by every period it fired (pit_timer_fn, destroy_pit_timer, __kpit_elapsed)', () => {
    // Period raised to the minimum, so the count read after the stop shows which expiry was kept.
    const { sched, pit, log, load, ctl } = make(200_000);
    load(0, 0x34, 10, 0);
    const first = ticksToNs(10);
    const P = 200_000;
    ctl.hold = true;
    sched.advance(first);
    sched.advance(3 * P + 12_345);
    expect(log.length).toBe(1);
    // KVM_SET_PIT with channel 0 in mode 7: pit_load_count() destroys the timer (hrtimer_cancel).
    pit.channels[0].mode = 7;
    pit.loadCount(0, 10);
    // The kernel's timer fired at first, first+P, first+2P, first+3P: its expiry is first+4P.
    const expires = first + 4 * P;
    expect(pit.expires).toBe(expires);
    const countAt = (now: number) => 10 - (nsToTicks(P - (expires - now)) % 10);
    expect(pit.getCount(0)).toBe(countAt(sched.now));
    sched.advance(777_777);
    expect(pit.getCount(0)).toBe(countAt(sched.now));
    expect(sched.nextTimerAt()).toBeUndefined();
  });
});
