import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { Storage } from '../src/storage/port.js';
import { PostgresStorage } from '../src/storage/postgres/index.js';
import { SqliteStorage } from '../src/storage/sqlite/index.js';
import type { RecordInput } from '../src/storage/types.js';
import { tsqueryLiteral } from '../src/storage/postgres/search-text.js';
import { describeEngines, describePg, freshPgDatabase, type Engine, type PgDatabase } from './support/pg.js';

type Json = any;

/** Storages opened by a test, and what to remove after it. */
const opened: Storage[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A database of its own on `engine`, opened as `servers` storages (servers sharing it). */
async function openEngine(engine: Engine, servers = 1, bootstrapKey?: string): Promise<Storage[]> {
  const base = { seedWhenEmpty: false, logLevel: 'silent' as const, bootstrapKey };
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'annals-storage-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const storages: Storage[] = [];
    for (let i = 0; i < servers; i++) storages.push(await SqliteStorage.open({ ...base, databasePath: join(dir, 'annals.db'), optimizeIntervalMs: 0 }));
    opened.push(...storages);
    return storages;
  }
  const database: PgDatabase = await freshPgDatabase();
  cleanups.push(() => database.drop());
  const config = { ...base, databasePath: '', postgres: { url: database.url, poolSize: 4 } };
  // servers starting at once, as a deployment does
  const storages = await Promise.all(Array.from({ length: servers }, () => PostgresStorage.open(config)));
  opened.push(...storages);
  return storages;
}

/** The problem a rejected operation threw: its status and the paths of its field errors. */
async function problem(operation: Promise<unknown>): Promise<{ status: number; paths: string[]; message: string }> {
  try {
    await operation;
  } catch (error) {
    const e = error as Json;
    return { status: e.status, paths: (e.errors ?? []).map((f: Json) => f.path), message: e.message };
  }
  throw new Error('expected the operation to be refused');
}

const source = (over: Partial<RecordInput<'source'>> = {}): RecordInput<'source'> => ({
  type: 'news_article',
  title: { en: 'Protesters seize Almaty airport', ar: 'متظاهرون يسيطرون على مطار ألماتي' },
  outlet: 'Example Wire',
  url: 'https://example.org/a',
  lang: 'en',
  published: '2022-01-06',
  ...over,
});

const withoutTimes = ({ createdAt: _c, updatedAt: _u, ...rest }: Json) => rest;

/** The same steps on any engine, with what each answered (timestamps left out: they differ run to run). */
async function sourceScenario(storage: Storage) {
  const answers: unknown[] = [];
  const created = await storage.createRecord('source', source({ key: 'src:a' }), null);
  answers.push(withoutTimes(created.record));
  const second = await storage.createRecord('source', source({ key: 'src:b', type: 'report', lang: 'ar', text: 'نص المصدر' }), null);
  answers.push(withoutTimes(second.record));
  const generated = await storage.createRecord('source', source({ title: null }), null);
  answers.push(/^src:[A-Za-z0-9]{14}$/.test(generated.record.key));
  answers.push(withoutTimes(await storage.getRecord('source', 'src:a', 'ar')));
  answers.push(withoutTimes(await storage.getRecord('source', String(second.record.id))));
  answers.push(await storage.findId('source', 'src:b'));
  // ids are spelled canonically; a number no id can reach names nothing either
  answers.push(await storage.findId('source', `0${second.record.id}`), await storage.findId('source', '999999999999999'));
  answers.push(await storage.findId('entry', 'src:a'));
  answers.push(withoutTimes(await storage.patchRecord('source', 'src:a', { outlet: 'Other Wire', title: { fr: 'Aéroport' } })));
  answers.push(await problem(storage.patchRecord('source', 'src:a', { key: 'src:b' })));
  answers.push(await problem(storage.createRecord('source', source({ key: 'src:b' }), null)));
  answers.push(await problem(storage.getRecord('source', 'src:none')));
  answers.push(await storage.listSourceIds({}, undefined, 2));
  answers.push(await storage.listSourceIds({}, created.record.id, 10));
  answers.push(await storage.listSourceIds({ type: ['report'] }, undefined, 10));
  answers.push(await storage.listSourceIds({ language: ['en'] }, undefined, 10));
  answers.push(await storage.listSourceIds({}, 2 ** 40, 10));
  await storage.deleteRecord('source', 'src:b');
  answers.push(await problem(storage.getRecord('source', 'src:b')));
  answers.push(await problem(storage.deleteRecord('source', 'src:b')));
  return answers;
}

