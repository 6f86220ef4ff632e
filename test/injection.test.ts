// An injection corpus (SQL, FTS5 query syntax, path traversal, odd Unicode, NUL bytes, 100 KB
// strings) sent through EVERY string parameter the served /openapi.json documents: every query
// parameter of every GET, every path id (GET, PATCH, DELETE), and every string field (and language
// map key) of every create body. Every answer must be a 200 with safe results or a 4xx problem
// (400/404/413/422), never a 5xx, and no table of the database may change: the corpus is sent in
// requests that must not write (see `bodyCases` for how the create bodies are kept from writing).
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, buildTestApp, type TestApp } from './helpers.js';
import { sqliteDb } from './support/sqlite.js';

type Json = any;

const KB100 = 100 * 1024;

/** [label, value] */
const CORPUS: [string, string][] = [
  // SQL
  ['sql-or', "' OR '1'='1"],
  ['sql-comment', "1' OR 1=1 --"],
  ['sql-drop', "'; DROP TABLE entries; --"],
  ['sql-delete', "x'); DELETE FROM sources WHERE ('1'='1"],
  ['sql-union', "x' UNION SELECT hash, hash FROM api_keys --"],
  ['sql-dq', '" OR ""="'],
  ['sql-stacked', '1; SELECT * FROM api_keys'],
  ['sql-like', "%' OR key LIKE '%"],
  ['sql-backslash', "\\'; --"],
  ['sql-numeric', '1 OR 1=1'],
  ['sql-attach', "'; ATTACH DATABASE '/tmp/x.db' AS x; --"],
  ['sql-pragma', "'; PRAGMA writable_schema=1; --"],
  // FTS5 query syntax
  ['fts-near', 'NEAR(kazakhstan amreyev, 2)'],
  ['fts-near-open', 'NEAR('],
  ['fts-quote', '"'],
  ['fts-quotes', '"kazakhstan" "'],
  ['fts-star', '*'],
  ['fts-prefix', 'kaz*'],
  ['fts-column', 'title:kazakhstan'],
  ['fts-column-set', '{title text}: kazakhstan'],
  ['fts-caret', '^kazakhstan'],
  ['fts-ops', 'kazakhstan AND OR NOT'],
  ['fts-not', 'NOT kazakhstan'],
  ['fts-parens', '((('],
  ['fts-minus', '-kazakhstan'],
  ['fts-plus', 'a + b'],
  // path traversal
  ['traversal', '../../etc/passwd'],
  ['traversal-win', '..\\..\\windows\\win.ini'],
  ['traversal-encoded', '%2e%2e%2f'],
  ['traversal-encoded-long', '%2e%2e%2f%2e%2e%2fetc%2fpasswd'],
  ['traversal-double', '....//....//etc/passwd'],
  ['absolute-path', '/etc/passwd'],
  ['file-url', 'file:///etc/passwd'],
  // Unicode
  ['rtl-override', '\u202Ekazakhstan\u202C'],
  ['bidi-marks', '\u200F\u200E\u061C\u2066x\u2069'],
  ['combining', 'a\u0301\u0302\u0303\u0304\u0305\u0306'],
  ['zalgo', 'K\u0334\u0335\u0336a\u0337\u0338z'],
  ['emoji', '👩‍👩‍👧‍👦🇰🇿'],
  ['lone-high-surrogate', '\uD800'],
  ['lone-low-surrogate', 'x\uDFFFy'],
  ['bom', '\uFEFFkazakhstan'],
  ['arabic', 'كازاخستان\u0640\u064B'],
  ['fullwidth', 'ｋａｚａｋｈｓｔａｎ'],
  // NUL and control bytes
  ['nul', '\u0000'],
  ['nul-inside', 'kazakhstan\u0000x'],
  ['nul-sql', "' OR 1=1\u0000"],
  ['controls', '\u0001\u0007\b\u001b[31m\r\n'],
  // 100 KB
  ['100kb-ascii', 'A'.repeat(KB100)],
  ['100kb-arabic', 'كازاخستان '.repeat(KB100 / 10)],
  ['100kb-sql', "' OR 1=1 -- ".repeat(KB100 / 12)],
  // other
  ['template', '${7*7}{{7*7}}'],
  ['html', '<script>alert(1)</script>'],
  ['percent', '%'],
  ['percent-nul', '%00'],
  ['json', '{"$gt":""}'],
  ['null-word', 'null'],
  ['zero', '0'],
  ['negative', '-1'],
  ['huge-number', '1e309'],
  ['empty', ''],
  ['space', ' '],
];

