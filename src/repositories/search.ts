import { eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { actors, entries, entryActors, entryPlaces, places, settings, type LanguageMap } from '../db/schema.js';
import { normalizeForIndex } from '../search/text.js';
import { groupBy, selectIn, type Tx } from './support.js';

/**
 * Bump when the normalisation in src/search/text.ts changes: start-up then rebuilds the
 * index, since stored bodies were normalised the old way.
 */
export const SEARCH_INDEX_VERSION = '1';

const texts = (map: LanguageMap | null | undefined) => (map ? Object.values(map) : []);

/** (Re)writes the search documents of these entries: their texts and their actors' and places' names. */
export function indexEntries(tx: Tx, ids: number[]): void {
  if (ids.length === 0) return;
  const rows = selectIn(ids, (chunk) =>
    tx
      .select({ id: entries.id, title: entries.title, description: entries.description, text: entries.text })
      .from(entries)
      .where(inArray(entries.id, chunk))
      .all(),
  );
  const actorNames = groupBy(
    selectIn(ids, (chunk) =>
      tx
        .select({ entryId: entryActors.entryId, name: actors.name, aliases: actors.aliases })
        .from(entryActors)
        .innerJoin(actors, eq(actors.id, entryActors.actorId))
        .where(inArray(entryActors.entryId, chunk))
        .all(),
    ),
    (r) => r.entryId,
  );
  const placeNames = groupBy(
    selectIn(ids, (chunk) =>
      tx
        .select({ entryId: entryPlaces.entryId, name: places.name })
        .from(entryPlaces)
        .innerJoin(places, eq(places.id, entryPlaces.placeId))
        .where(inArray(entryPlaces.entryId, chunk))
        .all(),
    ),
    (r) => r.entryId,
  );
  for (const row of rows) {
    const parts = [
      ...texts(row.title),
      ...texts(row.description),
      ...texts(row.text),
      ...(actorNames.get(row.id) ?? []).flatMap((a) => [...texts(a.name), ...a.aliases.flatMap(texts)]),
      ...(placeNames.get(row.id) ?? []).flatMap((p) => texts(p.name)),
    ];
    tx.run(sql`DELETE FROM search_index WHERE rowid = ${row.id}`);
    tx.run(sql`INSERT INTO search_index (rowid, body) VALUES (${row.id}, ${normalizeForIndex(parts.join('\n'))})`);
  }
}

/** Entries whose search documents carry this actor's names. */
export function entriesOfActor(tx: Tx, actorId: number): number[] {
  return tx
    .selectDistinct({ id: entryActors.entryId })
    .from(entryActors)
    .where(eq(entryActors.actorId, actorId))
    .all()
    .map((r) => r.id);
}

/** Entries whose search documents carry this place's names. */
export function entriesOfPlace(tx: Tx, placeId: number): number[] {
  return tx
    .selectDistinct({ id: entryPlaces.entryId })
    .from(entryPlaces)
    .where(eq(entryPlaces.placeId, placeId))
    .all()
    .map((r) => r.id);
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