/** Places: parents, cycles refused, deletes refused while referred to, coordinates inherited. */
async function placeScenario(storage: Storage) {
  const answers: unknown[] = [];
  const place = (key: string, over: Partial<RecordInput<'place'>> = {}): RecordInput<'place'> => ({
    key,
    type: 'city',
    name: { en: key, ar: 'ألماتي' },
    ...over,
  });
  const kz = await storage.createRecord('place', place('place:kz', { type: 'country', countryCode: 'KZ', lat: 48, lon: 68 }), null);
  answers.push(withoutTimes(kz.record));
  const almaty = await storage.createRecord('place', place('place:almaty', { parent: 'place:kz' }), null);
  answers.push(withoutTimes(almaty.record));
  const square = await storage.createRecord('place', place('place:square', { parent: String(almaty.record.id), lat: 43.2, lon: 76.9 }), null);
  answers.push(withoutTimes(await storage.getRecord('place', String(square.record.id), 'ar')));
  answers.push(await problem(storage.createRecord('place', place('place:x', { parent: 'place:none' }), null)));
  answers.push(await problem(storage.patchRecord('place', 'place:kz', { parent: 'place:square' })));
  answers.push(await problem(storage.patchRecord('place', 'place:kz', { parent: 'place:kz' })));
  answers.push(await problem(storage.deleteRecord('place', 'place:kz')));
  answers.push([...(await storage.placeCoordinates([kz.record.id, almaty.record.id, square.record.id, 12345])).entries()]);
  answers.push(await storage.listPlaceIds({ parent: kz.record.id }, undefined, 10));
  answers.push(await storage.listPlaceIds({ countryCode: ['KZ'] }, undefined, 10));
  answers.push(await storage.listPlaceIds({ type: ['city'] }, almaty.record.id, 10));
  answers.push(withoutTimes(await storage.patchRecord('place', 'place:square', { parent: null, lat: null, lon: null })));
  await storage.deleteRecord('place', 'place:square');
  await storage.deleteRecord('place', 'place:almaty');
  answers.push(await storage.listPlaceIds({}, undefined, 10));
  return answers;
}

describePg('places through the storage port', () => {
  it('answer as they do on SQLite', async () => {
    const [sqlite] = await openEngine('sqlite');
    const onSqlite = await placeScenario(sqlite!);
    const [postgres] = await openEngine('postgres');
    expect(await placeScenario(postgres!)).toEqual(onSqlite);
    expect(onSqlite.flatMap((a: Json) => (a?.status ? [a.status] : []))).toEqual([422, 400, 400, 409]);
  });
});

