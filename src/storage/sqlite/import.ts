/* eslint-disable @typescript-eslint/require-await -- the port's sessions are async for every engine; this engine's are synchronous inside */
/**
 * The import session of the SQLite engine (src/storage/import.ts). Its batches run
 * synchronously inside: a batch's work awaits only the writer, whose operations finish before
 * they return, so no other request runs on the connection while a batch holds its transaction.
 */
import type { ImportSession, ImportSessionOptions, ImportUpsert, ImportWriter } from '../import.js';
import { ProblemError } from '../../schemas/problems.js';
import type { RecordKind } from '../types.js';
import { beginBulkLoad } from './bulk.js';
import { logChanges } from './changes.js';
import type { NewChange } from '../changes.js';
import { discardEntryDocumentChanges, refreshEntryDocuments } from './documents.js';
import { holdWriteLockElsewhere, openDatabase, openPrivateConnection, whenWriteLockFree, type Db } from './client.js';
import { prepareUpsert, storeUpsert, type AnySpec } from './records.js';
import { bumpRevision } from './settings.js';
import { RECORD_SPECS } from './specs.js';
import { newWriteCache, now, withWriteCache, type Tx, type WriteCache } from './transactions.js';

/** The tables an import fills. */
export const IMPORT_TABLES = [
  'sources',
  'places',
  'actors',
  'actor_affiliations',
  'entries',
  'entry_actors',
  'entry_places',
  'entry_events',
  'entry_tags',
  'citations',
  'timelines',
  'timeline_entries',
];

/** The tables whose indexes a bulk load builds once at its end: the change log's too, since a load logs a change per record. */
const BULK_TABLES = [...IMPORT_TABLES, 'changes'];

/** Most references and names a bulk load keeps looked up across batches (see bulkSession). */
const BULK_CACHE_ENTRIES = 100_000;

/** True when the database holds no records: what a bulk load asked for `when-empty` needs. */
export function holdsNoRecords(db: Db): boolean {
  return (
    db.$client
      .prepare(
        `SELECT NOT EXISTS (SELECT 1 FROM sources) AND NOT EXISTS (SELECT 1 FROM places) AND NOT EXISTS (SELECT 1 FROM actors)
           AND NOT EXISTS (SELECT 1 FROM entries) AND NOT EXISTS (SELECT 1 FROM timelines)`,
      )
      .pluck()
      .get() === 1
  );
}

/**
 * Page cache of the connection a shared database's bulk load runs on, in KiB: half the serving
 * connection's, which stays open beside it in the same process (a load appends rows, and reads
 * back little beyond the key indexes).
 */
const BULK_CONNECTION_CACHE_KIB = 32768;

const onFile = (path: string) => path !== ':memory:' && path !== '';

/**
 * Opens an import session on `db` (the database file `path`, or `:memory:`): a dry run on a
 * connection of its own, a bulk load, or batches each in a transaction of its own.
 * `shared`: other requests use `db` meanwhile (the server's connection), so a bulk load runs
 * on a connection of its own, as a dry run does; an in-memory database, which no other
 * connection can open, is then imported batch by batch.
 */
export async function beginSqliteImport(
  db: Db,
  path: string,
  options: ImportSessionOptions = {},
  { shared = false }: { shared?: boolean } = {},
): Promise<ImportSession> {
  const author = options.author ?? null;
  if (options.dryRun) return dryRunSession(db, path, options.lockWaitMs);
  const bulk = options.bulkLoad === 'always' || (options.bulkLoad === 'when-empty' && holdsNoRecords(db));
  if (bulk && !shared) return bulkSession(db, beginBulkLoad(db.$client, BULK_TABLES), () => {}, author);
  if (bulk && onFile(path)) return privateBulkSession(db, path, options.lockWaitMs, author);
  return batchImportSession(db, options.lockWaitMs, author);
}

/** Stores one record as the writer's contract says: every refusal before its first write. */
function upsertRecord(
  tx: Tx,
  spec: AnySpec,
  data: { key: string },
  timestamp: string,
  pendingKeys: ((key: string) => boolean) | undefined,
  changes: NewChange[],
): ImportUpsert {
  const prepared = prepareUpsert(tx, spec, data, pendingKeys);
  if (prepared.outcome === 'deferred') return prepared;
  if (prepared.outcome === 'unchanged') return { outcome: 'unchanged' };
  try {
    return { outcome: storeUpsert(tx, spec, prepared, timestamp, changes).outcome };
  } catch (error) {
    // a problem found only while writing would leave the record half-written if it were a refusal
    if (error instanceof ProblemError) throw new Error(`import: record refused after its first write: ${error.message}`);
    throw error;
  }
}

/**
 * The records of a batch share what they looked up (references, names): see WriteCache. The
 * changes they make are logged together by `logBatch`, in one statement, before the batch ends.
 */
function writerFor(tx: Tx, cache: WriteCache, author: string | null): ImportWriter & { logBatch(): void } {
  const timestamp = now();
  const changes: NewChange[] = [];
  return {
    async upsert(kind: RecordKind, data: { key: string }, pendingKeys?: (key: string) => boolean) {
      return withWriteCache(tx, () => upsertRecord(tx, RECORD_SPECS[kind], data, timestamp, pendingKeys, changes), cache);
    },
    logBatch() {
      logChanges(tx, changes, timestamp, author);
      changes.length = 0;
    },
  };
}

/**
 * Runs a batch's work, and fails it when the event loop turned meanwhile: other requests
 * would then have run inside the batch's transaction, on the same connection.
 */
