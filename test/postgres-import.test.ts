// Import sessions on PostgreSQL, against the SQLite engine's answers for the same input: the
// reports of importNdjson, what is stored (by its export), dry runs and failed batches.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { importNdjson, type ImportReport } from '../src/import/ndjson.js';
import type { Storage } from '../src/storage/port.js';
import type { ImportSessionOptions } from '../src/storage/import.js';
import { isBusyError } from '../src/storage/errors.js';
import { PostgresStorage } from '../src/storage/postgres/index.js';
import { SqliteStorage } from '../src/storage/sqlite/index.js';
import { AUTH, buildTestApp, ndjson, recordImportModes, type TestApp } from './helpers.js';
import { describePg, freshPgDatabase } from './support/pg.js';
import { splitTrailer } from './support/roundtrip.js';

type Json = Record<string, any>;

const seedText = readFileSync(new URL('../data/seed/kazakhstan-january-2022.ndjson', import.meta.url), 'utf8');
const seedLines = seedText.split('\n').filter((line) => line.trim() !== '');

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Pair {
  sqlite: Storage;
  postgres: PostgresStorage;
  pgUrl: string;
}

/** A fresh database on each engine. */
async function openPair(): Promise<Pair> {
  const base = { seedWhenEmpty: false, logLevel: 'silent' as const };
  const dir = mkdtempSync(join(tmpdir(), 'annals-pg-import-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const sqlite = await SqliteStorage.open({ ...base, databasePath: join(dir, 'annals.db'), optimizeIntervalMs: 0 });
  cleanups.push(() => sqlite.close());
  const database = await freshPgDatabase();
  cleanups.push(() => database.drop());
  const postgres = await PostgresStorage.open({ ...base, databasePath: '', postgres: { url: database.url, poolSize: 4 } });
  cleanups.push(() => postgres.close());
  return { sqlite, postgres, pgUrl: database.url };
}

const run = async (storage: Storage, text: string, session: ImportSessionOptions = {}, options: { batchSize?: number; stopOnError?: boolean } = {}) =>
  importNdjson(await storage.beginImport(session), Readable.from([Buffer.from(text)]), options);

async function exported(storage: Storage): Promise<{ records: string; trailer: Json | null }> {
  const chunks: Buffer[] = [];
  for await (const chunk of storage.exportStream(null)) chunks.push(chunk as Buffer);
  return splitTrailer(Buffer.concat(chunks).toString('utf8'));
}

/** The report without what differs between runs (timings). */
const comparable = (report: ImportReport) => JSON.parse(JSON.stringify(report, (key, value: unknown) => (key === 'elapsedMs' ? undefined : value))) as Json;

/** Imports `text` on both engines, expects the same report, and returns it. */
async function importBoth(pair: Pair, text: string, session: ImportSessionOptions = {}, options: { batchSize?: number; stopOnError?: boolean } = {}) {
  const onSqlite = comparable(await run(pair.sqlite, text, session, options));
  const onPostgres = comparable(await run(pair.postgres, text, session, options));
  expect(onPostgres).toEqual(onSqlite);
  return onPostgres;
}

async function expectSameExport(pair: Pair) {
  const postgres = await exported(pair.postgres);
  const sqlite = await exported(pair.sqlite);
  expect(postgres.records).toBe(sqlite.records);
  expect(postgres.trailer?.counts).toEqual(sqlite.trailer?.counts);
  return postgres;
}

async function countRows(url: string, tables: string[]): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const out: Record<string, number> = {};
    for (const table of tables) out[table] = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
    return out;
  } finally {
    await client.end();
  }
}

const RECORD_TABLES = ['sources', 'places', 'actors', 'entries', 'timelines', 'citations', 'entry_actors', 'entry_places', 'entry_events', 'entry_tags'];

