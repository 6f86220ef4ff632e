/**
 * Bad input over HTTP: every refusal is a 4xx RFC 9457 problem that says what is wrong, and
 * a refused request changes nothing. Each test builds the real app on its own fresh database.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { PostgresStorage } from '../src/storage/postgres/index.js';
import { AUTH, TEST_KEY, buildTestApp, ndjson, type TestApp } from './helpers.js';
import { describeEngines, type Engine } from './support/pg.js';
import { sqliteDb } from './support/sqlite.js';

let t: TestApp;

/** Inside a describe block: a fresh app on `engine` holding the world, for each of its tests. */
function eachTestApp(engine: Engine) {
  beforeEach(async () => {
    t = await buildTestApp({ memory: true, engine });
    await world();
  });
  afterEach(async () => {
    await t.close();
  });
}

type Json = Record<string, any>;
type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

const get = (url: string) => t.app.inject({ method: 'GET', url });
const send = (method: Method, url: string, payload?: object | string, headers: Record<string, string> = AUTH) =>
  t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });

function ok(res: LightMyRequestResponse, status = 200): Json {
  expect(res.statusCode, res.body).toBe(status);
  return res.json();
}

async function create(collection: string, body: object): Promise<Json> {
  return ok(await send('POST', `/v1/${collection}`, body), 201);
}