/** Percent-encodes, writing lone surrogates as the (invalid) UTF-8 of a surrogate. */
function encode(value: string): string {
  let out = '';
  for (const char of value) {
    const cp = char.codePointAt(0)!;
    out += cp >= 0xd800 && cp <= 0xdfff ? '%ED%A0%80' : encodeURIComponent(char);
  }
  return out;
}

/** Internals that must never reach a client. */
const LEAKS = [
  /\bat (?:[^\s()]+ )?\(?(?:\/|file:\/\/|node:|[A-Za-z]:\\)[^\s()]*:\d+/,
  /node_modules/,
  /\/work\//,
  /\.ts:\d/,
  /sqlite/i,
  /SQLITE_/,
  /\bsyntax error\b/i,
  /fts5/i,
];

const ALLOWED = [200, 400, 404, 413, 422];

/**
 * `app.inject` resolves through promise jobs: a loop of injections never lets the event loop reach
 * its timers, and @fastify/under-pressure then measures the whole loop as one long event-loop delay
 * and answers 503 "overloaded". A real server yields between requests; so does this test.
 */
const yieldToEventLoop = () => new Promise((resolve) => setImmediate(resolve));

function checkAnswer(res: LightMyRequestResponse, where: string, sent: string): void {
  const status = res.statusCode;
  const what = `${where} -> ${status} ${res.body.slice(0, 300)}`;
  expect(status, `5xx: ${what}`).toBeLessThan(500);
  const type = String(res.headers['content-type'] ?? '');
  expect(ALLOWED, what).toContain(status);
  if (status >= 400) {
    expect(type, what).toMatch(/^application\/problem\+json/);
    const problem = JSON.parse(res.body);
    expect(problem.status, what).toBe(status);
    expect(typeof problem.type === 'string' && typeof problem.title === 'string' && typeof problem.detail === 'string', what).toBe(true);
  }
  for (const leak of LEAKS) {
    const match = leak.exec(res.body);
    if (match && !sent.includes(match[0])) throw new Error(`leak ${leak} "${match[0]}": ${what}`);
  }
}

/* ------------------------------------------------------------------------------------------ */

let t: TestApp;

/** Row count of every table (FTS shadow tables included) and the settings (the data revision). */
function snapshot(): Record<string, unknown> {
  const client = sqliteDb(t.app).$client;
  const tables = (client.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map(
    (r) => r.name,
  );
  const counts: Record<string, unknown> = Object.fromEntries(
    tables.map((name) => [name, (client.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n]),
  );
  counts['settings (rows)'] = client.prepare('SELECT * FROM settings ORDER BY 1').all();
  return counts;
}

let before: Record<string, unknown>;

const served = await buildTestApp({ memory: true });
const doc: Json = (await served.app.inject({ url: '/openapi.json' })).json();
await served.close();

interface Op {
  id: string;
  method: string;
  path: string;
  op: Json;
}
const ops: Op[] = Object.entries<Json>(doc.paths).flatMap(([path, item]) =>
  ['get', 'post', 'patch', 'delete'].filter((m) => item[m]).map((m) => ({ id: item[m].operationId, method: m.toUpperCase(), path, op: item[m] })),
);
const gets = ops.filter((o) => o.method === 'GET');

/** A path id that exists, so that a scoped read gets as far as its query. */
const EXISTING: Record<string, string> = {
  '/v1/actors/{id}/timeline': 'actor:amreyev',
  '/v1/places/{id}/timeline': 'place:kz',
  '/v1/sources/{id}': 'src:turkpress-2022-01-11-amreyev',
  '/v1/places/{id}': 'place:kz',
  '/v1/actors/{id}': 'actor:amreyev',
  '/v1/events/{id}': 'event:kz-protests-2022-01-02',
  '/v1/statements/{id}': 'stmt:amreyev-condolences',
  '/v1/timelines/{id}': 'kazakhstan-january-2022',
};

/** Filters no seed record matches any corpus string of: a 200 must be an empty page. */
const MATCH_NOTHING = new Set(['type', 'tag', 'language', 'countryCode']);

beforeAll(async () => {
  t = await buildTestApp({ seed: true, memory: true });
  before = snapshot();
});
afterAll(async () => {
  console.log(`injection: ${CORPUS.length} corpus strings`);
  await t.close();
});

describe('query parameters of every GET', () => {
  for (const op of gets) {
    const params: Json[] = (op.op.parameters ?? []).filter((p: Json) => p.in === 'query');
    if (params.length === 0) continue;
    it(`${op.id}: ${params.length} parameters x ${CORPUS.length} strings`, async () => {
      const path = op.path.replace('{id}', encode(EXISTING[op.path] ?? 'x'));
      for (const p of params) {
        for (const [label, value] of CORPUS) {
          const url = `${path}?${p.name}=${encode(value)}`;
          await yieldToEventLoop();
          const res = await t.app.inject({ url });
          const where = `${op.id} ?${p.name}=<${label}>`;
          checkAnswer(res, where, value);
          if (res.statusCode === 200 && MATCH_NOTHING.has(p.name) && /^application\/json/.test(String(res.headers['content-type']))) {
            const body = res.json();
            if (op.id === 'getTimelineHistogram') expect(body.buckets, `${where} counted records`).toEqual([]);
            else expect(body.data, `${where} matched records`).toEqual([]);
          }
        }
      }
      expect(snapshot()).toEqual(before);
    }, 120_000);
  }
});

describe('full-text syntax is inert', () => {
  // `q` goes into an FTS5 MATCH: its operators, columns, prefixes and quotes must be plain
  // separators, so a query with them finds exactly what its bare words find.
  const syntax = CORPUS.filter(([label, value]) => /^(fts|sql)-/.test(label) && value.length <= 500);
  it(`q with ${syntax.length} FTS5 and SQL strings finds what their bare words find`, async () => {
    const ids = async (q: string, extra = '') => {
      const res = await t.app.inject({ url: `/v1/timeline?limit=500${extra}&q=${encode(q)}` });
      return { status: res.statusCode, ids: res.statusCode === 200 ? (res.json().data as Json[]).map((e) => e.id) : null };
    };
    let found = 0;
    for (const [label, value] of syntax) {
      const bare = value.replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
      const withSyntax = await ids(value);
      if (bare === '') {
        expect(withSyntax.status, label).toBe(400);
        continue;
      }
      const plain = await ids(bare);
      expect(withSyntax, `${label}: q=${value} vs q=${bare}`).toEqual(plain);
      // and with relevance sorting, the other MATCH path
      expect((await ids(value, '&sort=relevance')).ids?.slice().sort(), label).toEqual(plain.ids?.slice().sort());
      found += plain.ids?.length ?? 0;
    }
    // the words do find things: the comparison is not between two empty pages
    expect(found).toBeGreaterThan(0);
    expect(snapshot()).toEqual(before);
  });
});

describe('path ids', () => {
  const withId = ops.filter((o) => o.path.includes('{id}'));
  it(`${withId.length} operations x ${CORPUS.length} strings, percent-encoded and raw`, async () => {
    let n = 0;
    for (const op of withId) {
      for (const [label, value] of CORPUS) {
        // an empty segment is no id: `/v1/events/` is the list (trailing slashes are ignored)
        if (value === '') continue;
        const raws = [encode(value)];
        // raw too where it can be written into a URL as is: traversal, %-sequences, FTS syntax
        if (/^[\x21-\x7e]+$/.test(value) && !/[?#]/.test(value)) raws.push(value);
        for (const raw of raws) {
          const url = op.path.replace('{id}', raw);
          await yieldToEventLoop();
          const res = await t.app.inject({
            method: op.method as 'GET',
            url,
            headers: op.method === 'GET' ? {} : AUTH,
            ...(op.method === 'PATCH' ? { payload: {} } : {}),
          });
          n++;
          const where = `${op.method} ${op.path} id=<${label}>${raw === value ? ' (raw)' : ''}`;
          checkAnswer(res, where, value);
          // no corpus string names a record: nothing is found, changed or deleted
          expect(res.statusCode, where).not.toBe(204);
          if (res.statusCode === 200) {
            // only a raw traversal that resolves to another route may answer 200 (e.g. a list)
            expect(raw === value && /\.\.|%2e/i.test(value), `${where} found a record`).toBe(true);
          }
        }
      }
    }
    expect(n).toBeGreaterThan(withId.length * (CORPUS.length - 1));
    expect(snapshot()).toEqual(before);
  }, 120_000);
});

/* ------------------------------------------------------------------------------------------ */
/* Create bodies                                                                                */
/* ------------------------------------------------------------------------------------------ */

/** A valid create body per collection with every string field filled (checked below: each is a 201). */
const BASES: Record<string, Json> = {
  sources: {
    type: 'news_article',
    title: { en: 'Title' },
    outlet: 'Outlet',
    url: 'https://example.org/a',
    lang: 'en',
    published: '2022-01-05',
    retrieved: '2022-01-06',
    text: 'Body text',
  },
  places: { type: 'city', name: { en: 'Name' }, countryCode: 'KZ', parent: 'place:kz', lat: 43.2, lon: 76.9 },
  actors: {
    type: 'person',
    name: { en: 'Name' },
    aliases: [{ en: 'Alias' }],
    externalIds: { wikidata: 'Q1' },
    affiliations: [{ actor: 'actor:ots', role: 'member', date: '2022' }],
  },
  events: {
    type: 'protest',
    date: '2022-01-05',
    title: { en: 'Title' },
    description: { en: 'Description' },
    places: ['place:almaty'],
    actors: [{ actor: 'actor:kz-people', role: 'participant' }],
    tags: ['fuel'],
    parent: 'event:kz-unrest-2022',
    sources: [{ source: 'src:turkpress-2022-01-11-amreyev', excerpt: 'an excerpt' }],
  },
  statements: {
    type: 'quote',
    date: '2022-01-11',
    speaker: 'actor:amreyev',
    text: { ar: 'نص', en: 'text' },
    originalLang: 'ar',
    context: 'event:ots-cfm-extraordinary-2022-01-11',
    about: { actors: ['actor:kz'], places: ['place:kz'], events: ['event:kz-unrest-2022'] },
    sources: [{ source: 'src:turkpress-2022-01-11-amreyev', excerpt: 'an excerpt' }],
  },
  timelines: {
    slug: 'injection-base',
    title: { en: 'Title' },
    description: { en: 'Description' },
    entries: ['event:kz-protests-2022-01-02', 'stmt:amreyev-condolences'],
  },
};

/** Fields that hold references (ids or keys of other records). */
const REF_FIELD = /^\/(places|parent|speaker|context|entries)(\/|$)|^\/(actors|affiliations)\/\d+\/actor$|^\/sources\/\d+\/source$|^\/about\//;
/** Fields whose object is a language map (its keys are strings of the body too). */
const MAP_FIELD = /^\/(title|name|description|text|aliases\/\d+)$/;
/** A key some seed record holds: a body with it is refused (400) after validation, before any write. */
const TAKEN_KEY = 'place:almaty';
/** A reference to nothing: a body with it is refused (422) after its references are looked up. */
const UNKNOWN_REF = 'nope:injection-unknown';

type Where = { pointer: string; kind: 'value' | 'map-key' };

/** Every string leaf of a body, and every language map (whose keys take the corpus too). */
function stringPlaces(node: Json, pointer = ''): Where[] {
  if (typeof node === 'string') return [{ pointer, kind: 'value' }];
  if (Array.isArray(node)) return node.flatMap((v, i) => stringPlaces(v, `${pointer}/${i}`));
  if (node && typeof node === 'object') {
    const own = MAP_FIELD.test(pointer) ? [{ pointer, kind: 'map-key' as const }] : [];
    return [...own, ...Object.entries(node).flatMap(([k, v]) => stringPlaces(v, `${pointer}/${k}`))];
  }
  return [];
}

function setAt(body: Json, where: Where, value: string): Json {
  const copy = structuredClone(body);
  const parts = where.pointer.split('/').slice(1);
  const last = parts.pop()!;
  let node = copy;
  for (const p of parts) node = node[p];
  if (where.kind === 'map-key') node[last] = { [value]: 'text' };
  else node[last] = value;
  return copy;
}

/**
 * The bodies for one collection and corpus string: the string in each string field, in a body
 * that cannot be stored. A reference field gets the string and nothing else wrong: an unknown
 * reference is refused (422) after it is looked up. Any other field gets it along with a key that
 * is taken: refused (400) after validation. The `key` field itself gets it with an unknown
 * reference where the record has one; sources have none, so there a key passing validation would
 * be stored: their bodies get an empty title too, and the key is only validated.
 */
function bodyCases(collection: string, value: string): { field: string; body: Json }[] {
  const base = BASES[collection];
  const cases = stringPlaces(base).map((where) => {
    const body = setAt(base, where, value);
    if (!(where.kind === 'value' && REF_FIELD.test(where.pointer))) body.key = TAKEN_KEY;
    return { field: `${where.pointer}${where.kind === 'map-key' ? ' (key)' : ''}`, body };
  });
  const keyed = { ...structuredClone(base), key: value };
  if (collection === 'sources') keyed.title = {};
  else if (collection === 'places' || collection === 'events') keyed.parent = UNKNOWN_REF;
  else if (collection === 'actors') keyed.affiliations[0].actor = UNKNOWN_REF;
  else if (collection === 'statements') keyed.speaker = UNKNOWN_REF;
  else keyed.entries = [UNKNOWN_REF];
  cases.push({ field: '/key', body: keyed });
  return cases;
}

describe('string fields of create bodies', () => {
  it('the base bodies are valid: the corpus reaches fields that are processed (on a separate app)', async () => {
    const other = await buildTestApp({ seed: true, memory: true });
    try {
      for (const [collection, body] of Object.entries(BASES)) {
        const res = await other.app.inject({ method: 'POST', url: `/v1/${collection}`, headers: AUTH, payload: body });
        expect(res.statusCode, `${collection}: ${res.body}`).toBe(201);
        // and each refusal trick refuses it
        const taken = await other.app.inject({ method: 'POST', url: `/v1/${collection}`, headers: AUTH, payload: { ...body, key: TAKEN_KEY } });
        expect(taken.statusCode, `${collection} with a taken key: ${taken.body}`).toBe(400);
      }
    } finally {
      await other.close();
    }
  });

  for (const collection of Object.keys(BASES)) {
    const fields = bodyCases(collection, 'x').length;
    it(`POST /v1/${collection}: ${fields} fields x ${CORPUS.length} strings`, async () => {
      const statuses = new Map<number, number>();
      for (const [label, value] of CORPUS) {
        for (const { field, body } of bodyCases(collection, value)) {
          const payload = JSON.stringify(body);
          await yieldToEventLoop();
          const res = await t.app.inject({
            method: 'POST',
            url: `/v1/${collection}`,
            headers: { ...AUTH, 'content-type': 'application/json' },
            payload,
          });
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          const where = `POST /v1/${collection} ${field}=<${label}>`;
          checkAnswer(res, where, payload);
          expect([400, 413, 422], `${where} was not refused`).toContain(res.statusCode);
        }
      }
      console.log(`injection: POST /v1/${collection}: ${[...statuses].map(([s, n]) => `${s}:${n}`).join(' ')}`);
      expect(snapshot()).toEqual(before);
    }, 120_000);
  }
});

describe('the database after the whole corpus', () => {
  it('has the same rows in every table, and the same data revision', () => {
    expect(snapshot()).toEqual(before);
    expect(Object.keys(before).length).toBeGreaterThan(10);
  });
});
