/**
 * The import session of the PostgreSQL engine (src/storage/import.ts). A batch is a write
 * transaction of its own on a connection of the pool, ordered after every other write by the
 * revision bump it makes first (src/storage/postgres/transactions.ts); a dry run holds one
 * transaction for its whole run and rolls it back; a bulk load into an empty database is one
 * transaction written by COPY (src/storage/postgres/bulk.ts).
 */
import { sql } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { ImportSession, ImportSessionOptions, ImportUpsert, ImportWriter } from '../import.js';
import { ProblemError } from '../../schemas/problems.js';
import type { RecordKind } from '../types.js';
import type { PgDb } from './client.js';
import type * as schema from './schema.js';
import type { NewChange } from '../changes.js';
import { logChanges } from './changes.js';
import { prepareUpsert, storeUpsert, type AnyPgSpec } from './records.js';
import { beginBulkLoad, copyBatchImportSession } from './bulk.js';
import { IMPORT_LOCK_WAIT_MS } from '../lock-waits.js';
import { afterTrackedCommit, refreshEntryDocuments, trackEntryDocuments } from './documents.js';
import { lockRevision } from './settings.js';
import { now, type PgTransaction } from './transactions.js';

/** True when the database holds no records: what a bulk load asked for `when-empty` needs. */
export async function holdsNoRecords(db: PgDb | PgTransaction): Promise<boolean> {
  const { rows } = await db.execute<{ empty: boolean }>(sql`
    SELECT NOT EXISTS (SELECT 1 FROM sources) AND NOT EXISTS (SELECT 1 FROM places) AND NOT EXISTS (SELECT 1 FROM actors)
       AND NOT EXISTS (SELECT 1 FROM entries) AND NOT EXISTS (SELECT 1 FROM timelines) AS empty`);
  return rows[0]?.empty === true;
}

/** Stores one record as the writer's contract says: every refusal before its first write. */
async function upsertRecord(
  tx: PgTransaction,
  spec: AnyPgSpec,
  data: { key: string },
  timestamp: string,
  pendingKeys: ((key: string) => boolean) | undefined,
  changes: NewChange[],
): Promise<ImportUpsert> {
  const prepared = await prepareUpsert(tx, spec, data, pendingKeys);
  if (prepared.outcome === 'deferred') return prepared;
  if (prepared.outcome === 'unchanged') return { outcome: 'unchanged' };
  try {
    return { outcome: (await storeUpsert(tx, spec, prepared, timestamp, changes)).outcome };
  } catch (error) {
    // a problem found only while writing would leave the record half-written if it were a refusal
    if (error instanceof ProblemError) throw new Error(`import: record refused after its first write: ${error.message}`);
    throw error;
  }
}

/** The changes a batch's records make are logged together by `logBatch`, in one statement, before the batch commits. */
function writerFor(tx: PgTransaction, specs: Record<RecordKind, AnyPgSpec>, author: string | null): ImportWriter & { logBatch(): Promise<void> } {
  const timestamp = now();
  const changes: NewChange[] = [];
  return {
    upsert: (kind, data, pendingKeys) => upsertRecord(tx, specs[kind], data, timestamp, pendingKeys, changes),
    async logBatch() {
      await logChanges(tx, changes, timestamp, author);
      changes.length = 0;
    },
  };
}

/**
 * Takes the revision row first, as every write does, waiting for it as long as `lockWaitMs`
 * asks (by default as long as an import waits on SQLite, IMPORT_LOCK_WAIT_MS), then answers
 * busy. Only this wait is bounded: the session's own work, once it holds the row, is not cut.
 */
export const takeImportLock = (tx: PgTransaction, lockWaitMs: number | undefined) => lockRevision(tx, lockWaitMs ?? IMPORT_LOCK_WAIT_MS);

/** Opens an import session on `db` with the engine's record specs. */
export async function beginPostgresImport(
  db: PgDb,
  specs: Record<RecordKind, AnyPgSpec>,
  options: ImportSessionOptions = {},
): Promise<ImportSession> {
  if (options.dryRun) return dryRunSession(db, specs, options.lockWaitMs);
  if (options.bulkLoad !== undefined) {
    const bulk = await beginBulkLoad(db, specs, {
      whenEmpty: options.bulkLoad === 'when-empty',
      lockWaitMs: options.lockWaitMs,
      author: options.author ?? null,
    });
    if (bulk !== null) return bulk;
  }
  return copyBatchImportSession(db, specs, options.lockWaitMs, options.author ?? null);
}

