// Timeline pages are cut from the entry documents stored in the database (src/storage/documents.ts):
// a page must be the bytes a fresh rendering of its entries gives, in every language, and every
// write must reach the documents of the entries it changes at once, for any connection to the file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { jsonWithArray } from '../src/formats/json.js';
import { AUTH, buildTestApp, TEST_KEY, type TestApp } from './helpers.js';

type Json = Record<string, any>;

const QUERIES = [
  '/v1/timeline?from=2022-01&to=2022-01',
  '/v1/timeline?from=2022-01&to=2022-01&lang=ar',
  '/v1/timeline?from=2022-01&to=2022-01&lang=en&limit=3',
  '/v1/timeline?from=2022-01&to=2022-01&lang=ru',
  '/v1/timeline?from=2022-01&to=2022-01&lang=AR-EG',
  '/v1/timeline?actor=actor:amreyev&lang=ar',
  '/v1/timeline?q=%D9%83%D8%A7%D8%B2%D8%A7%D8%AE%D8%B3%D8%AA%D8%A7%D9%86&sort=relevance',
  '/v1/timeline?order=desc&kind=statement&limit=4',
  '/v1/actors/actor:amreyev/timeline?lang=en',
  '/v1/places/place:kz/timeline',
];

describe('entry documents', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ seed: true });
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Every page of `url`, following nextCursor. */
  async function pages(url: string): Promise<string[]> {
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

  /** The body a page of these entries has when they are rendered from their rows. */
  async function renderedFromRows(body: string, lang: string | undefined): Promise<string> {
    const parsed = JSON.parse(body) as Json;
    const entries = await t.app.storage.loadEntries(
      (parsed.data as Json[]).map((e) => e.id as number),
      lang,
    );
    return jsonWithArray('data', entries.map((e) => Buffer.from(JSON.stringify(e))), { page: parsed.page }).toString();
  }

  it('answers the bytes a fresh rendering of the entries gives, in every language', async () => {
    for (const url of QUERIES) {
      const lang = new URL(url, 'http://x').searchParams.get('lang') ?? undefined;
      const bodies = await pages(url);
      expect(bodies.join('').length, url).toBeGreaterThan(100);
      for (const body of bodies) expect(body, url).toBe(await renderedFromRows(body, lang));
    }
  });

  it('is valid JSON with the content type of every other answer', async () => {
    const res = await t.app.inject('/v1/timeline?from=2022-01&to=2022-01&limit=2');
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    const body = res.json<Json>();
    expect(body.data).toHaveLength(2);
    expect(body.page).toEqual({ nextCursor: expect.any(String), limit: 2 });
    const empty = await t.app.inject('/v1/timeline?from=1800&to=1800');
    expect(empty.json()).toEqual({ data: [], page: { nextCursor: null, limit: 50 } });
  });

  it('shows an edit of a record an entry names (an actor) on the next page, in every language', async () => {
    const url = '/v1/timeline?actor=actor:amreyev&kind=statement&limit=1';
    const before = (await t.app.inject(url)).json<Json>();
    const beforeAr = (await t.app.inject(`${url}&lang=ar`)).json<Json>();
    expect(before.data[0].speaker.name.en).not.toBe('Renamed');

    const patched = await t.app.inject({
      method: 'PATCH',
      url: '/v1/actors/actor:amreyev',
      headers: AUTH,
      payload: { name: { en: 'Renamed', ar: 'اسم جديد' } },
    });
    expect(patched.statusCode, patched.body).toBe(200);

    const after = (await t.app.inject(url)).json<Json>();
    const afterAr = (await t.app.inject(`${url}&lang=ar`)).json<Json>();
    expect(after.data[0].speaker.name).toEqual({ en: 'Renamed', ar: 'اسم جديد' });
    expect(afterAr.data[0].speaker.name).toEqual({ ar: 'اسم جديد' });
    expect(beforeAr.data[0].speaker.name.ar).not.toBe('اسم جديد');
  });

  it('shows an edited entry, and drops a deleted one, on the next page', async () => {
    const url = '/v1/timeline?kind=event&from=2022-01&to=2022-01';
    const before = (await t.app.inject(url)).json<Json>();
    const [first, second] = before.data as Json[];
    const edited = await t.app.inject({
      method: 'PATCH',
      url: `/v1/events/${first!.key}`,
      headers: AUTH,
      payload: { title: { en: 'A new title' } },
    });
    expect(edited.statusCode, edited.body).toBe(200);
    const afterEdit = (await t.app.inject(url)).json<Json>();
    expect(afterEdit.data.find((e: Json) => e.key === first!.key).title).toEqual({ en: 'A new title' });

    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: AUTH,
      payload: { key: 'event:cache-probe', type: 'meeting', date: '2022-01-20', title: { en: 'Probe' } },
    });
    expect(created.statusCode, created.body).toBe(201);
    const withNew = (await t.app.inject(url)).json<Json>();
    expect(withNew.data.map((e: Json) => e.key)).toContain('event:cache-probe');

    const removed = await t.app.inject({ method: 'DELETE', url: '/v1/events/event:cache-probe', headers: AUTH });
    expect(removed.statusCode, removed.body).toBe(204);
    const afterDelete = (await t.app.inject(url)).json<Json>();
    expect(afterDelete.data.map((e: Json) => e.key)).not.toContain('event:cache-probe');
    expect(afterDelete.data.map((e: Json) => e.key)).toContain(second!.key);
  });

  it("shows a rename of the actor a speaker is affiliated to, which the statement names nowhere else", async () => {
    const post = async (collection: string, payload: Json) => {
      const res = await t.app.inject({ method: 'POST', url: `/v1/${collection}`, headers: AUTH, payload });
      expect(res.statusCode, res.body).toBe(201);
    };
    await post('actors', { key: 'actor:party', type: 'organization', name: { en: 'The Party', ar: 'الحزب' } });
    await post('actors', { key: 'actor:member', type: 'person', name: { en: 'A Member' }, affiliations: [{ actor: 'actor:party', role: 'member', date: null }] });
    await post('statements', { key: 'stmt:member-says', type: 'quote', date: '2022-01-07', speaker: 'actor:member', text: { en: 'Something' } });
    const url = '/v1/actors/actor:member/timeline?lang=ar';
    const before = (await t.app.inject(url)).json<Json>();
    expect(before.data[0].speaker.roles).toEqual([{ role: 'member', of: expect.objectContaining({ key: 'actor:party', name: { ar: 'الحزب' } }), date: null }]);
    const renamed = await t.app.inject({
      method: 'PATCH',
      url: '/v1/actors/actor:party',
      headers: AUTH,
      payload: { key: 'actor:the-party', name: { en: 'The Other Party', ar: 'الحزب الآخر' } },
    });
    expect(renamed.statusCode, renamed.body).toBe(200);
    const res = await t.app.inject(url);
    expect(res.json<Json>().data[0].speaker.roles[0].of).toEqual(expect.objectContaining({ key: 'actor:the-party', name: { ar: 'الحزب الآخر' } }));
    expect(res.body).toBe(await renderedFromRows(res.body, 'ar'));
  });

  it('serves a write made through another connection to the same file at once', async () => {
    // a second app on the file: a connection of its own, as another process's would be
    const other = await buildApp({ databasePath: t.databasePath, seedWhenEmpty: false, bootstrapKey: TEST_KEY, logLevel: 'silent', rateLimit: 0 });
    try {
      const url = '/v1/timeline?actor=actor:amreyev&lang=en';
      const seen = (await t.app.inject(url)).json<Json>();
      expect(seen.data.length).toBeGreaterThan(0);
      const patched = await other.inject({
        method: 'PATCH',
        url: '/v1/actors/actor:amreyev',
        headers: AUTH,
        payload: { name: { en: 'Named elsewhere', kk: 'Басқа жерде' } },
      });
      expect(patched.statusCode, patched.body).toBe(200);
      const after = (await t.app.inject(url)).json<Json>();
      const named = (after.data as Json[]).flatMap((e) =>
        e.kind === 'statement' ? [e.speaker, ...e.about.actors] : (e.actors as Json[]).map((a) => a.actor),
      ).filter((a: Json) => a.key === 'actor:amreyev');
      expect(named.length).toBeGreaterThan(0);
      for (const actor of named) expect(actor.name).toEqual({ en: 'Named elsewhere' });
      const body = (await t.app.inject(url)).body;
      expect(body).toBe(await renderedFromRows(body, 'en'));
    } finally {
      await other.close();
    }
  });
});
