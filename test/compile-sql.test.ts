// The engines compile the queries they build per request themselves (src/storage/compile-sql.ts)
// rather than through drizzle's dialects: the text and parameters must be the dialect's to the
// byte, on every shape of timeline query, and any chunk it does not know must go to the dialect.
import { Param, Placeholder, SQL, StringChunk, placeholder, sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { SQLiteSyncDialect } from 'drizzle-orm/sqlite-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSql } from '../src/storage/compile-sql.js';
import { timelinePageSql as pgTimelinePageSql } from '../src/storage/postgres/timeline.js';
import { spanCountsSql } from '../src/storage/sqlite/histogram.js';
import { entries } from '../src/storage/sqlite/schema.js';
import { timelinePageSql, type TimelineDriver } from '../src/storage/sqlite/timeline.js';
import type { TimelinePosition, TimelineQuery } from '../src/storage/types.js';

const CLASSES = { SQL, StringChunk, Param, Placeholder };
const sqlite = new SQLiteSyncDialect();
const pg = new PgDialect();
/** What a statement is run with (the dialects also return the parameters' typings, which no engine reads). */
const textAndParams = ({ sql: text, params }: { sql: string; params: unknown[] }) => ({ sql: text, params });
const sqliteCompiled = (query: SQL) => compileSql(query, CLASSES, (i) => sqlite.escapeParam(i));
const pgCompiled = (query: SQL) => compileSql(query, CLASSES, (i) => pg.escapeParam(i));

const day = fc.integer({ min: -700_000, max: 2_900_000 });
const queryArb: fc.Arbitrary<TimelineQuery> = fc.record(
  {
    from: day,
    to: day,
    match: fc.constantFrom('overlaps' as const, 'within' as const),
    kinds: fc.subarray(['event' as const, 'statement' as const]),
    types: fc.uniqueArray(fc.constantFrom('protest', 'statement', "o'brien"), { maxLength: 2 }),
    tags: fc.uniqueArray(fc.string({ maxLength: 6 }), { maxLength: 2 }),
    actors: fc.uniqueArray(fc.nat({ max: 50 }), { maxLength: 3 }),
    role: fc.constantFrom('speaker', 'about', 'participant'),
    places: fc.uniqueArray(fc.nat({ max: 50 }), { maxLength: 3 }),
    text: fc.constantFrom('"كازاخستان"', 'protest OR strike'),
    order: fc.constantFrom('asc' as const, 'desc' as const),
  },
  { requiredKeys: ['match', 'order'] },
);
const afterArb: fc.Arbitrary<TimelinePosition | undefined> = fc.option(
  fc.tuple(fc.integer(), fc.integer(), fc.nat()),
  { nil: undefined },
);
const driverArb = fc.constantFrom<TimelineDriver>('window', 'actors', 'places');

describe('compileSql', () => {
  it("writes SQLite's text and parameters for every shape of timeline page and histogram", () => {
    fc.assert(
      fc.property(queryArb, afterArb, fc.integer({ min: 1, max: 501 }), driverArb, (q, after, limit, driver) => {
        for (const query of [timelinePageSql(q, after, limit, driver), spanCountsSql(q)]) {
          expect(sqliteCompiled(query)).toEqual(textAndParams(sqlite.sqlToQuery(query)));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("writes PostgreSQL's numbered parameters for every shape of timeline page", () => {
    fc.assert(
      fc.property(queryArb, afterArb, fc.integer({ min: 1, max: 501 }), (q, after, limit) => {
        const query = pgTimelinePageSql(q, after, limit);
        expect(pgCompiled(query)).toEqual(textAndParams(pg.sqlToQuery(query)));
      }),
      { numRuns: 300 },
    );
  });

  it('binds nulls, blobs, strings and numbers, plain or as sql.param, in order', () => {
    const blob = Buffer.from([0, 1, 2]);
    const query = sql`SELECT ${1}, ${'two'}, ${null}, ${sql.param(blob)}, ${sql`(${3.5}, ${sql.param(null)})`}${undefined}`;
    expect(sqliteCompiled(query)).toEqual({ sql: 'SELECT ?, ?, ?, ?, (?, ?)', params: [1, 'two', null, blob, 3.5, null] });
    expect(pgCompiled(query)).toEqual({ sql: 'SELECT $1, $2, $3, $4, ($5, $6)', params: [1, 'two', null, blob, 3.5, null] });
    expect(sqliteCompiled(query)).toEqual(textAndParams(sqlite.sqlToQuery(query)));
    const list = sql`SELECT id FROM entries WHERE id = ANY(${sql.param([1, 2])}::integer[])`;
    expect(pgCompiled(list)).toEqual({ sql: 'SELECT id FROM entries WHERE id = ANY($1::integer[])', params: [[1, 2]] });
    expect(pgCompiled(list)).toEqual(textAndParams(pg.sqlToQuery(list)));
  });

  it('leaves to the dialect a query with a column, a table, a list, a placeholder or inlined values', () => {
    const others = [
      sql`SELECT ${entries.id} FROM entries`,
      sql`SELECT id FROM ${entries}`,
      sql`SELECT id FROM entries WHERE id IN ${[1, 2]}`,
      sql`SELECT id FROM entries WHERE id = ${placeholder('id')}`,
      sql`SELECT id FROM entries WHERE ${sql`key = ${"it's"}`.inlineParams()}`,
      sql`SELECT id FROM entries WHERE id = ${sql.param(placeholder('id'))}`,
    ];
    for (const query of others) expect(sqliteCompiled(query)).toBeUndefined();
  });
});
