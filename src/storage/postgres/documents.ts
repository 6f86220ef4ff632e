import { sql } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import {
  DocumentRenderer,
  EMBEDDED_KINDS,
  ENTRY_DOCUMENTS_PAGE,
  ENTRY_DOCUMENTS_VERSION,
  ENTRY_DOCUMENTS_VERSION_SETTING,
  EntryDocumentChanges,
  LanguageChoices,
  REACHED_RENDER_LIMIT,
  documentJson,
  missingDocumentsNext,
  missingDocumentsRange,
  type EmbeddedKind,
} from '../documents.js';
import { loadEntries, loadEntriesWith } from './entries.js';
import { runPrepared } from './prepared.js';
import type * as schema from './schema.js';
import type { PgTransaction, PgTx } from './transactions.js';

/**
 * The rendered document of every entry (`entry_documents`, see src/storage/documents.ts), kept
 * current in the transaction of every write that changes what an entry renders, as on SQLite
 * (src/storage/sqlite/documents.ts): every server on the database reads current documents.
 *
 * Why a document rendered inside the write transaction is current: a write transaction takes
 * the revision row's lock first (writeTransaction, an import batch, a bulk load), so no other
 * write is under way while it holds it, and under READ COMMITTED each of its statements reads
 * with a snapshot taken after that lock was granted, which holds every write committed before
 * it, and its own. The documents it renders at its end read the rows as they will be committed.
 *
 * Only transactions that asked for it ({@link trackEntryDocuments}) follow their changes: a
 * bulk load into an empty database has no documents to keep current (they are rendered after
 * it), and a transaction that is rolled back by design (a dry run, a past revision rendered)
 * has nothing to keep.
 */

/** What each tracking write transaction changed, not yet in documents. */
const changesByTransaction = new WeakMap<PgTx, EntryDocumentChanges>();

/** From here until it commits, the writes of `tx` keep the documents they reach current ({@link refreshEntryDocuments}). */
export function trackEntryDocuments(tx: PgTx): void {
  changesByTransaction.set(tx, new EntryDocumentChanges());
}

/** The entry `id` was created or replaced (its rows and children are all written). */
export async function entryStored(tx: PgTx, id: number): Promise<void> {
  if (changesByTransaction.get(tx)?.entryStored(id)) await refreshEntryDocuments(tx);
}

/** A record other entries embed was replaced: their documents change with it. */
export async function embeddedRecordStored(tx: PgTx, kind: EmbeddedKind, id: number): Promise<void> {
  if (changesByTransaction.get(tx)?.embeddedRecordStored(kind, id)) await refreshEntryDocuments(tx);
}

/**
 * Entries that embed the records of `ids` (as on SQLite): naming an actor (any role), or
 * spoken by an actor affiliated to it; at a place; citing a source; under an event, said in
 * its context, or about it.
 */
function embedding(kind: EmbeddedKind, ids: number[]) {
  const list = sql`${sql.param(ids)}::integer[]`;
  switch (kind) {
    case 'actor':
      return sql`SELECT entry_id AS id FROM entry_actors WHERE actor_id = ANY(${list})
        UNION SELECT id FROM entries WHERE speaker_id IN (SELECT actor_id FROM actor_affiliations WHERE other_actor_id = ANY(${list}))`;
    case 'place':
      return sql`SELECT entry_id AS id FROM entry_places WHERE place_id = ANY(${list})`;
    case 'source':
      return sql`SELECT entry_id AS id FROM citations WHERE source_id = ANY(${list})`;
    case 'event':
      return sql`SELECT id FROM entries WHERE parent_id = ANY(${list})
        UNION SELECT id FROM entries WHERE context_id = ANY(${list})
        UNION SELECT entry_id AS id FROM entry_events WHERE event_id = ANY(${list})`;
  }
}

/** Tracking transactions that left documents to the missing-documents pass. */
const leavingDocuments = new WeakSet<PgTx>();

/** Passes over missing documents of this process's storages, started when a write left them documents. */
const passStarters = new Set<() => void>();

