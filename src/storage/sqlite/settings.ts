import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { prepared } from './statements.js';
import { settings } from './schema.js';
import type { Tx } from './transactions.js';

/**
 * The secret that signs cursors. It lives in the database so that it survives restarts and
 * every server on the same database accepts the others' cursors.
 */
export function cursorSecret(tx: Tx): Buffer {
  const name = 'cursor_secret';
  tx.insert(settings)
    .values({ name, value: randomBytes(32).toString('base64') })
    .onConflictDoNothing()
    .run();
  const row = tx.select({ value: settings.value }).from(settings).where(eq(settings.name, name)).get();
  return Buffer.from(row!.value, 'base64');
}

/** The data revision: bumped by every write transaction, so that ETags change with the data under them. */
export function bumpRevision(tx: Tx): void {
  prepared(
    tx,
    `INSERT INTO settings (name, value) VALUES ('revision', '1')
     ON CONFLICT (name) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)`,
  ).run();
}

/**
 * A new random lineage: the history this database's revisions count along. Revisions alone
 * repeat: every database starts at 0, and a backup restored (or any copy of the file put back)
 * counts again from its older revision to numbers that named other data. A new lineage is drawn
 * whenever that may have happened: at every start-up (a file restored while the server was
 * stopped is not told apart from one that was not) and in every backup copy.
 */
export function renewLineage(tx: Tx): void {
  prepared(
    tx,
    `INSERT INTO settings (name, value) VALUES ('lineage', ?)
     ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
  ).run(randomBytes(12).toString('base64url'));
}

/**
 * The version of the data: its lineage and revision (`lineage.revision`), so that it names one
 * state of one database's history. Read by every GET (for its ETag): a statement prepared once.
 */
export function currentRevision(tx: Tx): string {
  const row = prepared(
    tx,
    `SELECT coalesce((SELECT value FROM settings WHERE name = 'lineage'), '') || '.' ||
            coalesce((SELECT value FROM settings WHERE name = 'revision'), '0') AS value`,
  ).get() as { value: string };
  return row.value;
}

/**
 * The revision alone (the count of write transactions), for what names a state of this
 * database's data rather than validates a cache: an export's trailer. Unlike
 * {@link currentRevision} it stays the same across restarts while the data does.
 */
export function dataRevision(tx: Tx): string {
  const row = prepared(tx, "SELECT value FROM settings WHERE name = 'revision'").get() as { value: string } | undefined;
  return row?.value ?? '0';
}
