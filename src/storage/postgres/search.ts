import { sql } from 'drizzle-orm';
import { normalizeForIndex, SEARCH_INDEX_VERSION } from '../../search/text.js';
import type { PgDb } from './client.js';
import type { LanguageMap } from './schema.js';
import { tsvectorLiteral } from './search-text.js';
import type { PgTx } from './transactions.js';

/**
 * The search documents of entries, written as SQLite's (src/storage/sqlite/search.ts
 * writeEntryDocument): the entry's texts in every language, then each actor's name and
 * aliases and each place's name, in position order, normalised by src/search/text.ts, stored
 * as a tsvector (src/storage/postgres/search-text.ts).
 */

const texts = (map: LanguageMap | null | undefined) => (map ? Object.values(map) : []);
const appendWords = (body: string, words: string) => (words === '' ? body : body === '' ? words : `${body} ${words}`);

/** What an actor adds to the documents of the entries that name it: its name and aliases, normalised. */
export const actorNameDocument = (name: LanguageMap, aliases: LanguageMap[]) => normalizeForIndex([...texts(name), ...aliases.flatMap(texts)].join('\n'));

/** What a place adds to the documents of the entries that name it. */
export const placeNameDocument = (name: LanguageMap) => normalizeForIndex(texts(name).join('\n'));

/**
 * The search document of an entry: its texts (title, description, text) normalised, then the
 * name documents of its actors and places, in that order (actors first, each in position order).
 */
export function searchDocument(fields: (LanguageMap | null)[], names: string[]): { document: string; length: number } {
  // normalisation never crosses a line break: the names, normalised once each, are appended
  let body = normalizeForIndex(fields.flatMap(texts).join('\n'));
  for (const words of names) body = appendWords(body, words);
  return { document: tsvectorLiteral(body), length: body === '' ? 0 : body.split(' ').length };
}

/** (Re)writes the search documents of these entries, in bulk. */
export async function indexEntries(tx: PgTx, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  const unique = [...new Set(ids)];
  const { rows: entryRows } = await tx.execute<{ id: number; title: LanguageMap | null; description: LanguageMap | null; text: LanguageMap | null }>(
    sql`SELECT id, title, description, text FROM entries WHERE id = ANY(${sql.param(unique)}::integer[])`,
  );
  if (entryRows.length === 0) return;
  const { rows: links } = await tx.execute<{ entry_id: number; kind: 'actor' | 'place'; id: number }>(sql`
    SELECT entry_id, 'actor' AS kind, actor_id AS id, position FROM entry_actors WHERE entry_id = ANY(${sql.param(unique)}::integer[])
    UNION ALL SELECT entry_id, 'place', place_id, position FROM entry_places WHERE entry_id = ANY(${sql.param(unique)}::integer[])
    ORDER BY entry_id, kind, position`);
  const names = await nameDocuments(
    tx,
    links.filter((l) => l.kind === 'actor').map((l) => l.id),
    links.filter((l) => l.kind === 'place').map((l) => l.id),
  );
  const linksOf = new Map<number, { kind: 'actor' | 'place'; id: number }[]>();
  for (const link of links) linksOf.set(link.entry_id, [...(linksOf.get(link.entry_id) ?? []), link]);
  const documentIds: number[] = [];
  const documents: string[] = [];
  const lengths: number[] = [];
  for (const row of entryRows) {
    // actors first, then places (the order of the UNION's `kind`), each in position order
    const { document, length } = searchDocument(
      [row.title, row.description, row.text],
      (linksOf.get(row.id) ?? []).map((link) => names.get(`${link.kind}:${link.id}`) ?? ''),
    );
    documentIds.push(row.id);
    documents.push(document);
    lengths.push(length);
  }
  await tx.execute(sql`
    INSERT INTO search_index (entry_id, document, length)
      SELECT id, document::tsvector, length
      FROM unnest(${sql.param(documentIds)}::integer[], ${sql.param(documents)}::text[], ${sql.param(lengths)}::integer[]) AS d(id, document, length)
    ON CONFLICT (entry_id) DO UPDATE SET document = excluded.document, length = excluded.length`);
}

/** The normalised names of actors (with their aliases) and places, by `actor:<id>` and `place:<id>`. */
async function nameDocuments(tx: PgTx, actorIds: number[], placeIds: number[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  if (actorIds.length > 0) {
    const { rows } = await tx.execute<{ id: number; name: LanguageMap; aliases: LanguageMap[] }>(
      sql`SELECT id, name, aliases FROM actors WHERE id = ANY(${sql.param([...new Set(actorIds)])}::integer[])`,
    );
    for (const r of rows) names.set(`actor:${r.id}`, actorNameDocument(r.name, r.aliases));
  }
  if (placeIds.length > 0) {
    const { rows } = await tx.execute<{ id: number; name: LanguageMap }>(
      sql`SELECT id, name FROM places WHERE id = ANY(${sql.param([...new Set(placeIds)])}::integer[])`,
    );
    for (const r of rows) names.set(`place:${r.id}`, placeNameDocument(r.name));
  }
  return names;
}

/** Entries whose search documents carry this actor's or place's names (they change with the names). */
export async function entriesNaming(tx: PgTx, kind: 'actor' | 'place', id: number): Promise<number[]> {
  const { rows } =
    kind === 'actor'
      ? await tx.execute<{ id: number }>(sql`SELECT DISTINCT entry_id AS id FROM entry_actors WHERE actor_id = ${id}`)
      : await tx.execute<{ id: number }>(sql`SELECT DISTINCT entry_id AS id FROM entry_places WHERE place_id = ${id}`);
  return rows.map((r) => r.id);
}

/** The lock under which one starting server rebuilds the documents (the others wait, then find it done): "annals search". */
const REBUILD_LOCK = '107083530496117';

/**
 * Rebuilds every search document when they were written by another version of the
 * normalisation (SEARCH_INDEX_VERSION), in batches of entries, as SQLite's ensureSearchIndex
 * does; true when it rebuilt.
 */
export async function ensureSearchIndex(db: PgDb): Promise<boolean> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${REBUILD_LOCK}::bigint)`);
    const { rows } = await tx.execute<{ value: string }>(sql`SELECT value FROM settings WHERE name = 'search_index_version'`);
    if (rows[0]?.value === SEARCH_INDEX_VERSION) return false;
    for (let after = 0; ; ) {
      const { rows: batch } = await tx.execute<{ id: number }>(sql`SELECT id FROM entries WHERE id > ${after} ORDER BY id LIMIT 1000`);
      if (batch.length === 0) break;
      await indexEntries(tx, batch.map((r) => r.id));
      after = batch[batch.length - 1]!.id;
    }
    await tx.execute(sql`
      INSERT INTO settings (name, value) VALUES ('search_index_version', ${SEARCH_INDEX_VERSION})
      ON CONFLICT (name) DO UPDATE SET value = excluded.value`);
    return true;
  });
}