/** Calls `start` whenever a write of this process has committed leaving documents to the pass; returns its removal. */
export function onEntryDocumentsLeft(start: () => void): () => void {
  passStarters.add(start);
  return () => passStarters.delete(start);
}

/**
 * Once a tracking transaction has committed: if it left documents to the pass (see
 * REACHED_RENDER_LIMIT), the passes start. Each storage's pass looks through its own
 * database, which costs little where nothing is missing.
 */
export function afterTrackedCommit(tx: PgTx): void {
  if (!leavingDocuments.has(tx)) return;
  for (const start of passStarters) start();
}

/**
 * Writes the documents the changes of `tx` so far reach, inside it; past REACHED_RENDER_LIMIT
 * entries that only embed a changed record, those are removed instead and left to the
 * missing-documents pass (call {@link afterTrackedCommit} once `tx` has committed).
 */
export async function refreshEntryDocuments(tx: PgTx): Promise<void> {
  const changes = changesByTransaction.get(tx);
  if (changes === undefined) return;
  changesByTransaction.set(tx, new EntryDocumentChanges());
  const stored = changes.entries;
  const embedders = new Set<number>();
  for (const kind of EMBEDDED_KINDS) {
    const records = changes.embedded[kind];
    if (records.size === 0) continue;
    const { rows } = await tx.execute<{ id: number }>(embedding(kind, [...records]));
    for (const row of rows) if (!stored.has(row.id)) embedders.add(row.id);
  }
  if (embedders.size > REACHED_RENDER_LIMIT) {
    await tx.execute(sql`DELETE FROM entry_documents WHERE entry_id = ANY(${sql.param([...embedders])}::integer[])`);
    leavingDocuments.add(tx);
  } else {
    for (const id of embedders) stored.add(id);
  }
  if (stored.size === 0) return;
  // in id order: entries written together are near each other in every table
  await writeEntryDocuments(
    tx,
    [...stored].sort((a, b) => a - b),
  );
}

/** Renders and stores the documents of `ids`; those of ids that are no entry are removed. */
export async function writeEntryDocuments(tx: PgTx, ids: number[]): Promise<void> {
  for (let at = 0; at < ids.length; at += ENTRY_DOCUMENTS_PAGE) {
    const page = ids.slice(at, at + ENTRY_DOCUMENTS_PAGE);
    const renderer = new DocumentRenderer();
    const stored: number[] = [];
    const bodies: Buffer[] = [];
    const languages: (string | null)[] = [];
    for (const entry of await loadEntriesWith(tx, page, renderer.pick)) {
      const document = renderer.render(entry);
      stored.push(entry.id);
      bodies.push(document.body);
      languages.push(document.languages);
    }
    const storedIds = new Set(stored);
    const gone = page.filter((id) => !storedIds.has(id));
    // one statement for the page: its documents upserted, those of entries gone removed
    await tx.execute(sql`
      WITH removed AS (DELETE FROM entry_documents WHERE entry_id = ANY(${sql.param(gone)}::integer[]))
      INSERT INTO entry_documents (entry_id, body, languages)
        SELECT * FROM unnest(${sql.param(stored)}::integer[], ${sql.param(bodies)}::bytea[], ${sql.param(languages)}::text[])
        ON CONFLICT (entry_id) DO UPDATE SET body = excluded.body, languages = excluded.languages`);
  }
}

/**
 * The JSON of the entries of `ids` that exist, in that order, in `lang`: each the bytes of
 * JSON.stringify of its loadEntries value, read from its document in one statement. An entry
 * without a document (after a bulk load, until the pass has rendered it) is rendered from its rows.
 */
