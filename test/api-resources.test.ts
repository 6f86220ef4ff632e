/**
 * The CRUD resources under /v1 (sources, places, actors, events, statements, curated
 * timelines) as users see them over HTTP: each test builds the real app on its own fresh
 * database, on each engine, and talks to it with `inject`.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { AUTH, buildTestApp, type TestApp, expectProblem } from './helpers.js';
import { describeEngines, type Engine } from './support/pg.js';

let t: TestApp;

/** Inside a describe block: a fresh app on `engine` for each of its tests. */
function eachTestApp(engine: Engine) {
  beforeEach(async () => {
    t = await buildTestApp({ memory: true, engine });
  });
  afterEach(async () => {
    vi.useRealTimers();
    await t.close();
  });
}

type Json = Record<string, any>;

const get = (url: string) => t.app.inject({ method: 'GET', url });
const post = (url: string, payload: object) => t.app.inject({ method: 'POST', url, payload, headers: AUTH });
const patch = (url: string, payload: object) => t.app.inject({ method: 'PATCH', url, payload, headers: AUTH });
const del = (url: string) => t.app.inject({ method: 'DELETE', url, headers: AUTH });

function ok(res: LightMyRequestResponse, status = 200): Json {
  expect(res.statusCode, res.body).toBe(status);
  return res.json();
}

async function create(collection: string, body: object): Promise<Json> {
  return ok(await post(`/v1/${collection}`, body), 201);
}

/** Every item of a list, following `page.nextCursor`, checking the Link header on the way. */
async function walk(url: string): Promise<{ items: Json[]; pages: number }> {
  const items: Json[] = [];
  let next: string | null = url;
  let pages = 0;
  while (next !== null) {
    const res = await get(next);
    const body = ok(res);
    pages += 1;
    expect(pages).toBeLessThan(100);
    items.push(...body.data);
    const cursor: string | null = body.page.nextCursor;
    const link = res.headers.link as string | undefined;
    if (cursor === null) {
      expect(link).toBeUndefined();
      next = null;
    } else {
      expect(link).toMatch(/^<\/v1\/[^>]+>; rel="next"$/);
      const linked = new URL(link!.slice(1, link!.indexOf('>')), 'http://x');
      expect(linked.searchParams.get('cursor')).toBe(cursor);
      // the Link target is the next page: follow it
      next = `${linked.pathname}${linked.search}`;
    }
  }
  return { items, pages };
}

const keysOf = (items: Json[]) => items.map((i) => i.key);

/** A small world: two sources, places in two countries, actors, events, statements, a timeline. */
async function world() {
  await create('sources', {
    key: 'src:report',
    type: 'news_article',
    outlet: 'Turk Press (Anadolu)',
    title: { ar: 'تقرير', en: 'Report' },
    lang: 'ar',
    published: '2022-01-11',
    text: 'اندلعت احتجاجات في كازاخستان',
  });
  await create('sources', { key: 'src:wire', type: 'wire', title: { en: 'Wire' }, lang: 'en', published: '2022-01' });
  await create('places', {
    key: 'place:kz',
    type: 'country',
    name: { ar: 'كازاخستان', en: 'Kazakhstan' },
    countryCode: 'KZ',
  });
  await create('places', {
    key: 'place:almaty',
    type: 'city',
    name: { ar: 'ألماتي', en: 'Almaty' },
    countryCode: 'KZ',
    parent: 'place:kz',
    lat: 43.2389,
    lon: 76.8897,
  });
  await create('places', { key: 'place:tr', type: 'country', name: { en: 'Turkey' }, countryCode: 'TR' });
  await create('places', { key: 'place:ankara', type: 'city', name: { en: 'Ankara' }, countryCode: 'TR', parent: 'place:tr' });
  await create('actors', { key: 'actor:ots', type: 'organization', name: { ar: 'منظمة الدول التركية', en: 'OTS' } });
  await create('actors', { key: 'actor:kz', type: 'state', name: { ar: 'كازاخستان', en: 'Kazakhstan' } });
  await create('actors', {
    key: 'actor:amreyev',
    type: 'person',
    name: { ar: 'بغداد أمرييف', en: 'Baghdad Amreyev' },
    affiliations: [
      { actor: 'actor:ots', role: 'secretary_general', date: '2018-09-03/..' },
      { actor: 'actor:kz', role: 'ambassador', date: '2010/2012' },
    ],
  });
  await create('actors', { key: 'actor:protesters', type: 'group', name: { ar: 'المحتجون', en: 'Protesters' } });
  await create('events', {
    key: 'event:protests',
    type: 'protest',
    date: '2022-01-02',
    title: { ar: 'احتجاجات', en: 'Protests' },
    description: { ar: 'اندلعت احتجاجات', en: 'Protests broke out' },
    places: ['place:almaty'],
    actors: [{ actor: 'actor:protesters', role: 'participant' }],
    tags: ['fuel-prices', 'unrest'],
    sources: [{ source: 'src:report', excerpt: 'اندلعت احتجاجات', start: 0, end: 15 }],
  });
  await create('events', {
    key: 'event:resignation',
    type: 'government_resignation',
    date: '2022-01-05',
    title: { ar: 'استقالة الحكومة', en: 'Government resigns' },
    places: ['place:kz'],
    tags: ['unrest'],
  });
  await create('events', {
    key: 'event:meeting',
    type: 'meeting',
    date: '2022-01-11',
    title: { ar: 'اجتماع طارئ', en: 'Extraordinary meeting' },
    actors: [{ actor: 'actor:ots', role: 'organizer' }],
  });
  await create('events', { key: 'event:ankara-talks', type: 'meeting', date: '2022-02-15', title: { en: 'Talks in Ankara' }, places: ['place:ankara'] });
  await create('statements', {
    key: 'stmt:solidarity',
    type: 'quote',
    date: '2022-01-11',
    speaker: 'actor:amreyev',
    text: { ar: 'نقف إلى جانب كازاخستان', en: 'We stand by Kazakhstan' },
    originalLang: 'ar',
    context: 'event:meeting',
    about: { actors: ['actor:kz'], places: ['place:kz'], events: ['event:protests'] },
    sources: [{ source: 'src:report' }],
  });
  await create('timelines', {
    key: 'timeline:kz',
    slug: 'kz-2022',
    title: { ar: 'كازاخستان 2022', en: 'Kazakhstan 2022' },
    entries: ['stmt:solidarity', 'event:protests'],
  });
}

