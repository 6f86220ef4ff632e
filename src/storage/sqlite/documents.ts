import type Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import {
  DocumentRenderer,
  EMBEDDED_KINDS,
  ENTRY_DOCUMENTS_PAGE,
  ENTRY_DOCUMENTS_VERSION,
  ENTRY_DOCUMENTS_VERSION_SETTING,
  EntryDocumentChanges,
  REACHED_RENDER_LIMIT,
  documentBatchJson,
  missingDocumentsNext,
  missingDocumentsRange,
  type EmbeddedKind,
  type StoredMap,
} from '../documents.js';
import type { Db } from './client.js';
import { loadEntries, loadEntriesWith } from './entries.js';
import { chunked } from './rows.js';
import * as schema from './schema.js';
import { clientOf, prepared, preparedRaw } from './statements.js';
import type { Tx } from './transactions.js';

/**
 * The rendered document of every entry (`entry_documents`, see src/storage/documents.ts),
 * kept current in the transaction of every write that changes what an entry renders, so
 * that any connection to the database, in this process or another, reads current documents.
 *
 * An entry renders its own rows and the actors, places, sources and events it names (and a
 * statement's speaker's affiliations, with the actors they are to). The writes of those
 * records say what they changed ({@link entryStored}, {@link embeddedRecordStored}); the
 * documents of every entry they reach are written again, a page of entries at a time,
 * before the transaction commits ({@link refreshEntryDocuments}, which writeTransaction
 * calls), or sooner when many are waiting, so that a long import keeps little in memory.
 */

export { ENTRY_DOCUMENTS_VERSION, type EmbeddedKind } from '../documents.js';

/** What the write transaction on each connection changed, not yet in documents. */
const changesByConnection = new WeakMap<Database.Database, EntryDocumentChanges>();

function changesOf(tx: Tx): EntryDocumentChanges {
  const client = clientOf(tx);
  let changes = changesByConnection.get(client);
  if (changes === undefined) {
    changes = new EntryDocumentChanges();
    changesByConnection.set(client, changes);
  }
  return changes;
}

/**
 * Connections in a bulk load: rendering there would cost as much as the load itself, so the
 * documents its records reach are removed instead (when there were any: `hadDocuments`) and
 * rendered afterwards by {@link writeMissingEntryDocuments}. An entry without a document is
 * read from its rows meanwhile, so that what is served stays current either way.
 */
const deferring = new WeakMap<Database.Database, { hadDocuments: boolean }>();

/** The entry `id` was created or replaced (its rows and children are all written). */
export function entryStored(tx: Tx, id: number): void {
  const deferred = deferring.get(clientOf(tx));
  if (deferred) {
    if (deferred.hadDocuments) prepared(tx, 'DELETE FROM entry_documents WHERE entry_id = ?').run(id);
    return;
  }
  if (changesOf(tx).entryStored(id)) refreshEntryDocuments(tx);
}

/** A record other entries embed was replaced: their documents change with it. */
export function embeddedRecordStored(tx: Tx, kind: EmbeddedKind, id: number): void {
  const deferred = deferring.get(clientOf(tx));
  if (deferred && !deferred.hadDocuments) return;
  // a bulk load's are resolved once, by its finish, when its indexes are back
  if (changesOf(tx).embeddedRecordStored(kind, id) && !deferred) refreshEntryDocuments(tx);
}

/** Forgets the changes of a transaction that rolled back. */
export function discardEntryDocumentChanges(tx: Tx): void {
  changesByConnection.delete(clientOf(tx));
  deferring.delete(clientOf(tx));
}

/** The end of a bulk load, however it ended. */
export function stopDeferringEntryDocuments(client: Database.Database): void {
  deferring.delete(client);
}

/** From here until {@link finishBulkLoadDocuments}, the connection's writes leave documents to be rendered later. */
export function deferEntryDocuments(client: Database.Database): void {
  const hadDocuments = client.prepare('SELECT EXISTS (SELECT 1 FROM entry_documents)').pluck().get() === 1;
  deferring.set(client, { hadDocuments });
}

/**
 * Entries that embed the records of `ids`: naming an actor (any role), or spoken by an actor
 * affiliated to it; at a place; citing a source; under an event, said in its context, or about it.
 */
