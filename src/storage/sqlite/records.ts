import { sql } from 'drizzle-orm';
import type { WriteContext } from '../types.js';
import { changedAtOrBefore, changeLogExtent, changesSince, logChanges, oldestKeptAt } from './changes.js';
import { changedFields, type NewChange } from '../changes.js';
import { discardEntryDocumentChanges } from './documents.js';
import type { Db } from './client.js';
import { actors, entries, places, sources, timelines } from './schema.js';
import { changesPruned, conflict, notFound, unknownReference, validationFailed, type FieldError } from '../../schemas/problems.js';
import { RefResolver, assertKeyFree, findId, kindOfKey } from './references.js';
import { generateKey, isNumericId } from '../keys.js';
import { now, writeTransaction, type Tx } from './transactions.js';
import type { RecordKind, RefTable } from '../types.js';

/**
 * What every kind of record provides; the generic create, patch, delete and import
 * operations below are written once over it.
 *
 * A record's "write form" is its stored content with references resolved to ids: the input
 * of a create, a patch merged over the stored write form, and the stored record itself all
 * become one, so that an import can tell "unchanged" by comparing two write forms.
 */
export interface RecordKindSpec<Input, Write extends { key: string }, Dto> {
  kind: RecordKind;
  table: RefTable;
  /** For entries: which kind of entry this spec handles. */
  entryKind?: 'event' | 'statement';
  /** Resolves the fields present in `input` over `base` (the stored write form on patch). */
  toWrite(input: Partial<Input>, resolver: RefResolver, key: string, base: Write | null): Write;
  /**
   * Checks that need the database beyond reference existence (cycles, kinds). A write that
   * conflicts with other stored records (a source text their citations no longer match)
   * throws the conflict instead.
   */
  check?(tx: Tx, id: number | null, write: Write): FieldError[];
  readWrite(tx: Tx, id: number): Write | null;
  /** Inserts (id null) or replaces the record; returns its id. */
  store(tx: Tx, id: number | null, write: Write, timestamp: string): number;
  load(tx: Tx, ids: number[], lang?: string): Dto[];
  /** Human-readable descriptions of the records that refer to this one. */
  referrers(tx: Tx, id: number): string[];
}

export type AnySpec = RecordKindSpec<unknown, { key: string }, unknown>;

/**
 * The keys on the parent chain from `from` up to `to`, both included, or null when `to` is
 * not `from` nor above it: what a new parent `from` of `to` would close into a cycle. No
 * depth limit (a cycle closed above any depth is one the export could not order), and the
 * search ends even on a stored cycle, since UNION visits each id once.
 */
export function parentChain(tx: Tx, table: 'places' | 'entries', from: number, to: number): string[] | null {
  const t = sql.raw(table);
  if (from !== to) {
    const above = tx.get<{ hit: number }>(
      sql`WITH RECURSIVE up(id) AS (
            SELECT parent_id FROM ${t} WHERE id = ${from} AND parent_id IS NOT NULL
            UNION SELECT r.parent_id FROM ${t} r JOIN up ON r.id = up.id WHERE r.parent_id IS NOT NULL)
          SELECT 1 AS hit FROM up WHERE id = ${to} LIMIT 1`,
    );
    if (above === undefined) return null;
  }
  // only to name the records of the refused cycle: walk the chain up to `to`
  const keys: string[] = [];
  const seen = new Set<number>();
  let current: number | null = from;
  while (current !== null && !seen.has(current)) {
    seen.add(current);
    const row: { key: string; parentId: number | null } | undefined = tx.get(
      sql`SELECT key, parent_id AS parentId FROM ${t} WHERE id = ${current}`,
    );
    if (row === undefined) break;
    keys.push(row.key);
    if (current === to) break;
    current = row.parentId;
  }
  return keys;
}

/** The parent stored for the place or entry `id` (null: none, or no such record). */
export function storedParent(tx: Tx, table: 'places' | 'entries', id: number): number | null {
  return tx.get<{ parentId: number | null }>(sql`SELECT parent_id AS parentId FROM ${sql.raw(table)} WHERE id = ${id}`)?.parentId ?? null;
}

export { describeChain } from '../chains.js';

export function getRecord<Dto>(db: Db | Tx, spec: RecordKindSpec<unknown, { key: string }, Dto>, ref: string, lang?: string): Dto {
  const id = findId(db, spec.table, ref, spec.entryKind);
  const dto = id === null ? undefined : spec.load(db, [id], lang)[0];
  if (dto === undefined) throw notFound(`no ${spec.kind} with id or key ${JSON.stringify(ref)}`);
  return dto;
}

