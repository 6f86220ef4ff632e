// The oracle of the stored entry documents (src/storage/documents.ts): each entry rendered from
// its rows, as loadEntries and JSON.stringify give it, on either engine.
import type { FastifyInstance } from 'fastify';
import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import type { Db } from '../../src/storage/sqlite/client.js';
import { renderEntries } from '../../src/storage/sqlite/documents.js';
import { loadEntries } from '../../src/storage/sqlite/entries.js';
import { SqliteStorage } from '../../src/storage/sqlite/index.js';
import type { PgDb } from '../../src/storage/postgres/client.js';
import { renderEntries as renderPgEntries } from '../../src/storage/postgres/documents.js';
import { loadEntries as loadPgEntries } from '../../src/storage/postgres/entries.js';
import { PostgresStorage } from '../../src/storage/postgres/index.js';

/** Languages a document is read in: every one, those the data has, one it lacks, another spelling. */
export const DOCUMENT_LANGS = [undefined, 'en', 'ar', 'ru', 'EN-gb'] as const;

/** What the checks read of an engine's database, besides what the API shows. */
export interface DocumentsProbe {
  /** Every entry's id, in order. */
  entryIds(): Promise<number[]>;
  /** The ids of the entries that have a document, in order. */
  documentedIds(): Promise<number[]>;
  /** Documents of no entry. */
  orphans(): Promise<number>;
  /** Documents that contain `text` in their body. */
  containing(text: string): Promise<number>;
  /** The entries read through their documents, as renderEntries gives them. */
  stored(ids: number[], lang: string | undefined): Promise<string[]>;
  /** The entries rendered from their rows. */
  oracle(ids: number[], lang: string | undefined): Promise<string[]>;
  /** The keys of a kind's records, in id order. */
  keys(table: 'sources' | 'places' | 'actors' | 'entries', kind?: 'event' | 'statement'): Promise<string[]>;
}

/* eslint-disable @typescript-eslint/require-await -- better-sqlite3 answers synchronously; the probe's methods are async for PostgreSQL's */
export function sqliteProbe(db: Db): DocumentsProbe {
  const ids = (text: string) => db.$client.prepare(text).pluck().all() as number[];
  return {
    entryIds: async () => ids('SELECT id FROM entries ORDER BY id'),
    documentedIds: async () => ids('SELECT d.entry_id FROM entry_documents d JOIN entries e ON e.id = d.entry_id ORDER BY d.entry_id'),
    orphans: async () => db.$client.prepare('SELECT count(*) FROM entry_documents WHERE entry_id NOT IN (SELECT id FROM entries)').pluck().get() as number,
    containing: async (text) =>
      db.$client.prepare("SELECT count(*) FROM entry_documents WHERE instr(CAST(body AS TEXT), ?) > 0").pluck().get(text) as number,
    stored: async (list, lang) => renderEntries(db, list, lang).map((b) => b.toString()),
    oracle: async (list, lang) => loadEntries(db, list, lang).map((e) => JSON.stringify(e)),
    keys: async (table, kind) =>
      db.$client.prepare(`SELECT key FROM ${table} ${kind ? `WHERE kind = '${kind}'` : ''} ORDER BY id`).pluck().all() as string[],
  };
}
/* eslint-enable @typescript-eslint/require-await */

export function pgProbe(db: PgDb): DocumentsProbe {
  const ids = async (text: string) => (await db.$client.query<{ id: number }>(text)).rows.map((r) => r.id);
  const count = async (text: string, values: unknown[] = []) => Number((await db.$client.query<{ n: string }>(text, values)).rows[0]!.n);
  return {
    entryIds: () => ids('SELECT id FROM entries ORDER BY id'),
    documentedIds: () => ids('SELECT d.entry_id AS id FROM entry_documents d JOIN entries e ON e.id = d.entry_id ORDER BY d.entry_id'),
    orphans: () => count('SELECT count(*) AS n FROM entry_documents WHERE entry_id NOT IN (SELECT id FROM entries)'),
    containing: (text) => count("SELECT count(*) AS n FROM entry_documents WHERE position($1::text IN convert_from(body, 'UTF8')) > 0", [text]),
    stored: async (list, lang) => (await renderPgEntries(db, list, lang)).map((b) => b.toString()),
    oracle: async (list, lang) => (await loadPgEntries(db, list, lang)).map((e) => JSON.stringify(e)),
    keys: async (table, kind) =>
      (await db.execute<{ key: string }>(sql.raw(`SELECT key FROM ${table} ${kind ? `WHERE kind = '${kind}'` : ''} ORDER BY id`))).rows.map((r) => r.key),
  };
}

/** The probe of the database behind `app.storage`, whichever its engine. */
export function documentsProbe(app: FastifyInstance): DocumentsProbe {
  if (app.storage instanceof SqliteStorage) return sqliteProbe(app.storage.db);
  if (app.storage instanceof PostgresStorage) return pgProbe(app.storage.db);
  throw new Error('documentsProbe: an engine this test does not know');
}

/** Resolves once the engine behind `app.storage` has rendered every document its entries lack. */
export async function documentsWritten(app: FastifyInstance): Promise<void> {
  if (app.storage instanceof SqliteStorage || app.storage instanceof PostgresStorage) return app.storage.writeMissingDocuments();
  throw new Error('documentsWritten: an engine this test does not know');
}

const probeOf = (target: Db | DocumentsProbe): DocumentsProbe => ('entryIds' in target ? target : sqliteProbe(target));

/**
 * Every entry has a document, and each reads, in every language, as the entry rendered from its
 * rows; `where` says when it is checked.
 */
export async function expectDocumentsCurrent(target: Db | DocumentsProbe, where: string): Promise<void> {
  const probe = probeOf(target);
  const ids = await probe.entryIds();
  expect(await probe.documentedIds(), `${where}: entries with a document`).toEqual(ids);
  expect(await probe.orphans(), `${where}: documents of no entry`).toBe(0);
  for (const lang of DOCUMENT_LANGS) {
    const stored = await probe.stored(ids, lang);
    const oracle = await probe.oracle(ids, lang);
    expect(stored.length, where).toBe(oracle.length);
    stored.forEach((document, i) => expect(document, `${where}: entry ${ids[i]}, lang ${lang}`).toBe(oracle[i]));
  }
}

/**
 * Every document that is stored reads, in every language, as its entry rendered from its rows
 * (entries may lack one: a bulk load leaves them to be rendered after it).
 */
export async function expectStoredDocumentsCurrent(target: Db | DocumentsProbe, where: string): Promise<void> {
  const probe = probeOf(target);
  const documented = await probe.documentedIds();
  expect(await probe.orphans(), `${where}: documents of no entry`).toBe(0);
  for (const lang of DOCUMENT_LANGS) {
    const stored = await probe.stored(documented, lang);
    const oracle = await probe.oracle(documented, lang);
    stored.forEach((document, i) => expect(document, `${where}: entry ${documented[i]}, lang ${lang}`).toBe(oracle[i]));
  }
}

/** The PostgreSQL pool behind `app.storage`; fails the test when the app runs another engine. */
export function pgDb(app: FastifyInstance): PgDb {
  if (!(app.storage instanceof PostgresStorage)) throw new Error(`this test checks the PostgreSQL engine, not ${app.storage.engine}`);
  return app.storage.db;
}