const EMBEDDING: Record<EmbeddedKind, string> = {
  actor: `SELECT entry_id FROM entry_actors WHERE actor_id IN (SELECT value FROM json_each(:ids))
    UNION SELECT id FROM entries WHERE speaker_id IN
      (SELECT actor_id FROM actor_affiliations WHERE other_actor_id IN (SELECT value FROM json_each(:ids)))`,
  place: 'SELECT entry_id FROM entry_places WHERE place_id IN (SELECT value FROM json_each(:ids))',
  source: 'SELECT entry_id FROM citations WHERE source_id IN (SELECT value FROM json_each(:ids))',
  event: `SELECT id FROM entries WHERE parent_id IN (SELECT value FROM json_each(:ids))
    UNION SELECT id FROM entries WHERE context_id IN (SELECT value FROM json_each(:ids))
    UNION SELECT entry_id FROM entry_events WHERE event_id IN (SELECT value FROM json_each(:ids))`,
};

/**
 * The entries the changes so far reach (forgotten as changes): those the writes stored, and
 * the others that embed a record they changed.
 */
function takeReachedEntries(tx: Tx): { stored: Set<number>; embedders: Set<number> } | undefined {
  const client = clientOf(tx);
  const changes = changesByConnection.get(client);
  if (changes === undefined) return undefined;
  changesByConnection.delete(client);
  const stored = changes.entries;
  const embedders = new Set<number>();
  for (const kind of EMBEDDED_KINDS) {
    const records = changes.embedded[kind];
    if (records.size === 0) continue;
    for (const chunk of chunked([...records], 10_000)) {
      const found = prepared(tx, EMBEDDING[kind]).pluck().all({ ids: JSON.stringify(chunk) }) as number[];
      for (const id of found) if (!stored.has(id)) embedders.add(id);
    }
  }
  return { stored, embedders };
}

/** Whoever renders the documents a write on the connection left to the missing-documents pass. */
const documentsLeftListeners = new WeakMap<Database.Database, () => void>();

/**
 * Calls `listener` after each write transaction on `client` that left documents to be
 * rendered by the missing-documents pass (see REACHED_RENDER_LIMIT), once it has committed.
 */
export function onEntryDocumentsLeft(client: Database.Database, listener: () => void): void {
  documentsLeftListeners.set(client, listener);
}

function removeEntryDocuments(tx: Tx, ids: Iterable<number>): void {
  const remove = prepared(tx, 'DELETE FROM entry_documents WHERE entry_id IN (SELECT value FROM json_each(?))');
  for (const chunk of chunked([...ids], 10_000)) remove.run(JSON.stringify(chunk));
}

/**
 * Writes the documents the changes so far reach, inside the transaction that made them; past
 * REACHED_RENDER_LIMIT entries that only embed a changed record, those are removed instead and
 * left to the missing-documents pass.
 */
export function refreshEntryDocuments(tx: Tx): void {
  const reached = takeReachedEntries(tx);
  if (reached === undefined) return;
  const { stored, embedders } = reached;
  if (embedders.size > REACHED_RENDER_LIMIT) {
    removeEntryDocuments(tx, embedders);
    const listener = documentsLeftListeners.get(clientOf(tx));
    // a transaction on this connection is synchronous: by the next turn it has committed
    // (or rolled back, and then the pass finds nothing missing)
    if (listener !== undefined) setImmediate(listener);
  } else {
    for (const id of embedders) stored.add(id);
  }
  // in id order: entries written together are near each other in every table
  writeEntryDocuments(
    tx,
    [...stored].sort((a, b) => a - b),
  );
}

/** Renders and stores the documents of `ids`; those of ids that are no entry are removed. */
export function writeEntryDocuments(tx: Tx, ids: number[]): void {
  const store = prepared(
    tx,
    `INSERT INTO entry_documents (entry_id, body, languages) VALUES (?, ?, ?)
       ON CONFLICT (entry_id) DO UPDATE SET body = excluded.body, languages = excluded.languages`,
  );
  const remove = prepared(tx, 'DELETE FROM entry_documents WHERE entry_id = ?');
  for (const page of chunked(ids, ENTRY_DOCUMENTS_PAGE)) {
    const renderer = new DocumentRenderer();
    const stored = new Set<number>();
    for (const entry of loadEntriesWith(tx, page, renderer.pick)) {
      const document = renderer.render(entry);
      store.run(entry.id, document.body, document.languages);
      stored.add(entry.id);
    }
    for (const id of page) if (!stored.has(id)) remove.run(id);
  }
}

/**
 * The JSON of the entries of `ids` that exist, in that order, in `lang`: each the bytes of
 * JSON.stringify of its loadEntries value, read from its document in one statement. An entry
 * without a document (none should lack one) is rendered from its rows.
 */
