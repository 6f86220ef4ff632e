// Full-text search through GET /v1/timeline on the seeded app: Arabic folding and stemming,
// speaker names, Latin case, highlights, relevance order and its pages, and hostile queries.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AUTH, buildTestApp, type TestApp } from './helpers.js';
import { describeEngines, type Engine } from './support/pg.js';

let t: TestApp;

interface Entry {
  key: string;
  kind: 'event' | 'statement';
  speaker?: { key: string };
  highlight?: { field: string; lang: string; snippet: string } | null;
}
interface Page {
  data: Entry[];
  page: { nextCursor: string | null; limit: number };
}

/** Probe entries added to the seed: each holds a word form only in the shape the test needs. */
const PROBES = [
  {
    // only the adjective forms, never the bare name; no actor or place whose name holds it
    key: 'event:probe-kazakh-adjectives',
    type: 'probe',
    date: '2022-01-20',
    title: { ar: 'بيان الحكومة الكازاخستانية بشأن الشعب الكازاخستاني', en: 'Probe: adjectives only' },
  },
  {
    // only the definite plural
    key: 'event:probe-definite-authorities',
    type: 'probe',
    date: '2022-01-21',
    title: { ar: 'اجتماع السلطات المحلية', en: 'Probe: definite plural only' },
  },
  {
    // the word of the seed report with tanween (and a shadda on another word)
    key: 'event:probe-tanween',
    type: 'probe',
    date: '2022-01-22',
    title: { ar: 'قال مشددًا على ضرورة الحوار الوطنيّ', en: 'Probe: diacritics' },
  },
];

/** Inside a describe block: the seeded app on `engine` with the probes added, for its tests. */
function searchApp(engine: Engine) {
  beforeAll(async () => {
    t = await buildTestApp({ seed: true, engine });
    for (const probe of PROBES) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/events', headers: AUTH, payload: probe });
      expect(res.statusCode, res.body).toBe(201);
    }
  });
  afterAll(() => t.close());
}

async function get(query: Record<string, string | string[]>) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) for (const v of [value].flat()) params.append(name, v);
  return t.app.inject({ url: `/v1/timeline?${params}` });
}

async function search(query: Record<string, string | string[]>): Promise<Entry[]> {
  const res = await get({ limit: '500', ...query });
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json<Page>();
  expect(body.page.nextCursor).toBeNull();
  return body.data;
}

const keys = async (query: Record<string, string | string[]>) => (await search(query)).map((e) => e.key);

