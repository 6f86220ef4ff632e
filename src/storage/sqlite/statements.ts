import type Database from 'better-sqlite3';
import { Param, Placeholder, SQL, StringChunk } from 'drizzle-orm';
import { SQLiteSyncDialect } from 'drizzle-orm/sqlite-core';
import { compileSql } from '../compile-sql.js';

/**
 * Prepared statements cached per connection, for the hot paths (import, timeline pages):
 * drizzle builds and prepares a statement on every call, which costs more than running it.
 * The SQL texts are constants of the repositories.
 */
const cache = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** The better-sqlite3 connection under a drizzle database or transaction. */
export function clientOf(db: object): Database.Database {
  const withClient = db as { $client?: Database.Database; session?: { client: Database.Database } };
  return withClient.$client ?? withClient.session!.client;
}

export function prepared(db: object, sqlText: string): Database.Statement {
  const client = clientOf(db);
  let statements = cache.get(client);
  if (!statements) {
    statements = new Map();
    cache.set(client, statements);
  }
  let statement = statements.get(sqlText);
  if (!statement) {
    // built queries vary with their filters' list lengths: a bound keeps a client that
    // tries every length from growing the cache without end
    if (statements.size >= MAX_STATEMENTS) statements.clear();
    statement = client.prepare(sqlText);
    if (sqlText.startsWith(RAW_MARK)) statement.raw(true);
    statements.set(sqlText, statement);
  }
  return statement;
}

/**
 * A statement that returns rows as arrays (better-sqlite3's raw mode), cached apart from the
 * object-mode one of the same text. The loaders of timeline entries read thousands of rows a
 * page: arrays instead of objects took a third off their time (684 -> 480 us a page of 50).
 */
export function preparedRaw(db: object, sqlText: string): Database.Statement {
  return prepared(db, `${RAW_MARK}${sqlText}`);
}

// a comment leads the text, so the raw statement has a cache entry (and mode) of its own
const RAW_MARK = '/* raw */ ';

export const MAX_STATEMENTS = 2000;

/** Statements cached for this connection now (at most MAX_STATEMENTS). */
export const preparedStatementCount = (db: object) => cache.get(clientOf(db))?.size ?? 0;
const dialect = new SQLiteSyncDialect();

/** The text and parameters of a query built with drizzle's `sql`, as SQLite's dialect writes them. */
const compiled = (query: SQL) => compileSql(query, { SQL, StringChunk, Param, Placeholder }, (i) => dialect.escapeParam(i)) ?? dialect.sqlToQuery(query);

/**
 * The rows of a query built with drizzle's `sql`, through the statement cache: the same
 * shape of query (the same filters, whatever their values) is prepared once.
 */
export function allRows<T>(db: object, query: SQL): T[] {
  const { sql: sqlText, params } = compiled(query);
  return prepared(db, sqlText).all(...params) as T[];
}

/** The rows of a query built with drizzle's `sql` as arrays, through the statement cache. */
export function allTuples<T extends unknown[]>(db: object, query: SQL): T[] {
  const { sql: sqlText, params } = compiled(query);
  return preparedRaw(db, sqlText).all(...params) as T[];
}
