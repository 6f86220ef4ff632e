/**
 * The change log on PostgreSQL (table `changes`, migration pg/0004), with the SQLite engine's
 * columns and answers (src/storage/sqlite/changes.ts): every write notes the records it
 * created, updated or deleted in its own transaction, one statement per call.
 *
 * Sequences in commit order. An identity column's values are drawn before commit, and
 * transactions commit in any order, so a reader could see 8 committed while 7 is still in
 * flight and skip 7 for ever once it has moved past 8. Here a write takes its sequences from a
 * counter row in `settings` (`change_sequence`), advanced by the same statement that inserts
 * the rows (the identity is overridden): the update locks that row until the transaction ends,
 * so the next writer draws its sequences only after this one has committed (and become
 * visible) or rolled back. Commit order is then sequence order, and a reader's snapshot always
 * holds a prefix of the log. Write transactions already take turns on the revision row
 * (src/storage/postgres/transactions.ts), so the counter adds no wait of its own; it is chosen
 * over reading the identity's position because it is transactional: a rolled-back write gives
 * its numbers back (no gaps, as SQLite's AUTOINCREMENT), and the newest sequence an export's
 * snapshot reads is exactly the newest it holds, even after the log has been pruned empty.
 */
import { sql } from 'drizzle-orm';
import type { NewChange } from '../changes.js';
import type { Change, ChangeFilter, ChangeLogExtent, ChangeOperation, RecordKind } from '../types.js';
import type { PgDb } from './client.js';
import type { PgTransaction, PgTx } from './transactions.js';

/** The name of the counter row in `settings`: the newest sequence handed out. */
const COUNTER = 'change_sequence';

/**
 * Creates the counter when the database has none, as SQLite's migration 0007 starts its log:
 * records stored before the log have no changes in it, so such a database starts past 1, and a
 * client syncing from 0 is told to take an export instead (410). Idempotent, for every start;
 * once the counter exists it inserts nothing, so that a start never waits for a write in
 * flight (a bulk load's) that holds the counter row (ON CONFLICT alone would wait for it).
 */
export async function startChangeLog(db: PgDb): Promise<void> {
  await db.execute(sql`
    INSERT INTO settings (name, value)
    SELECT ${COUNTER}, CASE WHEN EXISTS (SELECT 1 FROM sources) OR EXISTS (SELECT 1 FROM places) OR EXISTS (SELECT 1 FROM actors)
                              OR EXISTS (SELECT 1 FROM entries) OR EXISTS (SELECT 1 FROM timelines) THEN '1' ELSE '0' END
     WHERE NOT EXISTS (SELECT 1 FROM settings WHERE name = ${COUNTER})
    ON CONFLICT (name) DO NOTHING`);
}

/** Appends `changes` in their order (WITH ORDINALITY numbers them as given), in the caller's write transaction. */
export async function logChanges(tx: PgTransaction, changes: readonly NewChange[], at: string, author: string | null): Promise<void> {
  if (changes.length === 0) return;
  const n = changes.length;
  const json = (value: unknown) => (value === null ? null : JSON.stringify(value));
  await tx.execute(sql`
    WITH advanced AS (
      INSERT INTO settings (name, value) VALUES (${COUNTER}, ${String(n)})
      ON CONFLICT (name) DO UPDATE SET value = (settings.value::bigint + ${n}::bigint)::text
      RETURNING value::bigint AS last)
    INSERT INTO changes (seq, kind, record_id, key, operation, at, author, fields, previous) OVERRIDING SYSTEM VALUE
    SELECT advanced.last - ${n}::bigint + c.ord, c.kind, c.record_id, c.key, c.operation, ${at}, ${author}, c.fields, c.previous
      FROM advanced,
           unnest(${sql.param(changes.map((c) => c.kind))}::text[], ${sql.param(changes.map((c) => c.id))}::integer[],
                  ${sql.param(changes.map((c) => c.key))}::text[], ${sql.param(changes.map((c) => c.operation))}::text[],
                  ${sql.param(changes.map((c) => json(c.fields)))}::json[], ${sql.param(changes.map((c) => json(c.previous)))}::json[])
             WITH ORDINALITY AS c(kind, record_id, key, operation, fields, previous, ord)`);
}

type ChangeRow = {
  seq: string | number;
  kind: RecordKind;
  record_id: number;
  key: string;
  operation: ChangeOperation;
  at: string;
  author: string | null;
  fields: string[] | null;
  previous?: Record<string, unknown> | null;
};

const toChange = (row: ChangeRow): Change => ({
  sequence: Number(row.seq),
  kind: row.kind,
  id: row.record_id,
  key: row.key,
  operation: row.operation,
  at: row.at,
  author: row.author,
  fields: row.fields,
});