export async function renderEntries(tx: PgTx, ids: number[], lang: string | undefined): Promise<Buffer[]> {
  if (ids.length === 0) return [];
  const rows = await runPrepared<{ entry_id: number; body: Buffer; languages: string | null }>(
    tx,
    sql`SELECT entry_id, body, languages FROM entry_documents WHERE entry_id = ANY(${sql.param(ids)}::integer[])`,
  );
  const found = new Map<number, Buffer>();
  const choices = lang === undefined ? undefined : new LanguageChoices(lang);
  for (const { entry_id: id, body, languages } of rows) found.set(id, documentJson({ body, languages }, lang, choices));
  if (found.size < new Set(ids).size) {
    for (const entry of await loadEntries(tx, ids.filter((id) => !found.has(id)), lang)) found.set(entry.id, Buffer.from(JSON.stringify(entry)));
  }
  return ids.flatMap((id) => found.get(id) ?? []);
}

/**
 * Takes the write lock without changing the data (no revision bumped): the revision row,
 * which every write transaction locks first, so that none is under way until `tx` ends.
 */
async function lockWrites(tx: PgTransaction): Promise<void> {
  await tx.execute(sql`SELECT 1 FROM settings WHERE name = 'revision' FOR UPDATE`);
}

async function storedVersion(tx: PgTx): Promise<string | undefined> {
  const { rows } = await tx.execute<{ value: string }>(sql`SELECT value FROM settings WHERE name = ${ENTRY_DOCUMENTS_VERSION_SETTING}`);
  return rows[0]?.value;
}

/**
 * Removes the documents rendered by another version of this code (or none yet: a database
 * from before this engine kept them), to be rendered again by the pass over the missing ones
 * after start-up, since a large database takes minutes. A server that finds the work done by
 * another meanwhile does nothing. True when it removed them.
 */
export async function ensureEntryDocuments(db: NodePgDatabase<typeof schema>): Promise<boolean> {
  if ((await storedVersion(db)) === ENTRY_DOCUMENTS_VERSION) return false;
  return db.transaction(async (tx) => {
    await lockWrites(tx);
    if ((await storedVersion(tx)) === ENTRY_DOCUMENTS_VERSION) return false;
    await tx.execute(sql`DELETE FROM entry_documents`);
    await tx.execute(sql`
      INSERT INTO settings (name, value) VALUES (${ENTRY_DOCUMENTS_VERSION_SETTING}, ${ENTRY_DOCUMENTS_VERSION})
      ON CONFLICT (name) DO UPDATE SET value = excluded.value`);
    return true;
  });
}

/**
 * Renders up to `limit` entries that have no document among the ids just after `after`, in a
 * transaction of its own that holds the write lock (the data does not change: no revision is
 * bumped), waiting for it at most `lockWaitMs`. Returns the id to go on after, or null when no
 * entry lies past `after`.
 */
export async function writeMissingEntryDocuments(
  db: NodePgDatabase<typeof schema>,
  after: number,
  limit: number,
  lockWaitMs: number,
): Promise<number | null> {
  const missing = async (tx: PgTx) => {
    const { rows } = await tx.execute<{ last: number | null }>(sql`SELECT max(id) AS last FROM entries`);
    const range = missingDocumentsRange(after, rows[0]?.last ?? null);
    if (range === null) return null;
    const found = await tx.execute<{ id: number }>(sql`
      SELECT e.id FROM entries e WHERE e.id > ${range.from} AND e.id <= ${range.to}
         AND NOT EXISTS (SELECT 1 FROM entry_documents d WHERE d.entry_id = e.id)
       ORDER BY e.id LIMIT ${limit}`);
    const ids = found.rows.map((row) => row.id);
    return { ids, next: missingDocumentsNext(ids, limit, range) };
  };
  // read first, without the write lock: a range where nothing is missing (every range, once
  // the documents are all written) keeps writers, on any server, from waiting on it
  const seen = await missing(db);
  if (seen === null) return null;
  if (seen.ids.length === 0) return seen.next;
  return db.transaction(async (tx) => {
    // SET LOCAL takes no parameters: the number is written into the statement, an integer
    await tx.execute(sql.raw(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(lockWaitMs))}`));
    await lockWrites(tx);
    const found = await missing(tx);
    if (found === null) return null;
    if (found.ids.length > 0) await writeEntryDocuments(tx, found.ids);
    return found.next;
  });
}
