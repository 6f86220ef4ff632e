// Rendered timeline entries are cached per data revision (src/storage/rendered.ts): pages served from
// the cache must be the bytes a fresh rendering gives, and no write may leave a stale entry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, buildTestApp, type TestApp } from './helpers.js';

type Json = Record<string, any>;

const QUERIES = [
  '/v1/timeline?from=2022-01&to=2022-01',
  '/v1/timeline?from=2022-01&to=2022-01&lang=ar',
  '/v1/timeline?from=2022-01&to=2022-01&lang=en&limit=3',
  '/v1/timeline?actor=actor:amreyev&lang=ar',
  '/v1/timeline?q=%D9%83%D8%A7%D8%B2%D8%A7%D8%AE%D8%B3%D8%AA%D8%A7%D9%86&sort=relevance',
  '/v1/timeline?order=desc&kind=statement&limit=4',
  '/v1/actors/actor:amreyev/timeline?lang=en',
  '/v1/places/place:kz/timeline',
];

describe('rendered entries cache', () => {
  let cached: TestApp;
  let uncached: TestApp;
  let tiny: TestApp;
  beforeAll(async () => {
    cached = await buildTestApp({ seed: true });
    uncached = await buildTestApp({ seed: true, config: { entryCacheBytes: 0 } });
    // room for a couple of entries: every page evicts
    tiny = await buildTestApp({ seed: true, config: { entryCacheBytes: 4096 } });
  });
  afterAll(async () => {
    await cached?.close();
    await uncached?.close();
    await tiny?.close();
  });

  /** Every page of `url`, following nextCursor. */
  async function pages(t: TestApp, url: string): Promise<string[]> {
    const bodies: string[] = [];
    let next: string | null = url;
    while (next) {
      const res = await t.app.inject(next);
      expect(res.statusCode, res.body).toBe(200);
      bodies.push(res.body);
      const cursor = res.json<Json>().page.nextCursor as string | null;
      next = cursor === null ? null : `${url}&cursor=${encodeURIComponent(cursor)}`;
    }
    return bodies;
  }

  it('answers the bytes a fresh rendering gives, asked once, twice and with a cache too small to hold a page', async () => {
    for (const url of QUERIES) {
      const reference = await pages(uncached, url);
      expect(reference.join('').length).toBeGreaterThan(100);
      // the cursors are signed with each app's own secret and the apps loaded the seed at
      // different instants, so compare the data without cursors and timestamps
      const data = (bodies: string[]) =>
        bodies.map((b) => JSON.stringify((JSON.parse(b) as Json).data).replace(/"(createdAt|updatedAt)":"[^"]*"/g, ''));
      expect(data(await pages(cached, url)), url).toEqual(data(reference));
      expect(data(await pages(cached, url)), `${url} (from the cache)`).toEqual(data(reference));
      expect(data(await pages(tiny, url)), `${url} (tiny cache)`).toEqual(data(reference));
    }
  });

  it('is valid JSON with the content type of every other answer', async () => {
    const res = await cached.app.inject('/v1/timeline?from=2022-01&to=2022-01&limit=2');
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    const body = res.json<Json>();
    expect(body.data).toHaveLength(2);
    expect(body.page).toEqual({ nextCursor: expect.any(String), limit: 2 });
    const empty = await cached.app.inject('/v1/timeline?from=1800&to=1800');
    expect(empty.json()).toEqual({ data: [], page: { nextCursor: null, limit: 50 } });
  });

  it('shows an edit of a record an entry names (an actor) on the next page, in every language', async () => {
    const url = '/v1/timeline?actor=actor:amreyev&kind=statement&limit=1';
    const before = (await cached.app.inject(url)).json<Json>();
    const beforeAr = (await cached.app.inject(`${url}&lang=ar`)).json<Json>();
    expect(before.data[0].speaker.name.en).not.toBe('Renamed');

    const patched = await cached.app.inject({
      method: 'PATCH',
      url: '/v1/actors/actor:amreyev',
      headers: AUTH,
      payload: { name: { en: 'Renamed', ar: 'اسم جديد' } },
    });
    expect(patched.statusCode, patched.body).toBe(200);

    const after = (await cached.app.inject(url)).json<Json>();
    const afterAr = (await cached.app.inject(`${url}&lang=ar`)).json<Json>();
    expect(after.data[0].speaker.name).toEqual({ en: 'Renamed', ar: 'اسم جديد' });
    expect(afterAr.data[0].speaker.name).toEqual({ ar: 'اسم جديد' });
    expect(beforeAr.data[0].speaker.name.ar).not.toBe('اسم جديد');
  });

  it('shows an edited entry, and drops a deleted one, on the next page', async () => {
    const url = '/v1/timeline?kind=event&from=2022-01&to=2022-01';
    const before = (await cached.app.inject(url)).json<Json>();
    const [first, second] = before.data as Json[];
    const edited = await cached.app.inject({
      method: 'PATCH',
      url: `/v1/events/${first!.key}`,
      headers: AUTH,
      payload: { title: { en: 'A new title' } },
    });
    expect(edited.statusCode, edited.body).toBe(200);
    const afterEdit = (await cached.app.inject(url)).json<Json>();
    expect(afterEdit.data.find((e: Json) => e.key === first!.key).title).toEqual({ en: 'A new title' });

    const created = await cached.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: AUTH,
      payload: { key: 'event:cache-probe', type: 'meeting', date: '2022-01-20', title: { en: 'Probe' } },
    });
    expect(created.statusCode, created.body).toBe(201);
    const withNew = (await cached.app.inject(url)).json<Json>();
    expect(withNew.data.map((e: Json) => e.key)).toContain('event:cache-probe');

    const removed = await cached.app.inject({ method: 'DELETE', url: '/v1/events/event:cache-probe', headers: AUTH });
    expect(removed.statusCode, removed.body).toBe(204);
    const afterDelete = (await cached.app.inject(url)).json<Json>();
    expect(afterDelete.data.map((e: Json) => e.key)).not.toContain('event:cache-probe');
    expect(afterDelete.data.map((e: Json) => e.key)).toContain(second!.key);
  });
});
