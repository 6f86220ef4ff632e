import pg from 'pg';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { PostgresTarget } from '../../config.js';
import * as schema from './schema.js';

export type PgDb = NodePgDatabase<typeof schema> & { $client: pg.Pool };

/**
 * node-postgres hands back `bigint` (int8) as a string, since it can exceed a double's exact
 * integers. Every int8 this engine reads fits one (the chronological positions are within
 * ±(2^53 - 1) by construction, and counts are of rows), so queries on the pool itself
 * (`pool.query`, COPY) get numbers, from a parser of this pool's own rather than
 * node-postgres's global one. drizzle's queries pass parsers of their own that fall back to
 * the global ones: there int8 arrives as a string, which `bigint(..., { mode: 'number' })`
 * columns convert, and a `count(*)` written in drizzle's `sql` should be cast `::integer`.
 */
const types = new pg.TypeOverrides();
types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

/** A connection pool to the database `target` names, and drizzle over it. */
export function openPool(target: PostgresTarget): PgDb {
  const pool = new pg.Pool({
    connectionString: target.url,
    max: target.poolSize,
    application_name: 'annals',
    // a server that cannot reach PostgreSQL says so instead of waiting for ever
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    types,
  });
  // An idle connection that PostgreSQL closes (a restart, a failover) emits an error on the
  // pool, which without a listener would end the process; the pool drops that connection and
  // the next query opens another, so there is nothing else to do here.
  pool.on('error', () => {});
  // A connection in use that PostgreSQL ends (pg_terminate_backend, a failover) fails its
  // query, which answers the request, and also emits an error on the client, which the pool
  // listens for only while the client is idle: without a listener of its own it would end the process.
  pool.on('connect', (client) => client.on('error', () => {}));
  return drizzle({ client: pool, schema });
}
