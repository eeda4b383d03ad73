// Prints the CI summary line `tests: N passed, N failed[, N skipped]` from vitest's own results,
// and writes it to .ci/summary.txt so .ci/run can make it the last line of the log.
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of testModules) {
      let sawTest = false;
      for (const test of mod.children.allTests()) {
        sawTest = true;
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
      // A file that failed to load (syntax error, import error) has no tests but must count as a failure.
      if (!sawTest && mod.state() === 'failed') failed++;
    }
    failed += unhandledErrors.length;
    const line = `tests: ${passed} passed, ${failed} failed` + (skipped > 0 ? `, ${skipped} skipped` : '');
    mkdirSync('.ci', { recursive: true });
    writeFileSync('.ci/summary.txt', line + '\n');
    process.stdout.write('\n' + line + '\n');
  }
}