/** Counts of every resource, to show that a refused write changed nothing. */
async function counts() {
  const out: Record<string, number> = {};
  for (const c of ['sources', 'places', 'actors', 'events', 'statements', 'timelines']) {
    out[c] = (await walk(`/v1/${c}?limit=500`)).items.length;
  }
  return out;
}


describeEngines('create and read', (engine) => {
  eachTestApp(engine);
  const cases: { collection: string; body: Json; prefix: string }[] = [
    { collection: 'sources', body: { type: 'news_article', title: { en: 'A report' } }, prefix: 'src:' },
    { collection: 'places', body: { type: 'country', name: { en: 'Kazakhstan' }, countryCode: 'KZ' }, prefix: 'place:' },
    { collection: 'actors', body: { type: 'person', name: { en: 'Someone' } }, prefix: 'actor:' },
    { collection: 'events', body: { type: 'protest', date: '2022-01-02', title: { en: 'Protests' } }, prefix: 'event:' },
    { collection: 'timelines', body: { slug: 'a-story', title: { en: 'A story' } }, prefix: 'timeline:' },
  ];

  for (const { collection, body, prefix } of cases) {
    it(`POST /v1/${collection} answers 201 with Location, id, a generated key and timestamps`, async () => {
      const res = await post(`/v1/${collection}`, body);
      const created = ok(res, 201);
      expect(created.id).toEqual(expect.any(Number));
      expect(res.headers.location).toBe(`/v1/${collection}/${created.id}`);
      expect(created.key.startsWith(prefix)).toBe(true);
      expect(created.key.length).toBeGreaterThan(prefix.length + 8);
      expect(Number.isNaN(Date.parse(created.createdAt))).toBe(false);
      expect(created.updatedAt).toBe(created.createdAt);

      const byLocation = ok(await get(res.headers.location as string));
      const byId = ok(await get(`/v1/${collection}/${created.id}`));
      const byKey = ok(await get(`/v1/${collection}/${encodeURIComponent(created.key)}`));
      expect(byId).toEqual(byKey);
      expect(byLocation).toEqual(byId);
      expect(byId).toMatchObject(created);

      // two creations without a key get two different keys
      const second = ok(await post(`/v1/${collection}`, { ...body, ...(collection === 'timelines' ? { slug: 'another-story' } : {}) }), 201);
      expect(second.key).not.toBe(created.key);
      expect(second.id).not.toBe(created.id);
    });
  }

  it('POST keeps a client-chosen key and reads it back by key', async () => {
    const created = await create('sources', { key: 'src:mine', type: 'news_article', lang: 'ar', outlet: 'Turk Press' });
    expect(created).toMatchObject({ key: 'src:mine', type: 'news_article', lang: 'ar', outlet: 'Turk Press' });
    expect(ok(await get('/v1/sources/src:mine')).id).toBe(created.id);
  });

  it('creates the whole world with references by key and reads every kind back', async () => {
    await world();
    const event = ok(await get('/v1/events/event:protests'));
    expect(event).toMatchObject({
      kind: 'event',
      key: 'event:protests',
      type: 'protest',
      title: { ar: 'احتجاجات', en: 'Protests' },
      tags: ['fuel-prices', 'unrest'],
      parent: null,
    });
    expect(event.places).toEqual([
      expect.objectContaining({ key: 'place:almaty', type: 'city', countryCode: 'KZ', lat: 43.2389, lon: 76.8897 }),
    ]);
    expect(event.sources).toEqual([
      expect.objectContaining({ excerpt: 'اندلعت احتجاجات', start: 0, end: 15, source: expect.objectContaining({ key: 'src:report' }) }),
    ]);
    const place = ok(await get('/v1/places/place:almaty'));
    expect(place.parent).toMatchObject({ key: 'place:kz', type: 'country', name: { en: 'Kazakhstan', ar: 'كازاخستان' } });
    const statement = ok(await get('/v1/statements/stmt:solidarity'));
    expect(statement.context).toMatchObject({ key: 'event:meeting', type: 'meeting' });
    expect(statement.about.actors.map((a: Json) => a.key)).toEqual(['actor:kz']);
    expect(statement.about.places.map((p: Json) => p.key)).toEqual(['place:kz']);
    expect(statement.about.events.map((e: Json) => e.key)).toEqual(['event:protests']);
  });

  it('an event is not found as a statement and a statement not as an event', async () => {
    await world();
    const event = ok(await get('/v1/events/event:protests'));
    const statement = ok(await get('/v1/statements/stmt:solidarity'));
    expectProblem(await get('/v1/statements/event:protests'), 404);
    expectProblem(await get(`/v1/statements/${event.id}`), 404);
    expectProblem(await get('/v1/events/stmt:solidarity'), 404);
    expectProblem(await get(`/v1/events/${statement.id}`), 404);
  });

  it('timelines are read by id, key and slug, with their entries in the curator order', async () => {
    await world();
    const bySlug = ok(await get('/v1/timelines/kz-2022'));
    const byKey = ok(await get('/v1/timelines/timeline:kz'));
    const byId = ok(await get(`/v1/timelines/${bySlug.id}`));
    expect(byKey).toEqual(bySlug);
    expect(byId).toEqual(bySlug);
    expect(bySlug).toMatchObject({ key: 'timeline:kz', slug: 'kz-2022', entryCount: 2 });
    expect(bySlug.entries.map((e: Json) => [e.kind, e.key])).toEqual([
      ['statement', 'stmt:solidarity'],
      ['event', 'event:protests'],
    ]);
    const listed = ok(await get('/v1/timelines'));
    expect(listed.data).toEqual([expect.objectContaining({ key: 'timeline:kz', slug: 'kz-2022', entryCount: 2 })]);
    expect(listed.data[0].entries).toBeUndefined();
  });

  it('reads are public: no key is needed for lists and records', async () => {
    await world();
    for (const url of [
      '/v1/sources',
      '/v1/sources/src:report',
      '/v1/places',
      '/v1/places/place:kz',
      '/v1/actors',
      '/v1/actors/actor:amreyev',
      '/v1/events',
      '/v1/events/event:protests',
      '/v1/statements',
      '/v1/statements/stmt:solidarity',
      '/v1/timelines',
      '/v1/timelines/kz-2022',
    ]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(200);
    }
  });
});

