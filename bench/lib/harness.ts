// Bench plumbing: timing loops with warm-up, allocation measurement, and the real kernel's eventfd
// pair cost measured by a C program compiled in the same run. Benchmarks report rates and ratios;
// nothing here passes or fails.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GCProfiler } from 'node:v8';

export interface BenchResult {
  readonly name: string;
  /** Operations per second (or the value in `unit`). */
  readonly rate: number;
  readonly unit: string;
  /** The bare-JavaScript rate of the same work, when the benchmark has one. */
  readonly baseline?: number;
  /** Compare `rate` with the real kernel's eventfd write+read pair rate. */
  readonly vsKernel?: boolean;
  /** The target this result is measured against, in words. */
  readonly target?: string;
  readonly note?: string;
}

export interface BenchModule {
  run(): Promise<BenchResult[]>;
  /** Independent benchmarks of the module, each run in its own process when present. */
  sections?: Record<string, () => BenchResult[]>;
}

/** The timing loop's source: compiled once per measured operation (see `loopFor`). */
const LOOP_SOURCE = `
  let n = 0;
  const t0 = performance.now();
  let t1 = t0;
  while (t1 - t0 < minMs) {
    for (let i = 0; i < batch; i++) op(n + i);
    n += batch;
    t1 = performance.now();
  }
  return (n / (t1 - t0)) * 1000;`;

type Loop = (op: (i: number) => void, minMs: number, batch: number) => number;
const loops = new WeakMap<(i: number) => void, Loop>();

/**
 * A timing loop of its own for `op`, as benchmark.js compiles one per benchmark: V8 keeps type
 * feedback per function, so one loop shared by the model and its bare baseline would see two call
 * targets at `op(...)`, and the code it is optimized into (what gets inlined where) would depend on
 * which ran first and how often.
 */
function loopFor(op: (i: number) => void): Loop {
  let l = loops.get(op);
  if (l === undefined) {
    l = new Function('op', 'minMs', 'batch', LOOP_SOURCE) as Loop;
    loops.set(op, l);
  }
  return l;
}

function timedRound(op: (i: number) => void, minMs: number, batch: number): number {
  return loopFor(op)(op, minMs, batch);
}

/**
 * Runs `op` for WARMUP_MS before anything is timed. A count of iterations is not enough: a fast path
 * finishes a fixed count in a few milliseconds, while V8 is still compiling it (concurrently) in its
 * optimizing tiers, and the first timed rounds would measure lower-tier code.
 */
function warmUp(op: (i: number) => void, batch: number): void {
  timedRound(op, WARMUP_MS, batch);
}
const WARMUP_MS = 300;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Operations per second of `op`: warm-up, then the median of `rounds` timed rounds of at least `minMs`. */
export function opsPerSecond(op: (i: number) => void, minMs = 150, batch = 1000, rounds = 5): number {
  warmUp(op, batch);
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) rates.push(timedRound(op, minMs, batch));
  return median(rates);
}

/**
 * The model's rate and the bare-JS baseline's rate, measured in alternating rounds (medians), so both
 * see the same machine conditions.
 */
export function compareRates(model: (i: number) => void, bare: (i: number) => void, minMs = 150, batch = 1000, rounds = 7): { rate: number; baseline: number } {
  warmUp(model, batch);
  warmUp(bare, batch);
  const m: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rounds; r++) {
    m.push(timedRound(model, minMs, batch));
    b.push(timedRound(bare, minMs, batch));
  }
  return { rate: median(m), baseline: median(b) };
}

/**
 * Heap bytes allocated per operation once warm: the growth of the used heap over `n` runs of `op` plus
 * what every garbage collection during them freed (v8.GCProfiler reports each one's heap before and
 * after, synchronously), divided by `n`; the minimum of three trials. Counting what the collections
 * freed matters: scavenges run every megabyte or so of allocation, so heap growth alone sees only the
 * survivors and reports a path that allocates kilobytes per operation as allocation-free. Objects the
 * optimizing compiler keeps off the heap (escape analysis) are not allocations and are not counted.
 * Values below 1 are measurement noise (any real allocation is at least 16 bytes, the smallest heap
 * object). Needs --expose-gc (npm run bench passes it); returns NaN without it.
 */
export function bytesPerOp(op: (i: number) => void, n = 500_000): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return NaN;
  for (let i = 0; i < 50_000; i++) op(i);
  let best = Infinity;
  for (let t = 0; t < 3; t++) {
    gc();
    const profiler = new GCProfiler();
    const h0 = process.memoryUsage().heapUsed;
    profiler.start();
    for (let i = 0; i < n; i++) op(i);
    const { statistics } = profiler.stop();
    const h1 = process.memoryUsage().heapUsed;
    let freed = 0;
    for (const s of statistics) freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
    best = Math.min(best, Math.max(0, (h1 - h0 + freed) / n));
  }
  return best;
}

let realPairNs: number | null | undefined;

/** Nanoseconds per eventfd write+read pair on the real kernel (null when gcc is unavailable). */
export function realEventfdPairNs(): number | null {
  if (realPairNs !== undefined) return realPairNs;
  const dir = mkdtempSync(join(tmpdir(), 'vks-bench-'));
  try {
    const src = join(dirname(fileURLToPath(import.meta.url)), '..', 'c', 'eventfd_pair.c');
    const exe = join(dir, 'eventfd_pair');
    execFileSync('gcc', ['-O2', '-o', exe, src], { stdio: 'ignore' });
    realPairNs = Number(execFileSync(exe, ['200000'], { encoding: 'utf8' }).trim());
  } catch {
    realPairNs = null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return realPairNs;
}
