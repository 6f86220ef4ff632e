import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatSummary, summarizeProfiles } from '../bench/profile.js';

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

describe('bench/profile.ts (the summaries of npm run bench -- --profile)', () => {
  it('names the function a profiled process spent its time in, and leaves out idle threads', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'annals-profile-'));
    try {
      // 400 ms in hotLoop, then 300 ms waiting on a timer
      const script = `function hotLoop() { const end = Date.now() + 400; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1); return x; }
hotLoop(); setTimeout(() => {}, 300);`;
      const run = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '-e', script], { encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      const [summary, ...others] = summarizeProfiles(dir, 5);
      expect(others).toEqual([]);
      expect(summary!.self[0]![0]).toMatch(/^hotLoop /);
      expect(summary!.self[0]![1]).toBeGreaterThan(200);
      // the timer's wait is idle time: counted in the total, not in the busy time
      expect(summary!.totalMs - summary!.busyMs).toBeGreaterThan(200);
      expect(summary!.inclusive.map(([name]) => name)).not.toContain('(idle)');
      expect(formatSummary(summary!)).toMatch(/self:\n\s+\d+\.\d%\s+\d+ ms {2}hotLoop /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
