// Property: after any sequence of writes through the API (creates, patches that rename actors,
// places, sources and events other entries name, deletes, imports), the document stored for
// every entry is what rendering the entry from its rows gives, in every language: the bytes of
// JSON.stringify of loadEntries, the oracle. Checked after every write, not only at the end, so
// that a write that leaves one document stale is the one the failure names.
//
// The seed is fixed and printed; ENTRY_DOCUMENTS_SEED (a number, or `random`) and
// ENTRY_DOCUMENTS_RUNS are for exploring.
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { importNdjson } from '../src/import/ndjson.js';
import { openDatabase } from '../src/storage/sqlite/client.js';
import { runMigrations } from '../src/storage/sqlite/migrate.js';
import { writeAllMissingEntryDocuments } from '../src/storage/sqlite/documents.js';
import { batchImportSession, beginSqliteImport } from '../src/storage/sqlite/import.js';
import { seedFiles } from '../src/storage/sqlite/seed.js';
import { AUTH, buildTestApp, ndjson } from './helpers.js';
import { documentsProbe, documentsWritten, expectDocumentsCurrent, expectStoredDocumentsCurrent, type DocumentsProbe } from './support/documents.js';
import { describeEngines, describePg } from './support/pg.js';

const SEED_ENV = process.env.ENTRY_DOCUMENTS_SEED;
const SEED = SEED_ENV === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(SEED_ENV ?? 20261203);
const RUNS = Number(process.env.ENTRY_DOCUMENTS_RUNS ?? 25);
console.log(`entry-documents property: fast-check seed ${SEED} (override with ENTRY_DOCUMENTS_SEED), ${RUNS} runs`);

type Json = Record<string, any>;

/* ------------------------------------------------------------------------------------------ */
/* Writes: each picks the records it touches among those that exist when it runs                */
/* ------------------------------------------------------------------------------------------ */

const TEXTS = ['plain', 'with "quotes" and \\ backslash', 'line\nbreak\ttab', 'emoji 🙂 and 𝄞', '{"en":"not a map"}', 'sep\u2028arator', 'كازاخستان'];

/** A language map: which languages (several, often, so that `lang` has a choice) and a text for each. */
const languageMap = fc
  .tuple(
    fc.constantFrom(['en'], ['ar'], ['en', 'ar'], ['ar', 'en'], ['ar', 'ru', 'en'], ['en-GB', 'en-US'], ['kk', 'ru'], ['AR', 'fr']),
    fc.integer({ min: 0, max: 10_000 }),
    fc.constantFrom(...TEXTS),
  )
  .map(([tags, n, text]) => Object.fromEntries(tags.map((tag, i) => [tag, `${text} ${n}.${i}`])));

const DATES = ['2022-01-05', '2022-01', '2021/2022', '2022-01-10T10:00:00+03:00', '2022-01-01/..', '1992~', '2019-06-20'];
const date = fc.constantFrom(...DATES);
const pick = fc.nat();
const picks = fc.array(fc.nat(), { maxLength: 3 });

