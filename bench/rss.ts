// Memory: a host with 64 MSI-X devices of 2048 vectors each, measured as the resident set size of a
// fresh Node process after each phase (bench/lib/rss-host.ts). Target (issue 5): under 256 MiB.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './lib/harness.js';

export async function run(): Promise<BenchResult[]> {
  const here = dirname(fileURLToPath(import.meta.url));
  const out = execFileSync(process.execPath, ['--conditions=source', '--import', 'tsx', '--expose-gc', join(here, 'lib', 'rss-host.ts')], {
    encoding: 'utf8',
    cwd: join(here, '..'),
    maxBuffer: 16 << 20,
  });
  const phases = JSON.parse(out.trim().split('\n').pop()!) as { phase: string; rssMiB: number; heapMiB: number; detail?: string }[];
  return phases.map((ph, i) => ({
    name: `RSS: ${ph.phase}`,
    rate: ph.rssMiB,
    unit: 'MiB',
    ...(i > 0 ? { target: 'under 256 MiB' } : {}),
    note: `JS heap ${ph.heapMiB.toFixed(1)} MiB${ph.detail ? `; ${ph.detail}` : ''}`,
  }));
}