describeEngines('cursor pages', (engine) => {
  eachTestApp(engine);
  it('walks every plain resource a page at a time with no repeats or gaps', async () => {
    for (let i = 0; i < 7; i++) {
      await create('sources', { key: `src:s${i}`, type: 'news_article' });
      await create('places', { key: `place:p${i}`, type: 'city', name: { en: `P${i}` } });
      await create('actors', { key: `actor:a${i}`, type: 'person', name: { en: `A${i}` } });
      await create('timelines', { key: `timeline:t${i}`, slug: `t-${i}`, title: { en: `T${i}` } });
    }
    for (const [collection, prefix] of [
      ['sources', 'src:s'],
      ['places', 'place:p'],
      ['actors', 'actor:a'],
      ['timelines', 'timeline:t'],
    ] as const) {
      const { items, pages } = await walk(`/v1/${collection}?limit=3`);
      expect(pages, collection).toBe(3);
      expect(keysOf(items), collection).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `${prefix}${i}`));
    }
  });

  it('a page exactly at the end has no next cursor and no Link', async () => {
    for (let i = 0; i < 4; i++) await create('actors', { key: `actor:a${i}`, type: 'person', name: { en: `A${i}` } });
    const res = await get('/v1/actors?limit=4');
    const body = ok(res);
    expect(body.data).toHaveLength(4);
    expect(body.page).toEqual({ nextCursor: null, limit: 4 });
    expect(res.headers.link).toBeUndefined();
    const { items, pages } = await walk('/v1/actors?limit=2');
    expect(pages).toBe(2);
    expect(items).toHaveLength(4);
  });

  it('walks events and statements in chronological order, across equal dates', async () => {
    const days = ['2022-01-05', '2022-01-02', '2022-01-05', '2022-01', '2021', '2022-01-05', '2022-01-03/2022-01-04'];
    for (const [i, date] of days.entries()) {
      await create('events', { key: `event:e${i}`, type: 'protest', date, title: { en: `E${i}` } });
    }
    const { items, pages } = await walk('/v1/events?limit=2');
    expect(pages).toBe(4);
    expect(new Set(keysOf(items)).size).toBe(days.length);
    const order = items.map((e) => [e.date.earliest, e.date.latest]);
    const sorted = [...order].sort((a, b) => (a[0] + a[1] < b[0] + b[1] ? -1 : a[0] + a[1] > b[0] + b[1] ? 1 : 0));
    expect(order).toEqual(sorted);
    expect(keysOf(items)[0]).toBe('event:e4'); // 2021 starts first

    const desc = await walk('/v1/events?limit=3&order=desc');
    expect(keysOf(desc.items)).toEqual(keysOf(items).reverse());

    await create('actors', { key: 'actor:x', type: 'person', name: { en: 'X' } });
    for (let i = 0; i < 5; i++) {
      await create('statements', { key: `stmt:s${i}`, type: 'quote', date: `2022-01-0${5 - i}`, speaker: 'actor:x', text: { en: `S${i}` } });
    }
    const statements = await walk('/v1/statements?limit=2');
    expect(keysOf(statements.items)).toEqual(['stmt:s4', 'stmt:s3', 'stmt:s2', 'stmt:s1', 'stmt:s0']);
  });

  it('a cursor keeps its place while rows are inserted', async () => {
    for (let i = 0; i < 4; i++) await create('sources', { key: `src:s${i}`, type: 'news_article' });
    const first = ok(await get('/v1/sources?limit=2'));
    await create('sources', { key: 'src:late', type: 'news_article' });
    const second = ok(await get(`/v1/sources?limit=2&cursor=${encodeURIComponent(first.page.nextCursor)}`));
    expect(keysOf([...first.data, ...second.data])).toEqual(['src:s0', 'src:s1', 'src:s2', 'src:s3']);
    const third = ok(await get(`/v1/sources?limit=2&cursor=${encodeURIComponent(second.page.nextCursor)}`));
    expect(keysOf(third.data)).toEqual(['src:late']);
  });
});

