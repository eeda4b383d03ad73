// npm run bench: runs every bench/*.ts module and prints rates, the ratio to a bare-JavaScript
// baseline of the same work, and the ratio to the real kernel's eventfd write+read pair rate
// measured by a C program in the same run. Reports only; nothing passes or fails here.
//
// Each benchmark (a module, or each of its `sections`) runs in forks of its own, as JMH forks per
// benchmark: V8 specializes code for the object shapes and call targets it has seen, so a path
// measured after unrelated benchmarks ran in the same process pays for their type feedback, and
// results would depend on the order of the benchmarks. Even alone, a process settles on one of a few
// compilations of a long call chain (which functions V8 optimizes first decides what is inlined where),
// and they differ by up to ~20% on the interrupt paths, so each benchmark runs in BENCH_FORKS fresh
// processes (default 3) and the report gives the median over forks with the range. Each fork measures
// the real kernel's pair right before its benchmark and every kernel ratio is taken within one fork,
// so it compares numbers taken under the same machine conditions.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { realEventfdPairNs, type BenchModule, type BenchResult } from './lib/harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const self = fileURLToPath(import.meta.url);
const FORKS = Math.max(1, Number(process.env.BENCH_FORKS ?? 3) | 0);
/** Marks the child's one line of results on its standard output. */
const RESULT_MARK = '@@bench-result ';

interface ForkResult {
  readonly pairNs: number | null;
  readonly results: BenchResult[];
}

const fmt = (x: number): string => (Number.isNaN(x) ? 'n/a (run with --expose-gc)' : x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(2));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1]!;
/** The median and, with more than one fork, the range it was taken from. */
const spread = (xs: number[], f: (x: number) => string): string => (xs.length > 1 ? `${f(median(xs))} (forks ${f(Math.min(...xs))}-${f(Math.max(...xs))})` : f(xs[0]!));

const load = async (f: string): Promise<BenchModule> => (await import(pathToFileURL(join(here, f)).href)) as BenchModule;

/** The child: one module (or one of its sections), with the kernel pair measured in the same process. */
async function runModule(f: string, section: string | undefined): Promise<void> {
  const pairNs = realEventfdPairNs();
  const mod = await load(f);
  const results: BenchResult[] = section ? mod.sections![section]!() : await mod.run();
  const out: ForkResult = { pairNs, results };
  console.log(RESULT_MARK + JSON.stringify(out, (_k, v: unknown) => (typeof v === 'number' && Number.isNaN(v) ? 'NaN' : v)));
}

function runFork(f: string, section: string | undefined): ForkResult {
  // The same node flags (tsx's loader, --expose-gc, --conditions) in a fresh process.
  const stdout = execFileSync(process.execPath, [...process.execArgv, self, '--module', f, ...(section ? [section] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARK));
  if (line === undefined) throw new Error(`bench ${f}${section ? ` (${section})` : ''} printed no result`);
  return JSON.parse(line.slice(RESULT_MARK.length), (_k, v: unknown) => (v === 'NaN' ? NaN : v)) as ForkResult;
}

function report(f: string, section: string | undefined, forks: ForkResult[]): void {
  const pairs = forks.map((x) => x.pairNs).filter((x): x is number => x !== null);
  console.log(`## ${f}${section ? ` (${section})` : ''}: ${forks.length} fork${forks.length > 1 ? 's' : ''}`);
  console.log(`  real kernel eventfd write+read pair (C, measured in each fork just before its benchmark): ${pairs.length ? `${spread(pairs, (x) => x.toFixed(1))} ns` : 'not measured (gcc missing)'}`);
  for (let i = 0; i < forks[0]!.results.length; i++) {
    const rs = forks.map((x) => x.results[i]!);
    const r = rs[0]!;
    const parts = [`${r.name}: ${spread(rs.map((x) => x.rate), fmt)} ${r.unit}`];
    if (r.baseline) parts.push(`bare JS ${fmt(median(rs.map((x) => x.baseline!)))} (${spread(rs.map((x) => x.baseline! / x.rate), (x) => `${x.toFixed(2)}x`)} slower than bare)`);
    if (r.vsKernel && pairs.length === forks.length) parts.push(`${spread(rs.map((x, k) => (x.rate * forks[k]!.pairNs!) / 1e9), (x) => `${x.toFixed(1)}x`)} the real kernel pair rate`);
    if (r.target) parts.push(`target: ${r.target}`);
    // A note may carry the fork's own numbers: the one of the median fork.
    const mid = median(rs.map((x) => x.rate));
    const note = rs.find((x) => x.rate === mid)?.note ?? r.note;
    if (note) parts.push(note);
    console.log(`  ${parts.join(' | ')}`);
  }
  console.log('');
}

const args = process.argv.slice(2);
if (args[0] === '--module') {
  await runModule(args[1]!, args[2]);
} else {
  const ext = self.endsWith('.ts') ? '.ts' : '.js';
  const files = readdirSync(here).filter((f) => f.endsWith(ext) && f !== `run${ext}` && (args.length === 0 || args.some((o) => f.includes(o)))).sort();
  for (const f of files) {
    const sections = Object.keys((await load(f)).sections ?? {});
    for (const s of sections.length ? sections : [undefined]) {
      const forks: ForkResult[] = [];
      for (let k = 0; k < FORKS; k++) forks.push(runFork(f, s));
      report(f, s, forks);
    }
  }
}
