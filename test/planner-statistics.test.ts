// The query planner's statistics (issue #14): a database filled through POST /v1/import gets
// sqlite_stat1 rows for the tables the import filled once a large import ends, as one built
// and analysed would, while a small import does not pay for ANALYZE; the serving connection
// also runs PRAGMA optimize at intervals and before it closes. Each test on its own fresh
// database file, read afterwards on a connection of the test's own.
// Modules added by the fix are imported inside the tests that use them, so that on the code
// before it each test fails on its own.
import Database from 'better-sqlite3';
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { dayNumber } from '../src/dates/edtf.js';
import { timelinePageSql } from '../src/storage/sqlite/timeline.js';
import { AUTH, buildTestApp, ndjson, type TestApp } from './helpers.js';
import { sqliteDb } from './support/sqlite.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const ACTORS = 20;

/** `actors` actors and `events` events, each event naming one of them. */
function dataset(events: number, prefix = 'event:e'): object[] {
  const records: object[] = [];
  for (let a = 0; a < ACTORS; a++) records.push({ kind: 'actor', key: `actor:a${a}`, type: 'person', name: { en: `Actor ${a}` } });
  for (let i = 0; i < events; i++) {
    const day = new Date(Date.UTC(2000, 0, 1) + (i % 7000) * 86_400_000).toISOString().slice(0, 10);
    records.push({
      kind: 'event',
      key: `${prefix}${i}`,
      type: i % 3 === 0 ? 'protest' : 'meeting',
      date: day,
      title: { en: `Event ${i} of the test` },
      actors: [{ actor: `actor:a${i % ACTORS}`, role: 'participant' }],
    });
  }
  return records;
}

async function importOk(app: TestApp, records: object[]) {
  const res = await app.app.inject({
    method: 'POST',
    url: '/v1/import',
    headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
    payload: ndjson(records),
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ created: number; refused: number }>();
}

/** The tables that have rows in sqlite_stat1 (none when the table does not exist yet). */
function analysedTables(file: string): string[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const exists = db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'`).get();
    if (!exists) return [];
    return (db.prepare('SELECT DISTINCT tbl FROM sqlite_stat1 ORDER BY tbl').all() as { tbl: string }[]).map((r) => r.tbl);
  } finally {
    db.close();
  }
}

/** The threshold's default (STATISTICS_AFTER_IMPORT_RECORDS in src/storage/sqlite/statistics.ts). */
const STATISTICS_AFTER_IMPORT_RECORDS = 10_000;

/** The sqlite_stat1 row count of an index (its first number): the rows ANALYZE saw. */
function analysedRows(file: string, index: string): number | null {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT stat FROM sqlite_stat1 WHERE idx = ?').get(index) as { stat: string } | undefined;
    return row ? Number(row.stat.split(' ')[0]) : null;
  } finally {
    db.close();
  }
}

describe('planner statistics after an import through the API', () => {
  it('a large import (at the default threshold) leaves sqlite_stat1 rows for entries and entry_actors', async () => {
    t = await buildTestApp({ config: { optimizeIntervalMs: 0 } });
    const records = dataset(STATISTICS_AFTER_IMPORT_RECORDS);
    const report = await importOk(t, records);
    expect(report.created).toBe(records.length);
    expect(report.refused).toBe(0);
    // read before the app closes (whose close runs PRAGMA optimize too): the import did it
    const tables = analysedTables(t.databasePath);
    expect(tables).toContain('entries');
    expect(tables).toContain('entry_actors');
    expect(analysedRows(t.databasePath, 'entry_actors_actor_idx')).toBe(STATISTICS_AFTER_IMPORT_RECORDS);
    // with the statistics, the timeline of a week (and of an actor) is still a range scan of
    // entries_chrono_idx per span class (see test/query-plan.test.ts), never a scan of entries
    for (const actors of [undefined, [1]]) {
      const query = { from: dayNumber('2005-01-03'), to: dayNumber('2005-01-09'), match: 'overlaps', order: 'asc', ...(actors ? { actors } : {}) } as const;
      const lines = sqliteDb(t.app).all<{ detail: string }>(sql`EXPLAIN QUERY PLAN ${timelinePageSql(query, undefined, 51)}`).map((r) => r.detail);
      expect(lines.filter((line) => /^SCAN (e|entries)\b/.test(line))).toEqual([]);
      expect(lines.filter((line) => /^SEARCH e USING (?:COVERING )?INDEX entries_chrono_idx /.test(line))).toHaveLength(4);
    }
    const page = await t.app.inject({ method: 'GET', url: '/v1/timeline?from=2005-01-03&to=2005-01-09&limit=5' });
    expect(page.statusCode, page.body).toBe(200);
    expect(page.json<{ data: unknown[] }>().data.length).toBeGreaterThan(0);
  }, 120_000);

  it('a small import does not pay for ANALYZE', async () => {
    t = await buildTestApp({ config: { optimizeIntervalMs: 0 } });
    const report = await importOk(t, dataset(200));
    expect(report.created).toBe(200 + ACTORS);
    expect(analysedTables(t.databasePath)).toEqual([]);
  });

  it('the threshold counts created and updated records of one import (configurable)', async () => {
    t = await buildTestApp({ config: { optimizeIntervalMs: 0, statisticsAfterImportRecords: 300 } });
    await importOk(t, dataset(200));
    expect(analysedTables(t.databasePath)).toEqual([]);
    // 300 new events and the 20 actors unchanged: over the threshold
    await importOk(t, dataset(300, 'event:more'));
    const tables = analysedTables(t.databasePath);
    expect(tables).toContain('entries');
    expect(tables).toContain('entry_actors');
    expect(analysedRows(t.databasePath, 'entry_actors_actor_idx')).toBe(500);
  });

  it('a dry run of a large file stores no statistics either', async () => {
    t = await buildTestApp({ config: { optimizeIntervalMs: 0, statisticsAfterImportRecords: 100 } });
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/import?dryRun=true',
      headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
      payload: ndjson(dataset(300)),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(analysedTables(t.databasePath)).toEqual([]);
  });
});

describe('PRAGMA optimize on the serving connection', () => {
  it('runs at intervals', async () => {
    t = await buildTestApp({ config: { optimizeIntervalMs: 100 } });
    await importOk(t, dataset(200));
    expect((await t.app.inject({ method: 'GET', url: '/v1/timeline?limit=5' })).statusCode).toBe(200);
    const deadline = Date.now() + 10_000;
    while (!analysedTables(t.databasePath).includes('entries') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(analysedTables(t.databasePath)).toContain('entries');
  });

  it('is skipped, not waited for, while another connection holds the write lock', async () => {
    const { refreshPlannerStatistics } = await import('../src/storage/sqlite/statistics.js');
    t = await buildTestApp({ config: { optimizeIntervalMs: 0 } });
    await importOk(t, dataset(200));
    const other = new Database(t.databasePath);
    try {
      other.exec('BEGIN IMMEDIATE');
      const started = Date.now();
      expect(refreshPlannerStatistics(sqliteDb(t.app).$client, { everyTable: true })).toBe(false);
      expect(Date.now() - started).toBeLessThan(1000);
      other.exec('ROLLBACK');
      expect(refreshPlannerStatistics(sqliteDb(t.app).$client, { everyTable: true })).toBe(true);
    } finally {
      other.close();
    }
    expect(analysedTables(t.databasePath)).toContain('entries');
  });
});
