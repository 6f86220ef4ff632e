// The oracle of the stored entry documents (src/storage/documents.ts): each entry rendered from
// its rows, as loadEntries and JSON.stringify give it.
import { expect } from 'vitest';
import type { Db } from '../../src/storage/sqlite/client.js';
import { renderEntries } from '../../src/storage/sqlite/documents.js';
import { loadEntries } from '../../src/storage/sqlite/entries.js';

/** Languages a document is read in: every one, those the data has, one it lacks, another spelling. */
export const DOCUMENT_LANGS = [undefined, 'en', 'ar', 'ru', 'EN-gb'] as const;

/**
 * Every entry has a document, and each reads, in every language, as the entry rendered from its
 * rows; `where` says when it is checked.
 */
export function expectDocumentsCurrent(db: Db, where: string): void {
  const ids = db.$client.prepare('SELECT id FROM entries ORDER BY id').pluck().all() as number[];
  const documented = db.$client.prepare('SELECT entry_id FROM entry_documents ORDER BY entry_id').pluck().all() as number[];
  expect(documented, `${where}: entries with a document`).toEqual(ids);
  for (const lang of DOCUMENT_LANGS) {
    const stored = renderEntries(db, ids, lang).map((b) => b.toString());
    const oracle = loadEntries(db, ids, lang).map((e) => JSON.stringify(e));
    expect(stored.length, where).toBe(oracle.length);
    stored.forEach((document, i) => expect(document, `${where}: entry ${ids[i]}, lang ${lang}`).toBe(oracle[i]));
  }
}

/**
 * Every document that is stored reads, in every language, as its entry rendered from its rows
 * (entries may lack one: a bulk load leaves them to be rendered after it).
 */
export function expectStoredDocumentsCurrent(db: Db, where: string): void {
  const documented = db.$client
    .prepare('SELECT d.entry_id FROM entry_documents d JOIN entries e ON e.id = d.entry_id ORDER BY d.entry_id')
    .pluck()
    .all() as number[];
  const orphans = db.$client.prepare('SELECT count(*) FROM entry_documents WHERE entry_id NOT IN (SELECT id FROM entries)').pluck().get();
  expect(orphans, `${where}: documents of no entry`).toBe(0);
  for (const lang of DOCUMENT_LANGS) {
    const stored = renderEntries(db, documented, lang).map((b) => b.toString());
    const oracle = loadEntries(db, documented, lang).map((e) => JSON.stringify(e));
    stored.forEach((document, i) => expect(document, `${where}: entry ${documented[i]}, lang ${lang}`).toBe(oracle[i]));
  }
}
