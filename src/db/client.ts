import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import * as schema from './schema.js';

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

export interface OpenOptions {
  /** `FULL` (default) survives power loss; `NORMAL` in WAL mode may lose the last commits then. */
  synchronous?: 'FULL' | 'NORMAL';
  readonly?: boolean;
  /** Page cache in KiB (default 64 MiB). */
  cacheKib?: number;
}

/** Opens the database with the pragmas every connection needs. */
export function openDatabase(path: string, options: OpenOptions = {}): Db {
  if (path !== ':memory:' && !options.readonly) mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path, { readonly: options.readonly ?? false });
  sqlite.pragma('busy_timeout = 5000');
  if (!options.readonly) sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
  sqlite.pragma('foreign_keys = ON');
  // 64 MiB of page cache (the default is 2 MiB): indexes of a large timeline stay in memory
  sqlite.pragma(`cache_size = -${Math.max(0, Math.trunc(options.cacheKib ?? 65536))}`);
  return drizzle({ client: sqlite, schema }) as Db;
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

let openSnapshots = 0;

/** Snapshots opened by this process and not closed yet (each holds a connection and the WAL). */
export const openSnapshotCount = () => openSnapshots;