const write = fc.oneof(
  fc.record({ op: fc.constant('create-source' as const), title: fc.option(languageMap), lang: fc.constantFrom(null, 'ar', 'en', 'ru'), published: fc.option(date) }),
  fc.record({ op: fc.constant('patch-source' as const), which: pick, title: fc.option(languageMap), lang: fc.constantFrom(null, 'ar', 'en', 'kk'), rekey: fc.boolean() }),
  fc.record({ op: fc.constant('create-place' as const), name: languageMap, parent: fc.option(pick) }),
  fc.record({ op: fc.constant('patch-place' as const), which: pick, name: languageMap, rekey: fc.boolean(), lat: fc.option(fc.double({ min: -90, max: 90, noNaN: true })) }),
  fc.record({ op: fc.constant('create-actor' as const), name: languageMap, affiliatedTo: fc.option(pick) }),
  fc.record({
    op: fc.constant('patch-actor' as const),
    which: pick,
    name: fc.option(languageMap),
    rekey: fc.boolean(),
    type: fc.option(fc.constantFrom('person', 'organization', 'state')),
    affiliations: fc.option(fc.array(fc.record({ to: pick, role: fc.constantFrom('member', 'leader'), date: fc.constantFrom(null, '2020/..', '2023', '2022-01') }), { maxLength: 2 })),
  }),
  fc.record({ op: fc.constant('create-event' as const), title: languageMap, date, actors: picks, places: picks, sources: picks, parent: fc.option(pick), description: fc.option(languageMap) }),
  fc.record({ op: fc.constant('patch-event' as const), which: pick, title: fc.option(languageMap), date: fc.option(date), rekey: fc.boolean(), type: fc.option(fc.constantFrom('protest', 'meeting')) }),
  fc.record({
    op: fc.constant('create-statement' as const),
    text: languageMap,
    date,
    speaker: pick,
    about: fc.record({ actors: picks, places: picks, events: picks }),
    context: fc.option(pick),
    sources: picks,
  }),
  fc.record({ op: fc.constant('patch-statement' as const), which: pick, text: fc.option(languageMap), date: fc.option(date), speaker: fc.option(pick) }),
  fc.record({ op: fc.constant('delete' as const), kind: fc.constantFrom('statement', 'statement', 'event', 'event', 'actor', 'place', 'source'), which: pick }),
  fc.record({ op: fc.constant('import' as const), actor: pick, name: languageMap, event: pick, title: languageMap, place: pick, placeName: languageMap, date }),
);
type Write = typeof write extends fc.Arbitrary<infer W> ? W : never;

const COLLECTION = { source: 'sources', place: 'places', actor: 'actors', event: 'events', statement: 'statements' } as const;
type Kind = keyof typeof COLLECTION;

/** The keys of each kind that exist now. */
async function keysOf(probe: DocumentsProbe): Promise<Record<Kind, string[]>> {
  return {
    source: await probe.keys('sources'),
    place: await probe.keys('places'),
    actor: await probe.keys('actors'),
    event: await probe.keys('entries', 'event'),
    statement: await probe.keys('entries', 'statement'),
  };
}

