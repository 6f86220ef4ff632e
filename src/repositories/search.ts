import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { entries, settings, type LanguageMap } from '../db/schema.js';
import { normalizeForIndex } from '../search/text.js';
import { prepared } from '../db/statements.js';
import { writeCacheOf, type Tx } from './support.js';

/**
 * Bump when the normalisation in src/search/text.ts changes: start-up then rebuilds the
 * index, since stored bodies were normalised the old way.
 */
export const SEARCH_INDEX_VERSION = '1';

const texts = (map: LanguageMap | null | undefined) => (map ? Object.values(map) : []);

const parse = (text: string | null): LanguageMap | null => (text === null ? null : (JSON.parse(text) as LanguageMap));

/** (Re)writes the search documents of these entries: their texts and their actors' and places' names. */
export function indexEntries(tx: Tx, ids: number[]): void {
  const entry = prepared(tx, 'SELECT title, description, text FROM entries WHERE id = ?');
  const actorIds = prepared(tx, 'SELECT actor_id AS id FROM entry_actors WHERE entry_id = ? ORDER BY position').pluck();
  const placeIds = prepared(tx, 'SELECT place_id AS id FROM entry_places WHERE entry_id = ? ORDER BY position').pluck();
  for (const id of ids) {
    const row = entry.get(id) as { title: string | null; description: string | null; text: string | null } | undefined;
    if (!row) continue;
    writeEntryDocument(
      tx,
      id,
      [parse(row.title), parse(row.description), parse(row.text)],
      actorIds.all(id) as number[],
      placeIds.all(id) as number[],
      true,
    );
  }
}

/**
 * Writes the search document of one entry from its texts and the ids of its actors and
 * places, in position order: the texts in every language, then each actor's name and aliases
 * and each place's name. `replace` removes the entry's old document first (a new entry has
 * none: ids are never reused).
 */
export function writeEntryDocument(
  tx: Tx,
  id: number,
  maps: (LanguageMap | null | undefined)[],
  actorIds: readonly number[],
  placeIds: readonly number[],
  replace: boolean,
): void {
  // Normalisation never crosses a line break, so the names, normalised once each, are
  // appended to the normalised texts: the same document as normalising all of it at once.
  let body = normalizeForIndex(maps.flatMap(texts).join('\n'));
  for (const actorId of actorIds) body = appendWords(body, nameDocument(tx, 'actor', actorId));
  for (const placeId of placeIds) body = appendWords(body, nameDocument(tx, 'place', placeId));
  if (replace) prepared(tx, 'DELETE FROM search_index WHERE rowid = ?').run(id);
  prepared(tx, 'INSERT INTO search_index (rowid, body) VALUES (?, ?)').run(id, body);
}

const appendWords = (body: string, words: string) => (words === '' ? body : body === '' ? words : `${body} ${words}`);

/** The normalised names of an actor (with its aliases) or a place, remembered for the transaction's write cache. */
function nameDocument(tx: Tx, kind: 'actor' | 'place', id: number): string {
  const cache = writeCacheOf(tx)?.names;
  const cacheKey = `${kind}:${id}`;
  let words = cache?.get(cacheKey);
  if (words !== undefined) return words;
  const parts: string[] = [];
  if (kind === 'actor') {
    const row = prepared(tx, 'SELECT name, aliases FROM actors WHERE id = ?').get(id) as { name: string; aliases: string } | undefined;
    if (row) parts.push(...texts(parse(row.name)), ...(JSON.parse(row.aliases) as LanguageMap[]).flatMap(texts));
  } else {
    const row = prepared(tx, 'SELECT name FROM places WHERE id = ?').get(id) as { name: string } | undefined;
    if (row) parts.push(...texts(parse(row.name)));
  }
  words = normalizeForIndex(parts.join('\n'));
  cache?.set(cacheKey, words);
  return words;
}

/** An actor's or place's names changed: documents written after this read them again. */
export function forgetNames(tx: Tx, kind: 'actor' | 'place', id: number): void {
  writeCacheOf(tx)?.names.delete(`${kind}:${id}`);
}

/** Entries whose search documents carry this actor's or place's names (they change with the names). */
export function entriesNaming(tx: Tx, kind: 'actor' | 'place', id: number): number[] {
  const table = kind === 'actor' ? 'entry_actors' : 'entry_places';
  return (prepared(tx, `SELECT DISTINCT entry_id AS id FROM ${table} WHERE ${kind}_id = ?`).all(id) as { id: number }[]).map(
    (r) => r.id,
  );
}

/** Rebuilds the whole index when it was built by another version of the normalisation. */
export function ensureSearchIndex(db: Db): boolean {
  const name = 'search_index_version';
  const stored = db.select({ value: settings.value }).from(settings).where(eq(settings.name, name)).get()?.value;
  if (stored === SEARCH_INDEX_VERSION) return false;
  db.transaction(
    (tx) => {
      tx.run(sql`DELETE FROM search_index`);
      let after = 0;
      for (;;) {
        const ids = tx
          .select({ id: entries.id })
          .from(entries)
          .where(sql`${entries.id} > ${after}`)
          .orderBy(entries.id)
          .limit(1000)
          .all()
          .map((r) => r.id);
        if (ids.length === 0) break;
        indexEntries(tx as unknown as Tx, ids);
        after = ids[ids.length - 1]!;
      }
      tx.insert(settings)
        .values({ name, value: SEARCH_INDEX_VERSION })
        .onConflictDoUpdate({ target: settings.name, set: { value: SEARCH_INDEX_VERSION } })
        .run();
    },
    { behavior: 'immediate' },
  );
  return true;
}
