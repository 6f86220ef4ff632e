import type { RecordKind, RefTable } from '../types.js';
export type { RecordKind, RefTable } from '../types.js';
export { pickLanguage } from '../language.js';
import { randomBytes } from 'node:crypto';
import { and, asc, gt, sql, type SQL } from 'drizzle-orm';
import type { Db } from './client.js';
import { actors, places, sources, timelines } from './schema.js';
import { OPEN_END_DAY, OPEN_START_DAY, chronoPosition, dayNumber, parseEdtf, type ParsedDate } from '../../dates/edtf.js';
import { validationFailed, type FieldError } from '../../schemas/problems.js';
import { bumpRevision } from './settings.js';
import { prepared, preparedRaw } from './statements.js';

/** A transaction or the database: repositories accept either. */
export type Tx = Pick<Db, 'select' | 'selectDistinct' | 'insert' | 'update' | 'delete' | 'all' | 'get' | 'run' | 'transaction'>;

export const now = () => new Date().toISOString();

/** Runs `work` in a write transaction that takes the write lock at once (BEGIN IMMEDIATE). */
export function writeTransaction<T>(db: Db | Tx, work: (tx: Tx) => T): T {
  // inside another transaction this is a savepoint of it
  return (db as Db).transaction(
    (tx) => {
      const result = work(tx);
      bumpRevision(tx);
      return result;
    },
    { behavior: 'immediate' },
  );
}


const keyPrefix: Record<RecordKind, string> = {
  source: 'src',
  place: 'place',
  actor: 'actor',
  event: 'event',
  statement: 'stmt',
  timeline: 'timeline',
};

/** A key for a record created without one: readable prefix, 80 random bits. */
export function generateKey(kind: RecordKind): string {
  return `${keyPrefix[kind]}:${randomBytes(10).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x')}`;
}

/** Keys are unique across the whole dataset, not per table: which kind, if any, holds this key. */
export function kindOfKey(tx: Tx, key: string): { kind: RecordKind; id: number } | null {
  const row = prepared(
    tx,
    `SELECT 'source' AS kind, id FROM sources WHERE key = :key
     UNION ALL SELECT 'place', id FROM places WHERE key = :key
     UNION ALL SELECT 'actor', id FROM actors WHERE key = :key
     UNION ALL SELECT kind, id FROM entries WHERE key = :key
     UNION ALL SELECT 'timeline', id FROM timelines WHERE key = :key
     LIMIT 1`,
  ).get({ key }) as { kind: RecordKind; id: number } | undefined;
  return row ?? null;
}

export function assertKeyFree(
  tx: Tx,
  key: string,
  kind: RecordKind,
  ownId: number | null,
  holder: { kind: RecordKind; id: number } | null = kindOfKey(tx, key),
): void {
  if (holder && !(holder.kind === kind && holder.id === ownId)) {
    throw validationFailed(`key ${JSON.stringify(key)} is already used by a ${holder.kind}`, [
      { in: 'body', path: '/key', message: `already used by ${holder.kind} ${holder.id}` },
    ]);
  }
}


const tableNames = { source: 'sources', place: 'places', actor: 'actors', entry: 'entries', timeline: 'timelines' } as const;

/**
 * True when `value` is written as a numeric id rather than a key. Only the canonical form
 * counts (`12`, not `012`, `+12` or ` 12`): one id has one spelling, so that two references
 * to the same record are the same text, and other spellings are no record at all.
 */
export const isNumericId = (value: string | number): boolean =>
  typeof value === 'number' || /^[1-9][0-9]{0,14}$/.test(value);

/**
 * What a write transaction has looked up already, for a run of records written in it (an
 * import batch): references resolved to ids, and the search text of actors' and places'
 * names. Only found ids are kept (a key missing now may be created by a later record), and
 * timelines are not (their slugs can change); whoever changes a name forgets it. A record
 * is refused before it writes anything, so nothing cached can be undone under the cache.
 */
export interface WriteCache {
  refs: Map<string, number>;
  names: Map<string, string>;
  /**
   * Carried from batch to batch (a bulk load): references to events and statements are not
   * kept, since few are looked up twice and a long-lived map of them only grows the heap.
   */
  acrossBatches: boolean;
}

