import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Most suites wait on timers, brokers, databases and child processes, not the CPU: two files at
    // a time keep a 2-core CI machine busy without starving the timing-sensitive ones.
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 20_000,
    reporters: ['default', './tests/support/summary-reporter.ts'],
  },
});