async function runBatch(work: (writer: ImportWriter) => Promise<void>, writer: ImportWriter): Promise<void> {
  let turned = false;
  const check = setImmediate(() => {
    turned = true;
  });
  try {
    await work(writer);
  } finally {
    clearImmediate(check);
  }
  if (turned) throw new Error('import: the event loop turned while a batch held the transaction (its work awaited more than the writer)');
}

const beginImmediate = (db: Db, lockWaitMs: number | undefined) =>
  // another process (a worker, the CLI) may hold the write lock: waited for between attempts,
  // not inside SQLite, so that this process serves other requests meanwhile
  whenWriteLockFree(
    db.$client,
    (locked) => {
      db.$client.exec('BEGIN IMMEDIATE');
      locked();
    },
    lockWaitMs,
  );

/** Each batch is a write transaction of its own, which bumps the revision as every write does. */
export function batchImportSession(db: Db, lockWaitMs?: number, author: string | null = null): ImportSession {
  return {
    mode: 'batches',
    async batch(work) {
      await beginImmediate(db, lockWaitMs);
      try {
        const writer = writerFor(db, newWriteCache(), author);
        await runBatch(work, writer);
        writer.logBatch();
        // as writeTransaction does: the entries the batch changed are rendered before it commits
        refreshEntryDocuments(db);
        bumpRevision(db);
        db.$client.exec('COMMIT');
      } catch (error) {
        if (db.$client.inTransaction) db.$client.exec('ROLLBACK');
        discardEntryDocumentChanges(db);
        throw error;
      }
    },
    async finish() {},
    async abort() {},
  };
}

/**
 * A dry run holds one transaction for its whole run, rolled back at the end, on a connection
 * of its own: the serving one is shared by every request, which would run inside it. On the
 * same file, the dry run's lock makes the serving connection's writes wait: not inside SQLite,
 * which would block the thread that finishes the dry run, but between attempts, for as long as
 * the busy timeout, then a 503 (SqliteStorage's writes), as on PostgreSQL.
 */
async function dryRunSession(db: Db, path: string, lockWaitMs: number | undefined): Promise<ImportSession> {
  const connection = openPrivateConnection(db, path);
  const release = onFile(path) ? holdWriteLockElsewhere(db.$client) : () => {};
  const end = () => {
    try {
      if (connection.$client.inTransaction) connection.$client.exec('ROLLBACK');
    } finally {
      release();
      connection.$client.close();
    }
  };
  try {
    await beginImmediate(connection, lockWaitMs);
  } catch (error) {
    end();
    throw error;
  }
  return {
    mode: 'dry-run',
    async batch(work) {
      // nothing it writes is kept, so nothing is logged
      await runBatch(work, writerFor(connection, newWriteCache(), null));
    },
    async finish() {
      if (connection.$client.open) end();
    },
    async abort() {
      if (connection.$client.open) end();
    },
  };
}

/**
 * A bulk load (src/storage/sqlite/bulk.ts), for a connection that has the database to itself:
 * every batch inside the load's one transaction, with the revision bumped per batch as a
 * transaction of its own would. The batches share one write cache too, so that each batch does
 * not look up again the same places, actors and sources and normalise their names again;
 * dropped when it grows past a bound, to keep memory flat on a large file.
 */
function bulkSession(db: Db, load: BulkLoad, afterEnd: () => void, author: string | null): ImportSession {
  let cache = newWriteCache(true);
  let ended = false;
  const end = (commit: boolean) => {
    if (ended) return;
    ended = true;
    try {
      load.end(commit);
    } finally {
      // rolled back: nothing the load changed is left to render
      if (!commit) discardEntryDocumentChanges(db);
      afterEnd();
    }
  };
  return {
    mode: 'bulk',
    async batch(work) {
      if (cache.refs.size + cache.names.size > BULK_CACHE_ENTRIES) cache = newWriteCache(true);
      const writer = writerFor(db, cache, author);
      await runBatch(work, writer);
      writer.logBatch();
      bumpRevision(db);
    },
    async finish() {
      try {
        load.finish();
      } catch (error) {
        end(false);
        throw error;
      }
      end(true);
    },
    async abort() {
      end(false);
    },
  };
}

type BulkLoad = ReturnType<typeof beginBulkLoad>;

/**
 * A bulk load of the server's database (an import through the API into an empty one): on a
 * connection of its own, which holds the write lock from start to end, since the serving one
 * is shared by every request, which would run inside its transaction. Readers go on meanwhile
 * and see the database as it was until the load commits (it runs in the WAL: the serving
 * connection keeps the file open); the serving connection's writes wait for it between attempts
 * (then a 503) instead of blocking the thread that runs the load, as during a dry run.
 */
async function privateBulkSession(db: Db, path: string, lockWaitMs: number | undefined, author: string | null): Promise<ImportSession> {
  const connection = openDatabase(path, { cacheKib: BULK_CONNECTION_CACHE_KIB });
  const release = holdWriteLockElsewhere(db.$client);
  const close = () => {
    release();
    connection.$client.close();
  };
  let load: BulkLoad;
  try {
    // waited for between attempts, as a batch does, when another process writes
    load = await whenWriteLockFree(
      connection.$client,
      (locked) => {
        const begun = beginBulkLoad(connection.$client, BULK_TABLES);
        locked();
        return begun;
      },
      lockWaitMs,
    );
  } catch (error) {
    close();
    throw error;
  }
  return bulkSession(connection, load, close, author);
}
