import type { LanguageMap } from './schema.js';
import type { LanguagePick } from '../language.js';
import { dateValue } from '../dates.js';
import { parseJson, rowsIn } from './rows.js';
import type { Tx } from './transactions.js';

/**
 * Loaders of the compact records embedded in others, batched by id: prepared statements, no
 * query building. `pick` puts each language map in its place (see LanguagePick).
 */

export function actorRefs(tx: Tx, ids: number[], pick: LanguagePick) {
  const rows = rowsIn<{ id: number; key: string; type: string; name: string }>(
    tx,
    'SELECT id, key, type, name FROM actors WHERE id IN (SELECT value FROM json_each(:ids))',
    ids,
  );
  return new Map(rows.map((r) => [r.id, { ...r, name: pick(parseJson<LanguageMap>(r.name)!) }]));
}

export type ActorRefDto = ReturnType<typeof actorRefs> extends Map<number, infer V> ? V : never;

export function placeRefs(tx: Tx, ids: number[], pick: LanguagePick) {
  const rows = rowsIn<{ id: number; key: string; type: string; name: string; countryCode: string | null; lat: number | null; lon: number | null }>(
    tx,
    `SELECT id, key, type, name, country_code AS countryCode, lat, lon FROM places
      WHERE id IN (SELECT value FROM json_each(:ids))`,
    ids,
  );
  return new Map(rows.map((r) => [r.id, { ...r, name: pick(parseJson<LanguageMap>(r.name)!) }]));
}

export type PlaceRefDto = ReturnType<typeof placeRefs> extends Map<number, infer V> ? V : never;

export function sourceRefs(tx: Tx, ids: number[], pick: LanguagePick) {
  const rows = rowsIn<{ id: number; key: string; type: string; title: string | null; outlet: string | null; url: string | null; published: string | null; lang: string | null }>(
    tx,
    `SELECT id, key, type, title, outlet, url, published, lang FROM sources
      WHERE id IN (SELECT value FROM json_each(:ids))`,
    ids,
  );
  return new Map(
    rows.map(({ lang: sourceLang, ...r }) => {
      const title = parseJson<LanguageMap>(r.title);
      return [r.id, { ...r, title: title === null ? null : pick(title, sourceLang), published: dateValue(r.published) }];
    }),
  );
}

export function eventRefs(tx: Tx, ids: number[], pick: LanguagePick) {
  const rows = rowsIn<{ id: number; key: string; type: string; title: string | null; date: string }>(
    tx,
    `SELECT id, key, type, title, date FROM entries
      WHERE id IN (SELECT value FROM json_each(:ids)) AND kind = 'event'`,
    ids,
  );
  return new Map(
    rows.map((r) => [r.id, { ...r, title: pick(parseJson<LanguageMap>(r.title) ?? {}), date: dateValue(r.date) }]),
  );
}

/** `ids.map(lookup)` without the records that have gone missing. */
export function present<T>(ids: number[], lookup: Map<number, T>): T[] {
  return ids.flatMap((id) => {
    const value = lookup.get(id);
    return value === undefined ? [] : [value];
  });
}