const SOURCE_TEXT = 'قال أمرييف إن الاستقرار مهم. The secretary general spoke in Istanbul.';
const source = { kind: 'source', key: 'src:test', type: 'news_article', title: { en: 'A test source' }, lang: 'ar', text: SOURCE_TEXT };
const excerptAt = (start: number, end: number) => ({ source: 'src:test', excerpt: Array.from(SOURCE_TEXT).slice(start, end).join(''), start, end });
const placeKz = { kind: 'place', key: 'place:kz', type: 'country', name: { en: 'Kazakhstan' }, countryCode: 'KZ' };
const actorOts = { kind: 'actor', key: 'actor:ots', type: 'organization', name: { en: 'Organization of Turkic States' } };
const actorAmreyev = { kind: 'actor', key: 'actor:amreyev', type: 'person', name: { en: 'Amreyev' }, affiliations: [{ actor: 'actor:ots', role: 'secretary_general' }] };
const umbrella = { kind: 'event', key: 'event:unrest', type: 'unrest', date: '2022-01-02/..', title: { en: 'Unrest' }, places: ['place:kz'] };
const protest = { kind: 'event', key: 'event:protest', type: 'protest', date: '2022-01-02', title: { en: 'Protests' }, places: ['place:kz'], tags: ['fuel'], parent: 'event:unrest' };
const meeting = { kind: 'event', key: 'event:meeting', type: 'meeting', date: '2022-01-11', title: { en: 'Meeting' }, actors: [{ actor: 'actor:ots', role: 'organizer' }], sources: [excerptAt(0, 10)] };
const statement = {
  kind: 'statement',
  key: 'stmt:stability',
  type: 'paraphrase',
  date: '2022-01-11',
  speaker: 'actor:amreyev',
  text: { en: 'Stability matters' },
  context: 'event:meeting',
  about: { actors: [], places: ['place:kz'], events: ['event:protest'] },
  sources: [excerptAt(14, 27)],
};