describeEngines('list filters', (engine) => {
  eachTestApp(engine);
  it('filters places by type, countryCode and parent', async () => {
    await world();
    expect(keysOf(ok(await get('/v1/places?type=city')).data)).toEqual(['place:almaty', 'place:ankara']);
    expect(keysOf(ok(await get('/v1/places?type=country')).data)).toEqual(['place:kz', 'place:tr']);
    expect(keysOf(ok(await get('/v1/places?countryCode=TR')).data)).toEqual(['place:tr', 'place:ankara']);
    expect(keysOf(ok(await get('/v1/places?countryCode=KZ&type=city')).data)).toEqual(['place:almaty']);
    expect(keysOf(ok(await get('/v1/places?type=city&type=country&countryCode=TR')).data)).toEqual([
      'place:tr',
      'place:ankara',
    ]);
    expect(keysOf(ok(await get('/v1/places?parent=place:kz')).data)).toEqual(['place:almaty']);
    const tr = ok(await get('/v1/places/place:tr'));
    expect(keysOf(ok(await get(`/v1/places?parent=${tr.id}`)).data)).toEqual(['place:ankara']);
    // filters hold across pages
    const { items } = await walk('/v1/places?type=city&limit=1');
    expect(keysOf(items)).toEqual(['place:almaty', 'place:ankara']);
  });

  it('filters actors by type', async () => {
    await world();
    expect(keysOf(ok(await get('/v1/actors?type=person')).data)).toEqual(['actor:amreyev']);
    expect(keysOf(ok(await get('/v1/actors?type=state&type=organization')).data)).toEqual(['actor:ots', 'actor:kz']);
    expect(ok(await get('/v1/actors?type=other')).data).toEqual([]);
  });

  it('filters sources by type and language', async () => {
    await world();
    expect(keysOf(ok(await get('/v1/sources?type=wire')).data)).toEqual(['src:wire']);
    expect(keysOf(ok(await get('/v1/sources?type=news_article')).data)).toEqual(['src:report']);
    expect(keysOf(ok(await get('/v1/sources?language=en')).data)).toEqual(['src:wire']);
    expect(keysOf(ok(await get('/v1/sources?language=ar')).data)).toEqual(['src:report']);
    expect(keysOf(ok(await get('/v1/sources?language=ar&language=en')).data)).toEqual(['src:report', 'src:wire']);
    expect(ok(await get('/v1/sources?language=fr')).data).toEqual([]);
    // lang picks the language of the texts, not which sources are listed
    expect(ok(await get('/v1/sources?language=ar&lang=ar')).data[0].title).toEqual({ ar: 'تقرير' });
    expect(ok(await get('/v1/sources?language=ar')).data[0].title).toEqual({ ar: 'تقرير', en: 'Report' });
    // the filter holds across pages
    const { items } = await walk('/v1/sources?language=ar&language=en&limit=1');
    expect(keysOf(items)).toEqual(['src:report', 'src:wire']);
  });

  it('filters events by type, tag and date window', async () => {
    await world();
    const list = async (query: string) => keysOf((await walk(`/v1/events?${query}`)).items);
    expect(await list('type=meeting')).toEqual(['event:meeting', 'event:ankara-talks']);
    expect(await list('type=protest&type=government_resignation')).toEqual(['event:protests', 'event:resignation']);
    expect(await list('tag=unrest')).toEqual(['event:protests', 'event:resignation']);
    expect(await list('tag=fuel-prices')).toEqual(['event:protests']);
    expect(await list('from=2022-01-03')).toEqual(['event:resignation', 'event:meeting', 'event:ankara-talks']);
    expect(await list('to=2022-01-05')).toEqual(['event:protests', 'event:resignation']);
    expect(await list('from=2022-01&to=2022-01')).toEqual(['event:protests', 'event:resignation', 'event:meeting']);
    expect(await list('from=2022-02-01&to=2022-02-28&limit=1')).toEqual(['event:ankara-talks']);
    expect(await list('from=2022-01-03&to=2022-01-04')).toEqual([]);
    expect(await list('type=meeting&from=2022-02')).toEqual(['event:ankara-talks']);
    expect(await list('place=place:kz')).toEqual(['event:protests', 'event:resignation']);
    expect(await list('actor=actor:ots')).toEqual(['event:meeting']);
  });

  it('a month-precise event overlaps a window inside its month but does not lie within it', async () => {
    await create('events', { key: 'event:month', type: 'protest', date: '2022-01', title: { en: 'Sometime in January' } });
    expect(keysOf(ok(await get('/v1/events?from=2022-01-20&to=2022-01-25')).data)).toEqual(['event:month']);
    expect(ok(await get('/v1/events?from=2022-01-20&to=2022-01-25&match=within')).data).toEqual([]);
    expect(keysOf(ok(await get('/v1/events?from=2022-01&to=2022-01&match=within')).data)).toEqual(['event:month']);
    expect(ok(await get('/v1/events?to=2021-12-31')).data).toEqual([]);
  });

  it('filters statements by speaker and type', async () => {
    await world();
    await create('statements', { key: 'stmt:other', type: 'paraphrase', date: '2022-01-12', speaker: 'actor:kz', text: { en: 'x' } });
    expect(keysOf(ok(await get('/v1/statements?actor=actor:amreyev')).data)).toEqual(['stmt:solidarity']);
    expect(keysOf(ok(await get('/v1/statements?type=paraphrase')).data)).toEqual(['stmt:other']);
    expect(keysOf(ok(await get('/v1/statements?from=2022-01-12')).data)).toEqual(['stmt:other']);
  });
});