/** The changes after `after` in sequence order, at most `limit`, of the kinds the filter names. */
export async function changesAfter(tx: PgTx, filter: ChangeFilter, after: number, limit: number): Promise<Change[]> {
  const kinds = filter.kinds === undefined || filter.kinds.length === 0 ? sql`` : sql`AND kind = ANY(${sql.param([...filter.kinds])}::text[])`;
  const { rows } = await tx.execute<ChangeRow>(sql`
    SELECT seq, kind, record_id, key, operation, at, author, fields FROM changes
     WHERE seq > ${after} ${kinds} ORDER BY seq LIMIT ${limit}`);
  return rows.map(toChange);
}

/** The newest sequence handed out and committed (0 before the first change): what an export is taken at. */
export async function latestSequence(tx: PgTx): Promise<number> {
  const { rows } = await tx.execute<{ value: string }>(sql`SELECT value FROM settings WHERE name = ${COUNTER}`);
  return rows[0] === undefined ? 0 : Number(rows[0].value);
}

/**
 * The log's extent, read in one snapshot. Sequences have no gaps (the counter rolls back with
 * a transaction that fails), so every change after the oldest kept one's predecessor is kept.
 */
export async function changeLogExtent(tx: PgTx): Promise<ChangeLogExtent> {
  const { rows } = await tx.execute<{ latest: string | null; oldest: string | number | null }>(sql`
    SELECT (SELECT value FROM settings WHERE name = ${COUNTER}) AS latest, (SELECT min(seq) FROM changes) AS oldest`);
  const latest = Number(rows[0]?.latest ?? 0);
  const oldest = rows[0]?.oldest ?? null;
  return { floor: oldest === null ? latest : Number(oldest) - 1, latest };
}

/**
 * Deletes the changes written before `before` (ISO 8601): a prefix of the log, as on SQLite
 * (times grow with sequences, bar a clock set back), found by reading only it.
 */
export async function pruneChanges(tx: PgTx, before: string): Promise<number> {
  const result = await tx.execute(sql`
    DELETE FROM changes WHERE seq < coalesce(
      (SELECT seq FROM changes WHERE at >= ${before} ORDER BY seq LIMIT 1),
      (SELECT value::bigint FROM settings WHERE name = ${COUNTER}) + 1,
      1)`);
  return result.rowCount ?? 0;
}

/** A record's revisions: its changes still in the log, oldest first, with what each changed field was before. */
export async function recordRevisions(
  tx: PgTx,
  kinds: readonly RecordKind[],
  id: number,
): Promise<(Change & { previous: Record<string, unknown> | null })[]> {
  const { rows } = await tx.execute<ChangeRow>(sql`
    SELECT seq, kind, record_id, key, operation, at, author, fields, previous FROM changes
     WHERE record_id = ${id} AND kind = ANY(${sql.param([...kinds])}::text[]) ORDER BY seq`);
  return rows.map((row) => ({ ...toChange(row), previous: row.previous ?? null }));
}

/** The previous values one change holds (null: none, or the change was pruned). */
export async function changePrevious(tx: PgTx, sequence: number): Promise<Record<string, unknown> | null> {
  const { rows } = await tx.execute<{ previous: Record<string, unknown> | null }>(sql`SELECT previous FROM changes WHERE seq = ${sequence}`);
  return rows[0]?.previous ?? null;
}

/** The changes of a record after `asOf`, newest first (ids come from identities, never reused: an id names one record for ever). */
export async function changesSince(
  tx: PgTx,
  kind: RecordKind,
  id: number,
  asOf: string,
): Promise<{ operation: ChangeOperation; previous: Record<string, unknown> | null }[]> {
  const { rows } = await tx.execute<{ operation: ChangeOperation; previous: Record<string, unknown> | null }>(sql`
    SELECT operation, previous FROM changes WHERE record_id = ${id} AND kind = ${kind} AND at > ${asOf} ORDER BY seq DESC`);
  return rows;
}

/** When the log's oldest kept change was written (null: the log is empty). */
export async function oldestKeptAt(tx: PgTx): Promise<string | null> {
  const { rows } = await tx.execute<{ at: string }>(sql`SELECT at FROM changes ORDER BY seq LIMIT 1`);
  return rows[0]?.at ?? null;
}

/** When the record's latest change at or before `asOf` was written (its `updatedAt` then). */
export async function changedAtOrBefore(tx: PgTx, kind: RecordKind, id: number, asOf: string): Promise<string | null> {
  const { rows } = await tx.execute<{ at: string }>(sql`
    SELECT at FROM changes WHERE record_id = ${id} AND kind = ${kind} AND at <= ${asOf} ORDER BY seq DESC LIMIT 1`);
  return rows[0]?.at ?? null;
}
