import { defineConfig } from 'vitest/config';

/**
 * Tests whose figures are timings of the whole machine (event-loop lag while the largest
 * spec applies, autoscaling under real load, outages after kills): they run after the rest,
 * one file at a time, so that no other test file competes for the two cores meanwhile.
 * One `vitest run` runs the `parallel` project first, then the `quiet` one (`groupOrder`).
 */
const QUIET = [
  'test/integration/controller/largest-apply-lag.test.ts',
  'test/integration/controller/flows-outlive-instance.test.ts',
  'test/e2e/autoscale.e2e.test.ts',
  'test/unit/controller/data-dir.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/support/plain-summary-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'parallel', include: ['test/**/*.test.ts'], exclude: QUIET, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'quiet', include: QUIET, fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
