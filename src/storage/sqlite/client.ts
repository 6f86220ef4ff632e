import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import * as schema from './schema.js';
import { isBusyError } from '../errors.js';
import { IMPORT_LOCK_WAIT_MS, WRITE_LOCK_WAIT_MS } from '../lock-waits.js';

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

export interface OpenOptions {
  /** `FULL` (default) survives power loss; `NORMAL` in WAL mode may lose the last commits then. */
  synchronous?: 'FULL' | 'NORMAL';
  readonly?: boolean;
  /** Page cache in KiB (default 64 MiB). */
  cacheKib?: number;
  /**
   * Bytes of the file read through a memory map (default none). A page read from the map is a
   * memory access where without it each read past the page cache is a system call and a copy:
   * cold timeline pages, which read documents scattered over the file, spend much of their
   * time there. The mapped pages are the kernel's page cache, counted in the process's RSS
   * but shared and reclaimable.
   */
  mmapBytes?: number;
}

/**
 * How long a statement waits inside SQLite for another connection's write lock before it
 * fails with SQLITE_BUSY (answered 503 with Retry-After, see src/plugins/problems.ts). The
 * wait blocks the thread, so it is kept short; what waits longer (an import's batches, a dry
 * run) waits without blocking, with whenWriteLockFree.
 */
export const BUSY_TIMEOUT_MS = WRITE_LOCK_WAIT_MS;
/** How long an import waits for the write lock, between its batches, before it gives up (503). */
export const LOCK_WAIT_MS = IMPORT_LOCK_WAIT_MS;

const busyTimeouts = new WeakMap<Database.Database, { configured: number; heldElsewhere: number }>();

/** Sets a connection's busy timeout (what whenWriteLockFree restores after its attempts). */
export function setBusyTimeout(client: Database.Database, ms: number): void {
  const state = busyTimeouts.get(client) ?? { configured: ms, heldElsewhere: 0 };
  state.configured = ms;
  busyTimeouts.set(client, state);
  client.pragma(`busy_timeout = ${state.heldElsewhere > 0 ? 0 : ms}`);
}

const busyTimeoutOf = (client: Database.Database) => {
  const state = busyTimeouts.get(client);
  if (!state) return BUSY_TIMEOUT_MS;
  return state.heldElsewhere > 0 ? 0 : state.configured;
};

/**
 * For as long as this process holds the write lock on another connection to the same file
 * (a dry run, which holds it for its whole run): statements on `client` that need the lock
 * fail at once with SQLITE_BUSY instead of waiting for it in SQLite, which would block the
 * thread that has to finish the dry run; writes wait for it between attempts instead
 * (whenWriteLockFree, see writeLockHeldElsewhere). Returns the release.
 */
export function holdWriteLockElsewhere(client: Database.Database): () => void {
  const state = busyTimeouts.get(client) ?? { configured: BUSY_TIMEOUT_MS, heldElsewhere: 0 };
  busyTimeouts.set(client, state);
  state.heldElsewhere += 1;
  client.pragma('busy_timeout = 0');
  let released = false;
  return () => {
    if (released) return;
    released = true;
    state.heldElsewhere -= 1;
    if (client.open) client.pragma(`busy_timeout = ${busyTimeoutOf(client)}`);
  };
}

/** True while this process holds the write lock on another connection to `client`'s file (holdWriteLockElsewhere). */
export const writeLockHeldElsewhere = (client: Database.Database) => (busyTimeouts.get(client)?.heldElsewhere ?? 0) > 0;

export { isBusyError } from '../errors.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt`, which must take the write lock before anything else (a write transaction,
 * or BEGIN IMMEDIATE) and call `locked()` once it holds it. While another connection holds
 * the lock, the attempt fails at once and is made again a little later, for up to `waitMs`,
 * so that the thread serves other requests meanwhile instead of waiting inside SQLite.
 * An error after `locked()` (or any other error) is thrown as it is.
 */
