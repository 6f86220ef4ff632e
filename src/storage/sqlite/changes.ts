/**
 * The change log (table `changes`, migration 0007): every write notes the records it created,
 * updated or deleted in its own transaction, so that the log holds a change exactly when the
 * data does. Rows go in through one statement per call whatever their number (an import batch,
 * a bulk load's batch), as a JSON array the statement reads with json_each.
 */
import type { Change, ChangeFilter, ChangeLogExtent, ChangeOperation, RecordKind } from '../types.js';
import type { NewChange } from '../changes.js';
import { prepared } from './statements.js';
import type { Tx } from './transactions.js';

/** Appends `changes` in their order (json_each reads the array in order, so sequences follow it). */
export function logChanges(tx: Tx, changes: readonly NewChange[], at: string, author: string | null): void {
  if (changes.length === 0) return;
  const rows = changes.map((c) => [
    c.kind,
    c.id,
    c.key,
    c.operation,
    c.fields === null ? null : JSON.stringify(c.fields),
    c.previous === null ? null : JSON.stringify(c.previous),
  ]);
  prepared(
    tx,
    `INSERT INTO changes (kind, record_id, key, operation, at, author, fields, previous)
       SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, ?, ?, value ->> 4, value ->> 5 FROM json_each(?) ORDER BY key`,
  ).run(at, author, JSON.stringify(rows));
}

interface ChangeRow {
  seq: number;
  kind: RecordKind;
  recordId: number;
  key: string;
  operation: ChangeOperation;
  at: string;
  author: string | null;
  fields: string | null;
  previous?: string | null;
}

const toChange = (row: ChangeRow): Change => ({
  sequence: row.seq,
  kind: row.kind,
  id: row.recordId,
  key: row.key,
  operation: row.operation,
  at: row.at,
  author: row.author,
  fields: row.fields === null ? null : (JSON.parse(row.fields) as string[]),
});

/** The changes after `after` in sequence order, at most `limit`, of the kinds the filter names. */
export function changesAfter(tx: Tx, filter: ChangeFilter, after: number, limit: number): Change[] {
  const columns = 'seq, kind, record_id AS recordId, key, operation, at, author, fields';
  const rows =
    filter.kinds === undefined || filter.kinds.length === 0
      ? prepared(tx, `SELECT ${columns} FROM changes WHERE seq > ? ORDER BY seq LIMIT ?`).all(after, limit)
      : prepared(
          tx,
          `SELECT ${columns} FROM changes WHERE seq > ? AND kind IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?`,
        ).all(after, JSON.stringify(filter.kinds), limit);
  return (rows as ChangeRow[]).map(toChange);
}

/** The newest sequence handed out (0 before the first change): what an export is taken at. */
export function latestSequence(tx: Tx): number {
  const row = prepared(tx, `SELECT seq FROM sqlite_sequence WHERE name = 'changes'`).get() as { seq: number } | undefined;
  return row?.seq ?? 0;
}

/**
 * The log's extent. Sequences have no gaps (AUTOINCREMENT's counter rolls back with a
 * transaction that fails), so every change after the oldest kept one's predecessor is kept.
 */
export function changeLogExtent(tx: Tx): ChangeLogExtent {
  const latest = latestSequence(tx);
  const oldest = prepared(tx, `SELECT min(seq) AS seq FROM changes`).get() as { seq: number | null };
  return { floor: oldest.seq === null ? latest : oldest.seq - 1, latest };
}

/**
 * Deletes the changes written before `before` (ISO 8601). Times grow with sequences (bar a
 * clock set back), so the pruned rows are a prefix of the log, found by reading only it.
 */
export function pruneChanges(tx: Tx, before: string): number {
  const first = prepared(tx, `SELECT seq FROM changes WHERE at >= ? ORDER BY seq LIMIT 1`).get(before) as { seq: number } | undefined;
  const bound = first?.seq ?? latestSequence(tx) + 1;
  return prepared(tx, `DELETE FROM changes WHERE seq < ?`).run(bound).changes;
}

/** A record's revisions: its changes still in the log, oldest first, with what each changed field was before. */
export function recordRevisions(tx: Tx, kinds: readonly RecordKind[], id: number): (Change & { previous: Record<string, unknown> | null })[] {
  const rows = prepared(
    tx,
    `SELECT seq, kind, record_id AS recordId, key, operation, at, author, fields, previous FROM changes
      WHERE record_id = ? AND kind IN (SELECT value FROM json_each(?)) ORDER BY seq`,
  ).all(id, JSON.stringify(kinds)) as ChangeRow[];
  return rows.map((row) => ({ ...toChange(row), previous: row.previous == null ? null : (JSON.parse(row.previous) as Record<string, unknown>) }));
}

/** The previous values one change holds (null: none, or the change was pruned). */
export function changePrevious(tx: Tx, sequence: number): Record<string, unknown> | null {
  const previous = prepared(tx, 'SELECT previous FROM changes WHERE seq = ?').pluck().get(sequence) as string | null | undefined;
  return previous == null ? null : (JSON.parse(previous) as Record<string, unknown>);
}

/** The changes of a record after `asOf`, newest first (record ids are AUTOINCREMENT: an id names one record for ever). */
export function changesSince(tx: Tx, kind: RecordKind, id: number, asOf: string): { operation: ChangeOperation; previous: Record<string, unknown> | null }[] {
  const rows = prepared(
    tx,
    `SELECT operation, previous FROM changes WHERE record_id = ? AND kind = ? AND at > ? ORDER BY seq DESC`,
  ).all(id, kind, asOf) as { operation: ChangeOperation; previous: string | null }[];
  return rows.map((row) => ({ operation: row.operation, previous: row.previous === null ? null : (JSON.parse(row.previous) as Record<string, unknown>) }));
}

/** When the log's oldest kept change was written (null: the log is empty). */
export function oldestKeptAt(tx: Tx): string | null {
  const row = prepared(tx, `SELECT at FROM changes ORDER BY seq LIMIT 1`).get() as { at: string } | undefined;
  return row?.at ?? null;
}

/** When the record's latest change at or before `asOf` was written (its `updatedAt` then). */
export function changedAtOrBefore(tx: Tx, kind: RecordKind, id: number, asOf: string): string | null {
  const row = prepared(tx, `SELECT at FROM changes WHERE record_id = ? AND kind = ? AND at <= ? ORDER BY seq DESC LIMIT 1`).get(id, kind, asOf) as
    | { at: string }
    | undefined;
  return row?.at ?? null;
}