async function apply(app: FastifyInstance, probe: DocumentsProbe, w: Write, step: number): Promise<string> {
  const keys = await keysOf(probe);
  const one = (kind: Kind, i: number) => (keys[kind].length === 0 ? undefined : keys[kind][i % keys[kind].length]);
  const some = (kind: Kind, list: number[]) => [...new Set(list.flatMap((i) => one(kind, i) ?? []))];
  const send = async (method: 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, contentType?: string) => {
    const res = await app.inject({
      method,
      url,
      headers: { ...AUTH, ...(contentType ? { 'content-type': contentType } : {}) },
      ...(payload === undefined ? {} : { payload: payload as string }),
    });
    expect(res.statusCode, `${method} ${url}: ${res.body.slice(0, 300)}`).toBeLessThan(500);
    return `${method} ${url} ${JSON.stringify(payload ?? null).slice(0, 200)} -> ${res.statusCode}`;
  };
  const patch = (kind: Kind, i: number, body: Json) => {
    const key = one(kind, i);
    return key === undefined ? Promise.resolve('nothing to patch') : send('PATCH', `/v1/${COLLECTION[kind]}/${key}`, body);
  };
  const fresh = (prefix: string) => `${prefix}:p${step}-${Math.floor(Math.random() * 1e9)}`;
  switch (w.op) {
    case 'create-source':
      return send('POST', '/v1/sources', { key: fresh('src'), type: 'news_article', title: w.title, lang: w.lang, published: w.published });
    case 'patch-source':
      return patch('source', w.which, { title: w.title, lang: w.lang, ...(w.rekey ? { key: fresh('src') } : {}) });
    case 'create-place':
      return send('POST', '/v1/places', { key: fresh('place'), type: 'city', name: w.name, ...(w.parent === null ? {} : { parent: one('place', w.parent) }) });
    case 'patch-place':
      return patch('place', w.which, { name: w.name, ...(w.lat === null ? { lat: null, lon: null } : { lat: w.lat, lon: 10.5 }), ...(w.rekey ? { key: fresh('place') } : {}) });
    case 'create-actor':
      return send('POST', '/v1/actors', {
        key: fresh('actor'),
        type: 'person',
        name: w.name,
        affiliations: w.affiliatedTo === null || one('actor', w.affiliatedTo) === undefined ? [] : [{ actor: one('actor', w.affiliatedTo), role: 'member', date: '2021/..' }],
      });
    case 'patch-actor':
      return patch('actor', w.which, {
        ...(w.name === null ? {} : { name: w.name }),
        ...(w.type === null ? {} : { type: w.type }),
        ...(w.rekey ? { key: fresh('actor') } : {}),
        ...(w.affiliations === null ? {} : { affiliations: w.affiliations.flatMap((a) => { const to = one('actor', a.to); return to ? [{ actor: to, role: a.role, date: a.date }] : []; }) }),
      });
    case 'create-event':
      return send('POST', '/v1/events', {
        key: fresh('event'),
        type: 'protest',
        date: w.date,
        title: w.title,
        description: w.description,
        actors: some('actor', w.actors).map((actor) => ({ actor, role: 'participant' })),
        places: some('place', w.places),
        sources: some('source', w.sources).map((source) => ({ source, excerpt: null })),
        ...(w.parent === null ? {} : { parent: one('event', w.parent) }),
      });
    case 'patch-event':
      return patch('event', w.which, {
        ...(w.title === null ? {} : { title: w.title }),
        ...(w.date === null ? {} : { date: w.date }),
        ...(w.type === null ? {} : { type: w.type }),
        ...(w.rekey ? { key: fresh('event') } : {}),
      });
    case 'create-statement': {
      const speaker = one('actor', w.speaker);
      if (speaker === undefined) return 'no actor to speak';
      return send('POST', '/v1/statements', {
        key: fresh('stmt'),
        type: 'quote',
        date: w.date,
        speaker,
        text: w.text,
        originalLang: Object.keys(w.text)[Object.keys(w.text).length - 1],
        about: { actors: some('actor', w.about.actors), places: some('place', w.about.places), events: some('event', w.about.events) },
        sources: some('source', w.sources).map((source) => ({ source, excerpt: null })),
        ...(w.context === null ? {} : { context: one('event', w.context) }),
      });
    }
    case 'patch-statement':
      return patch('statement', w.which, {
        ...(w.text === null ? {} : { text: w.text, originalLang: null }),
        ...(w.date === null ? {} : { date: w.date }),
        ...(w.speaker === null || one('actor', w.speaker) === undefined ? {} : { speaker: one('actor', w.speaker) }),
      });
    case 'delete': {
      const key = one(w.kind, w.which);
      return key === undefined ? 'nothing to delete' : send('DELETE', `/v1/${COLLECTION[w.kind]}/${key}`);
    }
    case 'import': {
      // full records replace the stored ones: an actor and a place renamed, an event retitled,
      // and a new event naming them, in one batch
      const actor = one('actor', w.actor);
      const place = one('place', w.place);
      const records: Json[] = [];
      if (actor) records.push({ kind: 'actor', key: actor, type: 'person', name: w.name, aliases: [] });
      if (place) records.push({ kind: 'place', key: place, type: 'city', name: w.placeName });
      const event = one('event', w.event);
      if (event) {
        const stored = (await app.inject(`/v1/events/${event}`)).json<Json>();
        records.push({
          kind: 'event',
          key: event,
          type: stored.type,
          date: stored.date.edtf,
          title: w.title,
          places: (stored.places as Json[]).map((p) => p.key),
          actors: (stored.actors as Json[]).map((a) => ({ actor: a.actor.key, role: a.role })),
          tags: stored.tags,
          ...(stored.parent ? { parent: stored.parent.key } : {}),
          sources: (stored.sources as Json[]).map((s) => ({ source: s.source.key, excerpt: s.excerpt, start: s.start, end: s.end })),
        });
      }
      records.push({ kind: 'event', key: fresh('event'), type: 'meeting', date: w.date, title: w.title, actors: actor ? [{ actor, role: 'host' }] : [], places: place ? [place] : [] });
      return send('POST', '/v1/import', ndjson(records), 'application/x-ndjson');
    }
  }
}

