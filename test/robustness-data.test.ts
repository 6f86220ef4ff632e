/**
 * Issue #13, defects 8 and 24: every write the API accepts leaves data that exports,
 * imports into an empty instance and exports again to the same bytes, and what the API
 * refuses the import refuses too. Each test builds the real app on its own fresh database, on
 * each engine.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { AUTH, buildTestApp, ndjson, type TestApp } from './helpers.js';
import { describeEngines, type Engine } from './support/pg.js';
import { expectRoundTrip, exportText, importText, splitTrailer } from './support/roundtrip.js';

/** An export's records, without the trailer (whose revision counts every write transaction, even one that stored nothing). */
const exportedRecords = async (app: Parameters<typeof exportText>[0]) => splitTrailer(await exportText(app)).records;

type Json = Record<string, any>;
type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

let t: TestApp;
/** Inside a block of `engine`: a fresh app for each of its tests. */
function eachTestApp(engine: Engine): void {
  beforeEach(async () => {
    t = await buildTestApp({ memory: true, engine });
  });
  afterEach(async () => {
    await t.close();
  });
}

const send = (method: Method, url: string, payload?: object) =>
  t.app.inject({ method, url, headers: AUTH, ...(payload === undefined ? {} : { payload }) });
const get = (url: string) => t.app.inject({ method: 'GET', url });

function ok(res: LightMyRequestResponse, status = 200): Json {
  expect(res.statusCode, res.body).toBe(status);
  return res.json();
}
const create = async (collection: string, body: object) => ok(await send('POST', `/v1/${collection}`, body), 201);

/** A problem+json refusal with this status, naming `path` among its errors. */
function refused(res: LightMyRequestResponse, status: number, path?: string): Json {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json();
  if (path !== undefined) {
    expect(body.errors?.map((e: Json) => e.path), JSON.stringify(body.errors)).toContain(path);
  }
  return body;
}

const importLines = (records: object[]) => importText(t.app, ndjson(records));
const place = (key: string, parent: string | null = null) => ({ kind: 'place', key, type: 'region', name: { en: key }, parent });
const event = (key: string, parent: string | null = null) => ({
  kind: 'event',
  key,
  type: 'protest',
  date: '2022-01-02',
  title: { en: key },
  parent,
});

