import { eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { z } from 'zod';
import { entries, entryPlaces, places, type LanguageMap } from './schema.js';
import type { PlaceInput } from '../../schemas/places.js';
import { embeddedRecordStored } from './documents.js';
import { placeRefs } from './refs.js';
import { languagePick } from '../language.js';
import { describeChain, parentChain, storedParent, type RecordKindSpec } from './records.js';
import { entriesNaming, forgetNames, indexEntries } from './search.js';
import { prepared } from './statements.js';
import { listIdsAfter, selectIn } from './rows.js';
import { pickLanguage } from '../language.js';
import type { Tx } from './transactions.js';

export interface PlaceWrite {
  key: string;
  type: string;
  name: LanguageMap;
  countryCode: string | null;
  parentId: number | null;
  lat: number | null;
  lon: number | null;
}

const pick = <T>(value: T | undefined, fallback: T): T => (value === undefined ? fallback : value);

export const placeSpec: RecordKindSpec<z.infer<typeof PlaceInput>, PlaceWrite, ReturnType<typeof loadPlaces>[number]> = {
  kind: 'place',
  table: 'place',

  toWrite(input, resolver, key, base) {
    const parent = input.parent === undefined ? undefined : input.parent;
    return {
      key,
      type: pick(input.type, base?.type ?? ''),
      name: pick(input.name, base?.name ?? {}),
      countryCode: pick(input.countryCode, base?.countryCode ?? null),
      parentId:
        parent === undefined ? (base?.parentId ?? null) : parent === null ? null : resolver.resolve('place', parent, '/parent'),
      lat: pick(input.lat, base?.lat ?? null),
      lon: pick(input.lon, base?.lon ?? null),
    };
  },

  check(tx, id, write) {
    // a parent already stored closes no cycle (a re-import of the same place checks nothing)
    if (id === null || write.parentId === null || storedParent(tx, 'places', id) === write.parentId) return [];
    const chain = parentChain(tx, 'places', write.parentId, id);
    if (chain === null) return [];
    const message =
      chain.length === 1
        ? 'a place cannot lie inside itself'
        : `a place cannot lie inside itself: ${chain[0]} already lies inside ${chain[chain.length - 1]} (${describeChain(chain)})`;
    return [{ in: 'body', path: '/parent', message }];
  },

  readWrite(tx, id) {
    const row = tx.select().from(places).where(eq(places.id, id)).get();
    if (!row) return null;
    return {
      key: row.key,
      type: row.type,
      name: row.name,
      countryCode: row.countryCode,
      parentId: row.parentId,
      lat: row.lat,
      lon: row.lon,
    };
  },

  store(tx, id, write, timestamp) {
    const values = { ...write, updatedAt: timestamp };
    if (id === null) {
      // imports create places by the thousand: a statement prepared once, not built by drizzle each time
      const inserted = prepared(
        tx,
        `INSERT INTO places (key, type, name, country_code, parent_id, lat, lon, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(write.key, write.type, JSON.stringify(write.name), write.countryCode, write.parentId, write.lat, write.lon, timestamp, timestamp);
      return Number(inserted.lastInsertRowid);
    }
    tx.update(places).set(values).where(eq(places.id, id)).run();
    forgetNames(tx, 'place', id);
    indexEntries(tx, entriesNaming(tx, 'place', id));
    embeddedRecordStored(tx, 'place', id);
    return id;
  },

  load: loadPlaces,

  referrers(tx, id) {
    const children = tx
      .select({ key: places.key })
      .from(places)
      .where(eq(places.parentId, id))
      .limit(500)
      .all()
      .map((r) => `place ${r.key}`);
    const users = tx
      .selectDistinct({ key: entries.key, kind: entries.kind })
      .from(entryPlaces)
      .innerJoin(entries, eq(entries.id, entryPlaces.entryId))
      .where(eq(entryPlaces.placeId, id))
      .limit(500)
      .all()
      .map((r) => `${r.kind} ${r.key}`);
    return [...children, ...users];
  },
};

export function loadPlaces(tx: Tx, ids: number[], lang?: string) {
  const rows = selectIn(ids, (chunk) => tx.select().from(places).where(inArray(places.id, chunk)).all());
  const found = new Map(rows.map((r) => [r.id, r]));
  const parents = placeRefs(
    tx,
    rows.flatMap((r) => (r.parentId === null ? [] : [r.parentId])),
    languagePick(lang),
  );
  return ids.flatMap((id) => {
    const r = found.get(id);
    if (!r) return [];
    return [
      {
        id: r.id,
        key: r.key,
        type: r.type,
        name: pickLanguage(r.name, lang),
        countryCode: r.countryCode,
        parent: r.parentId === null ? null : (parents.get(r.parentId) ?? null),
        lat: r.lat,
        lon: r.lon,
        createdAt: r.createdAt,
        updatedAt: r.updatedAt,
      },
    ];
  });
}

/** Ids of the place's ancestors, nearest first. */
export function placeAncestors(tx: Tx, id: number): number[] {
  return tx
    .all<{ id: number }>(
      sql`WITH RECURSIVE up(id, depth) AS (
            SELECT parent_id, 1 FROM places WHERE id = ${id} AND parent_id IS NOT NULL
            UNION SELECT p.parent_id, up.depth + 1 FROM places p JOIN up ON p.id = up.id
              WHERE p.parent_id IS NOT NULL AND up.depth < 100)
          SELECT id FROM up ORDER BY depth`,
    )
    .map((r) => r.id);
}

/**
 * The places `ids` and every place under them, as a subquery: resolved by SQLite (once per
 * statement, into an index of its own) however many places lie under them, with the ids
 * bound as one JSON array rather than a parameter each.
 */
export function placeSubtreeSql(ids: readonly number[]): SQL {
  return sql`SELECT id FROM (WITH RECURSIVE down(id) AS (
      SELECT value FROM json_each(${JSON.stringify([...new Set(ids)])})
      UNION SELECT child.id FROM places child JOIN down ON child.parent_id = down.id)
    SELECT id FROM down)`;
}

export interface PlaceFilters {
  type?: string[] | undefined;
  countryCode?: string[] | undefined;
  parent?: number | undefined;
}

export function listPlaceIds(tx: Tx, filters: PlaceFilters, after: number | undefined, limit: number): number[] {
  const where: SQL[] = [];
  if (filters.type?.length) where.push(inArray(places.type, filters.type));
  if (filters.countryCode?.length) where.push(inArray(places.countryCode, filters.countryCode));
  if (filters.parent !== undefined) where.push(eq(places.parentId, filters.parent));
  return listIdsAfter(tx, places, where, after, limit);
}

/** `[lon, lat]` for each place: its own coordinates, or its nearest ancestor's that has some. */
export function placeCoordinates(tx: Tx, ids: number[]): Map<number, [number, number]> {
  if (ids.length === 0) return new Map();
  const rows = tx.all<{ id: number; lat: number; lon: number }>(
    sql`WITH RECURSIVE up(origin, id, lat, lon, depth) AS (
          SELECT id, parent_id, lat, lon, 0 FROM places WHERE id IN (SELECT value FROM json_each(${JSON.stringify([...new Set(ids)])}))
          UNION ALL SELECT up.origin, p.parent_id, p.lat, p.lon, up.depth + 1 FROM places p JOIN up ON p.id = up.id
            WHERE up.lat IS NULL AND up.depth < 100)
        SELECT origin AS id, lat, lon FROM up WHERE lat IS NOT NULL`,
  );
  return new Map(rows.map((r) => [r.id, [r.lon, r.lat]]));
}