describeEngines('Arabic-aware search over the seed', (engine) => {
  searchApp(engine);
  it('a query without diacritics finds text written with them', async () => {
    // seed: «فُرضت حالة الطوارئ» (state of emergency), «عُقد» (the extraordinary meeting)
    expect(await keys({ q: 'فرضت' })).toContain('event:kz-state-of-emergency-2022-01-05');
    expect(await keys({ q: 'عقد' })).toContain('event:ots-cfm-extraordinary-2022-01-11');
    // «مشددًا» of the seed report (with tanween), without and with its diacritics
    expect(await keys({ q: 'مشددا' })).toEqual(['event:probe-tanween']);
    expect(await keys({ q: 'مشددًا' })).toEqual(['event:probe-tanween']);
    // and diacritics or tatweel in the query are ignored too
    expect(await keys({ q: 'فُرِضَت' })).toContain('event:kz-state-of-emergency-2022-01-05');
    expect(await keys({ q: 'الوطني' })).toContain('event:probe-tanween');
    expect(await keys({ q: 'مشــددا' })).toEqual(['event:probe-tanween']);
  });

  it('أمرييف and امرييف both find every statement Amreyev made (by the speaker name)', async () => {
    const made = (await search({ actor: 'actor:amreyev', role: 'speaker' })).map((e) => e.key);
    expect(made.length).toBeGreaterThanOrEqual(14);
    for (const q of ['أمرييف', 'امرييف', 'Amreyev', 'AMREYEV']) {
      const found = await search({ q, kind: 'statement' });
      expect(
        found.map((e) => e.key).sort(),
        q,
      ).toEqual([...made].sort());
    }
    // statements whose text never names him are found through the speaker's name
    const condolences = await keys({ q: 'امرييف', kind: 'statement' });
    expect(condolences).toContain('stmt:amreyev-condolences');
    // the hamza and the bare alef spellings answer the same, events included
    expect(await keys({ q: 'أمرييف' })).toEqual(await keys({ q: 'امرييف' }));
  });

  it('كازاخستان finds text holding only الكازاخستانية / الكازاخستاني', async () => {
    const found = await keys({ q: 'كازاخستان' });
    expect(found).toContain('event:probe-kazakh-adjectives');
    // and the seed statements that hold the adjective
    expect(found).toContain('stmt:amreyev-quote-we-should-stand-by-authorities');
    // the other way round: the adjective finds the bare name (stem = surface form)
    expect(await keys({ q: 'الكازاخستانية' })).toEqual(expect.arrayContaining(['event:kz-protests-2022-01-02', 'event:probe-kazakh-adjectives']));
  });

  it('سلطات finds السلطات', async () => {
    const found = await keys({ q: 'سلطات' });
    expect(found).toContain('event:probe-definite-authorities');
    expect(found).toContain('stmt:amreyev-quote-we-should-stand-by-authorities');
    expect(await keys({ q: 'السلطات' })).toEqual(found);
  });

  it('English ignores case and accents: tokayev, TOKAYEV, Tokáyev', async () => {
    const found = await keys({ q: 'tokayev' });
    expect(found).toContain('stmt:amreyev-quote-kazakhstan-was-the-target');
    expect(await keys({ q: 'TOKAYEV' })).toEqual(found);
    expect(await keys({ q: 'Tokáyev' })).toEqual(found);
  });

  it('every word must match', async () => {
    const both = await keys({ q: 'كازاخستان سلطات' });
    const kz = await keys({ q: 'كازاخستان' });
    const authorities = new Set(await keys({ q: 'سلطات' }));
    expect(both.length).toBeGreaterThan(0);
    expect(both).toEqual(kz.filter((k) => authorities.has(k)));
    expect(both).not.toContain('event:probe-definite-authorities');
  });

  it('q combines with the other filters', async () => {
    const found = await search({ q: 'كازاخستان', kind: 'event', from: '2022-01-05', to: '2022-01-05' });
    expect(found.length).toBeGreaterThan(0);
    for (const e of found) expect(e.kind).toBe('event');
    expect(found.map((e) => e.key)).toContain('event:kz-government-resignation-2022-01-05');
    expect(found.map((e) => e.key)).not.toContain('event:probe-kazakh-adjectives');
  });
});

describeEngines('highlights', (engine) => {
  searchApp(engine);
  it('highlight=true adds a <mark>ed snippet of the matching passage', async () => {
    const found = await search({ q: 'كازاخستان', highlight: 'true' });
    const probe = found.find((e) => e.key === 'event:probe-kazakh-adjectives')!;
    expect(probe.highlight).toMatchObject({ field: 'title', lang: 'ar' });
    expect(probe.highlight!.snippet).toContain('<mark>الكازاخستانية</mark>');
    expect(probe.highlight!.snippet).toContain('<mark>الكازاخستاني</mark>');
    expect(found.filter((e) => e.highlight?.snippet.includes('<mark>')).length).toBeGreaterThan(5);

    const emergency = (await search({ q: 'فرضت', highlight: 'true' })).find((e) => e.key === 'event:kz-state-of-emergency-2022-01-05')!;
    // the word keeps its diacritics as written
    expect(emergency.highlight?.snippet).toContain('<mark>فُرضت</mark>');

    const latin = (await search({ q: 'TOKAYEV', highlight: 'true' })).find((e) => e.key === 'stmt:amreyev-quote-kazakhstan-was-the-target')!;
    expect(latin.highlight?.snippet).toMatch(/<mark>Tokayev<\/mark>/);
  });

  it('without highlight=true there is no highlight', async () => {
    const found = await search({ q: 'كازاخستان' });
    for (const e of found) expect(e.highlight ?? null).toBeNull();
  });
});

