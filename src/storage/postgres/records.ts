import { sql } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { CitationWrite, CitedText } from '../citations.js';
import { generateKey, isNumericId } from '../keys.js';
import type { RecordKind, RefTable, WriteContext } from '../types.js';
import type { LanguageMap } from '../language.js';
import { changesPruned, conflict, databaseBusy, notFound, unknownReference, validationFailed, type FieldError } from '../../schemas/problems.js';
import { changedFields, type NewChange } from '../changes.js';
import { changedAtOrBefore, changeLogExtent, changesSince, logChanges, oldestKeptAt } from './changes.js';
import type { PgDb } from './client.js';
import { assertKeyFree, findId, kindOfKey, PgRefResolver } from './references.js';
import { WRITE_LOCK_WAIT_MS } from '../lock-waits.js';
import { now, writeTransaction, type PgTransaction, type PgTx } from './transactions.js';

/**
 * What every kind of record provides on this engine, as on SQLite (src/storage/sqlite/records.ts,
 * which explains the write form), async: the generic create, patch and delete below are
 * written once over it.
 */
export interface PgRecordSpec<Input, Write extends { key: string }, Dto> {
  kind: RecordKind;
  table: RefTable;
  entryKind?: 'event' | 'statement';
  /** Resolves the fields present in `input` over `base` (the stored write form on patch); refuses text PostgreSQL cannot hold. */
  toWrite(input: Partial<Input>, resolver: PgRefResolver, key: string, base: Write | null): Promise<Write> | Write;
  check?(tx: PgTx, id: number | null, write: Write): Promise<FieldError[]>;
  readWrite(tx: PgTx, id: number): Promise<Write | null>;
  store(tx: PgTransaction, id: number | null, write: Write, timestamp: string): Promise<number>;
  load(tx: PgTx, ids: number[], lang?: string): Promise<Dto[]>;
  referrers(tx: PgTx, id: number): Promise<string[]>;
  /**
   * A record new to a database that a bulk load started empty, where the load knows every
   * record stored (src/storage/postgres/bulk.ts): `problems` are what `check` finds for a new
   * record, with the texts of the sources it cites from `citedTexts` instead of reads; `rows`
   * what `store` writes, for COPY, with the id the load drew. A kind without it is stored by `store`.
   */
  newRecord?: {
    problems(write: Write, citedTexts: CitedTexts): Promise<FieldError[]> | FieldError[];
    rows(id: number, write: Write, timestamp: string): NewRecordRows;
  };
}

/** The texts of the sources that citations point into with offsets, by id (null: the source has none). */
export type CitedTexts = (cites: CitationWrite[]) => Promise<ReadonlyMap<number, CitedText | null>>;

/** What a new record writes (see PgRecordSpec.newRecord). */
export interface NewRecordRows {
  /** Rows as drizzle inserts them, by table, in an order whose foreign keys each point to a row before. */
  rows: [PgTable, Record<string, unknown>][];
  /** An entry's search document: its texts, and the actors and places it names, in the order indexEntries appends their names. */
  search?: { fields: (LanguageMap | null)[]; names: { kind: 'actor' | 'place'; id: number }[] };
  /** An actor's or place's name document, which entries naming it carry in theirs. */
  nameDocument?: string;
  /** A source's text, which later citations are checked against. */
  text?: string | null;
}

/** Refuses a write whose references did not all resolve (the resolver's errors). */
export function refuseUnresolved(resolver: PgRefResolver): void {
  if (resolver.errors.length > 0) {
    throw unknownReference(resolver.errors.map((e) => `${e.path}: ${e.message}`).join('; '), resolver.errors);
  }
}

/** Refuses a write that its checks found problems in. */
export function refuseProblems(problems: FieldError[]): void {
  if (problems.length > 0) throw validationFailed(problems.map((e) => `${e.path}: ${e.message}`).join('; '), problems);
}

export type AnyPgSpec = PgRecordSpec<unknown, { key: string }, unknown>;