const writeCaches = new WeakMap<object, WriteCache>();

export const newWriteCache = (acrossBatches = false): WriteCache => ({ refs: new Map(), names: new Map(), acrossBatches });

/**
 * Runs `work` with a write cache for `tx`: a new one, or `cache` carried over from earlier
 * work in the same transaction. A cache must not outlive the transaction it was filled in.
 */
export function withWriteCache<T>(tx: Tx, work: () => T, cache: WriteCache = newWriteCache()): T {
  writeCaches.set(tx, cache);
  try {
    return work();
  } finally {
    writeCaches.delete(tx);
  }
}

export const writeCacheOf = (tx: Tx): WriteCache | undefined => writeCaches.get(tx);

/**
 * Resolves references (ids or keys) to ids, in bulk. Unknown references are collected into
 * `errors` with the path given; the caller decides how to report them.
 */
export class RefResolver {
  readonly errors: FieldError[] = [];
  private readonly cache = new Map<string, number | null>();
  private readonly shared: Map<string, number> | undefined;
  private readonly sharesEntries: boolean;

  constructor(
    private readonly tx: Tx,
    private readonly location: string = 'body',
    /** Keys that the same import will create later: resolving them is deferred, not an error. */
    private readonly pendingKeys?: (key: string) => boolean,
  ) {
    this.shared = writeCaches.get(tx)?.refs;
    this.sharesEntries = writeCaches.get(tx)?.acrossBatches !== true;
  }

  /** Refs that are unknown now but will exist later in the same import. */
  readonly deferred: string[] = [];

  resolve(table: RefTable, ref: string | number, path: string, expect?: 'event' | 'statement'): number {
    const cacheKey = `${table}|${expect ?? ''}|${ref}`;
    let id: number | null | undefined = this.cache.get(cacheKey) ?? this.shared?.get(cacheKey);
    if (id === undefined) {
      id = this.lookup(table, ref, expect);
      this.cache.set(cacheKey, id);
      if (id !== null && table !== 'timeline' && (table !== 'entry' || this.sharesEntries)) this.shared?.set(cacheKey, id);
    }
    if (id === null) {
      if (typeof ref === 'string' && !isNumericId(ref) && this.pendingKeys?.(ref)) {
        this.deferred.push(ref);
      } else {
        const what = expect ?? table;
        this.errors.push({ in: this.location, path, message: `no ${what} with id or key ${JSON.stringify(ref)}` });
      }
      return -1;
    }
    return id;
  }

  resolveAll(table: RefTable, refs: readonly (string | number)[] | undefined, path: string, expect?: 'event' | 'statement') {
    return (refs ?? []).map((ref, i) => this.resolve(table, ref, `${path}/${i}`, expect));
  }

  private lookup(table: RefTable, ref: string | number, expect?: 'event' | 'statement'): number | null {
    const name = tableNames[table];
    const byId = isNumericId(ref);
    const kindFilter = table === 'entry' && expect ? ' AND kind = ?' : '';
    const statement = prepared(this.tx, `SELECT id FROM ${name} WHERE ${byId ? 'id' : 'key'} = ?${kindFilter}`);
    const args = kindFilter ? [byId ? Number(ref) : String(ref), expect] : [byId ? Number(ref) : String(ref)];
    const row = statement.get(...args) as { id: number } | undefined;
    if (row === undefined && table === 'timeline' && !byId) {
      // curated timelines are also addressed by their slug
      const bySlug = prepared(this.tx, 'SELECT id FROM timelines WHERE slug = ?').get(String(ref)) as { id: number } | undefined;
      return bySlug?.id ?? null;
    }
    return row?.id ?? null;
  }
}

/** Finds the id of a record by id or key, or null. */
export function findId(tx: Tx, table: RefTable, ref: string, expect?: 'event' | 'statement'): number | null {
  const resolver = new RefResolver(tx);
  const id = resolver.resolve(table, ref, '');
  if (id < 0) return null;
  if (expect) {
    const row = tx.get<{ kind: string }>(sql`SELECT kind FROM entries WHERE id = ${id}`);
    if (row?.kind !== expect) return null;
  }
  return id;
}

