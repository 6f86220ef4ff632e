// The app served from PostgreSQL against the same app served from SQLite: both seeded at
// start-up, the seed timeline's questions (windows, filters, formats, cursors, the histogram,
// search) answer alike, an import through the API is reported and exported alike, and a real
// server process started with ANNALS_DB=postgres://... serves the seed timeline.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AUTH, buildTestApp, ndjson, type TestApp } from './helpers.js';
import { describePg, freshPgDatabase, pgUrl, type PgDatabase } from './support/pg.js';
import { splitTrailer } from './support/roundtrip.js';
import { startServer } from './support/server.js';

type Json = Record<string, any>;

let sqlite: TestApp;
let postgres: TestApp;
let database: PgDatabase;
/** The seed's January 2022 on SQLite, before any test writes. */
let seedMonth: Json;
const MONTH = '/v1/timeline?from=2022-01-01&to=2022-01-31&limit=500';

beforeAll(async () => {
  if (pgUrl === '') return;
  database = await freshPgDatabase();
  sqlite = await buildTestApp({ seed: true });
  seedMonth = JSON.parse(unstamped((await get(sqlite, MONTH)).body)) as Json;
  postgres = await buildTestApp({ seed: true, config: { databasePath: '', postgres: { url: database.url, poolSize: 4 } } });
}, 60_000);

afterAll(async () => {
  await postgres?.close();
  await sqlite?.close();
  await database?.drop();
});

const get = (app: TestApp, url: string) => app.app.inject({ url });

/** When a record was written: the two apps seeded at different moments. */
const WRITTEN_AT = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g;
const unstamped = (text: string) => text.replace(WRITTEN_AT, 'written-at');
/** Compact form of the same moments in iCalendar (DTSTAMP, CREATED, LAST-MODIFIED). */
const ICAL_STAMP = /\d{8}T\d{6}Z/g;

/**
 * The answer as a client compares it: status, type and body, without what differs by
 * construction (when the records were written; cursors, which each database signs with its own secret).
 */
async function answer(app: TestApp, url: string) {
  const res = await get(app, url);
  const type = String(res.headers['content-type']);
  let body: unknown = unstamped(res.body).replace(ICAL_STAMP, 'stamp');
  if (type.startsWith('application/json') || type.startsWith('application/problem+json')) {
    const parsed = JSON.parse(unstamped(res.body)) as Json;
    if (parsed.page && typeof parsed.page === 'object') parsed.page = { ...parsed.page, nextCursor: parsed.page.nextCursor === null ? null : 'cursor' };
    body = parsed;
  }
  return { status: res.statusCode, type, body };
}