/** Actors: affiliations resolved, cycles of any length refused, deletes refused while affiliated to. */
async function actorScenario(storage: Storage) {
  const answers: unknown[] = [];
  const actor = (key: string, over: Partial<RecordInput<'actor'>> = {}): RecordInput<'actor'> => ({
    key,
    type: 'person',
    name: { en: key, ar: 'قاسم جومارت توكاييف' },
    ...over,
  });
  const org = await storage.createRecord('actor', actor('actor:otc', { type: 'organization', externalIds: { wikidata: 'Q1', b: 'x', a: 'y' } }), null);
  answers.push(withoutTimes(org.record));
  const amreyev = await storage.createRecord(
    'actor',
    actor('actor:amreyev', { aliases: [{ en: 'Baghdad Amreyev' }], affiliations: [{ actor: 'actor:otc', role: 'secretary-general', date: '2022' }] }),
    null,
  );
  answers.push(withoutTimes(amreyev.record));
  const third = await storage.createRecord('actor', actor('actor:third', { affiliations: [{ actor: String(amreyev.record.id), role: 'member' }] }), null);
  answers.push(withoutTimes(await storage.getRecord('actor', String(third.record.id), 'ar')));
  answers.push(await problem(storage.createRecord('actor', actor('actor:x', { affiliations: [{ actor: 'actor:none', role: 'r' }, { actor: 'actor:gone', role: 'r' }] }), null)));
  answers.push(await problem(storage.patchRecord('actor', 'actor:otc', { affiliations: [{ actor: 'actor:third', role: 'member' }] })));
  answers.push(await problem(storage.patchRecord('actor', 'actor:otc', { affiliations: [{ actor: 'actor:otc', role: 'member' }] })));
  answers.push(
    await problem(
      storage.patchRecord('actor', 'actor:third', {
        affiliations: [
          { actor: 'actor:otc', role: 'member' },
          { actor: 'actor:otc', role: 'member' },
        ],
      }),
    ),
  );
  answers.push(await problem(storage.deleteRecord('actor', 'actor:otc')));
  answers.push(withoutTimes(await storage.patchRecord('actor', 'actor:otc', { name: { en: 'Organization of Turkic States' } })));
  answers.push((await storage.loadRecords('actor', [third.record.id, 999, amreyev.record.id])).map(withoutTimes));
  answers.push(await storage.listActorIds({ type: ['person'] }, undefined, 10));
  answers.push(await storage.listActorIds({}, org.record.id, 1));
  await storage.deleteRecord('actor', 'actor:third');
  answers.push(await storage.listActorIds({}, undefined, 10));
  return answers;
}

describePg('actors through the storage port', () => {
  it('answer as they do on SQLite', async () => {
    const [sqlite] = await openEngine('sqlite');
    const onSqlite = await actorScenario(sqlite!);
    const [postgres] = await openEngine('postgres');
    expect(await actorScenario(postgres!)).toEqual(onSqlite);
    expect(onSqlite.flatMap((a: Json) => (a?.status ? [a.status] : []))).toEqual([422, 400, 400, 400, 409]);
  });
});