describeEngines('sort=relevance', (engine) => {
  searchApp(engine);
  it('answers the same entries as the chronological order, best first, a page at a time', async () => {
    const chronological = await keys({ q: 'كازاخستان' });
    expect(chronological.length).toBeGreaterThan(6);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await get({ q: 'كازاخستان', sort: 'relevance', limit: '4', ...(cursor ? { cursor } : {}) });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json<Page>();
      expect(body.data.length).toBeLessThanOrEqual(4);
      seen.push(...body.data.map((e) => e.key));
      cursor = body.page.nextCursor;
      pages++;
    } while (cursor !== null && pages < 100);
    expect(pages).toBe(Math.ceil(chronological.length / 4));
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...chronological].sort());
    // one page of 500 is the same sequence as the walked pages
    expect(await keys({ q: 'كازاخستان', sort: 'relevance' })).toEqual(seen);
  });

  it('a relevance cursor does not fit the chronological order, and vice versa', async () => {
    const relevance = (await get({ q: 'كازاخستان', sort: 'relevance', limit: '2' })).json<Page>();
    const res = await get({ q: 'كازاخستان', limit: '2', cursor: relevance.page.nextCursor! });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('sort=relevance without q is a 400 problem', async () => {
    for (const query of [{ sort: 'relevance' }, { sort: 'relevance', from: '2022-01' }] as Record<string, string>[]) {
      const res = await get(query);
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = res.json();
      expect(problem).toMatchObject({ status: 400 });
      expect(JSON.stringify(problem)).toMatch(/sort/);
    }
  });
});

