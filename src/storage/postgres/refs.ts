import { sql } from 'drizzle-orm';
import { pickLanguage } from '../language.js';
import type { LanguageMap } from './schema.js';
import type { PgTx } from './transactions.js';

/** Loaders of the compact records embedded in others, batched by id (as src/storage/sqlite/refs.ts). */

export async function actorRefs(tx: PgTx, ids: number[], lang?: string) {
  if (ids.length === 0) return new Map<number, { id: number; key: string; type: string; name: LanguageMap }>();
  const { rows } = await tx.execute<{ id: number; key: string; type: string; name: LanguageMap }>(
    sql`SELECT id, key, type, name FROM actors WHERE id = ANY(${sql.param([...new Set(ids)])}::integer[])`,
  );
  return new Map(rows.map((r) => [r.id, { id: r.id, key: r.key, type: r.type, name: pickLanguage(r.name, lang) }]));
}

export async function placeRefs(tx: PgTx, ids: number[], lang?: string) {
  type Row = { id: number; key: string; type: string; name: LanguageMap; countryCode: string | null; lat: number | null; lon: number | null };
  if (ids.length === 0) return new Map<number, Row>();
  const { rows } = await tx.execute<Row>(
    sql`SELECT id, key, type, name, country_code AS "countryCode", lat, lon FROM places
        WHERE id = ANY(${sql.param([...new Set(ids)])}::integer[])`,
  );
  return new Map(
    rows.map((r) => [r.id, { id: r.id, key: r.key, type: r.type, name: pickLanguage(r.name, lang), countryCode: r.countryCode, lat: r.lat, lon: r.lon }]),
  );
}
