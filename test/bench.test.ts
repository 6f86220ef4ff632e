import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// The benchmark must not rot: its quick mode runs the whole pipeline (generate, import,
// server and reference under load, EXPLAIN QUERY PLAN) on a small dataset. No figure is
// asserted: speed is measured by `npm run bench`, never by the test suite.
describe('npm run bench -- --quick', () => {
  it('runs every scenario and prints the table and the query plans', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick'], {
      cwd: new URL('..', import.meta.url).pathname,
      encoding: 'utf8',
      timeout: 170_000,
    });
    expect(run.status, run.stderr.slice(-2000)).toBe(0);
    for (const scenario of [
      'import (records/s)',
      'reference: bare Fastify + 1 prepared statement',
      'week window, first page of 50',
      '+ actor',
      '+ place with children',
      'day histogram over a year',
      'q= text search',
      'deep cursor (page 200)',
      'NDJSON export of a year',
      'full export (NDJSON)',
    ]) {
      expect(run.stdout).toContain(`| quick | ${scenario} |`);
    }
    // every scenario answered without errors
    const errorColumn = run.stdout
      .split('\n')
      .filter((line) => line.startsWith('| quick |'))
      .map((line) => line.split('|')[6]!.trim());
    expect(errorColumn.every((cell) => cell === '0')).toBe(true);
    expect(run.stdout).toContain('EXPLAIN QUERY PLAN');
    expect(run.stdout).not.toContain('(FULL SCAN)');
  }, 180_000);
});
