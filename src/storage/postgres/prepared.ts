import { Param, Placeholder, SQL, StringChunk } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { compileSql } from '../compile-sql.js';
import type { PgTx } from './transactions.js';

const dialect = new PgDialect();

/** The text and parameters of a query built with drizzle's `sql`, as PostgreSQL's dialect writes them. */
const compiled = (query: SQL) => compileSql(query, { SQL, StringChunk, Param, Placeholder }, (i) => dialect.escapeParam(i)) ?? dialect.sqlToQuery(query);

/** Names of the statements prepared on the connections, by their text. */
const names = new Map<string, string>();
/** Texts prepared by name at most: each connection keeps a plan of every one. */
const MAX_PREPARED = 256;

/**
 * Runs `statement` as a named prepared statement of the connection, so that PostgreSQL parses
 * and plans its text once per connection rather than at every run (for a read of a few rows by
 * an index, planning costs more than running it). Only for statements whose plan holds for
 * every value of their parameters: after a few runs PostgreSQL may settle on a generic plan.
 * On a transaction's connection, which drizzle keeps to itself, as drizzle runs any statement.
 */
export async function runPrepared<T extends pg.QueryResultRow>(tx: PgTx, statement: SQL): Promise<T[]> {
  // the pool, or one connection of it (an export's snapshot)
  const client: unknown = '$client' in tx ? tx.$client : undefined;
  if (client instanceof pg.Pool || client instanceof pg.Client) {
    const { sql: text, params } = compiled(statement);
    let name = names.get(text);
    if (name === undefined && names.size < MAX_PREPARED) {
      name = `annals_${names.size}`;
      names.set(text, name);
    }
    if (name !== undefined) return (await client.query<T>({ name, text, values: params })).rows;
  }
  // the rows of the same statement, which drizzle types by `Assume`: T itself for a row type
  return (await tx.execute(statement)).rows as T[];
}