/** Events, statements and curated timelines: references, citations, cycles, search documents. */
async function entryScenario(storage: Storage) {
  const answers: unknown[] = [];
  const text = 'أعلن الرئيس الكازاخستاني حالة الطوارئ في ألماتي';
  await storage.createRecord('source', { key: 'src:report', type: 'news_article', text, lang: 'ar', title: { ar: 'تقرير' } }, null);
  await storage.createRecord('place', { key: 'place:almaty', type: 'city', name: { en: 'Almaty', ar: 'ألماتي' } }, null);
  await storage.createRecord('actor', { key: 'actor:otc', type: 'organization', name: { en: 'OTS' } }, null);
  await storage.createRecord(
    'actor',
    { key: 'actor:amreyev', type: 'person', name: { en: 'Amreyev' }, affiliations: [{ actor: 'actor:otc', role: 'secretary-general', date: '2022' }] },
    null,
  );
  const protests = await storage.createRecord(
    'event',
    {
      key: 'event:protests',
      type: 'protest',
      date: '2022-01-02/2022-01-11',
      title: { en: 'Protests', ar: 'احتجاجات' },
      places: ['place:almaty'],
      actors: [{ actor: 'actor:otc', role: 'observer' }],
      tags: ['unrest', 'unrest', 'fuel'],
      sources: [{ source: 'src:report', excerpt: 'حالة الطوارئ', start: 25, end: 37 }],
    },
    null,
  );
  answers.push(withoutTimes(protests.record));
  const emergency = await storage.createRecord(
    'event',
    { key: 'event:emergency', type: 'emergency', date: '2022-01-05?', title: { en: 'State of emergency' }, parent: 'event:protests' },
    null,
  );
  answers.push(withoutTimes(emergency.record));
  const said = await storage.createRecord(
    'statement',
    {
      key: 'stmt:amreyev',
      type: 'paraphrase',
      date: '2022-01-07',
      speaker: 'actor:amreyev',
      text: { ar: 'نص', en: 'text' },
      originalLang: 'ar',
      context: 'event:protests',
      about: { actors: ['actor:otc'], places: ['place:almaty'], events: ['event:emergency'] },
      sources: [{ source: 'src:report' }],
    },
    null,
  );
  answers.push(withoutTimes(said.record));
  answers.push((await storage.loadEntries([said.record.id, 999, protests.record.id], 'ar')).map(withoutTimes));
  answers.push((await storage.renderEntries([protests.record.id], undefined)).map((b) => withoutTimes(JSON.parse(b.toString()))));
  answers.push(await problem(storage.createRecord('event', { key: 'event:bad', type: 'x', date: '2022', title: { en: 'x' }, sources: [{ source: 'src:report', excerpt: 'no', start: 0, end: 2 }] }, null)));
  answers.push(await problem(storage.createRecord('event', { key: 'event:bad', type: 'x', date: '2022', title: { en: 'x' }, parent: 'stmt:amreyev' }, null)));
  answers.push(await problem(storage.patchRecord('event', 'event:protests', { parent: 'event:emergency' })));
  answers.push(await problem(storage.createRecord('statement', { type: 'quote', date: '2022', speaker: 'actor:amreyev', text: { en: 'x' }, originalLang: 'ar' }, null)));
  answers.push(await problem(storage.patchRecord('source', 'src:report', { text: 'نص آخر' })));
  answers.push(await problem(storage.deleteRecord('event', 'event:protests')));
  answers.push(await problem(storage.getRecord('event', 'stmt:amreyev')));
  const curated = await storage.createRecord(
    'timeline',
    { key: 'timeline:kz', slug: 'kazakhstan-2022', title: { en: 'Kazakhstan' }, entries: ['stmt:amreyev', 'event:protests'] },
    null,
  );
  answers.push(withoutTimes(curated.record));
  answers.push(await storage.timelineEntryIds(curated.record.id));
  answers.push(await storage.findId('timeline', 'kazakhstan-2022'));
  answers.push(await problem(storage.createRecord('timeline', { key: 'kazakhstan-2022', slug: 'other', title: { en: 'x' } }, null)));
  answers.push(await problem(storage.createRecord('timeline', { slug: 'kazakhstan-2022', title: { en: 'x' }, entries: ['event:protests', 'event:protests'] }, null)));
  answers.push(await problem(storage.deleteRecord('event', 'event:emergency')));
  answers.push(withoutTimes(await storage.patchRecord('timeline', 'kazakhstan-2022', { entries: [] })));
  answers.push(await storage.listTimelineIds(undefined, 10));
  await storage.deleteRecord('statement', 'stmt:amreyev');
  await storage.deleteRecord('event', 'event:emergency');
  answers.push(withoutTimes(await storage.patchRecord('event', 'event:protests', { tags: ['fuel'], actors: [] })));
  return answers;
}

describePg('events, statements and timelines through the storage port', () => {
  it('answer as they do on SQLite', async () => {
    const [sqlite] = await openEngine('sqlite');
    const onSqlite = await entryScenario(sqlite!);
    const [postgres] = await openEngine('postgres');
    expect(await entryScenario(postgres!)).toEqual(onSqlite);
    expect(onSqlite.flatMap((a: Json) => (a?.status ? [a.status] : []))).toEqual([400, 422, 400, 400, 409, 409, 404, 400, 400, 409]);
  });

  it('keep search documents with the names of the actors and places they mention', async () => {
    const [storage] = await openEngine('postgres');
    const pool = (storage as PostgresStorage).db.$client;
    await storage!.createRecord('actor', { key: 'actor:a', type: 'person', name: { en: 'Amreyev' } }, null);
    const { record } = await storage!.createRecord('event', { key: 'event:e', type: 'x', date: '2022', title: { en: 'Meeting' }, actors: [{ actor: 'actor:a', role: 'host' }] }, null);
    const found = async (q: string) =>
      (await pool.query<{ entry_id: number }>('SELECT entry_id FROM search_index WHERE document @@ $1::tsquery', [tsqueryLiteral(q)])).rows.map((r) => r.entry_id);
    expect(await found('amreyev')).toEqual([record.id]);
    // renamed through the port: the entry is found by the new name, and no longer by the old one
    await storage!.patchRecord('actor', 'actor:a', { name: { ar: 'أمرييف' } });
    expect(await found('امرييف')).toEqual([record.id]);
    expect(await found('amreyev')).toEqual([]);
    await storage!.deleteRecord('event', 'event:e');
    expect((await pool.query('SELECT count(*)::integer AS n FROM search_index')).rows[0].n).toBe(0);
  });
});