describePg('import sessions', () => {
  it('imports the seed file as SQLite does: the same report, the same export; again unchanged; one changed line updated', async () => {
    const pair = await openPair();
    const first = await importBoth(pair, seedText);
    expect(first).toMatchObject({ lines: seedLines.length, created: seedLines.length, refused: 0 });
    const before = await expectSameExport(pair);
    expect(await importBoth(pair, seedText)).toMatchObject({ created: 0, updated: 0, unchanged: seedLines.length });
    expect((await exported(pair.postgres)).records).toBe(before.records);
    const changedKey = 'event:kz-protests-2022-01-02';
    const changed = seedLines
      .map((line) => {
        const record = JSON.parse(line) as Json;
        if (record.key !== changedKey) return line;
        record.title.en = 'Protests erupt over gas prices';
        return JSON.stringify(record);
      })
      .join('\n');
    expect(changed).toContain('Protests erupt over gas prices');
    expect(await importBoth(pair, changed)).toMatchObject({ created: 0, updated: 1, unchanged: seedLines.length - 1 });
    await expectSameExport(pair);
  }, 60_000);

  /** Lines with forward references (a statement before its speaker, context and events) and every kind of refusal. */
  const refusalsAndForwardReferences = () => [
    JSON.stringify(statement), // forward: speaker, context, events
    JSON.stringify(source),
    '{"kind":"place",',
    JSON.stringify(placeKz),
    JSON.stringify({ ...umbrella, key: 'event:nowhere', places: ['place:kz', 'place:nowhere'] }),
    JSON.stringify(protest),
    JSON.stringify(actorAmreyev),
    JSON.stringify(actorOts),
    JSON.stringify({ ...meeting, key: 'event:bad-excerpt', sources: [{ ...excerptAt(0, 10), excerpt: 'not the text' }] }),
    JSON.stringify(umbrella),
    JSON.stringify(meeting),
    JSON.stringify({ ...placeKz, key: 'actor:ots' }), // a key another kind holds
    JSON.stringify({ ...placeKz, key: 'place:loop', parent: 'place:loop' }),
  ];

  it('resolves forward references across batches, refuses bad lines with the same reasons, and stores nothing of a refused record', async () => {
    const pair = await openPair();
    const lines = [
      ...refusalsAndForwardReferences(),
    ];
    const report = await importBoth(pair, `${lines.join('\n')}\n`, {}, { batchSize: 2 });
    expect(report).toMatchObject({ created: 8 });
    expect(report.refused).toBeGreaterThanOrEqual(4);
    await expectSameExport(pair);
    const rows = await countRows(pair.pgUrl, ['entries', 'citations']);
    expect(rows).toEqual({ entries: 4, citations: 2 });
  }, 60_000);

  it('stops at the first refused line with stopOnError as SQLite does', async () => {
    const pair = await openPair();
    // stopped at the place without a type; the unknown place may still come until then, and is refused at the stop
    const text = ndjson([source, placeKz, { ...umbrella, places: ['place:none'] }, actorOts, { kind: 'place', key: 'place:x' }, actorAmreyev]);
    expect(await importBoth(pair, text, {}, { stopOnError: true })).toMatchObject({ stopped: true, created: 3, refused: 2 });
    await expectSameExport(pair);
  });

  it('dry run: reports as SQLite does, stores nothing, bumps no revision, and holds the write lock as SQLite\'s does: a write meanwhile is busy', async () => {
    const pair = await openPair();
    const revision = await pair.postgres.currentRevision();
    const text = ndjson([statement, source, placeKz, actorOts, actorAmreyev, meeting, protest, umbrella]);
    expect(await importBoth(pair, text, { dryRun: true }, { batchSize: 3 })).toMatchObject({ dryRun: true, created: 8, refused: 0 });
    for (const [table, n] of Object.entries(await countRows(pair.pgUrl, RECORD_TABLES))) expect(n, table).toBe(0);
    expect(await pair.postgres.currentRevision()).toBe(revision);

    const session = await pair.postgres.beginImport({ dryRun: true });
    expect(session.mode).toBe('dry-run');
    await session.batch(async (writer) => {
      expect(await writer.upsert('place', placeKz)).toEqual({ outcome: 'created' });
    });
    // a write through the pool while the dry run holds the revision row waits its bound, then is busy
    const meanwhile = { key: 'actor:meanwhile', type: 'person', name: { en: 'M' } } as const;
    await expect(pair.postgres.createRecord('actor', meanwhile, null)).rejects.toSatisfy(isBusyError);
    // the dry run's transaction sees its own record
    await session.batch(async (writer) => {
      expect(await writer.upsert('place', placeKz)).toEqual({ outcome: 'unchanged' });
    });
    await session.finish();
    await pair.postgres.createRecord('actor', meanwhile, null);
    expect(await countRows(pair.pgUrl, ['places', 'actors'])).toEqual({ places: 0, actors: 1 });
    await session.abort(); // ending twice is harmless
  });

  it('a batch that throws stores nothing of itself and leaves the session usable; its revision rolls back with it', async () => {
    const pair = await openPair();
    const session = await pair.postgres.beginImport();
    expect(session.mode).toBe('batches');
    const revision = await pair.postgres.currentRevision();
    await expect(
      session.batch(async (writer) => {
        await writer.upsert('place', placeKz);
        throw new Error('the batch fails');
      }),
    ).rejects.toThrow('the batch fails');
    expect(await countRows(pair.pgUrl, ['places'])).toEqual({ places: 0 });
    expect(await pair.postgres.currentRevision()).toBe(revision);
    await session.batch(async (writer) => {
      expect(await writer.upsert('place', placeKz)).toEqual({ outcome: 'created' });
      expect(await writer.upsert('place', placeKz)).toEqual({ outcome: 'unchanged' });
      expect(await writer.upsert('event', { ...umbrella, places: ['place:later'] }, (key) => key === 'place:later')).toEqual({
        outcome: 'deferred',
        waitingFor: ['place:later'],
      });
      await expect(writer.upsert('event', { ...umbrella, places: ['place:later'] })).rejects.toMatchObject({ status: 422 });
    });
    await session.finish();
    expect(await countRows(pair.pgUrl, ['places', 'entries'])).toEqual({ places: 1, entries: 0 });
    expect(await pair.postgres.currentRevision()).not.toBe(revision);
  });

  /** The change log without what differs between engines and runs (ids, sequences, times). */
  const loggedChanges = async (storage: Storage) =>
    (await storage.changesAfter({}, 0, 10_000)).map((change) => ({ kind: change.kind, key: change.key, operation: change.operation, fields: change.fields }));

  it('an import into a database that holds records writes its batches\' new records by COPY: the same report, export, search and change log as SQLite', async () => {
    const pair = await openPair();
    await importBoth(pair, ndjson([placeKz]));
    const session = await pair.postgres.beginImport({ bulkLoad: 'when-empty' });
    expect(session.mode).toBe('batches');
    await session.abort();
    const lines = [
      ...refusalsAndForwardReferences().filter((line) => !line.includes('"key":"place:kz"')),
      // an update of a record stored before the import, and of one an earlier batch stored
      JSON.stringify({ ...placeKz, name: { en: 'Qazaqstan' } }),
      JSON.stringify({ ...actorOts, name: { en: 'Organisation of Turkic States' } }),
      // a reference by id to a record stored before the import
      JSON.stringify({ ...protest, key: 'event:by-id', places: ['1'], parent: null }),
    ];
    const report = await importBoth(pair, `${lines.join('\n')}\n`, { bulkLoad: 'when-empty' }, { batchSize: 3 });
    expect(report).toMatchObject({ created: 8, updated: 2 });
    await expectSameExport(pair);
    for (const q of ['Organisation', 'Qazaqstan', 'Protests']) {
      const query = { match: 'overlaps' as const, order: 'asc' as const, text: q };
      expect(await pair.postgres.relevanceIds(query), q).toEqual(await pair.sqlite.relevanceIds(query));
    }
    expect(await loggedChanges(pair.postgres)).toEqual(await loggedChanges(pair.sqlite));
    const spans = (storage: Storage) => storage.spanCounts({ match: 'overlaps', order: 'asc' }).then((counts) => [...counts].sort((a, b) => a.earliest - b.earliest || a.latest - b.latest || a.n - b.n));
    expect(await spans(pair.postgres)).toEqual(await spans(pair.sqlite));
  }, 60_000);

  it('a batch into a database that holds records, failing half-way, stores nothing of itself: no rows, no change, no revision', async () => {
    const pair = await openPair();
    await importBoth(pair, ndjson([source, placeKz, actorOts]));
    const before = await countRows(pair.pgUrl, [...RECORD_TABLES, 'search_index', 'changes']);
    const revision = await pair.postgres.currentRevision();
    const session = await pair.postgres.beginImport();
    expect(session.mode).toBe('batches');
    await expect(
      session.batch(async (writer) => {
        expect(await writer.upsert('actor', actorAmreyev)).toEqual({ outcome: 'created' });
        expect(await writer.upsert('event', meeting)).toEqual({ outcome: 'created' });
        expect(await writer.upsert('statement', statement, () => true)).toMatchObject({ outcome: 'deferred' });
        expect(await writer.upsert('event', umbrella)).toEqual({ outcome: 'created' });
        // an update of a record stored before, written at once, then the failure
        expect(await writer.upsert('place', { ...placeKz, name: { en: 'Qazaqstan' } })).toEqual({ outcome: 'updated' });
        expect(await writer.upsert('event', protest)).toEqual({ outcome: 'created' });
        throw new Error('the batch fails');
      }),
    ).rejects.toThrow('the batch fails');
    expect(await countRows(pair.pgUrl, [...RECORD_TABLES, 'search_index', 'changes'])).toEqual(before);
    expect(await pair.postgres.currentRevision()).toBe(revision);
    // the session goes on: the same records, in a batch that ends
    await session.batch(async (writer) => {
      for (const [kind, record] of [['actor', actorAmreyev], ['event', meeting], ['event', umbrella], ['event', protest], ['statement', statement]] as const) {
        expect(await writer.upsert(kind, record), record.key).toEqual({ outcome: 'created' });
      }
    });
    await session.finish();
    expect(await countRows(pair.pgUrl, ['entries', 'citations', 'search_index'])).toEqual({ entries: 4, citations: 2, search_index: 4 });
    await run(pair.sqlite, ndjson([actorAmreyev, meeting, umbrella, protest, statement]));
    await expectSameExport(pair);
  }, 60_000);

  it('a bulk load into an empty database is one COPY transaction, reported and stored as SQLite\'s bulk load; imported again, it changes nothing', async () => {
    const pair = await openPair();
    const session = await pair.postgres.beginImport({ bulkLoad: 'when-empty' });
    expect(session.mode).toBe('bulk');
    await session.abort();
    const revision = await pair.postgres.currentRevision();
    const first = await importBoth(pair, seedText, { bulkLoad: 'when-empty' }, { batchSize: 7 });
    expect(first).toMatchObject({ created: seedLines.length, refused: 0 });
    expect(await pair.postgres.currentRevision()).not.toBe(revision);
    const before = await expectSameExport(pair);
    // the same rows a batch writes: search documents, span and date counts
    const text = { match: 'overlaps' as const, order: 'asc' as const, text: 'Amreyev' };
    expect(await pair.postgres.relevanceIds(text)).toEqual(await pair.sqlite.relevanceIds(text));
    expect((await pair.postgres.relevanceIds(text)).length).toBeGreaterThan(0);
    const spans = (storage: Storage) => storage.spanCounts({ match: 'overlaps', order: 'asc' }).then((counts) => [...counts].sort((a, b) => a.earliest - b.earliest || a.latest - b.latest || a.n - b.n));
    expect(await spans(pair.postgres)).toEqual(await spans(pair.sqlite));
    const window = { match: 'overlaps' as const, order: 'asc' as const, from: 18962, to: 19051 };
    const days = await pair.sqlite.dateCounts(window, 18962, 19051, 1000);
    expect(days.days.length).toBeGreaterThan(0);
    expect(await pair.postgres.dateCounts(window, 18962, 19051, 1000)).toEqual(days);
    // not empty any more: batch by batch, every record found unchanged
    const again = await pair.postgres.beginImport({ bulkLoad: 'when-empty' });
    expect(again.mode).toBe('batches');
    await again.abort();
    expect(await importBoth(pair, seedText, { bulkLoad: 'when-empty' })).toMatchObject({ created: 0, updated: 0, unchanged: seedLines.length });
    expect((await exported(pair.postgres)).records).toBe(before.records);
  }, 60_000);

  it('a bulk load refuses, defers and updates as SQLite\'s does: forward references, a key twice in the file, ids, timelines, bad lines', async () => {
    const pair = await openPair();
    const lines = [
      ...refusalsAndForwardReferences(),
      // the same key again: an update of a record the load stored, and the entries naming it indexed again
      JSON.stringify({ ...actorOts, name: { en: 'Organisation of Turkic States' } }),
      JSON.stringify({ ...placeKz, name: { en: 'Qazaqstan' } }),
      JSON.stringify({ ...source, text: 'another text' }), // refused: the meeting cites the old one
      // references by id (the first place and actor the load stored)
      JSON.stringify({ ...protest, key: 'event:by-id', places: ['1'], actors: [{ actor: '1', role: 'organizer' }], parent: null }),
      JSON.stringify({ ...meeting, key: 'event:twice', actors: [{ actor: 'actor:ots', role: 'organizer' }, { actor: 'actor:ots', role: 'organizer' }] }),
      JSON.stringify({ kind: 'timeline', key: 'timeline:main', slug: 'main', title: { en: 'Main' }, entries: ['event:unrest', 'event:protest'] }),
      JSON.stringify({ kind: 'timeline', key: 'timeline:other', slug: 'main', title: { en: 'Other' } }),
      JSON.stringify({ ...umbrella, key: 'event:after-timeline', title: { en: 'After the timeline' } }),
    ];
    const report = await importBoth(pair, `${lines.join('\n')}\n`, { bulkLoad: 'always' }, { batchSize: 2 });
    expect(report).toMatchObject({ created: 11, updated: 2 });
    expect(report.refused).toBeGreaterThanOrEqual(7);
    await expectSameExport(pair);
    for (const q of ['Organisation', 'Qazaqstan', 'Kazakhstan']) {
      const query = { match: 'overlaps' as const, order: 'asc' as const, text: q };
      expect(await pair.postgres.relevanceIds(query), q).toEqual(await pair.sqlite.relevanceIds(query));
    }
    expect(await countRows(pair.pgUrl, ['entries', 'citations', 'search_index', 'timeline_entries'])).toEqual({ entries: 6, citations: 2, search_index: 6, timeline_entries: 2 });
  }, 60_000);

  it('a batch sees the records of the batches before it, and what other writes changed between them', async () => {
    const pair = await openPair();
    await importBoth(pair, ndjson([source]));
    const session = await pair.postgres.beginImport();
    expect(session.mode).toBe('batches');
    await session.batch(async (writer) => {
      expect(await writer.upsert('place', placeKz)).toEqual({ outcome: 'created' });
      expect(await writer.upsert('actor', actorOts)).toEqual({ outcome: 'created' });
    });
    await session.batch(async (writer) => {
      expect(await writer.upsert('place', placeKz)).toEqual({ outcome: 'unchanged' });
      expect(await writer.upsert('event', umbrella)).toEqual({ outcome: 'created' });
    });
    // between two batches, another write deletes a record the import stored and looked up
    await pair.postgres.deleteRecord('event', 'event:unrest');
    await pair.postgres.deleteRecord('place', 'place:kz');
    await session.batch(async (writer) => {
      await expect(writer.upsert('event', protest)).rejects.toMatchObject({ status: 422 });
      expect(await writer.upsert('event', meeting)).toEqual({ outcome: 'created' });
      expect(await writer.upsert('place', placeKz)).toEqual({ outcome: 'created' });
      expect(await writer.upsert('event', { ...protest, parent: null })).toEqual({ outcome: 'created' });
    });
    await session.finish();
    expect(await countRows(pair.pgUrl, ['places', 'actors', 'entries', 'entry_places', 'search_index'])).toEqual({ places: 1, actors: 1, entries: 2, entry_places: 1, search_index: 2 });
  }, 60_000);

  it('a bulk load asked for always on a database that holds records keeps them, and finds its keys and references among them', async () => {
    const pair = await openPair();
    await importBoth(pair, ndjson([source, placeKz, actorOts]));
    const text = ndjson([{ ...placeKz, name: { en: 'Qazaqstan' } }, actorAmreyev, umbrella, protest, meeting, statement]);
    expect(await importBoth(pair, text, { bulkLoad: 'always' }, { batchSize: 2 })).toMatchObject({ created: 5, updated: 1, refused: 0 });
    await expectSameExport(pair);
    expect(await countRows(pair.pgUrl, ['sources', 'places', 'actors', 'entries', 'search_index'])).toEqual({ sources: 1, places: 1, actors: 2, entries: 4, search_index: 4 });
    expect(await loggedChanges(pair.postgres)).toEqual(await loggedChanges(pair.sqlite));
  }, 60_000);

  it('a bulk load stops at the first refused line with stopOnError as SQLite\'s does', async () => {
    const pair = await openPair();
    const text = ndjson([source, placeKz, { ...umbrella, places: ['place:none'] }, actorOts, { kind: 'place', key: 'place:x' }, actorAmreyev]);
    expect(await importBoth(pair, text, { bulkLoad: 'always' }, { stopOnError: true })).toMatchObject({ stopped: true, created: 3, refused: 2 });
    await expectSameExport(pair);
  });

  it('a bulk load that fails or is abandoned leaves the database as it was, and other writes wait for it', async () => {
    const pair = await openPair();
    const revision = await pair.postgres.currentRevision();
    const session = await pair.postgres.beginImport({ bulkLoad: 'always' });
    expect(session.mode).toBe('bulk');
    for (let batch = 0; batch < 3; batch++) {
      await session.batch(async (writer) => {
        for (let i = 0; i < 2_000; i++) {
          expect(await writer.upsert('place', { ...placeKz, key: `place:p${batch}-${i}` })).toEqual({ outcome: 'created' });
        }
      });
    }
    let written = false;
    const meanwhile = pair.postgres.createRecord('actor', { key: 'actor:meanwhile', type: 'person', name: { en: 'M' } }, null).then(() => {
      written = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(written).toBe(false);
    await expect(session.batch(() => Promise.reject(new Error('the batch fails')))).rejects.toThrow('the batch fails');
    await session.abort();
    await meanwhile;
    expect(await countRows(pair.pgUrl, ['places', 'actors'])).toEqual({ places: 0, actors: 1 });
    expect(await pair.postgres.currentRevision()).not.toBe(revision);
  }, 60_000);
});

describePg('a bulk load through POST /v1/import', () => {
  /** The export's lines without timestamps and revision: what the import stored, and the change log's sequence (a change per record). */
  const stored = async (app: TestApp) =>
    (await app.app.inject({ url: '/v1/export' })).body
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        const { createdAt: _c, updatedAt: _u, revision: _r, ...rest } = JSON.parse(line) as Json;
        return rest;
      });
  const post = async (app: TestApp, body: string) => {
    const res = await app.app.inject({ method: 'POST', url: '/v1/import', headers: { ...AUTH, 'content-type': 'application/x-ndjson' }, payload: body });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<Json>();
  };

  it('stores what SQLite stores batch by batch, answers the same report, and the next import goes by batches, unchanged', async () => {
    const input = `${JSON.stringify(statement)}\n{bad\n${seedText}\n${JSON.stringify({ ...protest, key: 'event:orphan', places: ['place:nowhere'] })}\n`;
    const sqlite = await buildTestApp();
    cleanups.push(() => sqlite.close());
    const expected = await post(sqlite, input);
    const app = await buildTestApp({ engine: 'postgres', config: { bulkImportMinBytes: 0 } });
    cleanups.push(() => app.close());
    const modes = recordImportModes(app.app);
    const report = await post(app, input);
    expect(report).toEqual(expected);
    expect(report.refused).toBeGreaterThan(0);
    expect(await stored(app)).toEqual(await stored(sqlite));
    const changes = async (test: TestApp) => (await test.app.inject({ url: '/v1/changes?since=0&limit=1000' })).json<Json>().data.map((c: Json) => [c.kind, c.key, c.operation, c.author]);
    expect(await changes(app)).toEqual(await changes(sqlite));
    expect((await changes(app)).length).toBe(report.created + report.updated);
    const page = await app.app.inject({ url: '/v1/timeline?from=2022-01-01&to=2022-01-31&q=Amreyev' });
    expect(page.json<Json>().data.length).toBeGreaterThan(0);
    expect(await post(app, input)).toMatchObject({ created: 0, updated: 0, unchanged: report.created + report.updated });
    expect(modes).toEqual(['bulk', 'batches']);
  }, 60_000);
});