/** Records that replace an actor and a place the seed holds, which many of its entries embed. */
const REPLACING = [
  { kind: 'actor', key: 'actor:amreyev', type: 'person', name: { en: 'Renamed in the load', ar: 'اسم' }, aliases: [] },
  { kind: 'place', key: 'place:kz', type: 'country', name: { en: 'Kazakhstan (renamed)', kk: 'Қазақстан' } },
];

/** The seed's files, then {@link REPLACING}: one load that carries those keys twice. */
async function* seedThenReplacing() {
  for (const file of seedFiles()) for await (const chunk of createReadStream(file)) yield chunk as Buffer;
  yield Buffer.from(ndjson(REPLACING));
}

describeEngines('entry documents after random writes', (engine) => {
  it('equal the entries rendered from their rows, for every entry and language, after every write', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(write, { minLength: 1, maxLength: 20 }), async (writes) => {
        const t = await buildTestApp({ seed: true, engine });
        try {
          const probe = documentsProbe(t.app);
          await expectDocumentsCurrent(probe, 'after the seed');
          for (const [step, w] of writes.entries()) {
            const done = await apply(t.app, probe, w, step);
            await expectDocumentsCurrent(probe, `after write ${step} (${done})`);
            if (process.env.ENTRY_DOCUMENTS_LOG) console.log(done);
          }
        } finally {
          await t.close();
        }
      }),
      // PostgreSQL's databases take longer to make: fewer runs there
      { seed: SEED, numRuns: engine === 'postgres' ? Math.ceil(RUNS / 2) : RUNS, endOnFailure: true },
    );
  }, 480_000);
});