describePg('sources through the storage port', () => {
  it('answer as they do on SQLite', async () => {
    const [sqlite] = await openEngine('sqlite');
    const onSqlite = await sourceScenario(sqlite!);
    const [postgres] = await openEngine('postgres');
    const onPostgres = await sourceScenario(postgres!);
    expect(onPostgres).toEqual(onSqlite);
    // the scenario is not vacuous
    expect(onSqlite).toContainEqual(expect.objectContaining({ status: 404 }));
    expect(onSqlite).toContainEqual(expect.objectContaining({ status: 400, paths: ['/key'] }));
  });
});

describeEngines('storage shared by several servers', (engine) => {
  it('shares the cursor secret, and a write through one changes the revision every one reads', async () => {
    const [a, b] = await openEngine(engine, 2);
    const secret = await a!.cursorSecret();
    expect(secret).toHaveLength(32);
    expect(await b!.cursorSecret()).toEqual(secret);
    const before = await b!.currentRevision();
    expect(await a!.currentRevision()).toBe(before);
    const { record } = await a!.createRecord('source', source({ key: 'src:shared' }), null);
    const after = await b!.currentRevision();
    expect(after).not.toBe(before);
    expect(withoutTimes(await b!.getRecord('source', 'src:shared'))).toEqual(withoutTimes(record));
    // a refused write does not move it
    await problem(b!.createRecord('source', source({ key: 'src:shared' }), null));
    expect(await a!.currentRevision()).toBe(after);
  });

  it('orders concurrent writes: one key given to one record, every write counted once', async () => {
    const [a, b] = await openEngine(engine, 2);
    const revision = async () => Number((await a!.currentRevision()).split('.')[1]);
    const start = await revision();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a! : b!).createRecord('source', source({ key: 'src:contended', outlet: `w${i}` }), null)),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason.status).toBe(400);
    const many = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a! : b!).createRecord('source', source(), null)));
    expect(new Set(many.map((m) => m.record.id)).size).toBe(10);
    // one contended create and ten others committed: eleven write transactions, each bumping the
    // revision once on PostgreSQL (SQLite's createRecord bumps it in a nested savepoint too)
    const writes = (await revision()) - start;
    if (engine === 'postgres') expect(writes).toBe(11);
    else expect(writes).toBeGreaterThanOrEqual(11);
  });
});