export function renderEntries(tx: Tx, ids: number[], lang: string | undefined): Buffer[] {
  if (ids.length === 0) return [];
  // one row of aggregates (see DocumentBatch); group_concat joins the blobs' bytes as they are
  // (JSON holds no NUL), and every aggregate takes the rows in the same order
  const [row] = preparedRaw(
    tx,
    `SELECT json_group_array(entry_id), json_group_array(length(body)), CAST(group_concat(body, '') AS BLOB),
        '[' || group_concat(coalesce(languages, 'null'), ',') || ']'
      FROM entry_documents WHERE entry_id IN (SELECT value FROM json_each(?))`,
  ).all(JSON.stringify(ids)) as [string, string, Buffer | null, string | null][];
  const [batchIds, lengths, bodies, languages] = row!;
  const found =
    bodies === null
      ? new Map<number, Buffer>()
      : documentBatchJson(
          { ids: JSON.parse(batchIds) as number[], lengths: JSON.parse(lengths) as number[], bodies, languages: JSON.parse(languages!) as (StoredMap[] | null)[] },
          lang,
        );
  if (found.size < new Set(ids).size) {
    for (const entry of loadEntries(tx, ids.filter((id) => !found.has(id)), lang)) found.set(entry.id, Buffer.from(JSON.stringify(entry)));
  }
  return ids.flatMap((id) => found.get(id) ?? []);
}


/**
 * Removes the documents rendered by another version of this code (or none, on a database from
 * before migration 0006): they are rendered again by {@link writeMissingEntryDocuments}, after
 * start-up rather than before it, since a large database takes minutes. A process that finds
 * the work done by another meanwhile does nothing.
 */
export function ensureEntryDocuments(db: Db): boolean {
  const storedVersion = (tx: Tx) =>
    prepared(tx, `SELECT value FROM settings WHERE name = '${ENTRY_DOCUMENTS_VERSION_SETTING}'`).pluck().get() as string | undefined;
  if (storedVersion(db) === ENTRY_DOCUMENTS_VERSION) return false;
  return db.transaction(
    (tx) => {
      if (storedVersion(tx) === ENTRY_DOCUMENTS_VERSION) return false;
      prepared(tx, 'DELETE FROM entry_documents').run();
      prepared(
        tx,
        `INSERT INTO settings (name, value) VALUES ('${ENTRY_DOCUMENTS_VERSION_SETTING}', ?)
           ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
      ).run(ENTRY_DOCUMENTS_VERSION);
      return true;
    },
    { behavior: 'immediate' },
  );
}

/**
 * The end of a bulk load (src/storage/sqlite/bulk.ts): the documents its last records reach,
 * inside its transaction.
 */
export function finishBulkLoadDocuments(client: Database.Database): void {
  const tx = drizzle({ client, schema });
  deferring.delete(client);
  const reached = takeReachedEntries(tx);
  if (reached === undefined) return;
  removeEntryDocuments(tx, [...reached.stored, ...reached.embedders]);
}

/**
 * Renders up to `limit` entries that have no document among the ids just after `after`, in
 * one write transaction of its own (the data does not change: no revision is bumped). Returns
 * the id to go on after, or null when no entry lies past `after`.
 */
export function writeMissingEntryDocuments(db: Db, after: number, limit: number, locked?: () => void): number | null {
  const missing = (tx: Tx) => {
    const last = prepared(tx, 'SELECT max(id) FROM entries').pluck().get() as number | null;
    const range = missingDocumentsRange(after, last);
    if (range === null) return null;
    const ids = prepared(
      tx,
      `SELECT e.id FROM entries e WHERE e.id > ? AND e.id <= ?
          AND NOT EXISTS (SELECT 1 FROM entry_documents d WHERE d.entry_id = e.id)
        ORDER BY e.id LIMIT ?`,
    )
      .pluck()
      .all(range.from, range.to, limit) as number[];
    return { ids, next: missingDocumentsNext(ids, limit, range) };
  };
  // read first, without the write lock: a range where nothing is missing (every range, once
  // the documents are all written) keeps other writers, in any process, from waiting on it
  const seen = missing(db);
  if (seen === null) return null;
  if (seen.ids.length === 0) return seen.next;
  return db.transaction(
    (tx) => {
      locked?.();
      const found = missing(tx);
      if (found === null) return null;
      if (found.ids.length > 0) writeEntryDocuments(tx, found.ids);
      return found.next;
    },
    { behavior: 'immediate' },
  );
}

/** Renders every entry that has no document (tests, and tools that hold the database alone). */
export function writeAllMissingEntryDocuments(db: Db): void {
  for (let after: number | null = 0; after !== null; ) after = writeMissingEntryDocuments(db, after, 5000);
}