export async function whenWriteLockFree<T>(client: Database.Database, attempt: (locked: () => void) => T, waitMs = LOCK_WAIT_MS): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (let round = 0; ; round++) {
    let holding = false;
    const locked = () => {
      holding = true;
      client.pragma(`busy_timeout = ${busyTimeoutOf(client)}`);
    };
    client.pragma('busy_timeout = 0');
    try {
      return attempt(locked);
    } catch (error) {
      if (holding || !isBusyError(error) || Date.now() >= deadline) throw error;
    } finally {
      if (!holding && client.open) client.pragma(`busy_timeout = ${busyTimeoutOf(client)}`);
    }
    await sleep(Math.min(50, 2 ** round));
  }
}

/** Opens the database with the pragmas every connection needs. */
export function openDatabase(path: string, options: OpenOptions = {}): Db {
  if (path !== ':memory:' && !options.readonly) mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path, { readonly: options.readonly ?? false });
  setBusyTimeout(sqlite, BUSY_TIMEOUT_MS);
  if (!options.readonly) sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
  sqlite.pragma('foreign_keys = ON');
  // 64 MiB of page cache (the default is 2 MiB): indexes of a large timeline stay in memory
  sqlite.pragma(`cache_size = -${Math.max(0, Math.trunc(options.cacheKib ?? 65536))}`);
  if (options.mmapBytes) sqlite.pragma(`mmap_size = ${Math.max(0, Math.trunc(options.mmapBytes))}`);
  return drizzle({ client: sqlite, schema });
}

/** A read-only connection holding one read transaction: every read through it sees the same data. */
export interface Snapshot {
  db: Db;
  close(): void;
}

/**
 * Opens a snapshot of the database file on a connection of its own, for long reads (a full
 * export) that must not see writes made while they run, nor fill the serving connection's
 * page cache with every page of the file: its own cache is small and goes when it closes.
 * WAL lets writers go on meanwhile; the WAL cannot be checkpointed past the snapshot until
 * it closes. Null for an in-memory database, which no other connection can open.
 */
export function openSnapshot(path: string): Snapshot | null {
  if (path === ':memory:' || path === '') return null;
  openSnapshots++;
  // 2 MiB: an export reads each page of the file about once, in id order; 8 MiB made it
  // no faster (1M benchmark export: 26-28 s either way) and held 6 MB more
  const db = openDatabase(path, { readonly: true, cacheKib: 2048 });
  const client = db.$client;
  // temporary tables (an export's plan holds a row per record) get the same small cache
  // instead of SQLite's 16 MB default, and spill to a temporary file beyond it
  client.pragma('temp_store = FILE');
  client.pragma('temp.cache_size = -2048');
  client.exec('BEGIN');
  // a WAL read transaction takes its snapshot at its first read, not at BEGIN
  client.prepare('SELECT count(*) FROM sqlite_master').get();
  return {
    db,
    close() {
      if (!client.open) return;
      openSnapshots--;
      try {
        if (client.inTransaction) client.exec('COMMIT');
      } finally {
        client.close();
      }
    },
  };
}

/**
 * A connection of its own, for work that holds a write transaction across awaits (a dry-run
 * import) and so must not share the serving connection, whose other requests would run inside
 * that transaction. On the same file; for an in-memory database, which no other connection can
 * open, on a copy of it (taken now: the work sees the data as it is at its start).
 */
export function openPrivateConnection(db: Db, path: string): Db {
  if (path !== ':memory:' && path !== '') return openDatabase(path, { cacheKib: 8192 });
  const copy = new Database(db.$client.serialize());
  copy.pragma('foreign_keys = ON');
  return drizzle({ client: copy, schema });
}

let openSnapshots = 0;

/** Snapshots opened by this process and not closed yet (each holds a connection and the WAL). */
export const openSnapshotCount = () => openSnapshots;