describeEngines('defect 8: accepted edits leave data the export brings back', (engine) => {
  eachTestApp(engine);
  it('refuses a place parent cycle closed above any depth, naming the places', async () => {
    const chain = Array.from({ length: 120 }, (_, i) => place(`place:p${i}`, i === 0 ? null : `place:p${i - 1}`));
    expect((await importLines(chain)).refused).toBe(0);
    const body = refused(await send('PATCH', '/v1/places/place:p0', { parent: 'place:p119' }), 400, '/parent');
    expect(body.detail).toContain('place:p119');
    expect(body.detail).toContain('place:p0');
    // short cycles and the place itself, as before
    refused(await send('PATCH', '/v1/places/place:p0', { parent: 'place:p1' }), 400, '/parent');
    refused(await send('PATCH', '/v1/places/place:p5', { parent: 'place:p5' }), 400, '/parent');
    // the import refuses the same edit
    const report = await importLines([place('place:p0', 'place:p119')]);
    expect(report.refused).toBe(1);
    expect(report.errors[0].reason).toContain('place:p119');
    expect(ok(await get('/v1/places/place:p0')).parent).toBeNull();
    await expectRoundTrip(t.app);
  });

  it('a place moved under a chain deeper than 100 exports after its parents and round-trips', async () => {
    await create('places', { key: 'place:moved', type: 'site', name: { en: 'moved' } });
    const chain = Array.from({ length: 110 }, (_, i) => place(`place:d${i}`, i === 0 ? null : `place:d${i - 1}`));
    expect((await importLines(chain)).refused).toBe(0);
    ok(await send('PATCH', '/v1/places/place:moved', { parent: 'place:d109' }));
    const keys = (await exportText(t.app)).trim().split('\n').map((line) => JSON.parse(line).key);
    expect(keys.indexOf('place:moved')).toBeGreaterThan(keys.indexOf('place:d109'));
    await expectRoundTrip(t.app);
  });

  it('refuses an event parent cycle closed above any depth; a deep chain round-trips', async () => {
    await create('events', { key: 'event:moved', type: 'protest', date: '2022-01-01', title: { en: 'moved' } });
    const chain = Array.from({ length: 1010 }, (_, i) => event(`event:e${i}`, i === 0 ? null : `event:e${i - 1}`));
    expect((await importLines(chain)).refused).toBe(0);
    const body = refused(await send('PATCH', '/v1/events/event:e0', { parent: 'event:e1009' }), 400, '/parent');
    expect(body.detail).toContain('event:e1009');
    expect(body.detail).toContain('event:e0');
    const report = await importLines([event('event:e0', 'event:e1009')]);
    expect(report.refused).toBe(1);
    expect(ok(await get('/v1/events/event:e0')).parent).toBeNull();
    ok(await send('PATCH', '/v1/events/event:moved', { parent: 'event:e1009' }));
    await expectRoundTrip(t.app);
  }, 60_000);

  it('refuses affiliations that close a cycle of any length, naming the actors; the import agrees', async () => {
    for (const key of ['actor:a', 'actor:b', 'actor:c', 'actor:d']) await create('actors', { key, type: 'organization', name: { en: key } });
    ok(await send('PATCH', '/v1/actors/actor:b', { affiliations: [{ actor: 'actor:a', role: 'member_of' }] }));
    // mutual: a to b while b is affiliated to a
    const mutual = refused(
      await send('PATCH', '/v1/actors/actor:a', { affiliations: [{ actor: 'actor:b', role: 'has_member' }] }),
      400,
      '/affiliations/0/actor',
    );
    expect(mutual.detail).toContain('actor:a');
    expect(mutual.detail).toContain('actor:b');
    // longer: d -> c -> b -> a, then a -> d
    ok(await send('PATCH', '/v1/actors/actor:c', { affiliations: [{ actor: 'actor:b', role: 'organ_of' }] }));
    ok(await send('PATCH', '/v1/actors/actor:d', { affiliations: [{ actor: 'actor:c', role: 'organ_of' }] }));
    const long = refused(
      await send('PATCH', '/v1/actors/actor:a', {
        affiliations: [
          { actor: 'actor:c', role: 'ally' },
          { actor: 'actor:d', role: 'ally' },
        ],
      }),
      400,
      '/affiliations/1/actor',
    );
    expect(long.detail).toMatch(/actor:d → actor:c → actor:b → actor:a/);
    // a new actor cannot close a cycle: nothing refers to it yet
    await create('actors', { key: 'actor:e', type: 'person', name: { en: 'e' }, affiliations: [{ actor: 'actor:a', role: 'x' }] });

    // the import refuses the same edit of a stored actor...
    const report = await importLines([
      { kind: 'actor', key: 'actor:a', type: 'organization', name: { en: 'actor:a' }, affiliations: [{ actor: 'actor:d', role: 'ally' }] },
    ]);
    expect(report.refused).toBe(1);
    expect(report.errors[0].reason).toContain('cycle');
    expect(ok(await get('/v1/actors/actor:a')).affiliations).toEqual([]);
    // ...and a file whose actors are affiliated both ways stores no cycle either
    const file = await importLines([
      { kind: 'actor', key: 'actor:x', type: 'group', name: { en: 'x' }, affiliations: [{ actor: 'actor:y', role: 'ally' }] },
      { kind: 'actor', key: 'actor:y', type: 'group', name: { en: 'y' }, affiliations: [{ actor: 'actor:x', role: 'ally' }] },
    ]);
    expect(file.refused).toBe(2);
    await expectRoundTrip(t.app);
  });

  it("refuses a source text change that existing citations would no longer match, naming them", async () => {
    const text = 'Protests began in Zhanaozen on 2 January.';
    await create('sources', { key: 'src:r', type: 'news_article', text });
    await create('actors', { key: 'actor:s', type: 'person', name: { en: 's' } });
    await create('events', {
      key: 'event:cites',
      type: 'protest',
      date: '2022-01-02',
      title: { en: 'x' },
      sources: [{ source: 'src:r', excerpt: 'Protests', start: 0, end: 8 }],
    });
    await create('statements', {
      key: 'stmt:cites',
      type: 'quote',
      date: '2022-01-02',
      speaker: 'actor:s',
      text: { en: 'x' },
      sources: [{ source: 'src:r', start: 18, end: 27 }],
    });
    const shorter = refused(await send('PATCH', '/v1/sources/src:r', { text: 'Riots.' }), 409, '/text');
    expect(shorter.detail).toContain('event:cites');
    expect(shorter.detail).toContain('stmt:cites');
    // the excerpt moved: the event's offsets no longer hold it (the statement's are still in the text)
    const moved = refused(await send('PATCH', '/v1/sources/src:r', { text: `Big ${text}` }), 409, '/text');
    expect(moved.detail).toContain('event:cites');
    expect(moved.detail).not.toContain('stmt:cites');
    refused(await send('PATCH', '/v1/sources/src:r', { text: null }), 409, '/text');
    expect(ok(await get('/v1/sources/src:r')).text).toBe(text);
    // the same change by import is refused too
    const report = await importLines([{ kind: 'source', key: 'src:r', type: 'news_article', text: 'Riots.' }]);
    expect(report.refused).toBe(1);
    expect(report.errors[0].reason).toContain('event:cites');
    // a change that keeps every cited passage in place is fine
    ok(await send('PATCH', '/v1/sources/src:r', { text: `${text} Then more.` }));
    await expectRoundTrip(t.app);
  });

  it("a timeline's key is never another timeline's slug, so the import finds timelines by key", async () => {
    await create('timelines', { key: 'timeline:a', slug: 'alpha', title: { en: 'A' } });
    await create('timelines', { key: 'timeline:b', slug: 'beta', title: { en: 'B' } });
    refused(await send('PATCH', '/v1/timelines/timeline:b', { key: 'alpha' }), 400, '/key');
    refused(await send('POST', '/v1/timelines', { key: 'beta', slug: 'gamma', title: { en: 'C' } }), 400, '/key');
    // a timeline may keep its own key as its slug
    await create('timelines', { key: 'own', slug: 'own', title: { en: 'O' } });
    ok(await send('PATCH', '/v1/timelines/own', { title: { en: 'O2' } }));
    await create('timelines', { key: 'delta', slug: 'delta-slug', title: { en: 'D' } });
    refused(await send('PATCH', '/v1/timelines/timeline:a', { slug: 'delta' }), 400, '/slug');
    // a line whose key is another timeline's slug is refused, not taken for that timeline
    const report = await importLines([{ kind: 'timeline', key: 'beta', slug: 'beta-two', title: { en: 'not B' } }]);
    expect(report.refused).toBe(1);
    expect(ok(await get('/v1/timelines/timeline:b')).title).toEqual({ en: 'B' });
    await expectRoundTrip(t.app);
  });
});

