import { availableParallelism } from 'node:os';
import type Database from 'better-sqlite3';
import { deferEntryDocuments, finishBulkLoadDocuments, stopDeferringEntryDocuments } from './documents.js';

/** Helper threads SQLite may start to sort the rows of an index built at the end of a load. */
const SORT_THREADS = Math.min(4, availableParallelism());

/**
 * A bulk load into an empty database: SQLite builds an index from sorted rows far faster
 * than it grows one row by row, and checks every foreign key in one pass faster than one
 * row at a time. The secondary (non-unique) indexes of `tables` are dropped and created again
 * from their own SQL before the caller's transaction commits, and foreign keys are checked
 * once at the end instead of on each insert. Unique indexes stay: they enforce keys, and the
 * load looks keys up. The triggers that keep `entry_span_counts` and `entry_date_counts`
 * (migrations 0003 and 0004) go the same way: their upserts per inserted entry cost more than
 * the entry's own insert, and one GROUP BY at the end (the migrations' backfill) gives the
 * same rows.
 * Everything happens inside one transaction, so a load that fails or is killed leaves the
 * database as it was, indexes and triggers included.
 * When the connection has the database to itself, the load runs with a rollback journal
 * instead of the WAL: in WAL mode each of the load's pages is written twice, to the WAL and
 * then by the checkpoint into the database, while a rollback journal holds only the pages the
 * database had before (none of those past its old end), so each page is written once (the
 * benchmark's import figures are in bench/results/).
 * A crash leaves a hot journal, which the next connection to open the database rolls back.
 * `end` puts the WAL back. Other connections cannot read while the load writes to the
 * database file, nor open it (src/server.ts says so when it cannot start).
 */
