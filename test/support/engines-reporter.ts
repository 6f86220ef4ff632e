/**
 * A vitest reporter that ends the run with the count of tests each engine ran, and says
 * plainly when the PostgreSQL half did not run (no PostgreSQL on the machine), so that a
 * green run without it is not mistaken for a run of both halves.
 *
 * A test belongs to PostgreSQL when its name carries `[postgres]` (test/support/pg.ts); the
 * unit tier's tests (pure modules) to no engine; every other test runs on SQLite.
 */
import type { Reporter, TestModule } from 'vitest/node';
import { missingReason } from './postgres.js';

export interface EngineCounts {
  sqlite: number;
  /** Tests of pure modules (the unit tier), which use no database. */
  neutral: number;
  postgres: number;
  /** PostgreSQL tests that were skipped. */
  postgresSkipped: number;
}

/** Tests that ran (passed or failed) per engine, by their names. */
export function countByEngine(tests: Iterable<{ fullName: string; state: string; project: string }>): EngineCounts {
  const counts: EngineCounts = { sqlite: 0, neutral: 0, postgres: 0, postgresSkipped: 0 };
  for (const test of tests) {
    const postgres = test.fullName.includes('[postgres]');
    const ran = test.state === 'passed' || test.state === 'failed';
    if (postgres && ran) counts.postgres += 1;
    else if (postgres) counts.postgresSkipped += 1;
    else if (ran && test.project === 'unit') counts.neutral += 1;
    else if (ran) counts.sqlite += 1;
  }
  return counts;
}

export default class EnginesReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const tests = testModules.flatMap((module) =>
      [...module.children.allTests()].map((test) => ({ fullName: test.fullName, state: test.result().state, project: module.project.name })),
    );
    const counts = countByEngine(tests);
    const lines = [`Engines: ${counts.sqlite} tests ran on SQLite, ${counts.postgres} on PostgreSQL (and ${counts.neutral} on no database)`];
    if (counts.postgres === 0 && counts.postgresSkipped > 0) {
      const reason = missingReason();
      lines.push(`PostgreSQL half NOT RUN: ${counts.postgresSkipped} PostgreSQL tests skipped${reason ? ` (${reason})` : ''}`);
    }
    process.stdout.write(`\n${lines.join('\n')}\n`);
  }
}