describeEngines('patch', (engine) => {
  eachTestApp(engine);
  it('changes only the fields given and moves updatedAt', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2030-01-01T00:00:00.000Z'));
    await world();
    const before = ok(await get('/v1/events/event:protests'));
    expect(before.updatedAt).toBe('2030-01-01T00:00:00.000Z');

    vi.setSystemTime(new Date('2030-01-02T00:00:00.000Z'));
    const after = ok(await patch('/v1/events/event:protests', { title: { en: 'Protests erupt' } }));
    expect(after.title).toEqual({ en: 'Protests erupt' });
    expect(after.updatedAt).toBe('2030-01-02T00:00:00.000Z');
    expect(after.createdAt).toBe(before.createdAt);
    const { title: _t1, updatedAt: _u1, ...restBefore } = before;
    const { title: _t2, updatedAt: _u2, ...restAfter } = after;
    expect(restAfter).toEqual(restBefore);
    expect(ok(await get('/v1/events/event:protests'))).toEqual(after);
  });

  it('patches every kind by id or key, and null clears an optional field', async () => {
    await world();
    const source = ok(await patch('/v1/sources/src:report', { outlet: null, url: 'https://example.org/r' }));
    expect(source).toMatchObject({ outlet: null, url: 'https://example.org/r', lang: 'ar', type: 'news_article' });
    expect(source.published.edtf).toBe('2022-01-11');

    const place = ok(await get('/v1/places/place:almaty'));
    const moved = ok(await patch(`/v1/places/${place.id}`, { parent: null, lat: null, lon: null }));
    expect(moved).toMatchObject({ parent: null, lat: null, lon: null, countryCode: 'KZ', name: place.name });

    const actor = ok(await patch('/v1/actors/actor:amreyev', { externalIds: { wikidata: 'Q123' } }));
    expect(actor.externalIds).toEqual({ wikidata: 'Q123' });
    expect(actor.affiliations).toHaveLength(2);

    const event = ok(await patch('/v1/events/event:protests', { description: null, tags: ['a', 'b'] }));
    expect(event).toMatchObject({ description: null, tags: ['a', 'b'] });
    expect(event.places).toHaveLength(1);
    expect(event.actors).toHaveLength(1);

    const statement = ok(await patch('/v1/statements/stmt:solidarity', { date: '2022-01-12', context: null }));
    expect(statement).toMatchObject({ context: null, originalLang: 'ar' });
    expect(statement.date.earliest).toBe('2022-01-12');
    expect(statement.about.events).toHaveLength(1);
    expect(statement.speaker.key).toBe('actor:amreyev');

    const timeline = ok(await patch('/v1/timelines/kz-2022', { slug: 'kz-january', entries: ['event:protests'] }));
    expect(timeline).toMatchObject({ slug: 'kz-january', key: 'timeline:kz', entryCount: 1 });
    expect(ok(await get('/v1/timelines/kz-january')).entries.map((e: Json) => e.key)).toEqual(['event:protests']);
    expectProblem(await get('/v1/timelines/kz-2022'), 404);
  });

  it('accepts a merge patch as application/merge-patch+json', async () => {
    await world();
    const res = await t.app.inject({
      method: 'PATCH',
      url: '/v1/places/place:ankara',
      headers: { ...AUTH, 'content-type': 'application/merge-patch+json' },
      payload: JSON.stringify({ lat: 39.93, lon: 32.86 }),
    });
    expect(ok(res)).toMatchObject({ key: 'place:ankara', lat: 39.93, lon: 32.86, countryCode: 'TR', name: { en: 'Ankara' } });
  });

  it('a new key takes effect and the old one no longer resolves', async () => {
    await world();
    const renamed = ok(await patch('/v1/actors/actor:protesters', { key: 'actor:crowd' }));
    expect(renamed.key).toBe('actor:crowd');
    expect(ok(await get('/v1/actors/actor:crowd')).id).toBe(renamed.id);
    expectProblem(await get('/v1/actors/actor:protesters'), 404);
    expect(ok(await get('/v1/events/event:protests')).actors[0].actor.key).toBe('actor:crowd');
  });

  it('a patch with the stored values keeps updatedAt', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2030-01-01T00:00:00.000Z'));
    await world();
    vi.setSystemTime(new Date('2030-06-01T00:00:00.000Z'));
    const samples: [string, Json][] = [
      ['/v1/sources/src:report', { type: 'news_article', lang: 'ar', published: '2022-01-11', title: { ar: 'تقرير', en: 'Report' } }],
      ['/v1/places/place:almaty', { parent: 'place:kz', lat: 43.2389, lon: 76.8897, countryCode: 'KZ' }],
      ['/v1/actors/actor:amreyev', { type: 'person', name: { ar: 'بغداد أمرييف', en: 'Baghdad Amreyev' } }],
      ['/v1/events/event:protests', { date: '2022-01-02', places: ['place:almaty'], tags: ['fuel-prices', 'unrest'] }],
      ['/v1/statements/stmt:solidarity', { speaker: 'actor:amreyev', originalLang: 'ar', context: 'event:meeting' }],
      ['/v1/timelines/kz-2022', { entries: ['stmt:solidarity', 'event:protests'], slug: 'kz-2022' }],
      ['/v1/events/event:meeting', {}],
    ];
    for (const [url, body] of samples) {
      const res = ok(await patch(url, body));
      expect(res.updatedAt, url).toBe('2030-01-01T00:00:00.000Z');
    }
  });
});

