// Over real HTTP (a listening server and fetch): ETags and conditional GETs, Cache-Control,
// CORS (preflight, exposed headers, origin lists, no credentials), and a streamed export.
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, buildTestApp, ndjson, type TestApp } from './helpers.js';
import { PostgresStorage } from '../src/storage/postgres/index.js';
import { describeEngines, describePg, type Engine } from './support/pg.js';
import { sqliteDb } from './support/sqlite.js';

type Json = Record<string, any>;

async function listen(t: TestApp): Promise<string> {
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = t.app.server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

/**
 * `fetch`, retried while the app sheds load: an import blocks the event loop for a while, and the
 * load-shedding plugin then answers 503 `overloaded` until its next sample.
 */
async function fetchSettled(url: string, init?: RequestInit): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url, init);
    if (res.status !== 503 || attempt === 50) return res;
    await res.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A test app on `engine` (on SQLite, a database file unless `memory`) holding `count` sources, listening. */
async function listeningWithSources(
  engine: Engine,
  count: number,
  source: (i: number) => Record<string, unknown>,
  memory = false,
): Promise<{ t: TestApp; base: string }> {
  const t = await buildTestApp({ memory, engine });
  const records = Array.from({ length: count }, (_, i) => ({ kind: 'source', type: 'news_article', ...source(i) }));
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/import',
    headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
    payload: ndjson(records),
  });
  expect(res.json()).toMatchObject({ created: count, refused: 0 });
  return { t, base: await listen(t) };
}

const headerList = (value: string | null) => (value ?? '').split(',').map((v) => v.trim().toLowerCase()).filter(Boolean);

