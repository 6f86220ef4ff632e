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
import { ensureEntryDocuments as ensurePgEntryDocuments } from '../src/storage/postgres/documents.js';
import { documentsWritten, expectDocumentsCurrent, expectStoredDocumentsCurrent, pgDb, pgProbe } from './support/documents.js';
import { describePg } from './support/pg.js';
import { databaseBefore } from './support/migrations.js';
import { sqliteDb } from './support/sqlite.js';

const TABLES = ['sources', 'places', 'actors', 'actor_affiliations', 'entries', 'entry_actors', 'entry_places', 'entry_events', 'entry_tags', 'citations'];

describe('entry documents of a database from before them', () => {
  let seeded: TestApp;
  beforeAll(async () => {
    seeded = await buildTestApp({ seed: true });
  });
  afterAll(() => seeded.close());

  it('are rendered for every stored entry when migration 0006 runs', async () => {
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
      await expectDocumentsCurrent(db, 'after migration 0006');
      expect(client.prepare("SELECT value FROM settings WHERE name = 'entry_documents_version'").pluck().get()).toBe(ENTRY_DOCUMENTS_VERSION);
      client.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('are rendered again when they were rendered by another version, and left alone otherwise', async () => {
    const db = sqliteDb(seeded.app);
    expect(ensureEntryDocuments(db)).toBe(false);
    db.$client.exec("UPDATE settings SET value = 'older' WHERE name = 'entry_documents_version'");
    // documents as an older version might have left them: one stale, one missing
    db.$client.exec("UPDATE entry_documents SET body = CAST('{}' AS BLOB), languages = NULL WHERE entry_id = (SELECT min(entry_id) FROM entry_documents)");
    db.$client.exec('DELETE FROM entry_documents WHERE entry_id = (SELECT max(entry_id) FROM entry_documents)');
    expect(ensureEntryDocuments(db)).toBe(true);
    expect(db.$client.prepare('SELECT count(*) FROM entry_documents').pluck().get()).toBe(0);
    writeAllMissingEntryDocuments(db);
    await expectDocumentsCurrent(db, 'after a new version');
    expect(ensureEntryDocuments(db)).toBe(false);
  });
});

describePg('entry documents of a PostgreSQL database from before them, or from another version', () => {
  it('are removed and rendered again after start-up when another version rendered them, and left alone otherwise', async () => {
    const first = await buildTestApp({ engine: 'postgres', seed: true });
    let second: TestApp | undefined;
    try {
      const db = pgDb(first.app);
      const probe = pgProbe(db);
      await expectDocumentsCurrent(probe, 'after the seed');
      expect(await ensurePgEntryDocuments(db)).toBe(false);
      // documents as an older version might have left them: one stale, one missing
      await db.$client.query("UPDATE settings SET value = 'older' WHERE name = 'entry_documents_version'");
      await db.$client.query("UPDATE entry_documents SET body = convert_to('{}', 'UTF8'), languages = NULL WHERE entry_id = (SELECT min(entry_id) FROM entry_documents)");
      await db.$client.query('DELETE FROM entry_documents WHERE entry_id = (SELECT max(entry_id) FROM entry_documents)');
      // a server starting on it removes them, and renders them after start-up
      second = await buildTestApp({ sameDatabaseAs: first });
      const version = await db.$client.query<{ value: string }>("SELECT value FROM settings WHERE name = 'entry_documents_version'");
      expect(version.rows[0]?.value).toBe(ENTRY_DOCUMENTS_VERSION);
      await expectStoredDocumentsCurrent(probe, 'after the start-up of a new version');
      await documentsWritten(second.app);
      await expectDocumentsCurrent(probe, 'after a new version');
      expect(await ensurePgEntryDocuments(db)).toBe(false);
    } finally {
      await second?.close();
      await first.close();
    }
  });

  it('are rendered for every stored entry of a database where none were kept', async () => {
    const t = await buildTestApp({ engine: 'postgres', seed: true });
    try {
      const db = pgDb(t.app);
      // as the engine left a database before it kept documents: the table empty, no version
      await db.$client.query("DELETE FROM settings WHERE name = 'entry_documents_version'");
      await db.$client.query('DELETE FROM entry_documents');
      expect(await ensurePgEntryDocuments(db)).toBe(true);
      await documentsWritten(t.app);
      await expectDocumentsCurrent(pgProbe(db), 'after the pass');
    } finally {
      await t.close();
    }
  });
});
