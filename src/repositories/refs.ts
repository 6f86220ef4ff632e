import { and, eq, inArray } from 'drizzle-orm';
import { actors, entries, places, sources } from '../db/schema.js';
import { dateValue, pickLanguage, selectIn, type Tx } from './support.js';

/** Loaders of the compact records embedded in others, batched by id. */

export function actorRefs(tx: Tx, ids: number[], lang?: string) {
  const rows = selectIn(ids, (chunk) =>
    tx
      .select({ id: actors.id, key: actors.key, type: actors.type, name: actors.name })
      .from(actors)
      .where(inArray(actors.id, chunk))
      .all(),
  );
  return new Map(rows.map((r) => [r.id, { ...r, name: pickLanguage(r.name, lang) }]));
}

export type ActorRefDto = ReturnType<typeof actorRefs> extends Map<number, infer V> ? V : never;

export function placeRefs(tx: Tx, ids: number[], lang?: string) {
  const rows = selectIn(ids, (chunk) =>
    tx
      .select({
        id: places.id,
        key: places.key,
        type: places.type,
        name: places.name,
        countryCode: places.countryCode,
        lat: places.lat,
        lon: places.lon,
      })
      .from(places)
      .where(inArray(places.id, chunk))
      .all(),
  );
  return new Map(rows.map((r) => [r.id, { ...r, name: pickLanguage(r.name, lang) }]));
}

export type PlaceRefDto = ReturnType<typeof placeRefs> extends Map<number, infer V> ? V : never;

export function sourceRefs(tx: Tx, ids: number[], lang?: string) {
  const rows = selectIn(ids, (chunk) =>
    tx
      .select({
        id: sources.id,
        key: sources.key,
        type: sources.type,
        title: sources.title,
        outlet: sources.outlet,
        url: sources.url,
        published: sources.published,
        lang: sources.lang,
      })
      .from(sources)
      .where(inArray(sources.id, chunk))
      .all(),
  );
  return new Map(
    rows.map(({ lang: sourceLang, ...r }) => [
      r.id,
      { ...r, title: pickLanguage(r.title, lang, sourceLang), published: dateValue(r.published) },
    ]),
  );
}

export function eventRefs(tx: Tx, ids: number[], lang?: string) {
  const rows = selectIn(ids, (chunk) =>
    tx
      .select({ id: entries.id, key: entries.key, type: entries.type, title: entries.title, date: entries.date })
      .from(entries)
      .where(and(inArray(entries.id, chunk), eq(entries.kind, 'event')))
      .all(),
  );
  return new Map(
    rows.map((r) => [r.id, { ...r, title: pickLanguage(r.title ?? {}, lang), date: dateValue(r.date)! }]),
  );
}

/** `ids.map(lookup)` without the records that have gone missing. */
export function present<T>(ids: number[], lookup: Map<number, T>): T[] {
  return ids.flatMap((id) => {
    const value = lookup.get(id);
    return value === undefined ? [] : [value];
  });
}