/** Day-number bounds of a parsed date, with open ends as sentinels. */
export function dayBounds(date: ParsedDate): { earliest: number; latest: number } {
  return {
    earliest: date.earliest === null ? OPEN_START_DAY : dayNumber(date.earliest),
    latest: date.latest === null ? OPEN_END_DAY : dayNumber(date.latest),
  };
}

/** Columns stored for a dated entry. */
export function dateColumns(edtf: string) {
  const parsed = parseEdtf(edtf);
  const { earliest, latest } = dayBounds(parsed);
  const position = chronoPosition(parsed);
  return {
    date: parsed.edtf,
    precision: parsed.precision,
    earliest,
    latest,
    spanClass: spanClass(earliest, latest),
    sortStart: position.start,
    sortEnd: position.end,
  };
}

/** See the `entries` table: 0 one day, 1 up to 31 days, 2 up to 366 days, 3 longer or open. */
export const SPAN_CLASS_MAX_DAYS = [0, 30, 365, Number.POSITIVE_INFINITY] as const;

export function spanClass(earliest: number, latest: number): number {
  if (earliest === OPEN_START_DAY || latest === OPEN_END_DAY) return 3;
  const span = latest - earliest;
  return SPAN_CLASS_MAX_DAYS.findIndex((max) => span <= max);
}

const parsedDates = new Map<string, ParsedDate>();
export const PARSED_DATES_LIMIT = 50_000;
/** Date parses remembered now (at most PARSED_DATES_LIMIT; stored EDTF texts are short). */
export const parsedDateCount = () => parsedDates.size;

/**
 * The date object of the API for a stored EDTF text (null stays null). Stored dates are
 * valid and repeat a lot, so parses are remembered (a bounded cache; the objects are only
 * ever serialised, never changed).
 */
export function dateValue(edtf: string | null): ParsedDate | null {
  if (edtf === null) return null;
  let parsed = parsedDates.get(edtf);
  if (parsed === undefined) {
    if (parsedDates.size >= PARSED_DATES_LIMIT) parsedDates.clear();
    parsed = parseEdtf(edtf);
    parsedDates.set(edtf, parsed);
  }
  return parsed;
}

/**
 * Rows of a prepared query whose `:ids` parameter is a list of ids, passed as one JSON
 * array (`... IN (SELECT value FROM json_each(:ids))`), so that one statement serves every
 * list length and is prepared once.
 */
export function rowsIn<T>(tx: Tx, sqlText: string, ids: number[]): T[] {
  if (ids.length === 0) return [];
  return prepared(tx, sqlText).all({ ids: JSON.stringify([...new Set(ids)]) }) as T[];
}

/** {@link rowsIn} with each row an array of the selected columns, in order (cheaper than objects). */
export function tuplesIn<T extends unknown[]>(tx: Tx, sqlText: string, ids: number[]): T[] {
  if (ids.length === 0) return [];
  return preparedRaw(tx, sqlText).all({ ids: JSON.stringify([...new Set(ids)]) }) as T[];
}

export const parseJson = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));


/** Rows of `table` whose id is in `ids`, as a map by id. */
export function byId<T extends { id: number }>(rows: T[]): Map<number, T> {
  return new Map(rows.map((row) => [row.id, row]));
}

export function groupBy<T, K>(rows: T[], keyOf: (row: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const row of rows) {
    const k = keyOf(row);
    const group = groups.get(k);
    if (group) group.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}

/** SQLite caps bound parameters; IN lists are chunked well below it. */
export function chunked<T>(items: T[], size = 500): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function selectIn<T>(ids: number[], query: (chunk: number[]) => T[]): T[] {
  if (ids.length === 0) return [];
  return chunked([...new Set(ids)]).flatMap(query);
}


type IdTable = typeof sources | typeof places | typeof actors | typeof timelines;

/** One page of ids of a plain (non-dated) resource in id order, keyset-paged by `after`. */
export function listIdsAfter(tx: Tx, table: IdTable, where: SQL[], after: number | undefined, limit: number): number[] {
  const conditions = after === undefined ? where : [...where, gt(table.id, after)];
  return tx
    .select({ id: table.id })
    .from(table)
    .where(conditions.length ? and(...conditions) : undefined)
    .orderBy(asc(table.id))
    .limit(limit)
    .all()
    .map((r) => r.id);
}
