// npm run bench: runs every bench/*.ts module and prints rates, the ratio to a bare-JavaScript
// baseline of the same work, and the ratio to the real kernel's eventfd write+read pair rate
// measured by a C program in the same run. Reports only; nothing passes or fails here.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { realEventfdPairNs, type BenchModule, type BenchResult } from './lib/harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here).filter((f) => f.endsWith('.ts') && f !== 'run.ts' && (only.length === 0 || only.some((o) => f.includes(o)))).sort();

const fmt = (x: number): string => (Number.isNaN(x) ? 'n/a (run with --expose-gc)' : x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(2));

const pairNs = realEventfdPairNs();
const kernelRate = pairNs ? 1e9 / pairNs : null;
console.log(`real kernel eventfd write+read pair (C, same run): ${pairNs ? `${pairNs} ns = ${fmt(kernelRate!)} pairs/s` : 'not measured (gcc missing)'}`);
console.log('');

for (const f of files) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as BenchModule;
  if (typeof mod.run !== 'function') continue;
  console.log(`## ${f}`);
  const results: BenchResult[] = await mod.run();
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
