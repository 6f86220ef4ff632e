import { sql } from 'drizzle-orm';
import { isNumericId } from '../keys.js';
import type { RecordKind, RefTable } from '../types.js';
import { validationFailed, type FieldError } from '../../schemas/problems.js';
import { prepared } from './statements.js';
import { writeCacheOf, type Tx } from './transactions.js';

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
    this.shared = writeCacheOf(tx)?.refs;
    this.sharesEntries = writeCacheOf(tx)?.acrossBatches !== true;
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
