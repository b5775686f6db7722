/** Prints one plain closing line, `Tests: N passed, N failed, N skipped`, for CI log readers. */
import type { SerializedError } from 'vitest';
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>): void {
    // An unhandled error fails the run (vitest exits 1), so it counts as a failure here too.
    const count = { passed: 0, failed: unhandledErrors.length, skipped: 0 };
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') count.passed++;
        else if (state === 'failed') count.failed++;
        else count.skipped++;
      }
      if (m.state() === 'failed' && !Array.from(m.children.allTests()).length) count.failed++;
    }
    process.stdout.write('\nTests: ' + count.passed + ' passed, ' + count.failed + ' failed, ' + count.skipped + ' skipped\n');
  }
}
