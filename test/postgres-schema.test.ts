import Database from 'better-sqlite3';
import { getTableConfig as sqliteTableConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import pg from 'pg';
import { expect, it } from 'vitest';
import { normalizeForIndex, buildMatchQuery } from '../src/search/text.js';
import { appliedMigrations, committedMigrations, runMigrations } from '../src/storage/postgres/migrate.js';
import { tsqueryLiteral, tsvectorLiteral } from '../src/storage/postgres/search-text.js';
import * as sqliteSchema from '../src/storage/sqlite/schema.js';
import { describePg, eachTestPgDatabase } from './support/pg.js';

describePg('PostgreSQL migrations', () => {
  const { database, pool } = eachTestPgDatabase();

  it('apply each migration once when three servers migrate at the same time', async () => {
    const servers = [pool(), pool(), pool()];
    const applied = await Promise.all(servers.map((p) => runMigrations(p)));
    // one of them applied everything, the others waited on the lock and found nothing to do
    expect(applied.reduce((a, b) => a + b, 0)).toBe(committedMigrations());
    expect(applied.filter((n) => n > 0)).toHaveLength(1);
    const recorded = await servers[0]!.query<{ hash: string; n: string }>(
      'SELECT hash, count(*) AS n FROM drizzle.__drizzle_migrations GROUP BY hash',
    );
    expect(recorded.rows).toHaveLength(committedMigrations());
    expect(recorded.rows.every((r) => Number(r.n) === 1)).toBe(true);
    // and again, later: nothing left
    expect(await Promise.all(servers.map((p) => runMigrations(p)))).toEqual([0, 0, 0]);
    expect(await appliedMigrations(servers[1]!)).toBe(committedMigrations());
    // the lock is not left held by any connection
    const locks = await servers[0]!.query("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory'");
    expect(Number(locks.rows[0].n)).toBe(0);
  });

  it('refuses a database that is not UTF-8', async () => {
    const admin = new pg.Client({ connectionString: database().url });
    await admin.connect();
    const name = `${new URL(database().url).pathname.slice(1)}_latin1`;
    let latin1: pg.Pool | undefined;
    try {
      await admin.query(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'`);
      const url = new URL(database().url);
      url.pathname = `/${name}`;
      latin1 = new pg.Pool({ connectionString: url.toString(), max: 1 });
      // the drop below ends its connection if the pool has not closed it yet
      latin1.on('error', () => {});
      await expect(runMigrations(latin1)).rejects.toThrow(/encoding LATIN1; Annals needs UTF8/);
    } finally {
      await latin1?.end();
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    }
  });
});

describePg('PostgreSQL schema', () => {
  const { pool } = eachTestPgDatabase();

  it('has the SQLite tables with the same columns, plus the search documents', async () => {
    const db = pool();
    await runMigrations(db);
    const { rows } = await db.query<{ table_name: string; column_name: string; data_type: string; collation_name: string | null }>(
      `SELECT table_name, column_name, data_type, collation_name FROM information_schema.columns
       WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
    );
    const columns = new Map<string, string[]>();
    for (const row of rows) columns.set(row.table_name, [...(columns.get(row.table_name) ?? []), row.column_name]);
    const expected = new Map<string, string[]>();
    for (const value of Object.values(sqliteSchema)) {
      if (!(value instanceof SQLiteTable)) continue;
      const config = sqliteTableConfig(value);
      expected.set(config.name, config.columns.map((c) => c.name));
    }
    // SQLite's search index is an FTS5 table of migration 0001, not in its drizzle schema
    expected.set('search_index', ['entry_id', 'document', 'length']);
    // the rate limits' shared counts: SQLite counts in process
    expected.set('request_counts', ['key', 'requests', 'expires_at']);
    expect(new Set(columns.keys())).toEqual(new Set(expected.keys()));
    for (const [table, names] of expected) expect(new Set(columns.get(table)), table).toEqual(new Set(names));
    // every text column orders by code point, as SQLite's BINARY does
    const text = rows.filter((r) => r.data_type === 'text');
    expect(text.length).toBeGreaterThan(40);
    expect(text.filter((r) => r.collation_name !== 'C').map((r) => `${r.table_name}.${r.column_name}`)).toEqual([]);
    const sortStart = rows.find((r) => r.table_name === 'entries' && r.column_name === 'sort_start');
    expect(sortStart?.data_type).toBe('bigint');
    const gin = await db.query("SELECT indexdef FROM pg_indexes WHERE indexname = 'search_index_document_idx'");
    expect(gin.rows[0]?.indexdef).toMatch(/USING gin \(document\)/);
  });

  it('orders text by code point like SQLite', async () => {
    const db = pool();
    await runMigrations(db);
    const words = ['b', 'B', 'a', 'A', 'é', 'e', 'Z', 'z', '_', '-', '10', '9', 'ا', 'أ', '😀', '\uffff', 'ab', 'a b', 'aB'];
    for (const word of words) await db.query("INSERT INTO settings (name, value) VALUES ($1, '')", [word]);
    const { rows } = await db.query<{ name: string }>('SELECT name FROM settings ORDER BY name');
    const sqlite = new Database(':memory:');
    sqlite.exec('CREATE TABLE t (name TEXT PRIMARY KEY)');
    const insert = sqlite.prepare('INSERT INTO t VALUES (?)');
    for (const word of words) insert.run(word);
    const order = sqlite.prepare('SELECT name FROM t ORDER BY name').pluck().all() as string[];
    sqlite.close();
    expect(rows.map((r) => r.name)).toEqual(order);
  });

  it('keeps entry_span_counts and entry_date_counts exact through inserts, updates and deletes', async () => {
    const db = pool();
    await runMigrations(db);
    const insert = async (rows: [string, number, number, number, string][]) => {
      const values = rows.map((_, i) => `($${i * 5 + 1}, 'x', 'd', 'day', $${i * 5 + 2}, $${i * 5 + 3}, $${i * 5 + 4}, 0, 0, '', '', $${i * 5 + 5})`);
      await db.query(
        `INSERT INTO entries (key, type, date, precision, earliest, latest, span_class, sort_start, sort_end, created_at, updated_at, kind)
         VALUES ${values.join(', ')}`,
        rows.flatMap(([key, earliest, latest, spanClass, kind]) => [key, earliest, latest, spanClass, kind]),
      );
    };
    const check = async (where: string) => {
      const spans = await db.query(
        'SELECT span_class, earliest, latest, kind, n FROM entry_span_counts ORDER BY 1, 2, 3, 4',
      );
      const truth = await db.query(
        'SELECT span_class, earliest, latest, kind, count(*)::integer AS n FROM entries GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4',
      );
      expect(spans.rows, where).toEqual(truth.rows);
      const dates = await db.query('SELECT grain, kind, unit, starts, ends FROM entry_date_counts ORDER BY 1, 2, 3');
      const dateTruth = await db.query(`
        SELECT grain, kind, unit, sum(starts)::integer AS starts, sum(ends)::integer AS ends FROM (
          SELECT 0 AS grain, kind, earliest AS unit, 1 AS starts, 0 AS ends FROM entries
          UNION ALL SELECT 0, kind, latest, 0, 1 FROM entries
          UNION ALL SELECT 9, kind, earliest >> 9, 1, 0 FROM entries
          UNION ALL SELECT 9, kind, latest >> 9, 0, 1 FROM entries) u
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`);
      expect(dates.rows, where).toEqual(dateTruth.rows);
    };
    // one multi-row statement (as a bulk load), with several entries per group, dates before 1970 too
    await insert([
      ['e1', 100, 100, 0, 'event'],
      ['e2', 100, 100, 0, 'event'],
      ['e3', 100, 100, 0, 'statement'],
      ['e4', -800, 40, 3, 'event'],
      ['e5', 511, 512, 1, 'event'],
      ['e6', -1, 0, 1, 'statement'],
    ]);
    await check('after the bulk insert');
    await insert([['e7', 100, 100, 0, 'event']]);
    await check('after one insert');
    await db.query("UPDATE entries SET earliest = 90, span_class = 1 WHERE key = 'e1'");
    await check('after an update that moves one entry');
    await db.query("UPDATE entries SET title = '{}' WHERE key IN ('e2', 'e3')");
    await check('after an update that moves none');
    await db.query("UPDATE entries SET kind = 'statement' WHERE kind = 'event'");
    await check('after an update of many');
    await db.query("DELETE FROM entries WHERE key IN ('e2', 'e7', 'e6')");
    await check('after deleting some of a group and the last of another');
    await db.query('DELETE FROM entries');
    await check('after deleting everything');
    const left = await db.query('SELECT (SELECT count(*) FROM entry_span_counts) + (SELECT count(*) FROM entry_date_counts) AS n');
    expect(Number(left.rows[0].n)).toBe(0);
  });
});

/** Arabic and other texts, with the variants the normalisation folds. */
const DOCUMENTS = [
  'أعلن الرئيس الكازاخستاني قاسم جومارت توكاييف حالة الطوارئ',
  'إعلان حالة الطّوارئ في ألماتي',
  'المنظمة الدولية للدول التركية',
  'استقالة الحكومة الكازاخستانيّة',
  'والحكومات الجديدة',
  'President Kassym-Jomart Tokayev addressed the nation.',
  'Токаев / Tokáyev (with an accent)',
  'مستشفى ومدرسة',
  '٢٠٢٢ كانون الثاني',
];

const QUERIES: [string, boolean][] = [
  ['الطوارئ', false],
  ['طوارئ', false],
  ['الكازاخستانية', false],
  ['كازاخستان', false],
  ['حكومه', false],
  ['الحكومة', false],
  ['tokayev', false],
  ['TOKÁYEV', false],
  ['مستشفي', false],
  ['2022', false],
  ['توكا', true],
  ['الدول الترك', true],
  ['and or not', false],
  ["'&|!():*", false],
];

describePg('PostgreSQL full text', () => {
  const { pool } = eachTestPgDatabase();

  it('finds what SQLite FTS5 finds, from the same normalisation', async () => {
    const db = pool();
    await runMigrations(db);
    const sqlite = new Database(':memory:');
    sqlite.exec(`CREATE VIRTUAL TABLE t USING fts5(body, tokenize = "unicode61 remove_diacritics 2")`);
    const ftsInsert = sqlite.prepare('INSERT INTO t(rowid, body) VALUES (?, ?)');
    for (const [i, text] of DOCUMENTS.entries()) {
      const id = i + 1;
      await db.query(
        `INSERT INTO entries (id, key, kind, type, date, precision, earliest, latest, span_class, sort_start, sort_end, created_at, updated_at)
         VALUES ($1, $2, 'event', 'x', '2022', 'year', 0, 0, 0, 0, 0, '', '')`,
        [id, `e${id}`],
      );
      await db.query('INSERT INTO search_index (entry_id, document, length) VALUES ($1, $2::tsvector, 0)', [id, tsvectorLiteral(normalizeForIndex(text))]);
      ftsInsert.run(id, normalizeForIndex(text));
    }
    let matchedSomething = 0;
    for (const [q, prefix] of QUERIES) {
      const match = buildMatchQuery(q, { prefix });
      const tsquery = tsqueryLiteral(q, { prefix });
      expect(tsquery === null, q).toBe(match === null);
      if (match === null || tsquery === null) continue;
      const fromSqlite = sqlite.prepare('SELECT rowid FROM t WHERE t MATCH ? ORDER BY rowid').pluck().all(match) as number[];
      const { rows } = await db.query<{ entry_id: number }>(
        'SELECT entry_id FROM search_index WHERE document @@ $1::tsquery ORDER BY entry_id',
        [tsquery],
      );
      expect(rows.map((r) => r.entry_id), q).toEqual(fromSqlite);
      if (fromSqlite.length > 0) matchedSomething += 1;
    }
    sqlite.close();
    // the queries are not vacuous: most find something, Arabic variants included
    expect(matchedSomething).toBeGreaterThanOrEqual(10);
    // the GIN index serves the match
    await db.query('ANALYZE search_index');
    await db.query('SET enable_seqscan = off');
    const plan = await db.query('EXPLAIN SELECT entry_id FROM search_index WHERE document @@ $1::tsquery', [tsqueryLiteral('طوارئ')]);
    expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/search_index_document_idx/);
  });

  it('keeps a token longer than a lexeme may be, cut to fit', async () => {
    const db = pool();
    await runMigrations(db);
    const long = 'ب'.repeat(1500); // 3000 bytes of UTF-8
    const { rows } = await db.query<{ hit: boolean }>('SELECT $1::tsvector @@ $2::tsquery AS hit', [
      tsvectorLiteral(normalizeForIndex(`كلمة ${long}`)),
      tsqueryLiteral(long),
    ]);
    expect(rows[0]?.hit).toBe(true);
  });
});
