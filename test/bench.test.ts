import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { explainRequests, explainStatements, formatRequestPlans, fullScans } from '../bench/plans.js';
import { formatSummary, summarizeProfiles } from '../bench/profile.js';
import { buildTestApp } from './helpers.js';

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
      'reference, windows of 3-10 days, none asked twice',
      'reference, the rotating week',
      'reference, the rotating week + one of the 30 most linked actors (a join through entry_actors)',
      'windows of 3-10 days, none asked twice (match=within, lang=en)',
      'the rotating week (100 weeks in turn)',
      'the rotating week + one of the 30 most linked actors',
      'the rotating week under 5 writes/s (POST /v1/events)',
      'import through POST /v1/import into an empty database (records/s)',
    ]) {
      expect(run.stdout).toContain(`| quick | ${scenario} |`);
    }
    const row = (scenario: string) => run.stdout.split('\n').find((line) => line.startsWith(`| quick | ${scenario} |`))!.split('|').map((cell) => cell.trim());
    // each new scenario's ratio beside the project's target (at 1M; the quick size only names it)
    expect(row('windows of 3-10 days, none asked twice (match=within, lang=en)')[7]).toMatch(/^\d+% \(target at 1M ≥ 70%\)$/);
    expect(row('the rotating week (100 weeks in turn)')[7]).toMatch(/^\d+% \(target at 1M ≥ 100%\)$/);
    expect(row('the rotating week + one of the 30 most linked actors')[7]).toMatch(/^\d+% \(target at 1M ≥ 100%\)$/);
    expect(row('the rotating week under 5 writes/s (POST /v1/events)')[7]).toMatch(/^\d+% of read-only \(target at 1M ≥ 80%\); \d+% of the reference$/);
    // the writer wrote, and every write was acknowledged
    expect(row('the rotating week under 5 writes/s (POST /v1/events)')[9]).toMatch(/^[1-9]\d* writes acknowledged in [\d.]+ s \([\d.]+\/s\), 0 non-2xx, 0 failed/);
    // the whole dataset through the API into an empty database, and the server's peak RSS
    const apiImport = row('import through POST /v1/import into an empty database (records/s)');
    expect(Number(apiImport[3])).toBeGreaterThan(0);
    expect(apiImport[7]).toBe('target at 1M ≥ 15000 records/s, peak RSS < 300 MB');
    expect(apiImport[9]).toMatch(/^(\d+) of \1 records stored in [\d.]+ s, 0 refused; peak RSS of the server [1-9]\d* MB; entry documents rendered between requests in [\d.]+ s after \(peak RSS by then [1-9]\d* MB\)$/);
    // every scenario answered without errors
    const errorColumn = run.stdout
      .split('\n')
      .filter((line) => line.startsWith('| quick |'))
      .map((line) => line.split('|')[6]!.trim());
    expect(errorColumn.every((cell) => cell === '0')).toBe(true);
    expect(run.stdout).toContain('EXPLAIN QUERY PLAN');
    const plans = run.stdout.slice(run.stdout.indexOf('## EXPLAIN QUERY PLAN'));
    // every scenario's request, traced: its page query and the loaders of its entries
    for (const scenario of [
      'week window, first page of 50',
      '+ actor',
      '+ place with children',
      'day histogram over a year',
      'q= text search',
      'deep cursor (page 200)',
      'NDJSON export of a year',
      'windows of 3-10 days, none asked twice (match=within, lang=en)',
      'the rotating week (100 weeks in turn)',
      'the rotating week + one of the 30 most linked actors',
      "the rotating week under 5 writes/s (POST /v1/events): a write (its reads are the rotating week's)",
      'reference: bare Fastify + 1 prepared statement, and its different and rotating weeks',
      'reference, windows of 3-10 days, none asked twice',
      'reference, the rotating week + one of the 30 most linked actors (a join through entry_actors)',
      'import through POST /v1/import into an empty database (records/s)',
    ]) {
      expect(plans).toContain(`[quick] ${scenario}\n`);
    }
    // the write was traced (its heading above ends at once: it was answered 2xx, as the import's)
    expect(plans).toContain('INSERT INTO entries (key, kind');
    // the reference's actor query reads each window entry's links by the entry, not all the actor's links
    const referenceActor = plans.slice(plans.indexOf('[quick] reference, the rotating week + one of the 30 most linked actors'));
    expect(referenceActor).toContain('SEARCH a USING INDEX sqlite_autoindex_entry_actors_1 (entry_id=?)');
    expect(referenceActor.slice(0, referenceActor.indexOf('\n[quick] import'))).not.toContain('entry_actors_actor_idx');
    expect(plans).toMatch(/SEARCH e USING COVERING INDEX entries_chrono_idx \(span_class=\? AND \(sort_start,sort_end\)>\(\?,\?\)\)/);
    expect(plans).toContain('SEARCH entry_actors USING INDEX sqlite_autoindex_entry_actors_1 (entry_id=?)');
    expect(plans).toContain('[quick] full export (NDJSON)  (reads every row, as a full export must)');
    expect(plans).not.toContain('(FULL SCAN)');
    expect(plans).not.toContain('(no plan:');
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

