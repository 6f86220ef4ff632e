import Database from 'better-sqlite3';
import { renewLineage } from './settings.js';
import { openDatabase, type Db } from './client.js';

/**
 * Copies the live database to `path` with SQLite's online backup API, a few pages at a time,
 * while the server goes on serving and writing; then checks the copy's integrity.
 *
 * In WAL mode the copy is made inside one read transaction of this connection, so every step
 * reads the same snapshot: the copy is the database as of the start, and writers (which a
 * WAL reader never blocks) go on meanwhile. Without it each step opens its own read, and SQLite
 * restarts the copy from the first page whenever another connection (the server) has written
 * since the previous step: under steady writes a large database then takes many times as long
 * to copy, or never finishes.
 *
 * The copy gets a lineage of its own (src/storage/sqlite/settings.ts): once restored, it counts
 * revisions again from where it was copied, and its ETags must not be the live database's.
 */
export async function backupDatabase(db: Db, path: string): Promise<{ pages: number; integrity: string }> {
  const sqlite = db.$client;
  let pages = 0;
  // outside WAL mode a held read would lock writers out for the whole copy
  const snapshot = sqlite.pragma('journal_mode', { simple: true }) === 'wal';
  if (snapshot) {
    sqlite.exec('BEGIN');
    // the read transaction starts at the first read
    sqlite.prepare('SELECT count(*) FROM sqlite_master').get();
  }
  try {
    await sqlite.backup(path, {
      progress: ({ totalPages }) => {
        pages = totalPages;
        // pages per step: small steps keep this process responsive
        return 256;
      },
    });
  } finally {
    if (snapshot) sqlite.exec('COMMIT');
  }
  const writable = openDatabase(path);
  try {
    renewLineage(writable);
  } finally {
    writable.$client.close();
  }
  const copy = new Database(path, { readonly: true });
  try {
    const rows = copy.pragma('integrity_check') as { integrity_check: string }[];
    return { pages, integrity: rows.map((r) => r.integrity_check).join('; ') };
  } finally {
    copy.close();
  }
}