describePg('npm run import on PostgreSQL', () => {
  it('loads a file into an empty database in one bulk load, and again finds every record unchanged', async () => {
    const database = await freshPgDatabase();
    cleanups.push(() => database.drop());
    const importFile = () => {
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/import.ts', 'data/seed/kazakhstan-january-2022.ndjson'], {
        cwd: new URL('..', import.meta.url).pathname,
        env: { ...process.env, ANNALS_DB: database.url },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(run.status, run.stderr).toBe(0);
      return JSON.parse(run.stdout) as Json;
    };
    expect(importFile()).toMatchObject({ created: seedLines.length, refused: 0 });
    expect(importFile()).toMatchObject({ created: 0, updated: 0, unchanged: seedLines.length });
    const rows = await countRows(database.url, ['entries', 'search_index', 'entry_span_counts']);
    expect(rows.search_index).toBe(rows.entries);
    expect(rows.entry_span_counts).toBeGreaterThan(0);
  }, 120_000);
});

describePg('the seed', () => {
  it('is loaded once when several servers start at once on an empty database, as SQLite stores it, and not again at the next start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'annals-pg-seed-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const sqlite = await SqliteStorage.open({ seedWhenEmpty: true, logLevel: 'silent', databasePath: join(dir, 'annals.db'), optimizeIntervalMs: 0 });
    cleanups.push(() => sqlite.close());
    const database = await freshPgDatabase();
    cleanups.push(() => database.drop());
    const config = { seedWhenEmpty: true, logLevel: 'silent' as const, databasePath: '', postgres: { url: database.url, poolSize: 2 } };
    const servers = await Promise.all([0, 1, 2].map(() => PostgresStorage.open(config)));
    cleanups.push(async () => {
      await Promise.all(servers.map((s) => s.close()));
    });
    const expected = await exported(sqlite);
    for (const server of servers) expect((await exported(server)).records).toBe(expected.records);
    const revision = (await exported(servers[0]!)).trailer!.revision as string;
    // each batch bumps the revision: a second seeding (of unchanged records) would have bumped it
    // past that of one server seeding alone
    const alone = await freshPgDatabase();
    cleanups.push(() => alone.drop());
    const single = await PostgresStorage.open({ ...config, postgres: { url: alone.url, poolSize: 2 } });
    cleanups.push(() => single.close());
    expect(revision).toBe((await exported(single)).trailer!.revision);
    const next = await PostgresStorage.open({ ...config, postgres: { url: database.url, poolSize: 1 } });
    cleanups.push(() => next.close());
    expect((await exported(next)).trailer!.revision).toBe(revision);
    const counts = await countRows(database.url, ['entries', 'sources']);
    expect(counts.entries).toBe(expected.trailer!.counts.event + expected.trailer!.counts.statement);
    expect(counts.sources).toBe(expected.trailer!.counts.source);
  }, 60_000);
});