describeEngines('delete', (engine) => {
  eachTestApp(engine);
  it('deletes each kind (204, then 404) when nothing refers to it', async () => {
    await world();
    for (const url of [
      '/v1/timelines/kz-2022',
      '/v1/statements/stmt:solidarity',
      '/v1/events/event:ankara-talks',
      '/v1/places/place:ankara',
      '/v1/sources/src:wire',
      '/v1/actors/actor:amreyev',
    ]) {
      const res = await del(url);
      expect(res.statusCode, `${url}: ${res.body}`).toBe(204);
      expect(res.body).toBe('');
      expectProblem(await get(url), 404);
      expectProblem(await del(url), 404);
    }
    const meeting = ok(await get('/v1/events/event:meeting'));
    expect((await del(`/v1/events/${meeting.id}`)).statusCode).toBe(204);
    expectProblem(await get('/v1/events/event:meeting'), 404);
  });

  const refused: [string, string, string[]][] = [
    ['a place an event uses', '/v1/places/place:almaty', ['event event:protests']],
    ['a place with a child place', '/v1/places/place:tr', ['place place:ankara']],
    ['a place a statement is about', '/v1/places/place:kz', ['place place:almaty', 'event event:resignation', 'statement stmt:solidarity']],
    ['an actor who speaks', '/v1/actors/actor:amreyev', ['statement stmt:solidarity']],
    ['an actor others are affiliated to', '/v1/actors/actor:ots', ['actor actor:amreyev', 'event event:meeting']],
    ['an actor taking part in an event', '/v1/actors/actor:protesters', ['event event:protests']],
    ['a cited source', '/v1/sources/src:report', ['event event:protests', 'statement stmt:solidarity']],
    ['an event in a curated timeline and a statement about it', '/v1/events/event:protests', ['timeline timeline:kz', 'statement stmt:solidarity']],
    ['an event a statement was made at', '/v1/events/event:meeting', ['statement stmt:solidarity']],
    ['a statement in a curated timeline', '/v1/statements/stmt:solidarity', ['timeline timeline:kz']],
  ];
  for (const [what, url, referrers] of refused) {
    it(`refuses to delete ${what} with a 409 naming the referrers, changing nothing`, async () => {
      await world();
      const before = await counts();
      const record = ok(await get(url));
      const problem = expectProblem(await del(url), 409);
      for (const referrer of referrers) expect(problem.detail).toContain(referrer);
      expect(problem.errors.length).toBe(referrers.length);
      expect(ok(await get(url))).toEqual(record);
      expect(await counts()).toEqual(before);
    });
  }

  it('a deleted event parent is refused while it has children', async () => {
    await create('events', { key: 'event:unrest', type: 'unrest', date: '2022-01-02/..', title: { en: 'Unrest' } });
    await create('events', { key: 'event:child', type: 'protest', date: '2022-01-02', title: { en: 'Child' }, parent: 'event:unrest' });
    const child = ok(await get('/v1/events/event:child'));
    expect(child.parent).toMatchObject({ key: 'event:unrest', type: 'unrest', title: { en: 'Unrest' } });
    expect(expectProblem(await del('/v1/events/event:unrest'), 409).detail).toContain('event event:child');
    expect((await del('/v1/events/event:child')).statusCode).toBe(204);
    expect((await del('/v1/events/event:unrest')).statusCode).toBe(204);
  });
});