const missing = (spec: { kind: RecordKind }, ref: string) => notFound(`no ${spec.kind} with id or key ${JSON.stringify(ref)}`);

export async function getRecord<Dto>(db: PgTx, spec: PgRecordSpec<unknown, { key: string }, Dto>, ref: string, lang?: string): Promise<Dto> {
  const id = await findId(db, spec.table, ref, spec.entryKind);
  const dto = id === null ? undefined : (await spec.load(db, [id], lang))[0];
  if (dto === undefined) throw missing(spec, ref);
  return dto;
}

async function prepareWrite<Input, Write extends { key: string }>(
  tx: PgTx,
  spec: PgRecordSpec<Input, Write, unknown>,
  id: number | null,
  input: Partial<Input> & { key?: string },
  base: Write | null,
  resolver = new PgRefResolver(tx),
  holder?: { kind: RecordKind; id: number } | null,
): Promise<Write> {
  const key = input.key ?? base?.key ?? generateKey(spec.kind);
  await assertKeyFree(tx, key, spec.kind, id, holder);
  const write = await spec.toWrite(input, resolver, key, base);
  if (resolver.deferred.length > 0) return write; // the caller waits for those keys
  refuseUnresolved(resolver);
  refuseProblems((await spec.check?.(tx, id, write)) ?? []);
  return write;
}

/** Creates a record in `tx` (the caller's write transaction, which may claim an idempotency key with it). */
export async function createRecordIn<Input, Write extends { key: string }, Dto>(
  tx: PgTransaction,
  spec: PgRecordSpec<Input, Write, Dto>,
  input: Input & { key?: string },
  context: WriteContext,
): Promise<Dto> {
  const write = await prepareWrite(tx, spec, null, input, null);
  const timestamp = now();
  const id = await spec.store(tx, null, write, timestamp);
  await logChanges(tx, [{ kind: spec.kind, id, key: write.key, operation: 'create', fields: null, previous: null }], timestamp, context.author);
  return (await spec.load(tx, [id]))[0]!;
}

/** Logs an update with its changed fields, or nothing (and stores nothing) when the patch changes nothing. */
export async function patchRecord<Input, Write extends { key: string }, Dto>(
  db: PgDb,
  spec: PgRecordSpec<Input, Write, Dto>,
  ref: string,
  patch: Partial<Input> & { key?: string },
  context: WriteContext,
): Promise<Dto> {
  return writeTransaction(db, async (tx) => {
    const id = await findId(tx, spec.table, ref, spec.entryKind);
    const base = id === null ? null : await spec.readWrite(tx, id);
    if (id === null || base === null) throw missing(spec, ref);
    const write = await prepareWrite(tx, spec, id, patch, base);
    const { fields, previous } = changedFields(base, write);
    if (fields.length > 0) {
      const timestamp = now();
      await spec.store(tx, id, write, timestamp);
      await logChanges(tx, [{ kind: spec.kind, id, key: write.key, operation: 'update', fields, previous }], timestamp, context.author);
    }
    return (await spec.load(tx, [id]))[0]!;
  });
}

/**
 * The keys on the parent chain from `from` up to `to`, both included, or null when `to` is
 * not `from` nor above it: what a new parent `from` of `to` would close into a cycle (as on
 * SQLite: no depth limit, and UNION ends the walk even on a stored cycle).
 */
export async function parentChain(tx: PgTx, table: 'places' | 'entries', from: number, to: number): Promise<string[] | null> {
  const t = sql.raw(table);
  if (from !== to) {
    const { rows } = await tx.execute(
      sql`WITH RECURSIVE up(id) AS (
            SELECT parent_id FROM ${t} WHERE id = ${from} AND parent_id IS NOT NULL
            UNION SELECT r.parent_id FROM ${t} r JOIN up ON r.id = up.id WHERE r.parent_id IS NOT NULL)
          SELECT 1 AS hit FROM up WHERE id = ${to} LIMIT 1`,
    );
    if (rows.length === 0) return null;
  }
  const keys: string[] = [];
  const seen = new Set<number>();
  let current: number | null = from;
  while (current !== null && !seen.has(current)) {
    seen.add(current);
    const id: number = current;
    const result = await tx.execute<{ key: string; parent_id: number | null }>(sql`SELECT key, parent_id FROM ${t} WHERE id = ${id}`);
    const row: { key: string; parent_id: number | null } | undefined = result.rows[0];
    if (row === undefined) break;
    keys.push(row.key);
    if (current === to) break;
    current = row.parent_id;
  }
  return keys;
}

