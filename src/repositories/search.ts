import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { entries, settings, type LanguageMap } from '../db/schema.js';
import { normalizeForIndex } from '../search/text.js';
import { prepared } from '../db/statements.js';
import type { Tx } from './support.js';

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
  const actorNames = prepared(
    tx,
    'SELECT a.name, a.aliases FROM entry_actors ea JOIN actors a ON a.id = ea.actor_id WHERE ea.entry_id = ?',
  );
  const placeNames = prepared(
    tx,
    'SELECT p.name FROM entry_places ep JOIN places p ON p.id = ep.place_id WHERE ep.entry_id = ?',
  );
  const remove = prepared(tx, 'DELETE FROM search_index WHERE rowid = ?');
  const insert = prepared(tx, 'INSERT INTO search_index (rowid, body) VALUES (?, ?)');
  for (const id of ids) {
    const row = entry.get(id) as { title: string | null; description: string | null; text: string | null } | undefined;
    if (!row) continue;
    const parts = [...texts(parse(row.title)), ...texts(parse(row.description)), ...texts(parse(row.text))];
    for (const a of actorNames.all(id) as { name: string; aliases: string }[]) {
      parts.push(...texts(parse(a.name)), ...(JSON.parse(a.aliases) as LanguageMap[]).flatMap(texts));
    }
    for (const p of placeNames.all(id) as { name: string }[]) parts.push(...texts(parse(p.name)));
    remove.run(id);
    insert.run(id, normalizeForIndex(parts.join('\n')));
  }
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