function prepareWrite<Input, Write extends { key: string }>(
  tx: Tx,
  spec: RecordKindSpec<Input, Write, unknown>,
  id: number | null,
  input: Partial<Input> & { key?: string },
  base: Write | null,
  resolver: RefResolver,
  holder?: { kind: RecordKind; id: number } | null,
): Write {
  const key = input.key ?? base?.key ?? generateKey(spec.kind);
  assertKeyFree(tx, key, spec.kind, id, holder === undefined ? kindOfKey(tx, key) : holder);
  const write = spec.toWrite(input, resolver, key, base);
  if (resolver.deferred.length > 0) return write; // the caller waits for those keys
  if (resolver.errors.length > 0) {
    throw unknownReference(resolver.errors.map((e) => `${e.path}: ${e.message}`).join('; '), resolver.errors);
  }
  const problems = spec.check?.(tx, id, write) ?? [];
  if (problems.length > 0) {
    throw validationFailed(problems.map((e) => `${e.path}: ${e.message}`).join('; '), problems);
  }
  return write;
}

export function createRecord<Input, Write extends { key: string }, Dto>(
  db: Db | Tx,
  spec: RecordKindSpec<Input, Write, Dto>,
  input: Input & { key?: string },
  context: WriteContext,
): Dto {
  return writeTransaction(db, (tx) => {
    const write = prepareWrite(tx, spec, null, input, null, new RefResolver(tx));
    const timestamp = now();
    const id = spec.store(tx, null, write, timestamp);
    logChanges(tx, [{ kind: spec.kind, id, key: write.key, operation: 'create', fields: null, previous: null }], timestamp, context.author);
    return spec.load(tx, [id])[0]!;
  });
}

export function patchRecord<Input, Write extends { key: string }, Dto>(
  db: Db,
  spec: RecordKindSpec<Input, Write, Dto>,
  ref: string,
  patch: Partial<Input> & { key?: string },
  context: WriteContext,
): Dto {
  return writeTransaction(db, (tx) => {
    const id = findId(tx, spec.table, ref, spec.entryKind);
    const base = id === null ? null : spec.readWrite(tx, id);
    if (id === null || base === null) throw notFound(`no ${spec.kind} with id or key ${JSON.stringify(ref)}`);
    const write = prepareWrite(tx, spec, id, patch, base, new RefResolver(tx));
    const { fields, previous } = changedFields(base, write);
    if (fields.length > 0) {
      const timestamp = now();
      spec.store(tx, id, write, timestamp);
      logChanges(tx, [{ kind: spec.kind, id, key: write.key, operation: 'update', fields, previous }], timestamp, context.author);
    }
    return spec.load(tx, [id])[0]!;
  });
}

export function deleteRecord(db: Db, spec: AnySpec, ref: string, context: WriteContext): void {
  writeTransaction(db, (tx) => {
    const id = findId(tx, spec.table, ref, spec.entryKind);
    if (id === null) throw notFound(`no ${spec.kind} with id or key ${JSON.stringify(ref)}`);
    const referrers = spec.referrers(tx, id);
    if (referrers.length > 0) {
      const shown = referrers.slice(0, 20);
      const more = referrers.length > shown.length ? ` and ${referrers.length - shown.length} more` : '';
      throw conflict(
        `${spec.kind} ${JSON.stringify(ref)} is referred to by ${shown.join(', ')}${more}`,
        shown.map((who) => ({ in: 'params', path: '/id', message: `referred to by ${who}` })),
      );
    }
    // what it said, kept in the log as its last revision
    const previous = spec.readWrite(tx, id)!;
    // children (citations, roles, tags, entries of a timeline) go with it by ON DELETE CASCADE
    tx.run(deleteStatement(spec, id));
    logChanges(tx, [{ kind: spec.kind, id, key: previous.key, operation: 'delete', fields: null, previous }], now(), context.author);
  });
}

const tableOf = { source: sources, place: places, actor: actors, entry: entries, timeline: timelines } as const;

function deleteStatement(spec: AnySpec, id: number) {
  const table = tableOf[spec.table];
  return sql`DELETE FROM ${table} WHERE ${table.id} = ${id}`;
}

export type UpsertOutcome = 'created' | 'updated' | 'unchanged';

/**
 * Creates or updates the record with `input.key` (import semantics) inside the caller's
 * transaction. References to keys that `pendingKeys` says will come later make it return
 * `deferred` with those keys instead of writing.
 */
export function upsertByKey<Input extends { key: string }, Write extends { key: string }>(
  tx: Tx,
  spec: RecordKindSpec<Input, Write, unknown>,
  input: Input,
  timestamp: string,
  changes: NewChange[],
  pendingKeys?: (key: string) => boolean,
): { outcome: UpsertOutcome; id: number } | { outcome: 'deferred'; waitingFor: string[] } {
  const prepared = prepareUpsert(tx, spec, input, pendingKeys);
  if (prepared.outcome !== 'write') return prepared;
  return storeUpsert(tx, spec, prepared, timestamp, changes);
}