describe('bench/plans.ts (the query plans of npm run bench)', () => {
  const tables = ['entries', 'entry_actors', 'search_index', 'places'];

  it('flags a plan line that reads a whole table, by its name or its alias, and nothing else', () => {
    const statement = 'SELECT e.id FROM entries e JOIN entry_actors AS a ON a.entry_id = e.id, places WHERE 1';
    expect(fullScans(statement, ['SCAN e'], tables)).toEqual(['SCAN e']);
    expect(fullScans(statement, ['SCAN a USING INDEX entry_actors_actor_idx'], tables)).toEqual(['SCAN a USING INDEX entry_actors_actor_idx']);
    expect(fullScans(statement, ['SCAN places'], tables)).toEqual(['SCAN places']);
    expect(fullScans(statement, ['SEARCH e USING INTEGER PRIMARY KEY (rowid=?)', 'SCAN (subquery-2)', 'SCAN json_each VIRTUAL TABLE INDEX 1:', 'SCAN down', 'SCAN CONSTANT ROW'], tables)).toEqual([]);
    // an FTS5 table searched by MATCH uses its index; read without one, it is scanned
    const search = 'SELECT rowid FROM search_index WHERE search_index MATCH ?';
    expect(fullScans(search, ['SCAN search_index VIRTUAL TABLE INDEX 0:M1'], tables)).toEqual([]);
    expect(fullScans('SELECT rowid FROM search_index', ['SCAN search_index VIRTUAL TABLE INDEX 0:'], tables)).toEqual(['SCAN search_index VIRTUAL TABLE INDEX 0:']);
  });

  it('explains every statement a request runs, on the real app, and leaves statements as they were', async () => {
    const built = await buildTestApp({ seed: true });
    const { app, databasePath } = built;
    const close = () => built.close();
    await app.close();
    try {
      const [page, exported, missing] = await explainRequests(databasePath, [
        { name: 'page', url: '/v1/timeline?from=1900&limit=5' },
        { name: 'export', url: '/v1/export' },
        { name: 'missing', url: '/v1/events/no-such-event' },
      ]);
      expect(page!.status).toBe(200);
      const pageQuery = page!.statements.find((s) => s.sql.includes('INDEXED BY entries_chrono_idx'));
      expect(pageQuery?.plan.join('\n')).toContain('USING COVERING INDEX entries_chrono_idx');
      // the page's entries were read from their documents, once for the page, and not rendered
      const documents = page!.statements.find((s) => s.sql.includes('FROM entry_documents'));
      expect(documents).toMatchObject({ runs: 1, fullScans: [] });
      expect(page!.statements.some((s) => s.sql.includes('FROM entry_tags'))).toBe(false);
      expect(page!.statements.flatMap((s) => s.fullScans)).toEqual([]);
      // an export reads every row, on a snapshot connection of its own: traced too
      expect(exported!.statements.flatMap((s) => s.fullScans).length).toBeGreaterThan(0);
      expect(exported!.statements.some((s) => s.sql.includes('export_plan'))).toBe(true);
      expect(missing!.status).toBe(404);

      const shown = new Map<string, string>();
      const first = formatRequestPlans('t', page!, shown);
      expect(first).toContain('    SEARCH');
      // a statement shown once is named where it was, not shown again
      const again = formatRequestPlans('t', { ...page!, name: 'again' }, shown);
      expect(again).toContain('(plan as in [t] page)');
      expect(again).not.toContain('    SEARCH');
      expect(formatRequestPlans('t', exported!, shown, true)).toContain('(reads every row, as a full export must)');
      expect(formatRequestPlans('t', exported!, new Map())).toContain('(FULL SCAN)');

      // the tracing is gone: a statement runs with better-sqlite3's own methods again
      const Database = (await import('better-sqlite3')).default;
      const db = new Database(':memory:');
      const prototype = Object.getPrototypeOf(db.prepare('SELECT 1')) as Record<string, { name: string }>;
      expect(['run', 'get', 'all', 'iterate'].map((m) => prototype[m]!.name)).not.toContain('traced');
      db.close();
    } finally {
      await close();
    }
  });

  it('explains a write sent with a key, and statements run outside the app (the reference)', async () => {
    const seeded = await buildTestApp({ seed: true });
    const { databasePath } = seeded;
    await seeded.app.close();
    try {
      const key = 'bench-test-key-0123456789abcdef';
      const [write] = await explainRequests(
        databasePath,
        [
          {
            name: 'write',
            url: '/v1/events',
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ key: 'event:bench-plan-test', type: 'announcement', date: '2022-01-05', title: { en: 'A write' } }),
          },
        ],
        { bootstrapKey: key },
      );
      expect(write!.status).toBe(201);
      expect(write!.statements.some((s) => s.sql.startsWith('INSERT INTO entries'))).toBe(true);
      // a 2xx other than 200 is not flagged as an answer of its own
      expect(formatRequestPlans('t', write!, new Map())).toMatch(/^\[t\] write\n/);

      const explained = explainStatements(databasePath, 'reference', [
        { sql: 'SELECT id FROM entries WHERE span_class = 0 AND earliest BETWEEN @from AND @to', params: { from: 0, to: 100_000 } },
        { sql: 'SELECT count(*) FROM entry_actors', params: {} },
      ]);
      expect(explained.statements[0]!.plan.join('\n')).toContain('SEARCH entries USING COVERING INDEX entries_chrono_idx');
      expect(explained.statements[0]!.fullScans).toEqual([]);
      expect(explained.statements[1]!.fullScans.length).toBe(1);
    } finally {
      await seeded.close();
    }
  });
});
