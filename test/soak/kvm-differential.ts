// Soak: many more random KVM differential scripts than `npm test` runs (model vs the real /dev/kvm).
//   npx tsx --conditions=source test/soak/kvm-differential.ts [runs=2000] [seed=1]
import fc from 'fast-check';
import { realKvmUnavailable, runModel, runReal } from '../linux/kvm/diff-model.js';
import { script } from '../linux/kvm/differential-gen.js';

const why = realKvmUnavailable();
if (why) {
  console.log(`skipped: ${why}`);
  process.exit(0);
}
const runs = Number(process.argv[2] ?? 2000);
const seed = Number(process.argv[3] ?? 1);
const samples = fc.sample(script, { numRuns: runs, seed });
const reals = runReal(samples);
let bad = 0;
samples.forEach((s, i) => {
  const m = runModel(s);
  for (let j = 0; j < s.length; j++) {
    if (m[j] !== reals[i]![j]) {
      if (bad++ < 5) console.log(`script ${i}, command ${j} \`${s[j]}\`: kernel "${reals[i]![j]}" vs model "${m[j]}"\n  ${s.slice(0, j + 1).join('\n  ')}`);
      break;
    }
  }
});
console.log(`${bad} of ${samples.length} scripts differ (seed ${seed})`);
process.exit(bad ? 1 : 0);
