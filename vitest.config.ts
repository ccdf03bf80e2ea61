import { configDefaults, defineConfig } from 'vitest/config';

/** The unit suites: in-process parts with injected time and IO, nothing left running between files. */
const UNIT = 'tests/unit/**/*.test.ts';

export default defineConfig({
  test: {
    // Most suites wait on timers, brokers, databases and child processes, not the CPU: two files at
    // a time keep a 2-core CI machine busy without starving the timing-sensitive ones.
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 20_000,
    reporters: ['default', './tests/support/summary-reporter.ts'],
    projects: [
      {
        // A unit file stops in its own hooks whatever it starts (a PostgreSQL for the engine matrix,
        // a gpiod tool, an HTTP server) and injects its time: its worker runs the next unit file
        // too, with the modules it already loaded (zod, the protocol, PGlite…), instead of a new
        // process importing them all again. About half the CPU time of the light unit files was
        // that start-up.
        extends: true,
        test: { name: 'unit', include: [UNIT], isolate: false },
      },
      {
        // End-to-end, integration, fault and fuzz suites start servers, child processes and
        // browsers: each file keeps its own process, so nothing one leaves behind reaches another.
        extends: true,
        test: { name: 'system', include: ['tests/**/*.test.ts'], exclude: [...configDefaults.exclude, UNIT] },
      },
    ],
  },
});
