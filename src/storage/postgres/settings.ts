import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { runPrepared } from './prepared.js';
import type { PgTx } from './transactions.js';

/**
 * The cursor secret, the data revision and its lineage, kept in `settings` as on SQLite
 * (src/storage/sqlite/settings.ts says what each is for): in the database, so that every
 * server on it signs cursors alike and names the same data with the same revision.
 */

/** The secret that signs cursors: the first server to ask draws it, every other reads the same. */
export async function cursorSecret(tx: PgTx): Promise<Buffer> {
  let { rows } = await tx.execute<{ value: string }>(sql`
    WITH drawn AS (
      INSERT INTO settings (name, value) VALUES ('cursor_secret', ${randomBytes(32).toString('base64')})
      ON CONFLICT (name) DO NOTHING RETURNING value)
    SELECT value FROM drawn UNION ALL SELECT value FROM settings WHERE name = 'cursor_secret' LIMIT 1`);
  // Another server's first start drew it meanwhile: the insert waited for that commit, but the
  // statement's snapshot is older than it. A statement of its own reads it.
  if (rows.length === 0) ({ rows } = await tx.execute<{ value: string }>(sql`SELECT value FROM settings WHERE name = 'cursor_secret'`));
  return Buffer.from(rows[0]!.value, 'base64');
}

const BUMP_REVISION = `
    INSERT INTO settings (name, value) VALUES ('revision', '1')
    ON CONFLICT (name) DO UPDATE SET value = (settings.value::bigint + 1)::text`;

/** Bumped by every write transaction, first (see writeTransaction). */
export async function bumpRevision(tx: PgTx): Promise<void> {
  await tx.execute(sql.raw(BUMP_REVISION));
}

/**
 * Bumps the revision as the first statement of a write transaction, waiting at most `waitMs`
 * for the revision row, which the write in flight holds to its end: past it, the statement
 * fails with lock_not_available (55P03), answered 503 database-busy. The bound is on this
 * statement alone: once the transaction holds the row, what it does next waits for no other
 * write (they all queue on the row first), so a long import batch is never cut by it.
 * One round trip: three statements without parameters go as one simple query, and SET LOCAL
 * takes no parameters (the bound is an integer written into the text).
 */
export async function lockRevision(tx: PgTx, waitMs: number): Promise<void> {
  await tx.execute(
    sql.raw(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(waitMs))}; ${BUMP_REVISION}; SET LOCAL lock_timeout TO DEFAULT`),
  );
}

/** A new random lineage, at every start-up (a restored backup counts revisions again). */
export async function renewLineage(tx: PgTx): Promise<void> {
  await tx.execute(sql`
    INSERT INTO settings (name, value) VALUES ('lineage', ${randomBytes(12).toString('base64url')})
    ON CONFLICT (name) DO UPDATE SET value = excluded.value`);
}

/** `lineage.revision`: names one state of this database's data, for ETags. */
export async function currentRevision(tx: PgTx): Promise<string> {
  // asked by every read that answers with an ETag: parsed and planned once per connection
  const rows = await runPrepared<{ value: string }>(tx, sql`
    SELECT coalesce((SELECT value FROM settings WHERE name = 'lineage'), '') || '.' ||
           coalesce((SELECT value FROM settings WHERE name = 'revision'), '0') AS value`);
  return rows[0]!.value;
}

/** The revision alone, for an export's trailer. */
export async function dataRevision(tx: PgTx): Promise<string> {
  const { rows } = await tx.execute<{ value: string }>(sql`SELECT value FROM settings WHERE name = 'revision'`);
  return rows[0]?.value ?? '0';
}
