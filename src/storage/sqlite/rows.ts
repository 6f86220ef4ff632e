import { and, asc, gt, type SQL } from 'drizzle-orm';
import { actors, places, sources, timelines } from './schema.js';
import { prepared, preparedRaw } from './statements.js';
import type { Tx } from './transactions.js';

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