describe('entry documents after bulk loads', () => {

  it('are written by a bulk load, also for records the load replaces', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'annals-bulk-documents-'));
    const db = openDatabase(join(dir, 'annals.db'));
    try {
      runMigrations(db);
      // the seed as one load, then records that replace an actor, a place and an event it holds
      // (a bulk load into an empty database may still carry a key twice)
      const report = await importNdjson(await beginSqliteImport(db, join(dir, 'annals.db'), { bulkLoad: 'always' }), seedThenReplacing());
      expect(report.refused, JSON.stringify(report.errors)).toBe(0);
      // a bulk load leaves documents to be rendered after it: none stale meanwhile
      await expectStoredDocumentsCurrent(db, 'after a bulk load');
      writeAllMissingEntryDocuments(db);
      await expectDocumentsCurrent(db, 'after a bulk load');
      const names = db.$client
        .prepare("SELECT count(*) FROM entry_documents WHERE CAST(body AS TEXT) LIKE '%Renamed in the load%'")
        .pluck()
        .get() as number;
      expect(names).toBeGreaterThan(0);
    } finally {
      db.$client.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('are never stale after a bulk load into a database that has documents, which replaces records they embed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'annals-bulk-documents-'));
    const path = join(dir, 'annals.db');
    const db = openDatabase(path);
    try {
      runMigrations(db);
      for (const file of seedFiles()) await importNdjson(batchImportSession(db), createReadStream(file));
      await expectDocumentsCurrent(db, 'after the seed, batch by batch');
      const before = db.$client.prepare('SELECT count(*) FROM entry_documents').pluck().get() as number;
      const replacing = ndjson([
        ...REPLACING,
        { kind: 'event', key: 'event:bulk-new', type: 'meeting', date: '2022-01-07', title: { en: 'New in the load' }, actors: [{ actor: 'actor:amreyev', role: 'participant' }] },
      ]);
      const report = await importNdjson(await beginSqliteImport(db, path, { bulkLoad: 'always' }), Readable.from([Buffer.from(replacing)]));
      expect(report.refused, JSON.stringify(report.errors)).toBe(0);
      await expectStoredDocumentsCurrent(db, 'after the bulk load');
      const after = db.$client.prepare('SELECT count(*) FROM entry_documents').pluck().get() as number;
      // the documents naming the renamed actor or place went, the others stayed
      expect(after).toBeLessThan(before);
      expect(after).toBeGreaterThan(0);
      writeAllMissingEntryDocuments(db);
      await expectDocumentsCurrent(db, 'once the missing ones are rendered');
    } finally {
      db.$client.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describePg('entry documents after an import into a database that has documents', () => {
  const replacing = ndjson([
    ...REPLACING,
    { kind: 'event', key: 'event:copied-new', type: 'meeting', date: '2022-01-07', title: { en: 'New in the import' }, actors: [{ actor: 'actor:amreyev', role: 'participant' }] },
    { kind: 'statement', key: 'statement:copied-new', type: 'quote', date: '2022-01-08', speaker: 'actor:amreyev', text: { en: 'Said in the import' }, context: 'event:copied-new' },
  ]);

  for (const bulkLoad of [undefined, 'always'] as const) {
    it(`are current once it has committed, ${bulkLoad === undefined ? 'batch by batch (COPY per batch)' : 'as one load (bulkLoad=always)'}`, async () => {
      const t = await buildTestApp({ engine: 'postgres', seed: true });
      try {
        await documentsWritten(t.app);
        const probe = documentsProbe(t.app);
        await expectDocumentsCurrent(probe, 'after the seed');
        const session = await t.app.storage.beginImport(bulkLoad === undefined ? {} : { bulkLoad });
        expect(session.mode).toBe(bulkLoad === 'always' ? 'bulk' : 'batches');
        const report = await importNdjson(session, Readable.from([Buffer.from(replacing)]));
        expect(report.refused, JSON.stringify(report.errors)).toBe(0);
        expect(report.created).toBe(2);
        // rendered in the import's own transactions, not by the pass after it
        await expectDocumentsCurrent(probe, `after the import (${session.mode})`);
        expect(await probe.containing('Renamed in the load')).toBeGreaterThan(2);
        const page = await t.app.inject('/v1/timeline?from=2022-01-07&to=2022-01-08&lang=en');
        expect(page.body).toContain('New in the import');
        expect(page.body).toContain('Said in the import');
      } finally {
        await t.close();
      }
    });
  }
});

describePg('entry documents after a bulk load', () => {
  it('are rendered by the pass after the load, and none is stale meanwhile', async () => {
    const t = await buildTestApp({ engine: 'postgres' });
    try {
      const session = await t.app.storage.beginImport({ bulkLoad: 'always' });
      expect(session.mode).toBe('bulk');
      const report = await importNdjson(session, seedThenReplacing());
      expect(report.refused, JSON.stringify(report.errors)).toBe(0);
      const probe = documentsProbe(t.app);
      // the pass runs after the load: whatever it has written by now is current
      await expectStoredDocumentsCurrent(probe, 'after a bulk load');
      const entries = await probe.entryIds();
      expect(entries.length).toBeGreaterThan(20);
      // served from the rows while documents are missing: the same bytes
      const page = (await t.app.inject('/v1/timeline?limit=50&lang=ar')).body;
      await documentsWritten(t.app);
      await expectDocumentsCurrent(probe, 'after the pass');
      expect(await probe.containing('Renamed in the load')).toBeGreaterThan(0);
      expect((await t.app.inject('/v1/timeline?limit=50&lang=ar')).body).toBe(page);
    } finally {
      await t.close();
    }
  });
});