/**
 * Records per batch on this engine. Each record costs round trips here (SQLite's cost none), so
 * a batch of the import's default size holds the revision row for long enough, on a loaded
 * machine, that writes through other servers waiting for it run out their bound and answer 503;
 * batches this size let go of it well within that bound, and cost little more (a commit each).
 */
export const BATCH_RECORDS = 100;

/**
 * Each batch is a write transaction of its own, which bumps the revision first as every write
 * does; on the pool, or on one connection of it (the seed's, which holds its lock).
 */
export function batchImportSession(
  db: PgDb | NodePgDatabase<typeof schema>,
  specs: Record<RecordKind, AnyPgSpec>,
  lockWaitMs?: number,
  author: string | null = null,
): ImportSession {
  return {
    mode: 'batches',
    batchRecords: BATCH_RECORDS,
    async batch(work) {
      const committed = await db.transaction(async (tx) => {
        await takeImportLock(tx, lockWaitMs);
        trackEntryDocuments(tx);
        const writer = writerFor(tx, specs, author);
        await work(writer);
        await writer.logBatch();
        // as writeTransaction does: the entries the batch changed are rendered before it commits
        await refreshEntryDocuments(tx);
        return tx;
      });
      afterTrackedCommit(committed);
    },
    async finish() {},
    async abort() {},
  };
}

/** A transaction held open across calls: `end` commits or rolls it back and says how it went. */
export interface HeldTransaction {
  tx: PgTransaction;
  end(commit: boolean): Promise<void>;
}

/** Thrown out of a held transaction's callback to have drizzle roll it back. */
class RollbackAsked extends Error {}

const asError = (error: unknown) => (error instanceof Error ? error : new Error(String(error)));

/**
 * Opens a transaction that stays open until `end`: drizzle's transaction runs a callback, which
 * here waits for `end` while the session's batches run on its `tx`.
 */
export async function holdTransaction(db: PgDb | NodePgDatabase<typeof schema>): Promise<HeldTransaction> {
  let opened!: (tx: PgTransaction) => void;
  let release!: (commit: boolean) => void;
  const txReady = new Promise<PgTransaction>((resolve) => (opened = resolve));
  const endAsked = new Promise<boolean>((resolve) => (release = resolve));
  const outcome: Promise<Error | null> = db
    .transaction(async (tx) => {
      opened(tx);
      // a rollback asked for is thrown out of the callback, which drizzle answers with ROLLBACK
      if (!(await endAsked)) throw new RollbackAsked('rolled back');
    })
    .then(
      () => null,
      (error: unknown) => (error instanceof RollbackAsked ? null : asError(error)),
    );
  // the transaction failed to begin (no connection): its error, before any batch
  const first = await Promise.race([txReady, outcome.then((error) => ({ error }))]);
  if ('error' in first) throw first.error ?? new Error('import: the transaction ended before it began');
  return {
    tx: first,
    async end(commit) {
      release(commit);
      const error = await outcome;
      if (error !== null) throw error;
    },
  };
}

/**
 * A dry run holds one transaction for its whole run, rolled back at the end, so that later
 * lines see the records earlier lines would have created. It takes the revision row first, as
 * a write does (its bump is rolled back with the rest: the revision does not change), and
 * holds it to its end, as SQLite's dry run holds the write lock: it reports what an import
 * would store on the data as it is, with no write committing under it, and writes arriving
 * meanwhile wait their bound for it and then answer busy, on either engine alike.
 */
async function dryRunSession(db: PgDb, specs: Record<RecordKind, AnyPgSpec>, lockWaitMs: number | undefined): Promise<ImportSession> {
  const held = await holdTransaction(db);
  let ended = false;
  const end = async () => {
    if (ended) return;
    ended = true;
    await held.end(false);
  };
  try {
    await takeImportLock(held.tx, lockWaitMs);
  } catch (error) {
    await end().catch(() => {});
    throw error;
  }
  return {
    mode: 'dry-run',
    async batch(work) {
      if (ended) throw new Error('import: the dry run has ended');
      // nothing it writes is kept, so nothing is logged
      await work(writerFor(held.tx, specs, null));
    },
    finish: end,
    abort: end,
  };
}
