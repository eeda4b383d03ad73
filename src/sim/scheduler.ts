// The deterministic scheduler and virtual clock: the one place deferred work runs from.
// Models the parts of kernel/workqueue.c, kernel/time/timer.c and the CPU scheduler that the rest of
// the model needs: work items (queue_work: idempotent while queued, FIFO), timers on a virtual
// nanosecond clock, and step tasks (multi-step algorithms, e.g. Xen's vCPU blocking, whose steps
// hardware events may interleave with).
//
// Policies:
// - 'eager' (default): pending work and task steps run to completion at every syscall exit and
//   after every hardware event injected through the control API, as on a kernel with idle CPUs.
// - 'interleave': at those points a seeded random number of pending units runs, chosen at random
//   among the queued work and runnable tasks; the rest waits for later points, a blocking wait, or an
//   explicit flush. Property tests use this to explore races under a seed.
// No wall-clock time, no unseeded randomness: the same seed and calls give the same run.

import { Rng } from './rng.js';

export class WorkItem {
  /** Set while the item sits in the queue (queue_work() on a queued item is a no-op). */
  queued = false;
  constructor(
    readonly name: string,
    readonly fn: () => void,
  ) {}
}

export class Timer {
  expires = 0;
  /** Position in the timer heap, -1 when not armed. */
  heapIndex = -1;
  seq = 0;
  constructor(
    readonly name: string,
    readonly fn: () => void,
  ) {}
  get pending(): boolean {
    return this.heapIndex >= 0;
  }
}

/** A multi-step algorithm: each `yield` is a point where other events may run. */
export interface StepTask {
  readonly name: string;
  readonly done: boolean;
}

class TaskImpl implements StepTask {
  done = false;
  constructor(
    readonly name: string,
    readonly gen: Iterator<unknown, void, void>,
  ) {}
  step(): void {
    if (this.gen.next().done) this.done = true;
  }
}

export type SchedPolicy = 'eager' | 'interleave';

export interface SchedulerOptions {
  readonly seed?: number;
  readonly policy?: SchedPolicy;
}

export class Scheduler {
  /** Virtual time in nanoseconds since boot. */
  now = 0;
  readonly rng: Rng;
  policy: SchedPolicy;
  /** Queued work in [workHead, workTail); slots outside are null. The array is reused, never
   *  reallocated once large enough, so queueing and running work allocates nothing. */
  private readonly work: (WorkItem | null)[] = [];
  private workHead = 0;
  private workTail = 0;
  private readonly heap: Timer[] = [];
  private timerSeq = 0;
  private readonly tasks: TaskImpl[] = [];
  /** Queued work items plus runnable tasks: what point() reads, one field so that it stays tiny. */
  private units = 0;
  private running = false;

  constructor(opts: SchedulerOptions = {}) {
    this.rng = new Rng(opts.seed ?? 1);
    this.policy = opts.policy ?? 'eager';
  }

  // ---- work -------------------------------------------------------------------------------------

  /** queue_work(): false if the item was already queued. */
  queueWork(w: WorkItem): boolean {
    if (w.queued) return false;
    w.queued = true;
    this.work[this.workTail++] = w;
    this.units++;
    return true;
  }

  get pendingWork(): number {
    return this.workTail - this.workHead;
  }

  /** flush_work(): runs `w` now if it is queued (used where the kernel waits for a specific item). */
  flushWork(w: WorkItem): void {
    if (!w.queued) return;
    this.removeWork(this.work.indexOf(w, this.workHead));
    w.queued = false;
    w.fn();
  }

  /** cancel_work(): drops a queued item without running it. */
  cancelWork(w: WorkItem): boolean {
    if (!w.queued) return false;
    this.removeWork(this.work.indexOf(w, this.workHead));
    w.queued = false;
    return true;
  }

  private runOneWork(index: number): void {
    const q = this.work;
    const w = q[index]!;
    if (index === this.workHead) {
      this.units--;
      q[this.workHead++] = null;
      if (this.workHead === this.workTail) {
        this.workHead = this.workTail = 0;
      } else if (this.workHead > 64 && this.workHead * 2 > this.workTail) {
        q.copyWithin(0, this.workHead, this.workTail);
        q.fill(null, this.workTail - this.workHead, this.workTail);
        this.workTail -= this.workHead;
        this.workHead = 0;
      }
    } else {
      this.removeWork(index);
    }
    w.queued = false;
    w.fn();
  }

  /** Removes the queued item at `i` (>= workHead), keeping FIFO order, without allocating. */
  private removeWork(i: number): void {
    if (i < 0) return;
    this.units--;
    const q = this.work;
    const tail = --this.workTail;
    for (let k = i; k < tail; k++) q[k] = q[k + 1]!;
    q[tail] = null;
    if (this.workHead === this.workTail) this.workHead = this.workTail = 0;
  }

  // ---- tasks ------------------------------------------------------------------------------------

  /** Starts a step task; its first step runs at the next scheduling point. */
  spawn(name: string, steps: Iterator<unknown, void, void>): StepTask {
    const t = new TaskImpl(name, steps);
    this.tasks.push(t);
    this.units++;
    return t;
  }

  get runnableTasks(): number {
    return this.tasks.length;
  }

