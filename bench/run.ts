// npm run bench: runs every bench/*.ts module and prints rates, the ratio to a bare-JavaScript
// baseline of the same work, and the ratio to the real kernel's eventfd write+read pair rate
// measured by a C program in the same run. Reports only; nothing passes or fails here.
//
// Each benchmark (a module, or each of its `sections`) runs in its own Node process, as JMH forks per
// benchmark: V8 specializes code for the object shapes and call targets it has seen, so a path
// measured after unrelated benchmarks ran in the same process pays for their type feedback, and
// results would depend on the order of the benchmarks. Each process measures the real kernel's pair
// right before its benchmark, so every ratio compares numbers taken under the same machine conditions.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { realEventfdPairNs, type BenchModule, type BenchResult } from './lib/harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const self = fileURLToPath(import.meta.url);

const fmt = (x: number): string => (Number.isNaN(x) ? 'n/a (run with --expose-gc)' : x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(2));

const load = async (f: string): Promise<BenchModule> => (await import(pathToFileURL(join(here, f)).href)) as BenchModule;

/** The child: one module (or one of its sections), with the kernel pair measured in the same process. */
async function runModule(f: string, section: string | undefined): Promise<void> {
  const pairNs = realEventfdPairNs();
  const kernelRate = pairNs ? 1e9 / pairNs : null;
  console.log(`## ${f}${section ? ` (${section})` : ''}`);
  console.log(`  real kernel eventfd write+read pair (C, measured just before, same process): ${pairNs ? `${pairNs} ns = ${fmt(kernelRate!)} pairs/s` : 'not measured (gcc missing)'}`);
  const mod = await load(f);
  const results: BenchResult[] = section ? mod.sections![section]!() : await mod.run();
  for (const r of results) {
    const parts = [`${r.name}: ${fmt(r.rate)} ${r.unit}`];
    if (r.baseline) parts.push(`bare JS ${fmt(r.baseline)} (${(r.baseline / r.rate).toFixed(2)}x slower than bare)`);
    if (r.vsKernel && kernelRate) parts.push(`${(r.rate / kernelRate).toFixed(1)}x the real kernel pair rate`);
    if (r.target) parts.push(`target: ${r.target}`);
    if (r.note) parts.push(r.note);
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
    // The same node flags (tsx's loader, --expose-gc, --conditions) in a fresh process per benchmark.
    for (const s of sections.length ? sections : [undefined]) {
      execFileSync(process.execPath, [...process.execArgv, self, '--module', f, ...(s ? [s] : [])], { stdio: 'inherit' });
    }
  }
}
