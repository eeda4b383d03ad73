// The scheduler and virtual clock: queue_work idempotence and FIFO order, timers in time order with
// ties in arming order, step tasks, determinism under a seed, and the interleave policy.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fcParams } from '../support/runs.js';
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

  it('step tasks run round robin: a task spinning on another cannot starve it under eager', () => {
    const s = new Scheduler();
    let released = false;
    const log: string[] = [];
    s.spawn('spinner', (function* () { while (!released) yield; log.push('spinner done'); })());
    s.spawn('releaser', (function* () { yield; released = true; log.push('released'); })());
    s.flush(1000);
    expect(log).toEqual(['released', 'spinner done']);
    expect(s.runnableTasks).toBe(0);
  });

  it('the work queue compacts its consumed head in place and keeps FIFO order', () => {
    const s = new Scheduler();
    const ran: number[] = [];
    const items = Array.from({ length: 200 }, (_, i) => new WorkItem(`w${i}`, () => ran.push(i)));
    for (let i = 0; i < 150; i++) s.queueWork(items[i]!);
    for (let i = 0; i < 100; i++) s.runOne();
    for (let i = 150; i < 170; i++) s.queueWork(items[i]!);
    s.cancelWork(items[120]!);
    s.flushWork(items[160]!);
    expect(s.pendingWork).toBe(68);
    s.flush();
    const want = [...Array.from({ length: 100 }, (_, i) => i), 160, ...Array.from({ length: 70 }, (_, i) => 100 + i).filter((i) => i !== 120 && i !== 160)];
    expect(ran).toEqual(want);
  });

  it('the work queue keeps FIFO order through cancel_work, flush_work and compaction (property against an array)', () => {
    type Op = { kind: 'queue' | 'cancel' | 'flush' | 'run'; i: number };
    const op = fc.record({ kind: fc.constantFrom<Op['kind']>('queue', 'queue', 'cancel', 'flush', 'run'), i: fc.integer({ min: 0, max: 199 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 600 }), (ops) => {
        const s = new Scheduler();
        const ran: number[] = [];
        const items = Array.from({ length: 200 }, (_, i) => new WorkItem(`w${i}`, () => ran.push(i)));
        const model: number[] = [];
        const expected: number[] = [];
        for (const o of ops) {
          const w = items[o.i]!;
          const at = model.indexOf(o.i);
          if (o.kind === 'queue') {
            expect(s.queueWork(w)).toBe(at < 0);
            if (at < 0) model.push(o.i);
          } else if (o.kind === 'cancel') {
            expect(s.cancelWork(w)).toBe(at >= 0);
            if (at >= 0) model.splice(at, 1);
          } else if (o.kind === 'flush') {
            s.flushWork(w);
            if (at >= 0) expected.push(...model.splice(at, 1));
          } else if (s.runOne()) {
            expected.push(model.shift()!);
          } else {
            expect(model).toEqual([]);
          }
          expect(s.pendingWork).toBe(model.length);
        }
        s.flush();
        expected.push(...model);
        expect(ran).toEqual(expected);
        expect(s.pendingWork).toBe(0);
      }),
      fcParams(200),
    );
  });

  it('point() sees every queued item and runnable task: its counter stays exact through queue, cancel, flush, steps and work that queues more (property)', () => {
    // point() reads one counter instead of the queues; if it fell behind, an eager point would leave
    // work pending (a missed wakeup), so after every eager point nothing may be left.
    type Op = { kind: 'queue' | 'cancel' | 'flush' | 'run' | 'spawn' | 'point' | 'chain'; i: number };
    const op = fc.record({
      kind: fc.constantFrom<Op['kind']>('queue', 'queue', 'cancel', 'flush', 'run', 'spawn', 'point', 'chain'),
      i: fc.integer({ min: 0, max: 19 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), fc.constantFrom<'eager' | 'interleave'>('eager', 'interleave'), fc.integer({ min: 0, max: 1000 }), (ops, policy, seed) => {
        const s = new Scheduler({ seed, policy });
        const units = () => (s as unknown as { units: number }).units;
        const items: WorkItem[] = [];
        for (let i = 0; i < 20; i++) {
          // Every fourth item queues its neighbour and calls point() from inside (a nested point is a no-op).
          items.push(new WorkItem(`w${i}`, () => {
            if (i % 4 === 0) s.queueWork(items[(i + 1) % 20]!);
            s.point();
          }));
        }
        for (const o of ops) {
          const w = items[o.i]!;
          if (o.kind === 'queue') s.queueWork(w);
          else if (o.kind === 'cancel') s.cancelWork(w);
          else if (o.kind === 'flush') s.flushWork(w);
          else if (o.kind === 'run') s.runOne(policy === 'interleave');
          else if (o.kind === 'spawn') s.spawn(`t${o.i}`, (function* () { for (let k = 0; k < o.i % 3; k++) yield; })());
          else if (o.kind === 'chain') s.spawn(`c${o.i}`, (function* () { s.queueWork(w); yield; s.spawn('inner', (function* () { yield; })()); })());
          else {
            s.point();
            if (policy === 'eager') expect([s.pendingWork, s.runnableTasks]).toEqual([0, 0]);
          }
          expect(units()).toBe(s.pendingWork + s.runnableTasks);
        }
        s.flush();
        expect(units()).toBe(0);
      }),
      fcParams(200),
    );
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
