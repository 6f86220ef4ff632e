import { and, asc, eq, gt, inArray, sql, type SQL } from 'drizzle-orm';
import type { z } from 'zod';
import { pickLanguage, languagePick } from '../language.js';
import type { PlaceInput } from '../../schemas/places.js';
import { embeddedRecordStored } from './documents.js';
import { describeChain, parentChain, storedParent, type PgRecordSpec } from './records.js';
import { placeRefs } from './refs.js';
import { entries, entryPlaces, places, type LanguageMap } from './schema.js';
import { entriesNaming, indexEntries, placeNameDocument } from './search.js';
import { MAX_ID, refuseNul } from './text.js';
import type { PgTx } from './transactions.js';

export interface PlaceWrite {
  key: string;
  type: string;
  name: LanguageMap;
  countryCode: string | null;
  parentId: number | null;
  lat: number | null;
  lon: number | null;
}

const TEXT_FIELDS = ['key', 'type', 'countryCode'] as const;

const pick = <T>(value: T | undefined, fallback: T): T => (value === undefined ? fallback : value);

export const placeSpec: PgRecordSpec<z.infer<typeof PlaceInput>, PlaceWrite, Awaited<ReturnType<typeof loadPlaces>>[number]> = {
  kind: 'place',
  table: 'place',

  async toWrite(input, resolver, key, base) {
    const parent = input.parent;
    const write = {
      key,
      type: pick(input.type, base?.type ?? ''),
      name: pick(input.name, base?.name ?? {}),
      countryCode: pick(input.countryCode, base?.countryCode ?? null),
      parentId:
        parent === undefined ? (base?.parentId ?? null) : parent === null ? null : await resolver.resolve('place', parent, '/parent'),
      lat: pick(input.lat, base?.lat ?? null),
      lon: pick(input.lon, base?.lon ?? null),
    };
    refuseNul(write, TEXT_FIELDS);
    return write;
  },

  async check(tx, id, write) {
    // a parent already stored closes no cycle (a re-import of the same place checks nothing)
    if (id === null || write.parentId === null || (await storedParent(tx, 'places', id)) === write.parentId) return [];
    const chain = await parentChain(tx, 'places', write.parentId, id);
    if (chain === null) return [];
    const message =
      chain.length === 1
        ? 'a place cannot lie inside itself'
        : `a place cannot lie inside itself: ${chain[0]} already lies inside ${chain[chain.length - 1]} (${describeChain(chain)})`;
    return [{ in: 'body', path: '/parent', message }];
  },

  async readWrite(tx, id) {
    const [row] = await tx.select().from(places).where(eq(places.id, id));
    if (!row) return null;
    return { key: row.key, type: row.type, name: row.name, countryCode: row.countryCode, parentId: row.parentId, lat: row.lat, lon: row.lon };
  },

  async store(tx, id, write, timestamp) {
    if (id === null) {
      const [inserted] = await tx
        .insert(places)
        .values({ ...write, createdAt: timestamp, updatedAt: timestamp })
        .returning({ id: places.id });
      return inserted!.id;
    }
    await tx.update(places).set({ ...write, updatedAt: timestamp }).where(eq(places.id, id));
    // entries are found by their places' names: those documents change with the names
    await indexEntries(tx, await entriesNaming(tx, 'place', id));
    await embeddedRecordStored(tx, 'place', id);
    return id;
  },

  load: loadPlaces,

  async referrers(tx, id) {
    const children = await tx.select({ key: places.key }).from(places).where(eq(places.parentId, id)).limit(500);
    const users = await tx
      .selectDistinct({ key: entries.key, kind: entries.kind })
      .from(entryPlaces)
      .innerJoin(entries, eq(entries.id, entryPlaces.entryId))
      .where(eq(entryPlaces.placeId, id))
      .limit(500);
    return [...children.map((r) => `place ${r.key}`), ...users.map((r) => `${r.kind} ${r.key}`)];
  },

  newRecord: {
    // a new place is inside no other, so its parent closes no cycle
    problems: () => [],
    rows: (id, write, timestamp) => ({
      rows: [[places, { ...write, id, createdAt: timestamp, updatedAt: timestamp }]],
      nameDocument: placeNameDocument(write.name),
    }),
  },
};

export async function loadPlaces(tx: PgTx, ids: number[], lang?: string) {
  if (ids.length === 0) return [];
  const rows = await tx.select().from(places).where(inArray(places.id, [...new Set(ids)]));
  const found = new Map(rows.map((r) => [r.id, r]));
  const parents = await placeRefs(
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

export async function listPlaceIds(
  tx: PgTx,
  filters: { type?: string[] | undefined; countryCode?: string[] | undefined; parent?: number | undefined },
  after: number | undefined,
  limit: number,
): Promise<number[]> {
  const where: SQL[] = [];
  if (filters.type?.length) where.push(inArray(places.type, filters.type));
  if (filters.countryCode?.length) where.push(inArray(places.countryCode, filters.countryCode));
  if (filters.parent !== undefined) {
    if (filters.parent > MAX_ID) return [];
    where.push(eq(places.parentId, filters.parent));
  }
  if (after !== undefined) {
    if (after >= MAX_ID) return [];
    where.push(gt(places.id, after));
  }
  const rows = await tx
    .select({ id: places.id })
    .from(places)
    .where(where.length ? and(...where) : undefined)
    .orderBy(asc(places.id))
    .limit(limit);
  return rows.map((r) => r.id);
}

/** `[lon, lat]` for each place: its own coordinates, or its nearest ancestor's that has some. */
export async function placeCoordinates(tx: PgTx, ids: number[]): Promise<Map<number, [number, number]>> {
  if (ids.length === 0) return new Map();
  const { rows } = await tx.execute<{ id: number; lat: number; lon: number }>(
    sql`WITH RECURSIVE up(origin, id, lat, lon, depth) AS (
          SELECT id, parent_id, lat, lon, 0 FROM places WHERE id = ANY(${sql.param([...new Set(ids)])}::integer[])
          UNION ALL SELECT up.origin, p.parent_id, p.lat, p.lon, up.depth + 1 FROM places p JOIN up ON p.id = up.id
            WHERE up.lat IS NULL AND up.depth < 100)
        SELECT origin AS id, lat, lon FROM up WHERE lat IS NOT NULL`,
  );
  return new Map(rows.map((r) => [r.id, [r.lon, r.lat]]));
}