describeEngines('API and idempotency keys shared by several servers', (engine) => {
  const secret = 'a-bootstrap-secret-chosen-by-hand';

  it('know the bootstrap key on every server, once however many start at once', async () => {
    const [a, b, c] = await openEngine(engine, 3, secret);
    const ids = new Set<number>();
    for (const storage of [a!, b!, c!]) {
      // a secret chosen by hand takes the slow hash: known without it only where verified before
      const key = await storage.verifySecret(secret);
      expect(key?.scopes.length).toBeGreaterThan(0);
      expect((await storage.knownApiKey(secret))?.id).toBe(key!.id);
      ids.add(key!.id);
    }
    // one key row, whichever server verified it
    expect(ids.size).toBe(1);
    expect(await a!.verifySecret('not-the-secret-at-all-0000')).toBeNull();
    expect(await a!.knownApiKey('annals_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).toBeNull();
  });

  it('replay a create across servers, refuse a reused key, and answer 409 while one runs', async () => {
    const [a, b] = await openEngine(engine, 2, secret);
    const apiKeyId = (await a!.verifySecret(secret))!.id;
    const request = { apiKeyId, key: 'idem-1', method: 'POST', path: '/v1/sources', bodyHash: 'h1' };
    const first = await a!.createRecord('source', source({ key: 'src:idem' }), request);
    expect(first.replayed).toBe(false);
    const again = await b!.createRecord('source', source({ key: 'src:idem' }), request);
    expect(again).toEqual({ replayed: true, record: first.record });
    expect(await problem(b!.createRecord('source', source({ key: 'src:idem' }), { ...request, bodyHash: 'other' }))).toMatchObject({ status: 422 });
    expect(await problem(b!.createRecord('source', source(), { ...request, path: '/v1/places' }))).toMatchObject({ status: 422 });
    // a streamed request claims first and completes later
    const streamed = { apiKeyId, key: 'idem-2', method: 'POST', path: '/v1/import', bodyHash: null };
    expect(await a!.claimIdempotencyKey(streamed)).toEqual({ kind: 'fresh' });
    expect(await problem(b!.claimIdempotencyKey(streamed))).toMatchObject({ status: 409 });
    const stop = a!.holdIdempotencyLease(streamed, (error) => {
      throw error;
    });
    await a!.completeIdempotencyKey({ ...streamed, bodyHash: 'h2' }, 200, '{"done":true}');
    stop();
    expect(await b!.claimIdempotencyKey({ ...streamed, bodyHash: 'h2' })).toEqual({ kind: 'replay', status: 200, response: '{"done":true}', bodyHash: 'h2' });
    // a released key runs again
    const failed = { apiKeyId, key: 'idem-3', method: 'POST', path: '/v1/import', bodyHash: null };
    await a!.claimIdempotencyKey(failed);
    await a!.releaseIdempotencyKey(failed);
    expect(await b!.claimIdempotencyKey(failed)).toEqual({ kind: 'fresh' });
  });
});

describePg('PostgreSQL storage', () => {
  it('refuses text that PostgreSQL cannot hold, naming the field, and finds no key holding it', async () => {
    const [storage] = await openEngine('postgres');
    const refused = await problem(storage!.createRecord('source', source({ key: 'src:nul', text: 'a\u0000b', outlet: 'x\u0000' }), null));
    expect(refused).toMatchObject({ status: 400, paths: ['/outlet', '/text'] });
    expect(await storage!.findId('source', 'src:\u0000')).toBeNull();
    // JSON columns keep it
    const { record } = await storage!.createRecord('source', source({ key: 'src:nul', title: { en: 'a\u0000b' } }), null);
    expect((await storage!.getRecord('source', String(record.id))).title).toEqual({ en: 'a\u0000b' });
  });

  it('rebuilds the search documents at start-up when the normalisation changed', async () => {
    const database = await freshPgDatabase();
    cleanups.push(() => database.drop());
    const config = { seedWhenEmpty: false, logLevel: 'silent' as const, databasePath: '', postgres: { url: database.url, poolSize: 2 } };
    const first = await PostgresStorage.open(config);
    opened.push(first);
    await first.createRecord('event', { key: 'event:e', type: 'x', date: '2022', title: { ar: 'الطوارئ' } }, null);
    const pool = first.db.$client;
    await pool.query("UPDATE search_index SET document = ''::tsvector, length = 0");
    await pool.query("UPDATE settings SET value = 'old' WHERE name = 'search_index_version'");
    // a server of the new version starts
    opened.push(await PostgresStorage.open(config));
    const { rows } = await pool.query("SELECT length, document @@ $1::tsquery AS hit FROM search_index", [tsqueryLiteral('طوارئ')]);
    expect(rows).toEqual([{ length: 2, hit: true }]);
  });

  it('is ready once migrated, and several servers start on one database at once', async () => {
    const storages = await openEngine('postgres', 3);
    for (const storage of storages) expect(await storage.ready()).toBe(true);
    await storages[0]!.refreshStatistics({ everyTable: true });
  });
});