describeEngines('expanded references', (engine) => {
  eachTestApp(engine);
  it("an event's actors carry the actor's id, key, type, name and the role", async () => {
    await world();
    const protesters = ok(await get('/v1/actors/actor:protesters'));
    const event = ok(await get('/v1/events/event:protests'));
    expect(event.actors).toEqual([
      {
        actor: { id: protesters.id, key: 'actor:protesters', type: 'group', name: { ar: 'المحتجون', en: 'Protesters' } },
        role: 'participant',
      },
    ]);
  });

  it("a statement's speaker carries the affiliations held on the statement date", async () => {
    await world();
    const ots = ok(await get('/v1/actors/actor:ots'));
    const statement = ok(await get('/v1/statements/stmt:solidarity'));
    expect(statement.speaker).toMatchObject({ key: 'actor:amreyev', type: 'person', name: { en: 'Baghdad Amreyev' } });
    expect(statement.speaker.roles).toEqual([
      {
        role: 'secretary_general',
        of: { id: ots.id, key: 'actor:ots', type: 'organization', name: { ar: 'منظمة الدول التركية', en: 'OTS' } },
        date: expect.objectContaining({ edtf: '2018-09-03/..', earliest: '2018-09-03', latest: null }),
      },
    ]);
    // a statement made in 2011 finds the other affiliation instead
    await create('statements', { key: 'stmt:old', type: 'quote', date: '2011-05', speaker: 'actor:amreyev', text: { en: 'x' } });
    const old = ok(await get('/v1/statements/stmt:old'));
    expect(old.speaker.roles.map((r: Json) => r.role)).toEqual(['ambassador']);
    // the actor itself lists both, whatever the date
    const actor = ok(await get('/v1/actors/actor:amreyev'));
    expect(actor.affiliations.map((a: Json) => [a.role, a.actor.key, a.date.edtf])).toEqual([
      ['secretary_general', 'actor:ots', '2018-09-03/..'],
      ['ambassador', 'actor:kz', '2010/2012'],
    ]);
  });

  it('the seeded statements show Amreyev as Secretary General of the OTS', async () => {
    await t.close();
    t = await buildTestApp({ seed: true, memory: true, engine });
    const statement = ok(await get('/v1/statements/stmt:amreyev-quote-motherland-of-all-turks?lang=en'));
    expect(statement.speaker.key).toBe('actor:amreyev');
    expect(statement.speaker.roles).toEqual([
      expect.objectContaining({ role: 'secretary_general', of: expect.objectContaining({ key: 'actor:ots' }) }),
    ]);
    expect(statement.originalLang).toBe('ar');
  });

  it('lang=ar leaves only Arabic in every language map', async () => {
    await world();
    const maps: unknown[] = [];
    const collect = (value: unknown, path: string) => {
      if (Array.isArray(value)) value.forEach((v, i) => collect(v, `${path}/${i}`));
      else if (value && typeof value === 'object') {
        for (const [k, v] of Object.entries(value)) {
          if (['title', 'name', 'description', 'text'].includes(k) && v && typeof v === 'object') maps.push([`${path}/${k}`, v]);
          else collect(v, `${path}/${k}`);
        }
      }
    };
    for (const url of [
      '/v1/events/event:protests?lang=ar',
      '/v1/events?lang=ar',
      '/v1/statements/stmt:solidarity?lang=ar',
      '/v1/statements?lang=ar',
      '/v1/places/place:almaty?lang=ar',
      '/v1/actors/actor:amreyev?lang=ar',
      '/v1/timelines/kz-2022?lang=ar',
      '/v1/sources/src:report?lang=ar',
    ]) {
      collect(ok(await get(url)), url);
    }
    expect(maps.length).toBeGreaterThan(20);
    for (const [path, map] of maps as [string, Record<string, string>][]) {
      // every map in the world has Arabic except the two English-only records
      const english = ['Turkey', 'Ankara', 'Talks in Ankara', 'Wire'].includes(Object.values(map)[0]!);
      expect(Object.keys(map), path).toEqual([english ? 'en' : 'ar']);
    }
    const event = ok(await get('/v1/events/event:protests?lang=ar'));
    expect(event.title).toEqual({ ar: 'احتجاجات' });
    expect(event.description).toEqual({ ar: 'اندلعت احتجاجات' });
    expect(event.places[0].name).toEqual({ ar: 'ألماتي' });
    expect(event.actors[0].actor.name).toEqual({ ar: 'المحتجون' });
    expect(event.sources[0].source.title).toEqual({ ar: 'تقرير' });
  });

  it('a missing language falls back to the original one', async () => {
    await world();
    const statement = ok(await get('/v1/statements/stmt:solidarity?lang=fr'));
    expect(statement.text).toEqual({ ar: 'نقف إلى جانب كازاخستان' });
    // English originals fall back to English
    await create('statements', {
      key: 'stmt:en',
      type: 'quote',
      date: '2022-01-12',
      speaker: 'actor:kz',
      text: { ar: 'نص', en: 'Text', tr: 'Metin' },
      originalLang: 'tr',
    });
    expect(ok(await get('/v1/statements/stmt:en?lang=fr')).text).toEqual({ tr: 'Metin' });
    expect(ok(await get('/v1/statements/stmt:en?lang=en-GB')).text).toEqual({ en: 'Text' });
    // a source's title falls back to the source's language
    expect(ok(await get('/v1/sources/src:report?lang=fr')).title).toEqual({ ar: 'تقرير' });
    // without lang, whole maps
    expect(ok(await get('/v1/statements/stmt:en')).text).toEqual({ ar: 'نص', en: 'Text', tr: 'Metin' });
  });
});