/** The parent stored for the place or entry `id` (null: none, or no such record). */
export async function storedParent(tx: PgTx, table: 'places' | 'entries', id: number): Promise<number | null> {
  const { rows } = await tx.execute<{ parent_id: number | null }>(sql`SELECT parent_id FROM ${sql.raw(table)} WHERE id = ${id}`);
  return rows[0]?.parent_id ?? null;
}

export { describeChain } from '../chains.js';

const tableNames = { source: 'sources', place: 'places', actor: 'actors', entry: 'entries', timeline: 'timelines' } as const;

export async function deleteRecord(db: PgDb, spec: AnyPgSpec, ref: string, context: WriteContext): Promise<void> {
  await writeTransaction(db, async (tx) => {
    const id = await findId(tx, spec.table, ref, spec.entryKind);
    if (id === null) throw missing(spec, ref);
    const referrers = await spec.referrers(tx, id);
    if (referrers.length > 0) {
      const shown = referrers.slice(0, 20);
      const more = referrers.length > shown.length ? ` and ${referrers.length - shown.length} more` : '';
      throw conflict(
        `${spec.kind} ${JSON.stringify(ref)} is referred to by ${shown.join(', ')}${more}`,
        shown.map((who) => ({ in: 'params', path: '/id', message: `referred to by ${who}` })),
      );
    }
    // what it said, kept in the log as its last revision
    const previous = (await spec.readWrite(tx, id))!;
    // children go with it by ON DELETE CASCADE, the search document too
    await tx.execute(sql`DELETE FROM ${sql.raw(tableNames[spec.table])} WHERE id = ${id}`);
    await logChanges(tx, [{ kind: spec.kind, id, key: previous.key, operation: 'delete', fields: null, previous }], now(), context.author);
  });
}

export type PreparedUpsert<Write> =
  | { outcome: 'write'; existing: number | null; base: Write | null; write: Write }
  | { outcome: 'unchanged'; id: number }
  | { outcome: 'deferred'; waitingFor: string[] };

/**
 * The reading half of an import's upsert, as on SQLite (src/storage/sqlite/records.ts): finds
 * the record by its key, resolves and checks the input, and throws its problems, all before
 * anything is written. References to keys `pendingKeys` says may come make it `deferred`.
 */
export async function prepareUpsert<Write extends { key: string }>(
  tx: PgTx,
  spec: PgRecordSpec<unknown, Write, unknown>,
  input: { key: string },
  pendingKeys?: (key: string) => boolean,
): Promise<PreparedUpsert<Write>> {
  // One look-up of the key answers both "which record is this" and "is the key free". Only
  // the key: a timeline found by its slug would be another timeline, overwritten by this one.
  const holder = isNumericId(input.key) ? undefined : await kindOfKey(tx, input.key);
  const existing = holder != null && holder.kind === spec.kind ? holder.id : null;
  const base = existing === null ? null : await spec.readWrite(tx, existing);
  const resolver = new PgRefResolver(tx, 'line', pendingKeys);
  // a full record replaces the stored one: fields it leaves out fall back to their defaults
  const write = await prepareWrite(tx, spec, existing, input, null, resolver, holder);
  if (resolver.deferred.length > 0) return { outcome: 'deferred', waitingFor: resolver.deferred };
  if (existing !== null && JSON.stringify(write) === JSON.stringify(base)) return { outcome: 'unchanged', id: existing };
  return { outcome: 'write', existing, base, write };
}