describeEngines('defect 24: references and offsets are checked the same way by the API and the import', (engine) => {
  eachTestApp(engine);
  beforeEach(async () => {
    await create('sources', { key: 'src:text', type: 'news_article', text: 'نص المصدر' }); // 9 code points
    await create('sources', { key: 'src:bare', type: 'news_article' });
    await create('places', { key: 'place:kz', type: 'country', name: { en: 'Kazakhstan' } });
    await create('places', { key: 'place:almaty', type: 'city', name: { en: 'Almaty' }, parent: 'place:kz' });
    await create('actors', { key: 'actor:ots', type: 'organization', name: { en: 'OTS' } });
    await create('actors', { key: 'actor:kz', type: 'state', name: { en: 'Kazakhstan' } });
    await create('events', { key: 'event:meeting', type: 'meeting', date: '2022-01-11', title: { en: 'Meeting' } });
  });
  const eventWith = (extra: object) => ({ type: 'protest', date: '2022-01-02', title: { en: 'x' }, ...extra });
  const statementWith = (extra: object) => ({ type: 'quote', date: '2022-01-11', speaker: 'actor:kz', text: { en: 'x' }, ...extra });

  it('checks citation offsets against the source text, with or without an excerpt', async () => {
    const cite = (c: object) => eventWith({ sources: [{ source: 'src:text', ...c }] });
    refused(await send('POST', '/v1/events', cite({ start: 2147483648, end: 2147483648 })), 400, '/sources/0/end');
    refused(await send('POST', '/v1/events', cite({ start: 0, end: 10 })), 400, '/sources/0/end');
    refused(await send('POST', '/v1/events', cite({ start: 5, end: 3 })), 400, '/sources/0/end');
    refused(await send('POST', '/v1/events', cite({ start: 0 })), 400, '/sources/0');
    // offsets need a text to point into
    refused(await send('POST', '/v1/events', eventWith({ sources: [{ source: 'src:bare', start: 0, end: 0 }] })), 400, '/sources/0/start');
    refused(
      await send('PATCH', '/v1/events/event:meeting', { sources: [{ source: 'src:bare', excerpt: 'x', start: 0, end: 1 }] }),
      400,
      '/sources/0/start',
    );
    // within the text: accepted, with the excerpt it holds or none
    await create('events', { key: 'event:whole', ...cite({ start: 0, end: 9 }) });
    await create('events', { key: 'event:word', ...cite({ excerpt: 'المصدر', start: 3, end: 9 }) });
    await create('events', eventWith({ key: 'event:bare', sources: [{ source: 'src:bare', excerpt: 'no offsets' }] }));

    // the import refuses what the API refuses
    const lines = [
      { kind: 'event', key: 'event:far', ...cite({ start: 2147483648, end: 2147483648 }) },
      { kind: 'event', key: 'event:past', ...cite({ start: 0, end: 10 }) },
      { kind: 'event', key: 'event:no-text', ...eventWith({ sources: [{ source: 'src:bare', start: 0, end: 0 }] }) },
    ];
    const report = await importLines(lines);
    expect(report.refused).toBe(3);
    expect((await get('/v1/events/event:far')).statusCode).toBe(404);
    await expectRoundTrip(t.app);
  });

  it('refuses a reference listed twice in one record, in the API and the import alike', async () => {
    const kz = ok(await get('/v1/places/place:kz')).id as number;
    const cases: [string, string, object, string][] = [
      ['POST', '/v1/events', eventWith({ places: ['place:kz', 'place:kz'] }), '/places/1'],
      ['POST', '/v1/events', eventWith({ places: [kz, 'place:almaty', 'place:kz'] }), '/places/2'],
      ['POST', '/v1/events', eventWith({ places: [String(kz), 'place:kz'] }), '/places/1'],
      [
        'POST',
        '/v1/events',
        eventWith({ actors: [{ actor: 'actor:ots', role: 'organizer' }, { actor: 'actor:ots', role: 'organizer' }] }),
        '/actors/1',
      ],
      [
        'POST',
        '/v1/events',
        eventWith({ sources: [{ source: 'src:text', excerpt: 'نص' }, { source: 'src:text', excerpt: 'نص' }] }),
        '/sources/1',
      ],
      ['PATCH', '/v1/events/event:meeting', { places: ['place:almaty', 'place:almaty'] }, '/places/1'],
      ['POST', '/v1/statements', statementWith({ about: { actors: ['actor:ots', 'actor:ots'] } }), '/about/actors/1'],
      ['POST', '/v1/statements', statementWith({ about: { places: ['place:kz', kz] } }), '/about/places/1'],
      ['POST', '/v1/statements', statementWith({ about: { events: ['event:meeting', 'event:meeting'] } }), '/about/events/1'],
      [
        'POST',
        '/v1/actors',
        { type: 'person', name: { en: 'p' }, affiliations: [{ actor: 'actor:ots', role: 'member' }, { actor: 'actor:ots', role: 'member' }] },
        '/affiliations/1',
      ],
      ['PATCH', '/v1/actors/actor:kz', { affiliations: [{ actor: 'actor:ots', role: 'member', date: '2022' }, { actor: 'actor:ots', role: 'member', date: '2022' }] }, '/affiliations/1'],
    ];
    const before = await exportedRecords(t.app);
    for (const [method, url, body, path] of cases) refused(await send(method as Method, url, body), 400, path);
    expect(await exportedRecords(t.app)).toBe(before);

    // the same records through the import are refused too
    const kindOf = (url: string) => ({ events: 'event', statements: 'statement', actors: 'actor' })[url.split('/')[2] as 'events'];
    const lines = cases.map(([method, url, body], i) =>
      method === 'POST'
        ? { kind: kindOf(url), key: `${kindOf(url)}:dup-${i}`, ...body }
        : url.startsWith('/v1/events')
          ? { kind: 'event', key: 'event:meeting', type: 'meeting', date: '2022-01-11', title: { en: 'Meeting' }, ...body }
          : { kind: 'actor', key: 'actor:kz', type: 'state', name: { en: 'Kazakhstan' }, ...body },
    );
    const report = await importLines(lines);
    expect(report.errors.map((e: Json) => e.line)).toEqual(cases.map((_, i) => i + 1));
    expect(await exportedRecords(t.app)).toBe(before);

    // not duplicates: one actor in two roles, one source cited for two passages, the speaker also spoken about
    await create(
      'events',
      eventWith({
        actors: [{ actor: 'actor:ots', role: 'organizer' }, { actor: 'actor:ots', role: 'participant' }],
        sources: [{ source: 'src:text', excerpt: 'نص' }, { source: 'src:text', excerpt: 'المصدر' }],
      }),
    );
    await create('statements', statementWith({ about: { actors: ['actor:kz'] } }));
    await create('actors', {
      type: 'person',
      name: { en: 'q' },
      affiliations: [{ actor: 'actor:ots', role: 'member', date: '2020' }, { actor: 'actor:ots', role: 'member', date: '2022' }],
    });
    await expectRoundTrip(t.app);
  });

  it('only the canonical spelling of an integer id addresses a record', async () => {
    const kz = ok(await get('/v1/places/place:kz')).id as number;
    expect(kz).toBe(1);
    ok(await get('/v1/places/1'));
    for (const spelling of ['01', '001', '00001', '+1', '%201', '1%20', '%091', '1.0', '0x1', '1e0', '0']) {
      expect((await get(`/v1/places/${spelling}`)).statusCode, spelling).toBe(404);
      expect((await send('PATCH', `/v1/places/${spelling}`, { name: { en: 'x' } })).statusCode, spelling).toBe(404);
      expect((await send('DELETE', `/v1/events/${spelling}`)).statusCode, spelling).toBe(404);
      expect((await get(`/v1/places/${spelling}/timeline`)).statusCode, spelling).toBe(404);
      expect((await get(`/v1/timeline?place=${spelling}`)).statusCode, spelling).toBe(400);
      expect((await get(`/v1/places?parent=${spelling}`)).statusCode, spelling).toBe(400);
    }
    // in bodies: a reference spelled so is no record
    for (const ref of ['01', '+1', ' 1', '1 ', '1.0']) {
      refused(await send('POST', '/v1/events', eventWith({ places: [ref] })), 422, '/places/0');
      refused(await send('PATCH', '/v1/places/place:almaty', { parent: ref }), 422, '/parent');
    }
    await create('events', eventWith({ key: 'event:by-id', places: [1, '2'] }));
    // and the import agrees
    const report = await importLines([{ kind: 'event', key: 'event:odd-id', ...eventWith({ places: ['01'] }) }]);
    expect(report.refused).toBe(1);
    expect(ok(await get('/v1/places/place:almaty')).parent.key).toBe('place:kz');
    await expectRoundTrip(t.app);
  });
});