/** A problem document with every member RFC 9457 asks for, and nothing of the internals. */
function expectProblem(res: LightMyRequestResponse, status: number): Json {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json();
  expect(body.status).toBe(status);
  // a reference relative to the service, to the page that explains the type (GET /problems/{code})
  expect(body.type).toMatch(/^\/problems\/[a-z-]+$/);
  expect(body.type).toBe(`/problems/${body.code}`);
  expect(body.title).toEqual(expect.any(String));
  expect(body.title.length).toBeGreaterThan(0);
  expect(body.detail).toEqual(expect.any(String));
  expect(body.detail.length).toBeGreaterThan(0);
  expect(res.body).not.toMatch(/node_modules|\.ts:\d+|\bat \w+ \(|SqliteError|SQLITE_|DatabaseError/);
  if (body.errors !== undefined) {
    expect(body.errors.length).toBeGreaterThan(0);
    for (const e of body.errors) {
      expect(e).toEqual({ in: expect.any(String), path: expect.stringMatching(/^\//), message: expect.any(String) });
    }
  }
  return body;
}

/** Runs a statement on the app's own database, behind the API's back. */
async function underTheApp(statement: string): Promise<void> {
  if (t.app.storage instanceof PostgresStorage) await t.app.storage.db.$client.query(statement);
  else sqliteDb(t.app).$client.exec(statement);
}

/** A validation problem naming the field (`in` and `path`) that is wrong. */
function expectInvalid(res: LightMyRequestResponse, where: string, path: string, message?: RegExp): Json {
  const body = expectProblem(res, 400);
  const match = body.errors?.find((e: Json) => e.in === where && e.path === path);
  expect(match, `${where} ${path} in ${JSON.stringify(body.errors)}`).toBeDefined();
  if (message) expect(match.message).toMatch(message);
  return body;
}

const COLLECTIONS = ['sources', 'places', 'actors', 'events', 'statements', 'timelines'] as const;

/** The whole visible state: every record of every list. */
async function snapshot(): Promise<Record<string, Json[]>> {
  const out: Record<string, Json[]> = {};
  for (const c of COLLECTIONS) {
    const body = ok(await get(`/v1/${c}?limit=500`));
    expect(body.page.nextCursor).toBeNull();
    out[c] = body.data;
  }
  return out;
}

/** Runs `attempt`, then checks that no record was created, changed or removed. */
async function changesNothing(attempt: () => Promise<void>) {
  const before = await snapshot();
  await attempt();
  expect(await snapshot()).toEqual(before);
}

async function world() {
  await create('sources', { key: 'src:report', type: 'news_article', lang: 'ar', published: '2022-01-11', text: 'نص' });
  await create('places', { key: 'place:kz', type: 'country', name: { en: 'Kazakhstan' }, countryCode: 'KZ' });
  await create('places', { key: 'place:almaty', type: 'city', name: { en: 'Almaty' }, countryCode: 'KZ', parent: 'place:kz' });
  await create('places', { key: 'place:astana', type: 'city', name: { en: 'Astana' }, countryCode: 'KZ', parent: 'place:kz' });
  await create('actors', { key: 'actor:ots', type: 'organization', name: { en: 'OTS' } });
  await create('actors', { key: 'actor:amreyev', type: 'person', name: { en: 'Amreyev' } });
  await create('actors', { key: 'actor:kz', type: 'state', name: { en: 'Kazakhstan' } });
  await create('events', { key: 'event:protests', type: 'protest', date: '2022-01-02', title: { en: 'Protests' }, places: ['place:almaty'], tags: ['unrest'] });
  await create('events', { key: 'event:resignation', type: 'government_resignation', date: '2022-01-05', title: { en: 'Resignation' }, tags: ['unrest'] });
  await create('events', { key: 'event:meeting', type: 'meeting', date: '2022-01-11', title: { en: 'Meeting' } });
  await create('statements', { key: 'stmt:a', type: 'quote', date: '2022-01-11', speaker: 'actor:amreyev', text: { ar: 'نص', en: 'Text' }, originalLang: 'ar' });
  await create('statements', { key: 'stmt:b', type: 'paraphrase', date: '2022-01-11', speaker: 'actor:amreyev', text: { en: 'More' } });
  await create('timelines', { key: 'timeline:kz', slug: 'kz-2022', title: { en: 'Kazakhstan' }, entries: ['event:protests'] });
}

describeEngines('impossible dates', (engine) => {
  eachTestApp(engine);
  const bad: [string, RegExp][] = [
    ['2022-02-30', /February 2022 has 28 days/],
    ['2022-13', /month 13/],
    ['2022-01-05/2022-01-02', /./],
    ['2022-00-10', /./],
    ['yesterday', /./],
    ['', /./],
  ];

  for (const [date, reason] of bad) {
    it(`refuses ${JSON.stringify(date)} in every body that holds a date`, async () => {
      await changesNothing(async () => {
        expectInvalid(await send('POST', '/v1/events', { type: 'protest', date, title: { en: 'x' } }), 'body', '/date', reason);
        expectInvalid(await send('PATCH', '/v1/events/event:protests', { date }), 'body', '/date', reason);
        expectInvalid(
          await send('POST', '/v1/statements', { type: 'quote', date, speaker: 'actor:kz', text: { en: 'x' } }),
          'body',
          '/date',
          reason,
        );
        expectInvalid(await send('PATCH', '/v1/statements/stmt:a', { date }), 'body', '/date', reason);
        expectInvalid(await send('POST', '/v1/sources', { type: 'news_article', published: date }), 'body', '/published', reason);
        expectInvalid(await send('PATCH', '/v1/sources/src:report', { retrieved: date }), 'body', '/retrieved', reason);
        expectInvalid(
          await send('POST', '/v1/actors', {
            type: 'person',
            name: { en: 'x' },
            affiliations: [{ actor: 'actor:ots', role: 'member', date }],
          }),
          'body',
          '/affiliations/0/date',
          reason,
        );
      });
    });
  }

  it('a backwards interval says that it ends before it starts', async () => {
    const body = expectInvalid(
      await send('POST', '/v1/events', { type: 'protest', date: '2022-01-05/2022-01-02', title: { en: 'x' } }),
      'body',
      '/date',
    );
    expect(body.detail).toContain('2022-01-05/2022-01-02');
  });

  it('refuses impossible window bounds in from and to', async () => {
    await changesNothing(async () => {
      for (const list of ['/v1/events', '/v1/statements', '/v1/timeline']) {
        expectInvalid(await get(`${list}?from=2022-02-30`), 'query', '/from', /February 2022 has 28 days/);
        expectInvalid(await get(`${list}?to=2022-13`), 'query', '/to', /month 13/);
        expectInvalid(await get(`${list}?from=2022-01-05/2022-01-02`), 'query', '/from');
        expectInvalid(await get(`${list}?to=soon`), 'query', '/to');
      }
    });
  });

  it('refuses a window whose from is after its to', async () => {
    for (const list of ['/v1/events', '/v1/statements', '/v1/timeline']) {
      const body = expectInvalid(await get(`${list}?from=2022-02-01&to=2022-01-31`), 'query', '/to');
      expect(body.detail).toContain('2022-02-01');
    }
    // the same month on both sides is a month-long window, not a backwards one
    expect(ok(await get('/v1/events?from=2022-01&to=2022-01')).data.length).toBe(3);
  });
});

describeEngines('paging parameters', (engine) => {
  eachTestApp(engine);
  it('refuses limit=0, limit=501 and a limit that is not a number', async () => {
    for (const c of COLLECTIONS) {
      for (const limit of ['0', '501', '-1', 'ten', '2.5']) {
        expectInvalid(await get(`/v1/${c}?limit=${limit}`), 'query', '/limit');
      }
      expect(ok(await get(`/v1/${c}?limit=500`)).page.limit).toBe(500);
      expect(ok(await get(`/v1/${c}?limit=1`)).page.limit).toBe(1);
    }
  });

  it('refuses a tampered cursor with 400', async () => {
    for (const url of ['/v1/places?limit=1', '/v1/events?limit=1', '/v1/statements?limit=1', '/v1/actors?limit=1']) {
      const cursor: string = ok(await get(url)).page.nextCursor;
      expect(cursor).toEqual(expect.any(String));
      for (const index of [0, Math.floor(cursor.length / 2), cursor.length - 1]) {
        const flipped = cursor.slice(0, index) + (cursor[index] === 'A' ? 'B' : 'A') + cursor.slice(index + 1);
        expect(flipped).not.toBe(cursor);
        const body = expectProblem(await get(`${url}&cursor=${encodeURIComponent(flipped)}`), 400);
        expect(body.errors).toEqual([expect.objectContaining({ in: 'query', path: '/cursor' })]);
      }
      for (const junk of ['', 'abc', 'a.b.c', `${cursor}.x`, cursor.split('.')[0]!]) {
        expect((await get(`${url}&cursor=${encodeURIComponent(junk)}`)).statusCode, junk).toBe(400);
      }
      // the untouched cursor still works
      ok(await get(`${url}&cursor=${encodeURIComponent(cursor)}`));
    }
  });

  it('refuses a cursor reused with other filters or on another list', async () => {
    const cities: string = ok(await get('/v1/places?type=city&limit=1')).page.nextCursor;
    expectProblem(await get(`/v1/places?type=country&limit=1&cursor=${encodeURIComponent(cities)}`), 400);
    expectProblem(await get(`/v1/places?limit=1&cursor=${encodeURIComponent(cities)}`), 400);
    expectProblem(await get(`/v1/places?type=city&countryCode=KZ&limit=1&cursor=${encodeURIComponent(cities)}`), 400);
    expectProblem(await get(`/v1/actors?type=city&limit=1&cursor=${encodeURIComponent(cities)}`), 400);
    expectProblem(await get(`/v1/sources?type=city&limit=1&cursor=${encodeURIComponent(cities)}`), 400);
    // the same filters with another page size are the same query
    ok(await get(`/v1/places?type=city&limit=5&cursor=${encodeURIComponent(cities)}`));

    const unrest: string = ok(await get('/v1/events?tag=unrest&limit=1')).page.nextCursor;
    expectProblem(await get(`/v1/events?tag=fuel&limit=1&cursor=${encodeURIComponent(unrest)}`), 400);
    expectProblem(await get(`/v1/events?tag=unrest&order=desc&limit=1&cursor=${encodeURIComponent(unrest)}`), 400);
    expectProblem(await get(`/v1/events?tag=unrest&from=2022-01-01&limit=1&cursor=${encodeURIComponent(unrest)}`), 400);
    expectProblem(await get(`/v1/statements?tag=unrest&limit=1&cursor=${encodeURIComponent(unrest)}`), 400);
    expectProblem(await get(`/v1/timeline?tag=unrest&limit=1&cursor=${encodeURIComponent(unrest)}`), 400);
    ok(await get(`/v1/events?tag=unrest&limit=1&cursor=${encodeURIComponent(unrest)}`));
  });

  it('refuses an unknown display language and an unknown filter reference', async () => {
    expectInvalid(await get('/v1/events?lang=not a tag'), 'query', '/lang');
    expectInvalid(await get('/v1/actors?type=alien'), 'query', '/type/0');
    expectInvalid(await get('/v1/events?actor=actor:nobody'), 'query', '/actor/0', /actor:nobody/);
    expectInvalid(await get('/v1/events?place=place:nowhere'), 'query', '/place/0', /place:nowhere/);
  });
});

describeEngines('unknown records', (engine) => {
  eachTestApp(engine);
  it('answers 404 problems for unknown ids and keys on every resource, for every method', async () => {
    await changesNothing(async () => {
      for (const c of COLLECTIONS) {
        for (const ref of ['999999', 'nothing:here']) {
          const url = `/v1/${c}/${ref}`;
          const body = expectProblem(await get(url), 404);
          expect(body.detail).toContain(ref);
          expectProblem(await send('PATCH', url, {}), 404);
          expectProblem(await send('DELETE', url), 404);
        }
      }
    });
  });

  it('answers a 404 problem for an unknown route', async () => {
    for (const [method, url] of [
      ['GET', '/v1/nothing'],
      ['GET', '/v2/events'],
      ['POST', '/v1/events/event:protests'],
      ['DELETE', '/v1/sources'],
    ] as const) {
      const body = expectProblem(await t.app.inject({ method, url, headers: AUTH }), 404);
      expect(body.detail).toContain(url);
    }
  });
});

describeEngines('authentication', (engine) => {
  eachTestApp(engine);
  const writes: [Method, string, object | undefined][] = [
    ['POST', '/v1/sources', { type: 'news_article' }],
    ['POST', '/v1/places', { type: 'city', name: { en: 'x' } }],
    ['POST', '/v1/actors', { type: 'person', name: { en: 'x' } }],
    ['POST', '/v1/events', { type: 'protest', date: '2022-01-01', title: { en: 'x' } }],
    ['POST', '/v1/statements', { type: 'quote', date: '2022-01-01', speaker: 'actor:kz', text: { en: 'x' } }],
    ['POST', '/v1/timelines', { slug: 'another', title: { en: 'x' } }],
    ['PATCH', '/v1/sources/src:report', { outlet: 'x' }],
    ['PATCH', '/v1/events/event:protests', { title: { en: 'x' } }],
    ['PATCH', '/v1/timelines/kz-2022', { title: { en: 'x' } }],
    ['DELETE', '/v1/timelines/kz-2022', undefined],
    ['DELETE', '/v1/statements/stmt:b', undefined],
    ['DELETE', '/v1/actors/actor:ots', undefined],
  ];

  const badHeaders: [string, Record<string, string>][] = [
    ['no Authorization', {}],
    ['an unknown key', { authorization: 'Bearer not-the-key-0123456789abcdef' }],
    ['a key that differs in one character', { authorization: `Bearer ${TEST_KEY.slice(0, -1)}X` }],
    ['a Basic header', { authorization: `Basic ${Buffer.from(`user:${TEST_KEY}`).toString('base64')}` }],
    ['an empty Bearer', { authorization: 'Bearer ' }],
  ];

  for (const [what, headers] of badHeaders) {
    it(`refuses every write with ${what}: 401 with WWW-Authenticate, nothing changed`, async () => {
      await changesNothing(async () => {
        for (const [method, url, payload] of writes) {
          const res = await send(method, url, payload, headers);
          expectProblem(res, 401);
          expect(res.headers['www-authenticate'], `${method} ${url}`).toMatch(/^Bearer\b/);
        }
        const imported = await t.app.inject({
          method: 'POST',
          url: '/v1/import',
          headers: { ...headers, 'content-type': 'application/x-ndjson' },
          payload: ndjson([{ kind: 'actor', key: 'actor:new', type: 'person', name: { en: 'New' } }]),
        });
        expectProblem(imported, 401);
        expect(imported.headers['www-authenticate']).toMatch(/^Bearer\b/);
      });
      expectProblem(await get('/v1/actors/actor:new'), 404);
    });
  }

  it('refuses a write without a key even when its body is also invalid', async () => {
    await changesNothing(async () => {
      for (const [method, url, payload] of [
        ['POST', '/v1/events', { date: '2022-02-30', bogus: true }],
        ['PATCH', '/v1/places/place:kz', { name: 'not a map' }],
        ['POST', '/v1/sources', '{"type":'],
      ] as const) {
        const res = await t.app.inject({ method, url, payload, headers: { 'content-type': 'application/json' } });
        expectProblem(res, 401);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer\b/);
      }
    });
  });

  it('the right key is accepted with any case of the scheme', async () => {
    const res = await send('POST', '/v1/sources', { type: 'news_article' }, { authorization: `bearer ${TEST_KEY}` });
    expect(res.statusCode, res.body).toBe(201);
  });
});

describeEngines('malformed bodies', (engine) => {
  eachTestApp(engine);
  it('refuses a body that is not JSON with 400', async () => {
    await changesNothing(async () => {
      for (const [method, url] of [
        ['POST', '/v1/sources'],
        ['POST', '/v1/events'],
        ['PATCH', '/v1/actors/actor:ots'],
      ] as const) {
        for (const payload of ['{"type": ', '{type: "x"}', "{'a': 1}", 'null x']) {
          const res = await send(method, url, payload, { ...AUTH, 'content-type': 'application/json' });
          expectProblem(res, 400);
        }
      }
    });
  });

  it('refuses a body that is not an object', async () => {
    await changesNothing(async () => {
      for (const payload of ['[]', '"text"', '42', 'null']) {
        const res = await send('POST', '/v1/places', payload, { ...AUTH, 'content-type': 'application/json' });
        expectProblem(res, 400);
      }
    });
  });

  it('refuses a body of another media type with 415', async () => {
    await changesNothing(async () => {
      for (const type of ['application/xml', 'application/x-www-form-urlencoded', 'image/png']) {
        expectProblem(await send('POST', '/v1/sources', 'type=news_article', { ...AUTH, 'content-type': type }), 415);
        expectProblem(await send('PATCH', '/v1/sources/src:report', 'outlet=x', { ...AUTH, 'content-type': type }), 415);
      }
    });
  });

  it('names the missing required field of every kind', async () => {
    const missing: [string, object, string][] = [
      ['sources', { title: { en: 'x' } }, '/type'],
      ['places', { type: 'city' }, '/name'],
      ['places', { name: { en: 'x' } }, '/type'],
      ['actors', { type: 'person' }, '/name'],
      ['actors', { name: { en: 'x' } }, '/type'],
      ['events', { type: 'protest', title: { en: 'x' } }, '/date'],
      ['events', { type: 'protest', date: '2022-01-01' }, '/title'],
      ['statements', { type: 'quote', date: '2022-01-01', text: { en: 'x' } }, '/speaker'],
      ['statements', { type: 'quote', date: '2022-01-01', speaker: 'actor:kz' }, '/text'],
      ['timelines', { title: { en: 'x' } }, '/slug'],
      ['timelines', { slug: 'x' }, '/title'],
    ];
    await changesNothing(async () => {
      for (const [c, body, path] of missing) {
        const problem = expectInvalid(await send('POST', `/v1/${c}`, body), 'body', path);
        expect(problem.detail).toContain(path.slice(1));
      }
    });
  });

  it('refuses unknown fields, at the top and nested, naming them', async () => {
    const unknown: [Method, string, object, string, string][] = [
      ['POST', '/v1/sources', { type: 'news_article', author: 'someone' }, '/', 'author'],
      ['POST', '/v1/places', { type: 'city', name: { en: 'x' }, population: 3 }, '/', 'population'],
      ['POST', '/v1/actors', { type: 'person', name: { en: 'x' }, affiliations: [{ actor: 'actor:ots', role: 'x', since: '2020' }] }, '/affiliations/0', 'since'],
      ['POST', '/v1/events', { type: 'protest', date: '2022-01-01', title: { en: 'x' }, actors: [{ actor: 'actor:kz', role: 'x', extra: 1 }] }, '/actors/0', 'extra'],
      ['POST', '/v1/statements', { type: 'quote', date: '2022-01-01', speaker: 'actor:kz', text: { en: 'x' }, about: { people: [] } }, '/about', 'people'],
      ['POST', '/v1/timelines', { slug: 'x', title: { en: 'x' }, kind: 'timeline' }, '/', 'kind'],
      ['PATCH', '/v1/events/event:protests', { titel: { en: 'typo' } }, '/', 'titel'],
      ['PATCH', '/v1/sources/src:report', { id: 5 }, '/', 'id'],
      ['PATCH', '/v1/events/event:protests', { createdAt: '2020-01-01T00:00:00.000Z' }, '/', 'createdAt'],
    ];
    await changesNothing(async () => {
      for (const [method, url, body, path, field] of unknown) {
        const problem = expectInvalid(await send(method, url, body), 'body', path, new RegExp(`"${field}"`));
        expect(problem.detail).toContain(`"${field}"`);
      }
    });
  });

  it('refuses wrong types and values, naming the field', async () => {
    const wrong: [Method, string, object, string][] = [
      ['POST', '/v1/places', { type: 'city', name: 'Almaty' }, '/name'],
      ['POST', '/v1/places', { type: 'city', name: {} }, '/name'],
      ['POST', '/v1/places', { type: 'city', name: { en: 'x' }, countryCode: 'kz' }, '/countryCode'],
      ['POST', '/v1/places', { type: 'city', name: { en: 'x' }, lat: 91, lon: 0 }, '/lat'],
      ['POST', '/v1/places', { type: 'city', name: { en: 'x' }, lat: 10 }, '/lat'],
      ['POST', '/v1/actors', { type: 'alien', name: { en: 'x' } }, '/type'],
      ['POST', '/v1/actors', { type: 'person', name: { english: 'x' } }, '/name/english'],
      ['POST', '/v1/sources', { type: 'news_article', url: 'ftp://example.org/x' }, '/url'],
      ['POST', '/v1/sources', { key: '123', type: 'news_article' }, '/key'],
      ['POST', '/v1/events', { type: 'protest', date: '2022-01-01', title: { en: 'x' }, tags: ['two words'] }, '/tags/0'],
      ['POST', '/v1/events', { type: 'protest', date: '2022-01-01', title: { en: 'x' }, actors: [{ actor: 'actor:kz', role: 'speaker' }] }, '/actors/0/role'],
      ['POST', '/v1/statements', { type: 'remark', date: '2022-01-01', speaker: 'actor:kz', text: { en: 'x' } }, '/type'],
      ['POST', '/v1/timelines', { slug: 'Not A Slug', title: { en: 'x' } }, '/slug'],
      ['POST', '/v1/timelines', { slug: '2022', title: { en: 'x' } }, '/slug'],
      ['PATCH', '/v1/events/event:protests', { key: null }, '/key'],
      ['PATCH', '/v1/events/event:protests', { title: null }, '/title'],
    ];
    await changesNothing(async () => {
      for (const [method, url, body, path] of wrong) expectInvalid(await send(method, url, body), 'body', path);
    });
  });

  it('refuses a body over 1 MiB with 413', async () => {
    await changesNothing(async () => {
      const big = 'x'.repeat(1024 * 1024);
      expectProblem(await send('POST', '/v1/sources', { type: 'news_article', text: big }), 413);
      expectProblem(await send('PATCH', '/v1/sources/src:report', { text: big }), 413);
      expectProblem(await send('POST', '/v1/events', { type: 'protest', date: '2022-01-01', title: { en: big } }), 413);
    });
    // just under the limit is fine
    const fits = await send('POST', '/v1/sources', { type: 'news_article', text: 'x'.repeat(1024 * 1024 - 100) });
    expect(fits.statusCode).toBe(201);
  });
});

describeEngines('references and conflicts', (engine) => {
  eachTestApp(engine);
  it('refuses a reference to a key that exists nowhere with 422 naming the path', async () => {
    const refs: [Method, string, object, string, string][] = [
      ['POST', '/v1/places', { type: 'city', name: { en: 'x' }, parent: 'place:nowhere' }, '/parent', 'place:nowhere'],
      ['POST', '/v1/actors', { type: 'person', name: { en: 'x' }, affiliations: [{ actor: 'actor:ghost', role: 'x' }] }, '/affiliations/0/actor', 'actor:ghost'],
      ['POST', '/v1/events', { type: 'protest', date: '2022-01-01', title: { en: 'x' }, places: ['place:kz', 'place:nowhere'] }, '/places/1', 'place:nowhere'],
      ['POST', '/v1/events', { type: 'protest', date: '2022-01-01', title: { en: 'x' }, actors: [{ actor: 'actor:ghost', role: 'x' }] }, '/actors/0/actor', 'actor:ghost'],
      ['POST', '/v1/events', { type: 'protest', date: '2022-01-01', title: { en: 'x' }, sources: [{ source: 'src:none' }] }, '/sources/0/source', 'src:none'],
      ['POST', '/v1/events', { type: 'protest', date: '2022-01-01', title: { en: 'x' }, parent: 'stmt:a' }, '/parent', 'stmt:a'],
      ['POST', '/v1/events', { type: 'protest', date: '2022-01-01', title: { en: 'x' }, parent: 987654 }, '/parent', '987654'],
      ['POST', '/v1/statements', { type: 'quote', date: '2022-01-01', speaker: 'actor:ghost', text: { en: 'x' } }, '/speaker', 'actor:ghost'],
      ['POST', '/v1/statements', { type: 'quote', date: '2022-01-01', speaker: 'actor:kz', text: { en: 'x' }, context: 'event:none' }, '/context', 'event:none'],
      ['POST', '/v1/statements', { type: 'quote', date: '2022-01-01', speaker: 'actor:kz', text: { en: 'x' }, about: { events: ['event:none'] } }, '/about/events/0', 'event:none'],
      ['POST', '/v1/timelines', { slug: 'x', title: { en: 'x' }, entries: ['event:protests', 'event:none'] }, '/entries/1', 'event:none'],
      ['PATCH', '/v1/events/event:protests', { places: ['place:nowhere'] }, '/places/0', 'place:nowhere'],
      ['PATCH', '/v1/statements/stmt:a', { speaker: 'actor:ghost' }, '/speaker', 'actor:ghost'],
      ['PATCH', '/v1/places/place:almaty', { parent: 'place:nowhere' }, '/parent', 'place:nowhere'],
    ];
    await changesNothing(async () => {
      for (const [method, url, body, path, ref] of refs) {
        const problem = expectProblem(await send(method, url, body), 422);
        expect(problem.errors, `${method} ${url}`).toEqual([expect.objectContaining({ in: 'body', path })]);
        expect(problem.detail).toContain(path);
        expect(problem.detail).toContain(ref);
      }
    });
  });

  it('refuses a key or slug that is already taken, changing nothing', async () => {
    await changesNothing(async () => {
      // keys are unique across the dataset, not per kind
      expectInvalid(await send('POST', '/v1/sources', { key: 'src:report', type: 'x' }), 'body', '/key');
      expectInvalid(await send('POST', '/v1/actors', { key: 'place:kz', type: 'state', name: { en: 'x' } }), 'body', '/key');
      expectInvalid(await send('PATCH', '/v1/events/event:protests', { key: 'event:meeting' }), 'body', '/key');
      expectInvalid(await send('POST', '/v1/timelines', { slug: 'kz-2022', title: { en: 'x' } }), 'body', '/slug');
      expectInvalid(await send('POST', '/v1/timelines', { slug: 'x', title: { en: 'x' }, entries: ['stmt:a', 'stmt:a'] }), 'body', '/entries/1');
    });
  });

  it('refuses cycles and self-references', async () => {
    await changesNothing(async () => {
      expectInvalid(await send('PATCH', '/v1/places/place:kz', { parent: 'place:almaty' }), 'body', '/parent');
      expectInvalid(await send('PATCH', '/v1/places/place:kz', { parent: 'place:kz' }), 'body', '/parent');
      expectInvalid(await send('PATCH', '/v1/events/event:protests', { parent: 'event:protests' }), 'body', '/parent');
      expectInvalid(
        await send('PATCH', '/v1/actors/actor:ots', { affiliations: [{ actor: 'actor:ots', role: 'self' }] }),
        'body',
        '/affiliations/0/actor',
      );
    });
  });

  it('refuses a statement whose original language has no text', async () => {
    await changesNothing(async () => {
      expectInvalid(
        await send('POST', '/v1/statements', { type: 'quote', date: '2022-01-01', speaker: 'actor:kz', text: { en: 'x' }, originalLang: 'ar' }),
        'body',
        '/originalLang',
      );
      expectInvalid(await send('PATCH', '/v1/statements/stmt:a', { text: { en: 'only English' } }), 'body', '/originalLang');
    });
  });

  it('refuses a citation whose offsets do not hold the excerpt', async () => {
    await changesNothing(async () => {
      const event = { type: 'protest', date: '2022-01-01', title: { en: 'x' } };
      expectInvalid(
        await send('POST', '/v1/events', { ...event, sources: [{ source: 'src:report', excerpt: 'غير', start: 0, end: 2 }] }),
        'body',
        '/sources/0/excerpt',
      );
      expectInvalid(
        await send('POST', '/v1/events', { ...event, sources: [{ source: 'src:report', excerpt: 'نص', start: 2, end: 0 }] }),
        'body',
        '/sources/0/end',
      );
      expectInvalid(await send('POST', '/v1/events', { ...event, sources: [{ source: 'src:report', start: 0 }] }), 'body', '/sources/0');
    });
  });
});

describeEngines('server errors', (engine) => {
  eachTestApp(engine);
  it('a failure inside the server is a 500 problem that leaks nothing', async () => {
    // break the database under the running app: every read of sources now fails
    await underTheApp('ALTER TABLE sources RENAME TO sources_hidden_for_test');
    const res = await get('/v1/sources');
    const body = expectProblem(res, 500);
    expect(body.title).toBe('Internal server error');
    expect(res.body).not.toMatch(/sources_hidden_for_test|no such table|does not exist|relation|sqlite|postgres|SELECT/i);
    await underTheApp('ALTER TABLE sources_hidden_for_test RENAME TO sources');
    ok(await get('/v1/sources'));
  });
});
