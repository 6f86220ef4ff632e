import type Database from 'better-sqlite3';
import { isBusyError } from './client.js';

/**
 * The statistics the query planner reads (`sqlite_stat1`), kept up to date with
 * `PRAGMA optimize` as SQLite recommends: on a long-lived connection at intervals and before
 * it closes, and here also after an import that stored many records. Without them the planner
 * guesses every index equally selective, and a database filled through the API would keep
 * planning as if it were empty.
 */

export { STATISTICS_AFTER_IMPORT_RECORDS } from '../port.js';
/** How often the serving connection runs `PRAGMA optimize`. */
export const OPTIMIZE_INTERVAL_MS = 60 * 60_000;

/**
 * `PRAGMA optimize`. After a large import, `everyTable` checks every table, not only those
 * this connection's queries used, so that each table the import filled (and never analysed
 * yet, or grown tenfold since) is analysed. SQLite decides which tables need it and bounds the
 * rows it reads per index, so that a call where nothing changed costs next to nothing.
 *
 * It writes `sqlite_stat1`, so it needs the write lock: held by another connection, it is
 * skipped (false) at once instead of waiting for it on the thread that serves requests; the
 * next call makes up for it.
 */
export function refreshPlannerStatistics(client: Database.Database, options: { everyTable?: boolean } = {}): boolean {
  if (!client.open || client.readonly || client.inTransaction) return false;
  const busyTimeout = client.pragma('busy_timeout', { simple: true }) as number;
  // Checking every table reads every index of a freshly loaded file once: through the memory map
  // (ANNALS_SQLITE_MMAP_MB) that would map most of the file into this process at once, for one
  // pass, right at the end of an import. Read, it goes through SQLite's page cache instead, and
  // the map fills again only with the pages that requests read.
  const mmapSize = options.everyTable ? (client.pragma('mmap_size', { simple: true }) as number) : 0;
  client.pragma('busy_timeout = 0');
  if (mmapSize > 0) client.pragma('mmap_size = 0');
  try {
    // 0xfffe is SQLite's default (which bounds the rows read); 0x10000 adds checking every table
    client.pragma(`optimize = ${options.everyTable ? '0x1fffe' : '0xfffe'}`);
    return true;
  } catch (error) {
    if (isBusyError(error)) return false;
    throw error;
  } finally {
    if (client.open) {
      client.pragma(`busy_timeout = ${busyTimeout}`);
      if (mmapSize > 0) client.pragma(`mmap_size = ${mmapSize}`);
    }
  }
}