describeEngines('normalised dates', (engine) => {
  eachTestApp(engine);
  async function eventDate(date: string) {
    const created = await create('events', { type: 'protest', date, title: { en: date } });
    const read = ok(await get(`/v1/events/${created.id}`));
    expect(read.date).toEqual(created.date);
    return read.date as Json;
  }

  it('a month keeps its precision and spans the whole month', async () => {
    expect(await eventDate('2022-01')).toMatchObject({
      edtf: '2022-01',
      precision: 'month',
      earliest: '2022-01-01',
      latest: '2022-01-31',
      uncertain: false,
      approximate: false,
    });
    expect(await eventDate('2024-02')).toMatchObject({ precision: 'month', earliest: '2024-02-01', latest: '2024-02-29' });
    expect(await eventDate('2022')).toMatchObject({ precision: 'year', earliest: '2022-01-01', latest: '2022-12-31' });
    expect(await eventDate('2022-01-05')).toMatchObject({ precision: 'day', earliest: '2022-01-05', latest: '2022-01-05' });
  });

  it('an interval with an open end has no latest', async () => {
    const date = await eventDate('2022-01-05/..');
    expect(date).toMatchObject({ edtf: '2022-01-05/..', precision: 'interval', earliest: '2022-01-05', latest: null });
    expect(date.end).toBeNull();
    expect(date.start).toMatchObject({ precision: 'day', earliest: '2022-01-05' });
    expect(await eventDate('../2022-01')).toMatchObject({ earliest: null, latest: '2022-01-31' });
    expect(await eventDate('2022-01-02/2022-01-11')).toMatchObject({ earliest: '2022-01-02', latest: '2022-01-11' });
  });

  it('an instant keeps its moment in UTC and its calendar day in its own offset', async () => {
    expect(await eventDate('2022-01-05T14:30:00+06:00')).toMatchObject({
      precision: 'instant',
      instant: '2022-01-05T08:30:00Z',
      earliest: '2022-01-05',
      latest: '2022-01-05',
    });
    expect(await eventDate('2022-01-06T02:00:00+06:00')).toMatchObject({
      instant: '2022-01-05T20:00:00Z',
      earliest: '2022-01-06',
    });
  });

  it('qualifiers are kept without moving the bounds', async () => {
    expect(await eventDate('1992~')).toMatchObject({ approximate: true, uncertain: false, earliest: '1992-01-01', latest: '1992-12-31' });
    expect(await eventDate('2022-01?')).toMatchObject({ uncertain: true, approximate: false, precision: 'month' });
  });

  it('dates of sources and statements are normalised the same way', async () => {
    const source = await create('sources', { type: 'news_article', published: '2022-01', retrieved: '2024-03-01' });
    expect(source.published).toMatchObject({ precision: 'month', earliest: '2022-01-01', latest: '2022-01-31' });
    expect(source.retrieved).toMatchObject({ precision: 'day', earliest: '2024-03-01' });
    await create('actors', { key: 'actor:x', type: 'person', name: { en: 'X' } });
    const statement = await create('statements', { type: 'written', date: '2022-01', speaker: 'actor:x', text: { en: 'x' } });
    expect(statement.date).toMatchObject({ precision: 'month', earliest: '2022-01-01', latest: '2022-01-31' });
  });
});