/** Every page of a JSON listing, through each engine's own cursors. */
async function allPages(app: TestApp, url: string): Promise<Json[]> {
  const items: Json[] = [];
  let cursor: string | null = null;
  for (let guard = 0; guard < 200; guard++) {
    const res = await get(app, `${url}${url.includes('?') ? '&' : '?'}limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<Json>();
    items.push(...(body.data as Json[]));
    cursor = body.page.nextCursor as string | null;
    if (cursor === null) return items;
  }
  throw new Error('paging did not end');
}

const SEED_QUERIES = [
  '/v1/timeline?from=2022-01-01&to=2022-01-31',
  '/v1/timeline?from=2022-01-01&to=2022-01-31&limit=500&order=desc',
  '/v1/timeline?from=2022-01-05&to=2022-01-05&match=within',
  '/v1/timeline?from=2022-01-01&to=2022-01-31&kind=statement&limit=500',
  '/v1/timeline?from=2022-01-01&to=2022-01-31&lang=ar&limit=500',
  '/v1/timeline?actor=actor:amreyev&limit=500',
  '/v1/timeline?actor=actor:amreyev&role=speaker&limit=500',
  '/v1/timeline?place=place:almaty&limit=500',
  '/v1/timeline?type=unrest&type=protest&limit=500',
  '/v1/timeline?tag=fuel-prices&limit=500',
  '/v1/timeline?q=almaty&limit=500',
  '/v1/timeline?q=%D8%A7%D9%84%D8%A7%D8%B3%D8%AA%D9%82%D8%B1%D8%A7%D8%B1&limit=500',
  '/v1/timeline?q=emergency&sort=relevance&limit=500',
  '/v1/timeline?q=protests&highlight=true&limit=500',
  '/v1/timeline?from=2022-01-31&to=2022-01-01',
  '/v1/timeline/histogram?interval=day&from=2022-01-01&to=2022-01-31',
  '/v1/timeline/histogram?interval=week',
  '/v1/timeline/histogram?interval=month&actor=actor:amreyev',
  '/v1/timeline?format=csv',
  '/v1/timeline?format=ics',
  '/v1/timeline?format=geojson',
  '/v1/timeline?format=timelinejs',
  '/v1/timeline?format=ndjson',
  '/v1/timelines/kazakhstan-january-2022',
  '/v1/timelines/kazakhstan-january-2022?format=timelinejs',
  '/v1/events/event:kz-protests-2022-01-02',
  '/v1/statements?limit=500',
  '/v1/actors?limit=500',
  '/v1/places?limit=500',
  '/v1/sources?limit=500',
  '/v1/events/event:no-such-event',
];

describePg('the app on PostgreSQL', () => {
  it('serves the seed loaded at start-up as SQLite serves it, query by query', async () => {
    const month = await answer(postgres, SEED_QUERIES[0]!);
    expect(month.status).toBe(200);
    expect((month.body as Json).data.length).toBeGreaterThan(10);
    let answered = 0;
    for (const url of SEED_QUERIES) {
      const served = await answer(postgres, url);
      expect(served, url).toEqual(await answer(sqlite, url));
      const found = typeof served.body === 'string' ? served.body.length > 200 : ((served.body as Json).data ?? (served.body as Json).buckets ?? [served.body]).length > 0;
      if (served.status === 200 && found) answered += 1;
    }
    // the filters are the seed's: all but the reversed window and the unknown event find something
    expect(answered).toBe(SEED_QUERIES.length - 2);
  });

  it('pages the seed timeline through its own cursors to the same entries', async () => {
    for (const url of ['/v1/timeline?from=2022-01-01&to=2022-01-31', '/v1/timeline?q=kazakhstan&sort=relevance', '/v1/actors']) {
      const paged = await allPages(postgres, url);
      expect(paged.length, url).toBeGreaterThan(3);
      expect(unstamped(JSON.stringify(paged)), url).toBe(unstamped(JSON.stringify(await allPages(sqlite, url))));
    }
  });

  it('imports through POST /v1/import as SQLite does (a dry run first, which stores nothing), and exports the same bytes after', async () => {
    const lines = [
      { kind: 'statement', key: 'stmt:pg-later', type: 'quote', date: '2022-01-12', speaker: 'actor:amreyev', text: { en: 'We stand by Kazakhstan' }, context: 'event:ots-cfm-extraordinary-2022-01-11', about: { places: ['place:pg-city'] } },
      { kind: 'place', key: 'place:pg-city', type: 'city', name: { en: 'Shymkent', ar: 'شيمكنت' }, parent: 'place:kz' },
      { kind: 'event', key: 'event:pg-riot', type: 'riot', date: '2022-01-05', title: { en: 'Riots in Shymkent' }, places: ['place:pg-city'], parent: 'event:kz-protests-2022-01-02', tags: ['pg'] },
      { kind: 'event', key: 'event:pg-refused', type: 'riot', date: '2022-02-30', title: { en: 'No such day' } },
    ];
    const post = (app: TestApp, query = '') =>
      app.app.inject({ method: 'POST', url: `/v1/import${query}`, headers: { ...AUTH, 'content-type': 'application/x-ndjson' }, payload: ndjson(lines) });
    const exportedBefore = (await get(postgres, '/v1/export')).body;
    const [dryOnPostgres, dryOnSqlite] = [await post(postgres, '?dryRun=true'), await post(sqlite, '?dryRun=true')];
    expect(dryOnPostgres.statusCode, dryOnPostgres.body).toBe(200);
    expect({ ...dryOnPostgres.json<Json>(), elapsedMs: 0 }).toEqual({ ...dryOnSqlite.json<Json>(), elapsedMs: 0 });
    expect(dryOnPostgres.json<Json>()).toMatchObject({ dryRun: true, created: 3, refused: 1 });
    // a dry run stores nothing, not even the revision the export's trailer names
    expect((await get(postgres, '/v1/export')).body).toBe(exportedBefore);
    const [onPostgres, onSqlite] = [await post(postgres), await post(sqlite)];
    expect(onPostgres.statusCode, onPostgres.body).toBe(onSqlite.statusCode);
    const report = (res: typeof onPostgres) => {
      const body = res.json<Json>();
      delete body.elapsedMs;
      return body;
    };
    expect(report(onPostgres)).toEqual(report(onSqlite));
    expect(report(onPostgres)).toMatchObject({ created: 3, refused: 1 });
    const exported = async (app: TestApp) => splitTrailer((await get(app, '/v1/export')).body);
    const fromPostgres = await exported(postgres);
    const fromSqlite = await exported(sqlite);
    expect(fromPostgres.records).toContain('"key":"event:pg-riot"');
    expect(fromPostgres.records).toBe(fromSqlite.records);
    expect(fromPostgres.trailer?.counts).toEqual(fromSqlite.trailer?.counts);
    // The ids of what the import created differ: the dry run drew them from PostgreSQL's
    // sequences, which a rollback does not give back, while SQLite's rollback did. Keys name the records alike.
    const withoutIds = async (app: TestApp, url: string) => JSON.parse(JSON.stringify(await answer(app, url), (key, value: unknown) => (key === 'id' ? undefined : value))) as Json;
    for (const url of ['/v1/timeline?tag=pg', '/v1/timeline?place=place:pg-city', '/v1/timeline/histogram?interval=day&from=2022-01-01&to=2022-01-15']) {
      const served = await withoutIds(postgres, url);
      expect(served, url).toEqual(await withoutIds(sqlite, url));
      expect(JSON.stringify(served), url).toContain(url.includes('histogram') ? '"count":' : '"key":"event:pg-riot"');
    }
  });

  it('npm start with ANNALS_DB=postgres://... serves the seed timeline from PostgreSQL', async () => {
    const served = await freshPgDatabase();
    try {
      const server = await startServer({ databasePath: served.url, env: { ANNALS_SEED: 'auto' } });
      try {
        const res = await fetch(`${server.url}${MONTH}`);
        expect(res.status).toBe(200);
        const body = JSON.parse(unstamped(await res.text())) as Json;
        expect(body.data.length).toBeGreaterThan(10);
        expect(body.data).toEqual(seedMonth.data);
        expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      } finally {
        await server.stop();
      }
    } finally {
      await served.drop();
    }
  }, 60_000);
});