export function beginBulkLoad(
  client: Database.Database,
  tables: readonly string[],
): { finish(): void; end(commit: boolean): void } {
  if (client.inTransaction) throw new Error('bulk load: already in a transaction');
  // only settable outside a transaction; checked as a whole by finish()
  client.pragma('foreign_keys = OFF');
  const rollbackJournal = client.pragma('journal_mode', { simple: true }) === 'wal' && switchJournal(client, 'delete');
  const end = (commit: boolean) => {
    try {
      if (client.inTransaction) client.exec(commit ? 'COMMIT' : 'ROLLBACK');
    } finally {
      stopDeferringEntryDocuments(client);
      client.pragma('foreign_keys = ON');
      if (rollbackJournal) switchJournal(client, 'wal');
    }
  };
  try {
    client.exec('BEGIN IMMEDIATE');
    deferEntryDocuments(client);
    const indexes = client
      .prepare(
        `SELECT name, sql FROM sqlite_master
          WHERE type = 'index' AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'
            AND tbl_name IN (SELECT value FROM json_each(?))
          ORDER BY name`,
      )
      .all(JSON.stringify(tables)) as { name: string; sql: string }[];
    // in creation order, so that they fire in the same order as before among the other
    // triggers on entries once created again
    const countTriggers = tables.includes('entries')
      ? (client
          .prepare(
            `SELECT name, sql FROM sqlite_master
              WHERE type = 'trigger' AND tbl_name = 'entries'
                AND (name LIKE 'entries\\_span\\_counts\\_%' ESCAPE '\\' OR name LIKE 'entries\\_date\\_counts\\_%' ESCAPE '\\')
              ORDER BY rowid`,
          )
          .all() as { name: string; sql: string }[])
      : [];
    for (const index of indexes) client.exec(`DROP INDEX "${index.name.replaceAll('"', '""')}"`);
    for (const trigger of countTriggers) client.exec(`DROP TRIGGER "${trigger.name.replaceAll('"', '""')}"`);
    return {
      end,
      finish() {
        // Each index build sorts its rows in up to cache_size of memory of its own, beside the
        // page cache: on the benchmark's large file that pushed the peak RSS past its budget.
        // A 16 MiB sort spills to temporary files sooner and took no longer.
        // The sorts may run on threads of SQLite's own (PRAGMA threads): by now the parsing
        // worker is done, and the build waited on one core while the others idled.
        const cacheSize = client.pragma('cache_size', { simple: true }) as number;
        const threads = client.pragma('threads', { simple: true }) as number;
        client.pragma('cache_size = -16384');
        client.pragma(`threads = ${SORT_THREADS}`);
        try {
          for (const index of indexes) client.exec(index.sql);
        } finally {
          client.pragma(`cache_size = ${cacheSize}`);
          client.pragma(`threads = ${threads}`);
        }
        // after the indexes: the entries that name a record updated by the load are found by them
        // (their documents go; all are rendered again after the load, see documents.ts)
        finishBulkLoadDocuments(client);
        if (countTriggers.length > 0) {
          // from scratch, so that rows counted before the load (if any) are not counted twice;
          // after the indexes, since entries_chrono_idx covers the columns it groups
          client.exec('DELETE FROM entry_span_counts');
          client.exec(
            `INSERT INTO entry_span_counts (span_class, earliest, latest, kind, n)
               SELECT span_class, earliest, latest, kind, count(*) FROM entries
                GROUP BY span_class, earliest, latest, kind`,
          );
          // the same rows as migration 0004's backfill, from the counts just made
          client.exec('DELETE FROM entry_date_counts');
          client.exec(
            `INSERT INTO entry_date_counts (grain, kind, unit, starts, ends)
               SELECT grain, kind, unit, sum(starts), sum(ends) FROM (
                 SELECT 0 AS grain, kind, earliest AS unit, n AS starts, 0 AS ends FROM entry_span_counts
                 UNION ALL SELECT 0, kind, latest, 0, n FROM entry_span_counts
                 UNION ALL SELECT 9, kind, earliest >> 9, n, 0 FROM entry_span_counts
                 UNION ALL SELECT 9, kind, latest >> 9, 0, n FROM entry_span_counts
               ) GROUP BY grain, kind, unit`,
          );
          for (const trigger of countTriggers) client.exec(trigger.sql);
        }
        if (tables.includes('entries')) {
          // A load leaves the search index in the many segments its batches wrote; one merged
          // segment answers an AND of a common and a rare word markedly faster, for a small
          // fraction of the load's time.
          client.exec(`INSERT INTO search_index (search_index) VALUES ('optimize')`);
        }
        const violations = client.pragma('foreign_key_check') as { table: string; rowid: number; parent: string }[];
        if (violations.length > 0) {
          const first = violations[0]!;
          throw new Error(
            `bulk load: ${violations.length} rows refer to missing records (first: ${first.table} row ${first.rowid} -> ${first.parent})`,
          );
        }
      },
    };
  } catch (error) {
    end(false);
    throw error;
  }
}

/**
 * Switches the connection's journal mode; false when another connection keeps it from doing
 * so. Leaving WAL needs every other connection closed, and going back to it needs no other
 * one reading: SQLite answers SQLITE_BUSY, at once or after the busy timeout, which is off
 * meanwhile since waiting would not help.
 * - Into a rollback journal for a load: refused, the load runs in the WAL.
 * - Back to WAL after it: refused, the switch is left to the next connection that opens the
 *   database, as each one does (src/storage/sqlite/client.ts). The load has committed or rolled back by
 *   then, and must not be reported as failed for it.
 */
function switchJournal(client: Database.Database, mode: 'delete' | 'wal'): boolean {
  const busyTimeout = client.pragma('busy_timeout', { simple: true }) as number;
  client.pragma('busy_timeout = 0');
  try {
    return client.pragma(`journal_mode = ${mode}`, { simple: true }) === mode;
  } catch (error) {
    if ((error as { code?: string }).code === 'SQLITE_BUSY') return false;
    throw error;
  } finally {
    client.pragma(`busy_timeout = ${busyTimeout}`);
  }
}
