// The scheduler and virtual clock: queue_work idempotence and FIFO order, timers in time order with
// ties in arming order, step tasks, determinism under a seed, and the interleave policy.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Scheduler, Timer, WorkItem } from '../../src/sim/scheduler.js';
import { Rng } from '../../src/sim/rng.js';

describe('scheduler', () => {
  it('queue_work is a no-op while queued and work runs FIFO', () => {
    const s = new Scheduler();
    const log: string[] = [];
    const a = new WorkItem('a', () => log.push('a'));
    const b = new WorkItem('b', () => log.push('b'));
    expect(s.queueWork(a)).toBe(true);
    expect(s.queueWork(b)).toBe(true);
    expect(s.queueWork(a)).toBe(false);
    s.flush();
    expect(log).toEqual(['a', 'b']);
    expect(s.queueWork(a)).toBe(true);
    expect(s.cancelWork(a)).toBe(true);
    s.flush();
    expect(log).toEqual(['a', 'b']);
  });

  it('fires timers in expiry order (ties in arming order) and moves the clock to each', () => {
    const s = new Scheduler();
    const seen: [string, number][] = [];
    const mk = (n: string) => new Timer(n, () => seen.push([n, s.now]));
    const t1 = mk('t1'), t2 = mk('t2'), t3 = mk('t3'), t4 = mk('t4');
    s.arm(t1, 300);
    s.arm(t2, 100);
    s.arm(t3, 100);
    s.arm(t4, 50);
    s.cancel(t4);
    s.advance(250);
    expect(seen).toEqual([['t2', 100], ['t3', 100]]);
    expect(s.now).toBe(250);
    s.advance(100);
    expect(seen.at(-1)).toEqual(['t1', 300]);
    expect(s.now).toBe(350);
  });

  it('runUntil fires timers only as far as needed and reports when nothing can help', () => {
    const s = new Scheduler();
    let flag = false;
    s.arm(new Timer('x', () => { flag = true; }), 1000);
    expect(s.runUntil(() => flag)).toBe(true);
    expect(s.now).toBe(1000);
    expect(s.runUntil(() => false)).toBe(false);
    expect(s.runUntil(() => false, 5000)).toBe(false);
    expect(s.now).toBe(5000);
  });

  it('step tasks advance one step at a time', () => {
    const s = new Scheduler();
    const log: number[] = [];
    const t = s.spawn('t', (function* () { log.push(1); yield; log.push(2); yield; log.push(3); })());
    s.runOne();
    expect(log).toEqual([1]);
    s.flush();
    expect(log).toEqual([1, 2, 3]);
    expect(t.done).toBe(true);
  });

  it('the interleave policy is deterministic for a seed and runs everything eventually (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 1, max: 20 }), (seed, n) => {
        const run = () => {
          const s = new Scheduler({ seed, policy: 'interleave' });
          const order: string[] = [];
          for (let i = 0; i < n; i++) s.queueWork(new WorkItem(`w${i}`, () => order.push(`w${i}`)));
          s.spawn('task', (function* () { order.push('s1'); yield; order.push('s2'); })());
          for (let k = 0; k < 3; k++) s.point();
          s.flush();
          return order;
        };
        const a = run();
        expect(run()).toEqual(a);
        expect(a.length).toBe(n + 2);
        expect(a.indexOf('s1')).toBeLessThan(a.indexOf('s2'));
      }),
    );
  });

  it('the RNG is repeatable per seed and uniform enough for choices', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const xs = Array.from({ length: 1000 }, () => a.int(10));
    expect(Array.from({ length: 1000 }, () => b.int(10))).toEqual(xs);
    for (let v = 0; v < 10; v++) expect(xs.filter((x) => x === v).length).toBeGreaterThan(50);
  });
});