describeEngines('hostile q values answer 200 or 400, never 500', (engine) => {
  searchApp(engine);
  /** Percent-encodes every UTF-8 byte (a lone surrogate becomes U+FFFD, as any client sends it). */
  const encode = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

  const HOSTILE: [string, string][] = [
    ['double quote', '"'],
    ['quoted phrase', '"كازاخستان"'],
    ['unbalanced quotes', '"tokayev'],
    ['NEAR(', 'NEAR('],
    ['NEAR group', 'NEAR(tokayev amreyev, 2)'],
    ['star', '*'],
    ['prefix star', 'tok*'],
    ['minus', '-'],
    ['minus term', '-tokayev'],
    ['column filter', 'body:tokayev'],
    ['column filter on rowid', 'rowid:1'],
    ['AND OR NOT', 'AND OR NOT'],
    ['operators between words', 'tokayev AND OR NOT amreyev'],
    ['open parenthesis', '('],
    ['unbalanced parentheses', '((tokayev) OR (amreyev'],
    ['close parenthesis', ')tokayev('],
    ['caret', '^tokayev'],
    ['plus', '+'],
    ['braces', '{body}: tokayev'],
    ['NUL', '\u0000'],
    ['NUL inside a word', 'toka\u0000yev'],
    ['lone high surrogate', '\ud800'],
    ['lone low surrogate', 'x\udc00y'],
    ['emoji', '🇰🇿🔥'],
    ['emoji with a word', 'tokayev 👍🏽'],
    ['zero-width joiner only', '\u200d'],
    ['bidi override', '\u202eكازاخستان'],
    ['combining marks only', '\u064b\u0651'],
    ['tatweel only', 'ـــ'],
    ['SQL injection', "' OR 1=1 --"],
    ['SQL injection 2', '"; DROP TABLE entries; --'],
    ['SQL comment', '/* */'],
    ['backslashes', '\\\\\\'],
    ['whitespace only', '   '],
    ['newlines', '\n\r\t'],
    ['500 characters', 'ك'.repeat(500)],
    ['501 characters', 'ك'.repeat(501)],
    ['10 KB of text', 'tokayev كازاخستان '.repeat(600)],
    ['64 distinct words and more', Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ')],
  ];

  const expectFine = async (what: string, url: string) => {
    const res = await t.app.inject({ url });
    expect([200, 400], `${what}: ${url.slice(0, 120)} -> ${res.statusCode} ${res.body.slice(0, 200)}`).toContain(res.statusCode);
    if (res.statusCode === 400) {
      expect(res.headers['content-type'], what).toMatch(/^application\/problem\+json/);
      const problem = res.json();
      expect(problem, what).toMatchObject({ status: 400, title: expect.any(String), type: expect.any(String) });
      expect(res.body, what).not.toMatch(/SQLITE|fts5|tsquery|syntax error|at .*\.ts:/i);
    } else {
      const body = res.json();
      expect(Array.isArray(body.data) || Array.isArray(body.buckets), what).toBe(true);
    }
    return res.statusCode;
  };

  it.each(HOSTILE)('%s', async (what, q) => {
    const status = await expectFine(what, `/v1/timeline?q=${encode(q)}`);
    await expectFine(`${what} (relevance)`, `/v1/timeline?sort=relevance&q=${encode(q)}`);
    await expectFine(`${what} (highlight)`, `/v1/timeline?highlight=true&q=${encode(q)}`);
    await expectFine(`${what} (histogram)`, `/v1/timeline/histogram?interval=day&q=${encode(q)}`);
    await expectFine(`${what} (actor timeline)`, `/v1/actors/actor:amreyev/timeline?q=${encode(q)}`);
    if (q.length > 500) expect(status, 'longer than the limit').toBe(400);
  });

  it('malformed percent-encodings and raw bytes', async () => {
    for (const raw of ['%ED%A0%80', '%ED%A0%80tokayev', '%FF%FE', '%C0%AF', '%', '%zz', '%00', 'a%2', '%E2%82']) {
      await expectFine(raw, `/v1/timeline?q=${raw}`);
      await expectFine(`${raw} (relevance)`, `/v1/timeline?sort=relevance&q=${raw}`);
    }
  });

  it('a q with no word in it is a 400 that says so; a word among symbols is searched', async () => {
    const res = await get({ q: '*** ---' });
    expect(res.statusCode).toBe(400);
    expect(res.json().detail).toMatch(/q/);
    expect(await keys({ q: '"tokayev" OR NOT *' })).toEqual(await keys({ q: 'tokayev or not' }));
  });
});

describeEngines('search documents follow the names of actors and places', (engine) => {
  it('finds an entry by the new name of its speaker or place after a rename, and no longer by the old one', async () => {
    const app = await buildTestApp({ memory: true, engine });
    try {
      const post = (url: string, payload: object) => app.app.inject({ method: 'POST', url, headers: AUTH, payload });
      await post('/v1/actors', { key: 'actor:speaker', type: 'person', name: { en: 'Oldname Speaker' } });
      await post('/v1/places', { key: 'place:town', type: 'city', name: { en: 'Oldtown' } });
      await post('/v1/statements', { key: 'stmt:s', type: 'quote', date: '2022-01-11', speaker: 'actor:speaker', text: { en: 'We stand together.' }, about: { places: ['place:town'] } });
      const keys = async (q: string) =>
        (await app.app.inject({ url: `/v1/timeline?q=${encodeURIComponent(q)}` })).json().data.map((e: { key: string }) => e.key);
      expect(await keys('Oldname')).toEqual(['stmt:s']);
      expect(await keys('Oldtown')).toEqual(['stmt:s']);

      const patch = (url: string, payload: object) => app.app.inject({ method: 'PATCH', url, headers: AUTH, payload });
      expect((await patch('/v1/actors/actor:speaker', { name: { en: 'Newname Speaker' } })).statusCode).toBe(200);
      expect((await patch('/v1/places/place:town', { name: { en: 'Newtown' } })).statusCode).toBe(200);
      expect(await keys('Newname')).toEqual(['stmt:s']);
      expect(await keys('Newtown')).toEqual(['stmt:s']);
      expect(await keys('Oldname')).toEqual([]);
      expect(await keys('Oldtown')).toEqual([]);
    } finally {
      await app.close();
    }
  });
});