describeEngines('ETags and Cache-Control', (engine) => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await buildTestApp({ seed: true, engine });
    base = await listen(t);
  });
  afterAll(() => t?.close());

  const URL_ = '/v1/timeline?from=2022-01&to=2022-01&limit=5';

  it('gives a GET an ETag, and a matching If-None-Match a 304 with an empty body', async () => {
    const first = await fetch(base + URL_);
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^W\/"[A-Za-z0-9_-]+"$/);
    expect(first.headers.get('cache-control')).toBe('public, no-cache');
    expect(headerList(first.headers.get('vary'))).toContain('accept');
    expect((await first.json()).data).toHaveLength(5);

    const again = await fetch(base + URL_);
    expect(again.headers.get('etag')).toBe(etag);
    await again.arrayBuffer();

    const notModified = await fetch(base + URL_, { headers: { 'if-none-match': etag! } });
    expect(notModified.status).toBe(304);
    expect(await notModified.text()).toBe('');
    expect(notModified.headers.get('etag')).toBe(etag);
    expect(notModified.headers.get('cache-control')).toBe('public, no-cache');

    // one of several tags, and `*`
    const listed = await fetch(base + URL_, { headers: { 'if-none-match': `W/"other", ${etag}` } });
    expect(listed.status).toBe(304);
    await listed.arrayBuffer();
    const stale = await fetch(base + URL_, { headers: { 'if-none-match': 'W/"other"' } });
    expect(stale.status).toBe(200);
    await stale.arrayBuffer();
  });

  it('changes the ETag after a write: the old one then gets a 200', async () => {
    const before = await fetch(base + URL_);
    const etag = before.headers.get('etag')!;
    await before.arrayBuffer();

    const write = await fetch(`${base}/v1/events`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'event:http-etag', type: 'protest', date: '2022-01-03', title: { en: 'A write' } }),
    });
    expect(write.status).toBe(201);
    expect(write.headers.get('cache-control')).toBe('no-store');
    expect(write.headers.get('etag')).toBeNull();
    await write.arrayBuffer();

    const after = await fetch(base + URL_, { headers: { 'if-none-match': etag } });
    expect(after.status).toBe(200);
    expect(after.headers.get('etag')).not.toBe(etag);
    expect((await after.json()).data.map((e: Json) => e.key)).toContain('event:http-etag');
  });

  it('gives each representation (Accept) its own ETag', async () => {
    const json = await fetch(base + URL_, { headers: { accept: 'application/json' } });
    const csv = await fetch(base + URL_, { headers: { accept: 'text/csv' } });
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const jsonTag = json.headers.get('etag');
    const csvTag = csv.headers.get('etag');
    await Promise.all([json.arrayBuffer(), csv.arrayBuffer()]);
    expect(jsonTag).toBeTruthy();
    expect(csvTag).toBeTruthy();
    expect(csvTag).not.toBe(jsonTag);
    // the JSON tag does not validate the CSV
    const cross = await fetch(base + URL_, { headers: { accept: 'text/csv', 'if-none-match': jsonTag! } });
    expect(cross.status).toBe(200);
    expect(await cross.text()).toMatch(/^kind,id,key,/);
  });

  it('marks errors no-store, without an ETag', async () => {
    for (const [url, status] of [
      ['/v1/events/event:does-not-exist', 404],
      ['/v1/timeline?from=2022-02-30', 400],
      ['/v1/timeline?format=xml', 400],
    ] as const) {
      const res = await fetch(base + url);
      expect(res.status, url).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.headers.get('cache-control'), url).toBe('no-store');
      expect(res.headers.get('etag'), url).toBeNull();
      await res.arrayBuffer();
    }
    const unauthorised = await fetch(`${base}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'protest', date: '2022-01-03', title: { en: 'x' } }),
    });
    expect(unauthorised.status).toBe(401);
    expect(unauthorised.headers.get('cache-control')).toBe('no-store');
    await unauthorised.arrayBuffer();
  });

  it('gives a record read and a curated timeline ETags too', async () => {
    for (const url of ['/v1/actors/actor:amreyev', '/v1/timelines/kazakhstan-january-2022', '/v1/timeline?format=ics']) {
      const res = await fetch(base + url);
      expect(res.status).toBe(200);
      const etag = res.headers.get('etag')!;
      expect(etag, url).toBeTruthy();
      await res.arrayBuffer();
      const cached = await fetch(base + url, { headers: { 'if-none-match': etag } });
      expect(cached.status, url).toBe(304);
      await cached.arrayBuffer();
    }
  });
});

describeEngines('CORS', (engine) => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await buildTestApp({ seed: true, engine });
    base = await listen(t);
  });
  afterAll(() => t?.close());
  const ORIGIN = 'https://client.example';

  it('answers a preflight for an authenticated JSON POST with 204 and the allow headers', async () => {
    const res = await fetch(`${base}/v1/events`, {
      method: 'OPTIONS',
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    expect(res.status).toBe(204);
    expect(['*', ORIGIN]).toContain(res.headers.get('access-control-allow-origin'));
    expect(headerList(res.headers.get('access-control-allow-methods'))).toContain('post');
    const allowed = headerList(res.headers.get('access-control-allow-headers'));
    expect(allowed).toContain('authorization');
    expect(allowed).toContain('content-type');
    expect(Number(res.headers.get('access-control-max-age'))).toBeGreaterThan(0);
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(await res.text()).toBe('');
  });

  it('allows any origin on reads and exposes ETag and Link, never credentials', async () => {
    const res = await fetch(`${base}/v1/timeline?limit=2`, { headers: { origin: ORIGIN } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const exposed = headerList(res.headers.get('access-control-expose-headers'));
    expect(exposed).toContain('etag');
    expect(exposed).toContain('link');
    expect(res.headers.get('link')).toMatch(/rel="next"/);
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    await res.arrayBuffer();
  });

  it('puts the CORS headers on a 304 too, so that a cross-origin revalidation works', async () => {
    const first = await fetch(`${base}/v1/timeline?limit=2`, { headers: { origin: ORIGIN } });
    const etag = first.headers.get('etag')!;
    await first.arrayBuffer();
    const res = await fetch(`${base}/v1/timeline?limit=2`, { headers: { origin: ORIGIN, 'if-none-match': etag } });
    expect(res.status).toBe(304);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(headerList(res.headers.get('access-control-expose-headers'))).toContain('etag');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    await res.arrayBuffer();
  });

  it('puts them on errors and writes', async () => {
    const missing = await fetch(`${base}/v1/events/event:nope`, { headers: { origin: ORIGIN } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('access-control-allow-origin')).toBe('*');
    await missing.arrayBuffer();
    const write = await fetch(`${base}/v1/events`, {
      method: 'POST',
      headers: { ...AUTH, origin: ORIGIN, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'protest', date: '2022-01-03', title: { en: 'CORS write' } }),
    });
    expect(write.status).toBe(201);
    expect(write.headers.get('access-control-allow-origin')).toBe('*');
    expect(headerList(write.headers.get('access-control-expose-headers'))).toContain('location');
    expect(write.headers.get('access-control-allow-credentials')).toBeNull();
    await write.arrayBuffer();
  });

  it('with a list of origins, echoes an allowed origin and not another', async () => {
    const listed = await buildTestApp({ seed: true, memory: true, engine, config: { corsOrigins: ['https://allowed.example'] } });
    try {
      const listedBase = await listen(listed);
      const allowed = await fetch(`${listedBase}/v1/timeline?limit=1`, { headers: { origin: 'https://allowed.example' } });
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://allowed.example');
      expect(headerList(allowed.headers.get('vary'))).toContain('origin');
      expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();
      await allowed.arrayBuffer();

      const other = await fetch(`${listedBase}/v1/timeline?limit=1`, { headers: { origin: 'https://evil.example' } });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      expect(other.headers.get('access-control-allow-credentials')).toBeNull();
      await other.arrayBuffer();

      const preflight = (origin: string) =>
        fetch(`${listedBase}/v1/events`, {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
        });
      const good = await preflight('https://allowed.example');
      expect(good.status).toBe(204);
      expect(good.headers.get('access-control-allow-origin')).toBe('https://allowed.example');
      await good.arrayBuffer();
      const bad = await preflight('https://evil.example');
      expect(bad.headers.get('access-control-allow-origin')).toBeNull();
      await bad.arrayBuffer();
    } finally {
      await listed.close();
    }
  });
});

describeEngines('streamed export over HTTP', (engine) => {
  const SOURCES = 2000;
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    const paragraph = 'نص المصدر الطويل، مع سطور وفواصل. The long text of a source, with lines and commas.\n';
    ({ t, base } = await listeningWithSources(
      engine,
      SOURCES,
      (i) => ({ key: `src:stream-${String(i).padStart(5, '0')}`, title: { en: `Source ${i}`, ar: `المصدر ${i}` }, text: paragraph.repeat(8) }),
      true,
    ));
  }, 60_000);
  afterAll(() => t?.close());

  it('arrives in several chunks, chunked, and complete', async () => {
    const res = await fetchSettled(`${base}/v1/export`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(res.headers.get('content-disposition')).toMatch(/attachment/);
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    expect(res.headers.get('content-length')).toBeNull();

    const reader = res.body!.getReader();
    const chunks: Uint8Array[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
    expect(chunks.length).toBeGreaterThan(1);
    const text = Buffer.concat(chunks).toString('utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.slice(0, -1).split('\n');
    // the records, then the trailer that counts them
    expect(lines).toHaveLength(SOURCES + 1);
    expect(JSON.parse(lines.pop()!)).toMatchObject({ kind: 'end', records: SOURCES, counts: { source: SOURCES } });
    const keys = lines.map((line) => (JSON.parse(line) as Json).key);
    expect(keys).toEqual(Array.from({ length: SOURCES }, (_, i) => `src:stream-${String(i).padStart(5, '0')}`));
    // the same bytes as the export read in one piece
    expect(text).toBe((await t.app.inject({ url: '/v1/export' })).body);
  });
});

describeEngines('an export is one snapshot', (engine) => {
  const SOURCES = 3000;
  let t: TestApp;
  let base: string;
  const key = (i: number) => `src:snap-${String(i).padStart(5, '0')}`;
  beforeAll(async () => {
    // a database file: the export reads it through a connection of its own
    ({ t, base } = await listeningWithSources(engine, SOURCES, (i) => ({
      key: key(i),
      title: { en: `Source ${i}` },
      text: 'A paragraph of text that makes each record a few hundred bytes long. '.repeat(6),
    })));
  }, 60_000);
  afterAll(() => t?.close());

  it('does not see writes made while it streams, and the next export does', async () => {
    const res = await fetchSettled(`${base}/v1/export`);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const chunks: Uint8Array[] = [];
    const first = await reader.read();
    chunks.push(first.value!);

    // while the export is under way: delete the last source, change the next-to-last, add one
    const last = await fetch(`${base}/v1/sources/${key(SOURCES - 1)}`, { method: 'DELETE', headers: AUTH });
    expect(last.status).toBe(204);
    const changed = await fetch(`${base}/v1/sources/${key(SOURCES - 2)}`, {
      method: 'PATCH',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ title: { en: 'Changed' } }),
    });
    expect(changed.status).toBe(200);
    const added = await fetch(`${base}/v1/sources`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'src:snap-added', type: 'news_article', title: { en: 'Added' } }),
    });
    expect(added.status).toBe(201);

    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
    expect(chunks.length).toBeGreaterThan(2);
    const lines = Buffer.concat(chunks).toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Json);
    // the trailer names the revision the snapshot was taken at: before the three writes
    const trailer = lines.pop()!;
    expect(lines.map((r) => r.key)).toEqual(Array.from({ length: SOURCES }, (_, i) => key(i)));
    expect(lines[SOURCES - 2]!.title).toEqual({ en: `Source ${SOURCES - 2}` });

    const after = (await (await fetchSettled(`${base}/v1/export`)).text()).trimEnd().split('\n').map((l) => JSON.parse(l) as Json);
    const trailerAfter = after.pop()!;
    expect(trailer).toMatchObject({ kind: 'end', records: SOURCES });
    expect(trailerAfter).toMatchObject({ kind: 'end', records: SOURCES });
    expect(Number(trailerAfter.revision)).toBeGreaterThan(Number(trailer.revision));
    expect(after).toHaveLength(SOURCES);
    expect(after.map((r) => r.key)).toContain('src:snap-added');
    expect(after.map((r) => r.key)).not.toContain(key(SOURCES - 1));
    expect(after.find((r) => r.key === key(SOURCES - 2))!.title).toEqual({ en: 'Changed' });
  });
});

// checks SQLite's WAL checkpoint through its own connection; PostgreSQL's sibling below
describe('an abandoned export', () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    ({ t, base } = await listeningWithSources('sqlite', 3000, (i) => ({
      key: `src:gone-${i}`,
      text: 'Text long enough to make the export take several pages and chunks. '.repeat(6),
    })));
  }, 60_000);
  afterAll(() => t?.close());

  it('releases its snapshot when the client goes away, so the WAL can be checkpointed again', async () => {
    const controller = new AbortController();
    const res = await fetchSettled(`${base}/v1/export`, { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await reader.read().catch(() => undefined);

    // a write after the abandoned snapshot, then a checkpoint that needs every reader gone
    const created = await fetch(`${base}/v1/sources`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'news_article', title: { en: 'After' } }),
    });
    expect(created.status).toBe(201);
    // without waiting on the busy handler: a reader still holding its snapshot makes it busy at once
    const client = sqliteDb(t.app).$client;
    const timeout = client.pragma('busy_timeout', { simple: true }) as number;
    client.pragma('busy_timeout = 0');
    let busy = 1;
    try {
      for (let attempt = 0; attempt < 50 && busy !== 0; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        busy = (client.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[])[0]!.busy;
      }
    } finally {
      client.pragma(`busy_timeout = ${timeout}`);
    }
    expect(busy).toBe(0);
    const after = await fetchSettled(`${base}/v1/export`);
    // 3,000 sources and the one made after, and the trailer
    expect((await after.text()).trimEnd().split('\n')).toHaveLength(3002);
  });
});

describePg('an abandoned export', () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    ({ t, base } = await listeningWithSources('postgres', 3000, (i) => ({
      key: `src:gone-${i}`,
      text: 'Text long enough to make the export take several pages and chunks. '.repeat(6),
    })));
  }, 60_000);
  afterAll(() => t?.close());

  it('ends its snapshot transaction when the client goes away, so no connection is left holding it', async () => {
    if (!(t.app.storage instanceof PostgresStorage)) throw new Error('this test checks the PostgreSQL engine');
    const pool = t.app.storage.db.$client;
    // other connections to the database inside a transaction: the export's, while it streams
    const inTransaction = async () =>
      (
        await pool.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL',
        )
      ).rows[0]!.n;
    const controller = new AbortController();
    const res = await fetchSettled(`${base}/v1/export`, { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    expect(await inTransaction()).toBe(1);
    controller.abort();
    await reader.read().catch(() => undefined);

    let open = 1;
    for (let attempt = 0; attempt < 50 && open !== 0; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      open = await inTransaction();
    }
    expect(open).toBe(0);
    const created = await fetch(`${base}/v1/sources`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'news_article', title: { en: 'After' } }),
    });
    expect(created.status).toBe(201);
    const after = await fetchSettled(`${base}/v1/export`);
    // the sources, the one made after, and the trailer
    expect((await after.text()).trimEnd().split('\n')).toHaveLength(3002);
  });
});