  /** Steps task `i`; a task that is not done goes to the back, so tasks run round robin (a task
   *  spinning on another's progress - a lock, a pause - cannot starve it under 'eager'). */
  private stepTask(i: number): void {
    const t = this.tasks[i]!;
    t.step();
    // Remove t by shifting the rest down (no splice: it allocates the removed elements' array).
    const ts = this.tasks;
    const j = ts.indexOf(t);
    if (j < 0) return;
    const last = ts.length - 1;
    for (let k = j; k < last; k++) ts[k] = ts[k + 1]!;
    if (t.done) {
      ts.pop();
      this.units--;
    } else ts[last] = t;
  }

  // ---- timers -----------------------------------------------------------------------------------

  /** mod_timer(): (re)arms `t` to fire at absolute virtual time `expires`. */
  arm(t: Timer, expires: number): void {
    if (t.pending) this.heapRemove(t);
    t.expires = Math.max(expires, this.now);
    t.seq = this.timerSeq++;
    t.heapIndex = this.heap.length;
    this.heap.push(t);
    this.siftUp(t.heapIndex);
  }

  armAfter(t: Timer, delayNs: number): void {
    this.arm(t, this.now + delayNs);
  }

  /** del_timer(): true if the timer was pending. */
  cancel(t: Timer): boolean {
    if (!t.pending) return false;
    this.heapRemove(t);
    return true;
  }

  nextTimerAt(): number | undefined {
    return this.heap.length > 0 ? this.heap[0]!.expires : undefined;
  }

  // ---- running ----------------------------------------------------------------------------------

  get idle(): boolean {
    return this.pendingWork === 0 && this.tasks.length === 0 && this.heap.length === 0;
  }

  /** Runs one pending unit (work item or task step); false if there was none. `pick` chooses at random. */
  runOne(pick = false): boolean {
    const nWork = this.pendingWork;
    const nTask = this.tasks.length;
    if (nWork + nTask === 0) return false;
    if (!pick) {
      if (nWork > 0) this.runOneWork(this.workHead);
      else this.stepTask(0);
      return true;
    }
    const k = this.rng.int(nWork + nTask);
    if (k < nWork) this.runOneWork(this.workHead + k);
    else this.stepTask(k - nWork);
    return true;
  }

  /** Runs pending work and task steps until none is left (timers are not advanced). */
  flush(limit = 10_000_000): void {
    let n = 0;
    while (this.runOne(false)) {
      if (++n >= limit) throw new Error(`scheduler: pending work did not settle after ${limit} steps (livelock)`);
    }
  }

  /**
   * A scheduling point (syscall exit, hardware event): eager runs everything pending; interleave runs a
   * seeded random number of randomly chosen units.
   */
  point(): void {
    // Under V8's small-function size (27 bytecode bytes), so it is inlined into every caller whatever
    // their inlining budget has left: with nothing pending (the common case) a point is one compare.
    if (this.units !== 0) this.runPoint();
  }

  private runPoint(): void {
    if (this.running) return;
    this.running = true;
    try {
      if (this.policy === 'eager') {
        this.flush();
        return;
      }
      const n = this.pendingWork + this.tasks.length;
      const k = this.rng.int(n + 1);
      for (let i = 0; i < k; i++) if (!this.runOne(true)) break;
    } finally {
      this.running = false;
    }
  }

  /** Fires the earliest timer (moving the clock to it) and the work it causes; false if none is armed. */
  private fireNextTimer(limit: number): boolean {
    const t = this.heap[0];
    if (!t || t.expires > limit) return false;
    this.heapRemove(t);
    this.now = Math.max(this.now, t.expires);
    t.fn();
    return true;
  }

  /** Advances virtual time by `ns`, firing due timers in order and running the work each causes. */
  advance(ns: number): void {
    const target = this.now + ns;
    for (;;) {
      this.flush();
      if (!this.fireNextTimer(target)) break;
    }
    this.flush();
    this.now = target;
  }

  /**
   * Runs events (work, task steps, then timers in time order) until `ready()` holds. Returns false if
   * nothing is left that could change anything, or if `deadline` (absolute virtual ns) passes.
   */
  runUntil(ready: () => boolean, deadline = Infinity): boolean {
    for (;;) {
      if (ready()) return true;
      if (this.runOne(this.policy === 'interleave')) continue;
      if (!this.fireNextTimer(deadline)) {
        if (deadline !== Infinity && deadline > this.now) this.now = deadline;
        return ready();
      }
    }
  }

  // ---- heap ---------------------------------------------------------------------------------------

  private less(a: Timer, b: Timer): boolean {
    return a.expires < b.expires || (a.expires === b.expires && a.seq < b.seq);
  }

  private swap(i: number, j: number): void {
    const h = this.heap;
    const a = h[i]!;
    const b = h[j]!;
    h[i] = b;
    h[j] = a;
    a.heapIndex = j;
    b.heapIndex = i;
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(this.heap[i]!, this.heap[p]!)) break;
      this.swap(i, p);
      i = p;
    }
  }

  private siftDown(i: number): void {
    const n = this.heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(this.heap[l]!, this.heap[m]!)) m = l;
      if (r < n && this.less(this.heap[r]!, this.heap[m]!)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }

  private heapRemove(t: Timer): void {
    const i = t.heapIndex;
    const last = this.heap.length - 1;
    if (i !== last) this.swap(i, last);
    this.heap.pop();
    t.heapIndex = -1;
    if (i < this.heap.length) {
      this.siftUp(i);
      this.siftDown(i);
    }
  }
}