/** The writing half: stores what prepareUpsert made; the change it makes goes to `changes`, for the caller to log. */
export async function storeUpsert<Write extends { key: string }>(
  tx: PgTransaction,
  spec: PgRecordSpec<unknown, Write, unknown>,
  prepared: { existing: number | null; base: Write | null; write: Write },
  timestamp: string,
  changes: NewChange[],
): Promise<{ outcome: 'created' | 'updated'; id: number }> {
  const id = await spec.store(tx, prepared.existing, prepared.write, timestamp);
  if (prepared.existing === null || prepared.base === null) {
    changes.push({ kind: spec.kind, id, key: prepared.write.key, operation: 'create', fields: null, previous: null });
  } else {
    const { fields, previous } = changedFields(prepared.base, prepared.write);
    changes.push({ kind: spec.kind, id, key: prepared.write.key, operation: 'update', fields, previous });
  }
  return { outcome: prepared.existing === null ? 'created' : 'updated', id };
}

/** Thrown inside the transaction that renders a past revision, to roll it back. */
class RenderRollback extends Error {}

/** The SQLSTATE of a PostgreSQL error, which drizzle wraps (DrizzleQueryError's cause). */
export function sqlState(error: unknown): string | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** How long rebuilding a past revision waits for a write in flight (a bulk load holds the revision row to its end) before answering busy: as a write does. */
const AS_OF_LOCK_WAIT_MS = WRITE_LOCK_WAIT_MS;

/**
 * A record as it was at `asOf`, as on SQLite (src/storage/sqlite/records.ts): its stored form
 * now with the changes written since undone from the log's previous values, rendered by storing
 * it in a transaction that is rolled back. That transaction first shares the revision row's
 * lock, which every write takes first (writeTransaction): it waits for a write in flight, and
 * then no write commits until it ends, so that every read of it sees one state (the record and
 * its log agree) and its own rolled-back store waits on no row a writer holds.
 */
export async function recordAsOf<Dto>(
  db: PgDb,
  spec: PgRecordSpec<unknown, { key: string }, Dto>,
  ref: string,
  asOf: string,
  lang?: string,
): Promise<Dto> {
  let rendered: Dto | undefined;
  try {
    await db.transaction(async (tx) => {
      await tx.execute(sql.raw(`SET LOCAL lock_timeout = ${AS_OF_LOCK_WAIT_MS}`));
      await tx.execute(sql`SELECT 1 FROM settings WHERE name = 'revision' FOR SHARE`);
      const id = await findId(tx, spec.table, ref, spec.entryKind);
      if (id === null) throw missing(spec, ref);
      const extent = await changeLogExtent(tx);
      const oldest = await oldestKeptAt(tx);
      if (extent.floor > 0 && (oldest === null || asOf < oldest)) throw changesPruned(extent.floor, extent.floor);
      const later = await changesSince(tx, spec.kind, id, asOf);
      if (later.length === 0) {
        rendered = (await spec.load(tx, [id], lang))[0]!;
        throw new RenderRollback('read');
      }
      let write = (await spec.readWrite(tx, id))!;
      for (const change of later) {
        if (change.operation === 'create') throw notFound(`${spec.kind} ${JSON.stringify(ref)} did not exist at ${asOf}`);
        write = { ...write, ...change.previous };
      }
      const updatedAt = (await changedAtOrBefore(tx, spec.kind, id, asOf)) ?? asOf;
      await spec.store(tx, id, write, updatedAt);
      rendered = (await spec.load(tx, [id], lang))[0];
      throw new RenderRollback('rendered');
    });
  } catch (error) {
    if (!(error instanceof RenderRollback)) {
      const state = sqlState(error);
      if (state === '23503') throw conflict(`${spec.kind} ${JSON.stringify(ref)} referred at ${asOf} to records deleted since`);
      if (state === '55P03') throw databaseBusy();
      throw error;
    }
  }
  return rendered!;
}
