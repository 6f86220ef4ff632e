import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { PgDb } from './client.js';
import type * as schema from './schema.js';
import { WRITE_LOCK_WAIT_MS } from '../lock-waits.js';
import { afterTrackedCommit, refreshEntryDocuments, trackEntryDocuments } from './documents.js';
import { lockRevision } from './settings.js';

/** A transaction as drizzle hands it to `db.transaction`'s callback. */
export type PgTransaction = Parameters<Parameters<PgDb['transaction']>[0]>[0];
/** A transaction, the pool, or one connection of it (an export's snapshot): the engine's queries accept any. */
export type PgTx = NodePgDatabase<typeof schema> | PgTransaction;

export const now = () => new Date().toISOString();

/**
 * Runs `work` in a write transaction (READ COMMITTED) that bumps the data revision first.
 * The bump locks the revision row until commit, so write transactions from every server run
 * one after another: each reads (with a new snapshot per statement) what the one before it
 * committed, which the key checks and reference look-ups of a write rely on, as they do on
 * SQLite's single writer. The revision of a failed transaction rolls back with it.
 * A write waits for the row as long as SQLite's busy timeout (`lockWaitMs`, by default
 * WRITE_LOCK_WAIT_MS), then answers busy. The documents of the entries it changed are brought
 * up to date before it commits (src/storage/postgres/documents.ts).
 */
export async function writeTransaction<T>(
  db: PgDb,
  work: (tx: PgTransaction) => Promise<T>,
  lockWaitMs: number = WRITE_LOCK_WAIT_MS,
): Promise<T> {
  let committed: PgTransaction | undefined;
  const result = await db.transaction(async (tx) => {
    await lockRevision(tx, lockWaitMs);
    trackEntryDocuments(tx);
    const result = await work(tx);
    await refreshEntryDocuments(tx);
    committed = tx;
    return result;
  });
  if (committed !== undefined) afterTrackedCommit(committed);
  return result;
}
