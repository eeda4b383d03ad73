// npm run soak: the property tests with many more runs (VKS_SOAK_FACTOR, default 25) and, optionally,
// a base seed. Long fuzz campaigns belong here, not in `npm test`.
import { spawnSync } from 'node:child_process';

const factor = process.env['VKS_SOAK_FACTOR'] ?? '25';
const files = process.argv.slice(2);
// More runs take longer than npm test's per-test timeout (a differential property at factor 15 takes minutes).
const r = spawnSync('npx', ['vitest', 'run', ...(files.length ? files : ['test/']), '--testTimeout', '3600000', '--testNamePattern', 'property|\\(property\\)|vs a reference model|model-based'], {
  stdio: 'inherit',
  env: { ...process.env, VKS_SOAK_FACTOR: factor },
});
process.exit(r.status ?? 1);
