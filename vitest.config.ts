import { defineConfig } from 'vitest/config';

// Tests in tiers: `npm test -- --project unit` answers in seconds (pure modules, no app);
// `api` builds the app on fresh databases and drives it with inject or loopback HTTP;
// `process` starts real server processes or runs the benchmark; `browser` drives the viewer in
// Debian's chromium against a real server process. `npm test` runs all four.
const unit = ['test/config.test.ts', 'test/dates.test.ts', 'test/search-text.test.ts', 'test/fts5.test.ts', 'test/seed-data.test.ts'];
const process = ['test/resilience.test.ts', 'test/workers.test.ts', 'test/bench.test.ts', 'test/*.process.test.ts'];
const browser = ['test/*.browser.test.ts'];

export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // the PostgreSQL server of the suite's PostgreSQL half (ANNALS_TEST_PG_URL, or a throwaway cluster)
    globalSetup: ['test/support/postgres.ts'],
    // the last lines say how many tests each engine ran, and when the PostgreSQL half did not
    reporters: ['default', './test/support/engines-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'unit', include: unit } },
      { extends: true, test: { name: 'api', include: ['test/**/*.test.ts'], exclude: [...unit, ...process, ...browser] } },
      { extends: true, test: { name: 'process', include: process } },
      { extends: true, test: { name: 'browser', include: browser, testTimeout: 60_000 } },
    ],
  },
});
