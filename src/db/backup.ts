import Database from 'better-sqlite3';
import type { Db } from './client.js';

/**
 * Copies the live database to `path` with SQLite's online backup API, a few pages at a time,
 * while the server goes on serving and writing; then checks the copy's integrity.
 */
export async function backupDatabase(db: Db, path: string): Promise<{ pages: number; integrity: string }> {
  let pages = 0;
  await db.$client.backup(path, {
    progress: ({ totalPages }) => {
      pages = totalPages;
      // pages per step: small steps let writers in between
      return 256;
    },
  });
  const copy = new Database(path, { readonly: true });
  try {
    const rows = copy.pragma('integrity_check') as { integrity_check: string }[];
    return { pages, integrity: rows.map((r) => r.integrity_check).join('; ') };
  } finally {
    copy.close();
  }
}
