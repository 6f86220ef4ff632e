import { drizzle } from 'drizzle-orm/node-postgres';
import { sql } from 'drizzle-orm';
import type { ImportReport } from '../../import/ndjson.js';
import type { RecordKind } from '../types.js';
import { loadSeedThrough } from '../seed.js';
import type { PgDb } from './client.js';
import { batchImportSession } from './import.js';
import type { AnyPgSpec } from './records.js';
import * as schema from './schema.js';

/** The lock under which one starting server seeds an empty database (the others wait, then find it seeded): "annals seed". */
const SEED_LOCK = '107083530496118';

/**
 * Loads the seed dataset into a database that has no sources and no entries (as on SQLite),
 * once when several servers start at once: each takes the same session-level advisory lock,
 * so one seeds while the others wait, and each of those then finds the seed there. The seed
 * is imported on the connection that holds the lock, so a pool of one connection suffices.
 * Returns the reports, or null when the database was not empty.
 */
export async function loadSeedIfEmpty(db: PgDb, specs: Record<RecordKind, AnyPgSpec>): Promise<ImportReport[] | null> {
  const client = await db.$client.connect();
  let broken: Error | undefined;
  try {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [SEED_LOCK]);
    try {
      const connection = drizzle({ client, schema });
      const { rows } = await connection.execute<{ stored: boolean }>(
        sql`SELECT EXISTS (SELECT 1 FROM sources) OR EXISTS (SELECT 1 FROM entries) AS stored`,
      );
      if (rows[0]?.stored === true) return null;
      return await loadSeedThrough(() => batchImportSession(connection, specs));
    } finally {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [SEED_LOCK]).catch((error: unknown) => {
        // a connection that cannot unlock is not given back to the pool, where it would hold the lock
        broken = error instanceof Error ? error : new Error(String(error));
      });
    }
  } finally {
    client.release(broken);
  }
}