export type PreparedUpsert<Write> =
  | { outcome: 'write'; existing: number | null; base: Write | null; write: Write }
  | { outcome: 'unchanged'; id: number }
  | { outcome: 'deferred'; waitingFor: string[] };

/**
 * The reading half of `upsertByKey`: finds the record, resolves and checks the input, and
 * throws its problems, all before anything is written.
 */
export function prepareUpsert<Input extends { key: string }, Write extends { key: string }>(
  tx: Tx,
  spec: RecordKindSpec<Input, Write, unknown>,
  input: Input,
  pendingKeys?: (key: string) => boolean,
): PreparedUpsert<Write> {
  // One look-up of the key answers both "which record is this" and "is the key free". Only
  // the key: a timeline found by its slug would be another timeline, overwritten by this one.
  const holder = isNumericId(input.key) ? undefined : kindOfKey(tx, input.key);
  const existing = holder != null && holder.kind === spec.kind ? holder.id : null;
  const base = existing === null ? null : spec.readWrite(tx, existing);
  const resolver = new RefResolver(tx, 'line', pendingKeys);
  // a full record replaces the stored one: fields it leaves out fall back to their defaults
  const write = prepareWrite(tx, spec, existing, input, null, resolver, holder);
  if (resolver.deferred.length > 0) return { outcome: 'deferred', waitingFor: resolver.deferred };
  if (existing !== null && JSON.stringify(write) === JSON.stringify(base)) {
    return { outcome: 'unchanged', id: existing };
  }
  return { outcome: 'write', existing, base, write };
}

/** The writing half of `upsertByKey`; the change it makes goes to `changes`, for the caller to log. */
export function storeUpsert<Write extends { key: string }>(
  tx: Tx,
  spec: RecordKindSpec<unknown, Write, unknown>,
  prepared: { existing: number | null; base: Write | null; write: Write },
  timestamp: string,
  changes: NewChange[],
): { outcome: 'created' | 'updated'; id: number } {
  const id = spec.store(tx, prepared.existing, prepared.write, timestamp);
  if (prepared.existing === null || prepared.base === null) {
    changes.push({ kind: spec.kind, id, key: prepared.write.key, operation: 'create', fields: null, previous: null });
  } else {
    const { fields, previous } = changedFields(prepared.base, prepared.write);
    changes.push({ kind: spec.kind, id, key: prepared.write.key, operation: 'update', fields, previous });
  }
  return { outcome: prepared.existing === null ? 'created' : 'updated', id };
}

/** Thrown inside the savepoint that renders a past revision, to roll it back. */
class RenderRollback extends Error {}

/**
 * A record as it was at `asOf` (ISO 8601), as the API returns it: its stored form now, with
 * the changes written since undone from the log's previous values, then rendered by storing
 * it in a savepoint that is rolled back (the loaders read only tables). A 404 when it did not
 * exist then; a 410 when the log no longer reaches back to `asOf`; a 409 when it referred to
 * records deleted since.
 */
export function recordAsOf<Dto>(db: Db, spec: RecordKindSpec<unknown, { key: string }, Dto>, ref: string, asOf: string, lang?: string): Dto {
  const id = findId(db, spec.table, ref, spec.entryKind);
  if (id === null) throw notFound(`no ${spec.kind} with id or key ${JSON.stringify(ref)}`);
  const extent = changeLogExtent(db);
  const oldest = oldestKeptAt(db);
  if (extent.floor > 0 && (oldest === null || asOf < oldest)) throw changesPruned(extent.floor, extent.floor);
  const later = changesSince(db, spec.kind, id, asOf);
  if (later.length === 0) return spec.load(db, [id], lang)[0]!;
  let write = spec.readWrite(db, id)!;
  for (const change of later) {
    if (change.operation === 'create') throw notFound(`${spec.kind} ${JSON.stringify(ref)} did not exist at ${asOf}`);
    write = { ...write, ...change.previous };
  }
  const updatedAt = changedAtOrBefore(db, spec.kind, id, asOf) ?? asOf;
  let rendered: Dto | undefined;
  try {
    db.transaction((tx) => {
      spec.store(tx, id, write, updatedAt);
      rendered = spec.load(tx, [id], lang)[0];
      throw new RenderRollback('rendered');
    });
  } catch (error) {
    if (!(error instanceof RenderRollback)) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
        throw conflict(`${spec.kind} ${JSON.stringify(ref)} referred at ${asOf} to records deleted since`);
      }
      throw error;
    }
  } finally {
    discardEntryDocumentChanges(db);
  }
  return rendered!;
}
