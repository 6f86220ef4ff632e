import type { RelevancePosition } from '../types.js';
export type { RelevancePosition } from '../types.js';
import { eq, sql, type SQL } from 'drizzle-orm';
import type { Db } from './client.js';
import { entries, settings, type LanguageMap } from './schema.js';
import { normalizeForIndex } from '../../search/text.js';
import { ftsMatch } from './match.js';
import { allRows, prepared } from './statements.js';
import { cursorExpired } from '../cursor.js';
import { bumpRevision, currentRevision } from './settings.js';
import { writeCacheOf, type Tx } from './transactions.js';
import { filterConditions, windowConditions, type TimelineQuery } from './timeline.js';

import { SEARCH_INDEX_VERSION } from '../../search/text.js';
export { SEARCH_INDEX_VERSION } from '../../search/text.js';

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
        indexEntries(tx, ids);
        after = ids[ids.length - 1]!;
      }
      // the documents changed, and with them what searches find and how they rank: answers
      // and cursors taken before must not be taken for current
      bumpRevision(tx);
      tx.insert(settings)
        .values({ name, value: SEARCH_INDEX_VERSION })
        .onConflictDoUpdate({ target: settings.name, set: { value: SEARCH_INDEX_VERSION } })
        .run();
    },
    { behavior: 'immediate' },
  );
  return true;
}

/**
 * Where a relevance page ended, and what the pages so far held. BM25 scores move with every
 * write to the index (the number of documents, their mean length and each word's document
 * count all enter them), so the score of the last entry cannot say where the next page starts
 * once anything was written: it would skip or repeat every match whose score crossed it.
 * While the data revision holds, the (score, id) keyset continues exactly. After a write, the
 * pages so far must still be the best `seen` matches in the current order (their ids' digest
 * tells): then the next page starts after them, else the cursor has expired.
 */

export { isRelevancePosition } from '../cursor.js';

export { addToDigest } from '../cursor.js';
import { addToDigest } from '../cursor.js';

const relevanceSql = (q: TimelineQuery & { text: string }, maxId: number, extra: SQL[], limit: SQL) => {
  const where = [sql`search_index MATCH ${ftsMatch(q.text)}`, sql`e.id <= ${maxId}`, ...windowConditions(q), ...filterConditions(q), ...extra];
  return sql`SELECT e.id, bm25(search_index) AS rank FROM search_index JOIN entries e ON e.id = search_index.rowid
    WHERE ${sql.join(where, sql` AND `)} ORDER BY rank, e.id LIMIT ${limit}`;
};

const highestEntryId = (tx: Tx) => (prepared(tx, 'SELECT max(id) AS id FROM entries').get() as { id: number | null }).id ?? 0;

const EXPIRED =
  'the results changed since this cursor was issued (entries were written that change which matches rank ' +
  'before it): restart from the first page, without a cursor';

/**
 * One page of a text search in relevance order (BM25, best first; ties by id), and the
 * position to continue after. Following the positions never skips or repeats a match: each
 * page either continues exactly where the last one ended, or, when writes since changed the
 * ranks of what was already returned, throws a 410 telling the client to start again. The
 * matches are those of the first page's data: entries created while a client pages are left
 * to its next search. Read in one transaction, so that the revision is that of the rows read
 * even when another process writes meanwhile.
 */
export function relevancePage(
  db: Tx,
  q: TimelineQuery & { text: string },
  after: RelevancePosition | undefined,
  limit: number,
): { ids: number[]; next: RelevancePosition | null } {
  return db.transaction(
    (tx) => {
      const revision = currentRevision(tx);
      let rows: { id: number; rank: number }[];
      let maxId: number;
      let seen = 0;
      let digest: [number, number] = [0, 0];
      if (after === undefined) {
        maxId = highestEntryId(tx);
        rows = allRows(tx, relevanceSql(q, maxId, [], sql.raw(String(limit + 1))));
      } else {
        const [takenAt, highest, count, high, low, rank, id] = after;
        maxId = highest;
        seen = count;
        digest = [high, low];
        if (takenAt === revision) {
          rows = allRows(tx, relevanceSql(q, maxId, [sql`(bm25(search_index), e.id) > (${rank}, ${id})`], sql.raw(String(limit + 1))));
        } else {
          // the data changed: the pages so far must still be the best `seen` matches
          const ranked = allRows<{ id: number; rank: number }>(tx, relevanceSql(q, maxId, [], sql`${seen + limit + 1}`));
          const before = ranked.slice(0, seen);
          const same = addToDigest([0, 0], before.map((r) => r.id));
          if (before.length < seen || same[0] !== high || same[1] !== low) {
            throw cursorExpired(EXPIRED);
          }
          rows = ranked.slice(seen);
        }
      }
      const page = rows.slice(0, limit);
      const ids = page.map((r) => r.id);
      const last = page[page.length - 1];
      if (rows.length <= limit || last === undefined) return { ids, next: null };
      const [high, low] = addToDigest(digest, ids);
      return { ids, next: [revision, maxId, seen + ids.length, high, low, last.rank, last.id] };
    },
    { behavior: 'deferred' },
  );
}

/**
 * Every match of a text search in relevance order, read at once: a stream of them is written
 * across many turns of the event loop, and writes between its pages would move the ranks.
 */
export function relevanceIds(db: Tx, q: TimelineQuery & { text: string }): number[] {
  return allRows<{ id: number }>(db, relevanceSql(q, Number.MAX_SAFE_INTEGER, [], sql`-1`)).map((r) => r.id);
}
