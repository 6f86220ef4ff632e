import { sql } from 'drizzle-orm';
import { dateValue } from '../dates.js';
import type { LanguagePick } from '../language.js';
import type { LanguageMap } from './schema.js';
import type { PgTx } from './transactions.js';

/** Loaders of the compact records embedded in others, batched by id (as src/storage/sqlite/refs.ts); `pick` puts each language map in its place (see LanguagePick). */

export async function actorRefs(tx: PgTx, ids: number[], pick: LanguagePick) {
  if (ids.length === 0) return new Map<number, { id: number; key: string; type: string; name: LanguageMap }>();
  const { rows } = await tx.execute<{ id: number; key: string; type: string; name: LanguageMap }>(
    sql`SELECT id, key, type, name FROM actors WHERE id = ANY(${sql.param([...new Set(ids)])}::integer[])`,
  );
  return new Map(rows.map((r) => [r.id, { id: r.id, key: r.key, type: r.type, name: pick(r.name) }]));
}

export async function placeRefs(tx: PgTx, ids: number[], pick: LanguagePick) {
  type Row = { id: number; key: string; type: string; name: LanguageMap; countryCode: string | null; lat: number | null; lon: number | null };
  if (ids.length === 0) return new Map<number, Row>();
  const { rows } = await tx.execute<Row>(
    sql`SELECT id, key, type, name, country_code AS "countryCode", lat, lon FROM places
        WHERE id = ANY(${sql.param([...new Set(ids)])}::integer[])`,
  );
  return new Map(
    rows.map((r) => [r.id, { id: r.id, key: r.key, type: r.type, name: pick(r.name), countryCode: r.countryCode, lat: r.lat, lon: r.lon }]),
  );
}

export async function sourceRefs(tx: PgTx, ids: number[], pick: LanguagePick) {
  type Row = { id: number; key: string; type: string; title: LanguageMap | null; outlet: string | null; url: string | null; published: string | null; lang: string | null };
  const out = new Map<number, Omit<Row, 'lang' | 'published'> & { published: ReturnType<typeof dateValue> }>();
  if (ids.length === 0) return out;
  const { rows } = await tx.execute<Row>(
    sql`SELECT id, key, type, title, outlet, url, published, lang FROM sources WHERE id = ANY(${sql.param([...new Set(ids)])}::integer[])`,
  );
  for (const { lang: sourceLang, ...r } of rows) {
    out.set(r.id, { ...r, title: r.title === null ? null : pick(r.title, sourceLang), published: dateValue(r.published) });
  }
  return out;
}

export async function eventRefs(tx: PgTx, ids: number[], pick: LanguagePick) {
  type Row = { id: number; key: string; type: string; title: LanguageMap | null; date: string };
  const out = new Map<number, Omit<Row, 'date' | 'title'> & { title: LanguageMap; date: NonNullable<ReturnType<typeof dateValue>> }>();
  if (ids.length === 0) return out;
  const { rows } = await tx.execute<Row>(
    sql`SELECT id, key, type, title, date FROM entries WHERE id = ANY(${sql.param([...new Set(ids)])}::integer[]) AND kind = 'event'`,
  );
  for (const r of rows) out.set(r.id, { ...r, title: pick(r.title ?? {}), date: dateValue(r.date) });
  return out;
}

/** `ids.map(lookup)` without the records that have gone missing. */
export function present<T>(ids: number[], lookup: Map<number, T>): T[] {
  return ids.flatMap((id) => {
    const value = lookup.get(id);
    return value === undefined ? [] : [value];
  });
}
