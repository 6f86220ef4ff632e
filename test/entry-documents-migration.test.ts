// Migration 0006 adds entry_documents; the entries stored before it get their documents at
// start-up (ensureEntryDocuments, run by runMigrations), as they do again whenever
// ENTRY_DOCUMENTS_VERSION changes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTRY_DOCUMENTS_VERSION, ensureEntryDocuments, writeAllMissingEntryDocuments } from '../src/storage/sqlite/documents.js';
import { runMigrations } from '../src/storage/sqlite/migrate.js';
import { buildTestApp, type TestApp } from './helpers.js';
import { expectDocumentsCurrent } from './support/documents.js';
import { databaseBefore } from './support/migrations.js';
import { sqliteDb } from './support/sqlite.js';

const TABLES = ['sources', 'places', 'actors', 'actor_affiliations', 'entries', 'entry_actors', 'entry_places', 'entry_events', 'entry_tags', 'citations'];

describe('entry documents of a database from before them', () => {
  let seeded: TestApp;
  beforeAll(async () => {
    seeded = await buildTestApp({ seed: true });
  });
  afterAll(() => seeded.close());

  it('are rendered for every stored entry when migration 0006 runs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'annals-documents-migration-'));
    try {
      const { client, db } = databaseBefore(dir, '0006_entry_documents');
      // the seed's rows as the code of then stored them: the same tables, without documents
      client.exec(`ATTACH DATABASE '${seeded.databasePath.replaceAll("'", "''")}' AS seeded`);
      for (const table of TABLES) client.exec(`INSERT INTO main.${table} SELECT * FROM seeded.${table}`);
      client.exec('DETACH DATABASE seeded');
      const entries = client.prepare('SELECT count(*) FROM entries').pluck().get() as number;
      expect(entries).toBeGreaterThan(20);
      runMigrations(db);
      // start-up leaves them to be rendered after it, a page at a time
      expect(client.prepare('SELECT count(*) FROM entry_documents').pluck().get()).toBe(0);
      writeAllMissingEntryDocuments(db);
      expectDocumentsCurrent(db, 'after migration 0006');
      expect(client.prepare("SELECT value FROM settings WHERE name = 'entry_documents_version'").pluck().get()).toBe(ENTRY_DOCUMENTS_VERSION);
      client.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('are rendered again when they were rendered by another version, and left alone otherwise', () => {
    const db = sqliteDb(seeded.app);
    expect(ensureEntryDocuments(db)).toBe(false);
    db.$client.exec("UPDATE settings SET value = 'older' WHERE name = 'entry_documents_version'");
    // documents as an older version might have left them: one stale, one missing
    db.$client.exec("UPDATE entry_documents SET body = CAST('{}' AS BLOB), languages = NULL WHERE entry_id = (SELECT min(entry_id) FROM entry_documents)");
    db.$client.exec('DELETE FROM entry_documents WHERE entry_id = (SELECT max(entry_id) FROM entry_documents)');
    expect(ensureEntryDocuments(db)).toBe(true);
    expect(db.$client.prepare('SELECT count(*) FROM entry_documents').pluck().get()).toBe(0);
    writeAllMissingEntryDocuments(db);
    expectDocumentsCurrent(db, 'after a new version');
    expect(ensureEntryDocuments(db)).toBe(false);
  });
});
