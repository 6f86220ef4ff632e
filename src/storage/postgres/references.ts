import { sql } from 'drizzle-orm';
import { isNumericId } from '../keys.js';
import type { RecordKind, RefTable } from '../types.js';
import { validationFailed, type FieldError } from '../../schemas/problems.js';
import { holdsNul, MAX_ID } from './text.js';
import type { PgTx } from './transactions.js';

const tableNames = { source: 'sources', place: 'places', actor: 'actors', entry: 'entries', timeline: 'timelines' } as const;

/** Keys are unique across the whole dataset, not per table: which kind, if any, holds this key. */
export async function kindOfKey(tx: PgTx, key: string): Promise<{ kind: RecordKind; id: number } | null> {
  if (holdsNul(key)) return null;
  const { rows } = await tx.execute<{ kind: RecordKind; id: number }>(sql`
    SELECT 'source' AS kind, id FROM sources WHERE key = ${key}
    UNION ALL SELECT 'place', id FROM places WHERE key = ${key}
    UNION ALL SELECT 'actor', id FROM actors WHERE key = ${key}
    UNION ALL SELECT kind, id FROM entries WHERE key = ${key}
    UNION ALL SELECT 'timeline', id FROM timelines WHERE key = ${key}
    LIMIT 1`);
  return rows[0] ?? null;
}

/** kindOfKey of many keys in one statement: the holders of those held, by key. */
export async function kindsOfKeys(tx: PgTx, keys: readonly string[]): Promise<Map<string, { kind: RecordKind; id: number }>> {
  const asked = [...new Set(keys.filter((key) => !holdsNul(key)))];
  const holders = new Map<string, { kind: RecordKind; id: number }>();
  if (asked.length === 0) return holders;
  const { rows } = await tx.execute<{ key: string; kind: RecordKind; id: number }>(sql`
    SELECT key, 'source' AS kind, id FROM sources WHERE key = ANY(${sql.param(asked)}::text[])
    UNION ALL SELECT key, 'place', id FROM places WHERE key = ANY(${sql.param(asked)}::text[])
    UNION ALL SELECT key, 'actor', id FROM actors WHERE key = ANY(${sql.param(asked)}::text[])
    UNION ALL SELECT key, kind, id FROM entries WHERE key = ANY(${sql.param(asked)}::text[])
    UNION ALL SELECT key, 'timeline', id FROM timelines WHERE key = ANY(${sql.param(asked)}::text[])`);
  for (const row of rows) if (!holders.has(row.key)) holders.set(row.key, { kind: row.kind, id: row.id });
  return holders;
}

/** `holder`: what kindOfKey answered for `key`, when the caller has looked it up already. */
export async function assertKeyFree(
  tx: PgTx,
  key: string,
  kind: RecordKind,
  ownId: number | null,
  known?: { kind: RecordKind; id: number } | null,
): Promise<void> {
  const holder = known === undefined ? await kindOfKey(tx, key) : known;
  if (holder && !(holder.kind === kind && holder.id === ownId)) {
    throw validationFailed(`key ${JSON.stringify(key)} is already used by a ${holder.kind}`, [
      { in: 'body', path: '/key', message: `already used by ${holder.kind} ${holder.id}` },
    ]);
  }
}

/**
 * Finds the id of a record by id or key (a curated timeline by its slug too), or null, as
 * SQLite's findId answers: an id spelled otherwise than canonically is a key, and names
 * nothing unless a record has that key.
 */
export async function findId(tx: PgTx, table: RefTable, ref: string, expect?: 'event' | 'statement'): Promise<number | null> {
  const name = sql.raw(tableNames[table]);
  const kind = table === 'entry' && expect ? sql` AND kind = ${expect}` : sql``;
  let rows: { id: number }[];
  if (isNumericId(ref)) {
    const id = Number(ref);
    if (id > MAX_ID) return null;
    ({ rows } = await tx.execute<{ id: number }>(sql`SELECT id FROM ${name} WHERE id = ${id}${kind}`));
  } else {
    if (holdsNul(ref)) return null;
    ({ rows } = await tx.execute<{ id: number }>(sql`SELECT id FROM ${name} WHERE key = ${ref}${kind}`));
    if (rows.length === 0 && table === 'timeline') {
      ({ rows } = await tx.execute<{ id: number }>(sql`SELECT id FROM timelines WHERE slug = ${ref}`));
    }
  }
  return rows[0]?.id ?? null;
}

/**
 * Resolves references (ids or keys) to ids, as SQLite's RefResolver does: unknown
 * references are collected into `errors` with their path (and resolve to -1), for the caller
 * to report together; those to keys an import says may still come, into `deferred`.
 */
export class PgRefResolver {
  readonly errors: FieldError[] = [];
  /** Keys unknown now that a later line of the same import may create. */
  readonly deferred: string[] = [];
  readonly #found = new Map<string, number | null>();

  constructor(
    private readonly tx: PgTx,
    private readonly location: string = 'body',
    private readonly pendingKeys?: (key: string) => boolean,
  ) {}

  async resolve(table: RefTable, ref: string | number, path: string, expect?: 'event' | 'statement'): Promise<number> {
    const cacheKey = `${table}|${expect ?? ''}|${ref}`;
    let id = this.#found.get(cacheKey);
    if (id === undefined) {
      id = await this.lookUp(table, String(ref), expect);
      this.#found.set(cacheKey, id);
    }
    if (id === null) {
      if (typeof ref === 'string' && !isNumericId(ref) && this.pendingKeys?.(ref)) {
        this.deferred.push(ref);
      } else {
        this.errors.push({ in: this.location, path, message: `no ${expect ?? table} with id or key ${JSON.stringify(ref)}` });
      }
      return -1;
    }
    return id;
  }

  /** The id a reference names, or null: a look-up in the database. */
  protected lookUp(table: RefTable, ref: string, expect?: 'event' | 'statement'): Promise<number | null> {
    return findId(this.tx, table, ref, expect);
  }

  async resolveAll(table: RefTable, refs: readonly (string | number)[] | undefined, path: string, expect?: 'event' | 'statement') {
    const ids: number[] = [];
    for (const [i, ref] of (refs ?? []).entries()) ids.push(await this.resolve(table, ref, `${path}/${i}`, expect));
    return ids;
  }
}
