// Streamed responses (the export, timelines in every format but JSON) against what a tester
// found (issue #13): a HEAD that left an export's snapshot open, a place filter that inlined its
// whole subtree as parameters (500, or a 200 cut short), a shutdown without a deadline, an
// export a client could not tell was complete, instants ordered by the calendar day of their
// offset instead of their moment. Real sockets where what the client sees is the point.
import { readdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chronoPosition, parseEdtf } from '../src/dates/edtf.js';
import { openSnapshotCount } from '../src/storage/sqlite/client.js';
import { runMigrations } from '../src/storage/sqlite/migrate.js';
import { dayBounds, spanClass } from '../src/storage/dates.js';
import { filterScope } from '../src/routes/crud.js';
import { databaseBefore } from './support/migrations.js';
import { AUTH, buildTestApp, ndjson, type TestApp } from './helpers.js';
import { SERVER_AUTH, sleep, startServer, stopAllServers } from './support/server.js';
import { sqliteDb } from './support/sqlite.js';

type Json = Record<string, any>;

const fdCount = () => readdirSync('/proc/self/fd').length;

async function importRecords(t: TestApp, records: object[]): Promise<void> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/import',
    headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
    payload: ndjson(records),
  });
  expect(res.statusCode, res.body).toBe(200);
  expect(res.json()).toMatchObject({ refused: 0 });
}

/**
 * Whether a write can be checkpointed out of the WAL right now: not while any reader holds a
 * snapshot from before it. Busy at once rather than after the busy timeout.
 */
function checkpointBusy(t: TestApp): boolean {
  const client = sqliteDb(t.app).$client;
  client.exec(`INSERT INTO settings (name, value) VALUES ('probe', '1') ON CONFLICT (name) DO UPDATE SET value = CAST(value AS INTEGER) + 1`);
  const timeout = client.pragma('busy_timeout', { simple: true }) as number;
  client.pragma('busy_timeout = 0');
  try {
    return (client.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[])[0]!.busy !== 0;
  } finally {
    client.pragma(`busy_timeout = ${timeout}`);
  }
}

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) return false;
    await sleep(20);
  }
  return true;
}

interface Received {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body arrived whole: the chunked encoding's last chunk was read. */
  complete: boolean;
  /** What ended it otherwise (`aborted`, an error code). */
  broken: string | null;
}

/**
 * A GET over a real socket. `onFirstChunk` runs once the first body bytes have arrived; with
 * `pauseAfterFirst` the client then stops reading until `resume` is called.
 */
function get(
  base: string,
  path: string,
  options: { onFirstChunk?: () => void; pauseAfterFirst?: boolean } = {},
): { done: Promise<Received>; resume: () => void } {
  let response: http.IncomingMessage | undefined;
  const done = new Promise<Received>((resolve) => {
    const request = http.get(`${base}${path}`, { agent: false }, (res) => {
      response = res;
      const chunks: Buffer[] = [];
      let first = true;
      let broken: string | null = null;
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (first) {
          first = false;
          options.onFirstChunk?.();
          if (options.pauseAfterFirst) res.pause();
        }
      });
      res.on('aborted', () => (broken ??= 'aborted'));
      res.on('error', (error: NodeJS.ErrnoException) => (broken ??= error.code ?? error.message));
      res.on('close', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), complete: res.complete, broken }),
      );
    });
    request.on('error', (error: NodeJS.ErrnoException) =>
      resolve({ status: 0, headers: {}, body: '', complete: false, broken: error.code ?? error.message }),
    );
  });
  return { done, resume: () => response?.resume() };
}

const listen = async (t: TestApp) => t.app.listen({ port: 0, host: '127.0.0.1' });

/** Sources of some 8 KB each: an export of `n` of them is `n` × 8 KB, more than sockets buffer. */
const bigSources = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => ({
    kind: 'source',
    key: `src:${prefix}-${String(i).padStart(5, '0')}`,
    type: 'report',
    title: { en: `Source ${i}` },
    text: `نص طويل ${i}، `.repeat(20) + 'A long paragraph of a source, repeated. '.repeat(180),
  }));

const lastLine = (text: string) => text.trimEnd().split('\n').pop() ?? '';

/* ------------------------------------------------------------------------------------------ */
/* 1. Streamed responses release what they hold                                               */
/* ------------------------------------------------------------------------------------------ */

const FORMATS = ['ndjson', 'csv', 'ics', 'timelinejs', 'geojson'] as const;

/** Every streaming endpoint of the seeded app. */
const STREAMING = [
  '/v1/export',
  '/v1/export?place=place:kz',
  ...FORMATS.map((f) => `/v1/timeline?format=${f}`),
  ...FORMATS.map((f) => `/v1/actors/actor:amreyev/timeline?format=${f}`),
  ...FORMATS.map((f) => `/v1/places/place:kz/timeline?format=${f}`),
  ...FORMATS.map((f) => `/v1/timelines/kazakhstan-january-2022?format=${f}`),
];

describe('streamed responses release what they opened', () => {
  let t: TestApp;
  beforeAll(async () => {
    // a database file: each export reads a snapshot through a connection of its own
    t = await buildTestApp({ seed: true });
  });
  afterAll(() => t?.close());

  it('200 HEADs of every streaming endpoint answer the GET headers and open nothing (descriptors, WAL, snapshots)', async () => {
    for (const url of STREAMING) {
      const get = await t.app.inject({ url });
      expect(get.statusCode, url).toBe(200);
      const head = await t.app.inject({ method: 'HEAD', url });
      expect(head.statusCode, url).toBe(200);
      expect(head.headers['content-type'], url).toBe(get.headers['content-type']);
      expect(head.body, url).toBe('');
    }
    await sleep(100);
    const before = fdCount();
    for (const url of STREAMING) {
      for (let i = 0; i < 200; i++) {
        const res = await t.app.inject({ method: 'HEAD', url });
        expect(res.statusCode, url).toBe(200);
      }
    }
    await sleep(200);
    // a snapshot left open is a descriptor of the database file, and a WAL that cannot be checkpointed
    expect(fdCount() - before, 'descriptors after 200 HEADs of every streaming endpoint').toBeLessThanOrEqual(1);
    expect(checkpointBusy(t), 'a write could not be checkpointed: a snapshot is still open').toBe(false);
    expect(openSnapshotCount()).toBe(0);
    expect(t.app.streams.count).toBe(0);
  }, 120_000);
});

describe('aborted, failed and slow streams over a real socket', () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    // an export of some 16 MB, and timelines of 4,000 entries (8 pages of every format);
    // exports may stream for 1.5 s at most
    t = await buildTestApp({ config: { exportTimeoutMs: 1500 } });
    await importRecords(t, [
      ...bigSources(2000, 'big'),
      { kind: 'place', key: 'place:p', type: 'city', name: { en: 'P' }, lat: 43.2, lon: 76.9 },
      ...Array.from({ length: 4000 }, (_, i) => ({
        kind: 'event',
        key: `event:s${i}`,
        type: 'protest',
        date: `2022-01-${String(1 + (i % 28)).padStart(2, '0')}`,
        title: { en: `Event ${i} with a title of some length`, ar: `حدث ${i}` },
        description: { en: 'A description that makes each entry a few hundred bytes long. '.repeat(4) },
        places: ['place:p'],
        tags: ['t'],
      })),
    ]);
    base = await listen(t);
  }, 120_000);
  afterAll(() => t?.close());

  it('GETs aborted after their first chunk release their stream and snapshot', async () => {
    const paths = ['/v1/export', ...FORMATS.map((f) => `/v1/timeline?format=${f}`)];
    await sleep(100);
    const before = fdCount();
    for (let round = 0; round < 5; round++) {
      for (const path of paths) {
        // the client goes away after the first chunk: its socket closed mid-body
        const status = await new Promise<number>((resolve, reject) => {
          const request = http.get(`${base}${path}`, { agent: false }, (res) => {
            res.once('data', () => {
              request.destroy();
              resolve(res.statusCode ?? 0);
            });
          });
          request.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? undefined : reject(error)));
        });
        expect(status, path).toBe(200);
      }
    }
    expect(await until(() => !checkpointBusy(t), 3000), 'no snapshot keeps the WAL').toBe(true);
    // closed snapshots' descriptors may wait in SQLite for reuse (it defers closing a file
    // that other connections of the process hold locks on): a few, never one per request
    expect(fdCount() - before).toBeLessThanOrEqual(3);
    expect(await until(() => t.app.streams.count === 0, 3000), 'every stream closed').toBe(true);
    expect(openSnapshotCount()).toBe(0);
  }, 60_000);

  it('a reader that stops reading an export is cut off at the time bound, its snapshot released', async () => {
    expect(checkpointBusy(t)).toBe(false);
    const slow = get(base, '/v1/export', { pauseAfterFirst: true });
    // the client reads one chunk and no more: the export waits on it, holding its snapshot
    await sleep(600);
    expect(checkpointBusy(t), 'the held snapshot keeps the WAL').toBe(true);
    // past the bound (1.5 s) the export is aborted and the snapshot closed
    expect(await until(() => !checkpointBusy(t), 4000), 'the snapshot is released past the bound').toBe(true);
    expect(openSnapshotCount()).toBe(0);
    slow.resume();
    const received = await slow.done;
    expect(received.status).toBe(200);
    expect(received.complete, 'the client sees the response broken, not complete').toBe(false);
    expect(received.broken).not.toBeNull();
    expect(lastLine(received.body)).not.toMatch(/"kind":"end"/);
    // an export that a client reads at once is not cut off
    const whole = await get(base, '/v1/export').done;
    expect(whole.complete).toBe(true);
    expect(JSON.parse(lastLine(whole.body))).toMatchObject({ kind: 'end', records: 2001 + 4000 });
  }, 60_000);

  it('a stream that fails after its headers reaches the client as an aborted response, never a clean end', async () => {
    const client = sqliteDb(t.app).$client;
    for (const format of FORMATS) {
      // the loaders read entry_tags for every page: taken away after the first page, the next fails
      const received = await get(base, `/v1/timeline?format=${format}`, {
        onFirstChunk: () => client.exec('ALTER TABLE entry_tags RENAME TO entry_tags_away'),
      }).done;
      client.exec('ALTER TABLE entry_tags_away RENAME TO entry_tags');
      expect(received.status, format).toBe(200);
      expect(received.complete, `${format}: the chunked body must not end cleanly`).toBe(false);
      expect(received.broken, format).not.toBeNull();
      // and it really was cut: fewer entries than the 4,000 a whole answer holds
      const entries = received.body.split(format === 'ndjson' ? '\n{' : format === 'csv' ? '\r\nevent,' : format === 'ics' ? 'BEGIN:VEVENT' : '"unique_id"').length - 1;
      expect(entries, format).toBeLessThan(4000);
    }
    // the same requests answered whole once the table is back
    const whole = await get(base, '/v1/timeline?format=ndjson').done;
    expect(whole.complete).toBe(true);
    expect(whole.body.trimEnd().split('\n')).toHaveLength(4000);
  }, 60_000);
});

/* ------------------------------------------------------------------------------------------ */
/* 2. A place with 20,000 places under it                                                      */
/* ------------------------------------------------------------------------------------------ */

describe('a place filter with 20,000 places under the place', () => {
  let t: TestApp;
  const REGIONS = 100;
  const CITIES = 199; // per region: 100 + 19,900 = 20,000 places under place:root
  const city = (i: number) => `place:c${i % REGIONS}-${Math.floor(i / REGIONS) % CITIES}`;
  const inside = new Set<string>();
  beforeAll(async () => {
    t = await buildTestApp({ memory: true });
    const places: object[] = [
      { kind: 'place', key: 'place:root', type: 'country', name: { en: 'Root' }, lat: 48, lon: 68 },
      { kind: 'place', key: 'place:other', type: 'country', name: { en: 'Other' }, lat: 40, lon: 30 },
    ];
    for (let r = 0; r < REGIONS; r++) {
      places.push({ kind: 'place', key: `place:r${r}`, type: 'region', name: { en: `Region ${r}` }, parent: 'place:root' });
      for (let c = 0; c < CITIES; c++) {
        places.push({ kind: 'place', key: `place:c${r}-${c}`, type: 'city', name: { en: `City ${r}/${c}` }, parent: `place:r${r}` });
      }
    }
    const entries: object[] = [{ kind: 'actor', key: 'actor:s', type: 'person', name: { en: 'Speaker' } }];
    const date = (i: number) => `2022-01-${String(1 + (i % 28)).padStart(2, '0')}`;
    for (let i = 0; i < 300; i++) {
      entries.push({ kind: 'event', key: `event:in${i}`, type: 'protest', date: date(i), title: { en: `In ${i}` }, places: [city(i * 67)] });
      inside.add(`event:in${i}`);
    }
    // 50 events with 200 places each: a page of them has 10,000 places to find coordinates for
    for (let i = 0; i < 50; i++) {
      const many = Array.from({ length: 200 }, (_, j) => city(i * 200 + j));
      entries.push({ kind: 'event', key: `event:many${i}`, type: 'meeting', date: date(i), title: { en: `Many ${i}` }, places: many });
      inside.add(`event:many${i}`);
    }
    for (let i = 0; i < 30; i++) {
      entries.push({
        kind: 'statement',
        key: `stmt:about${i}`,
        type: 'quote',
        date: date(i),
        speaker: 'actor:s',
        text: { en: `About ${i}` },
        about: { places: [city(i * 13 + 5)] },
      });
      inside.add(`stmt:about${i}`);
    }
    for (let i = 0; i < 40; i++) {
      entries.push({ kind: 'event', key: `event:out${i}`, type: 'protest', date: date(i), title: { en: `Out ${i}` }, places: ['place:other'] });
    }
    await importRecords(t, [...places, ...entries]);
  }, 120_000);
  afterAll(() => t?.close());

  const expectOk = (res: { statusCode: number; body: string }, what: string) => expect(res.statusCode, `${what}: ${res.body.slice(0, 300)}`).toBe(200);

  it('the timeline, scoped or filtered, pages through exactly the entries in the subtree', async () => {
    for (const path of ['/v1/timeline?place=place:root', '/v1/places/place:root/timeline']) {
      const keys: string[] = [];
      let cursor: string | null = null;
      do {
        const res: { statusCode: number; body: string; json: () => Json } = await t.app.inject({
          url: `${path}${path.includes('?') ? '&' : '?'}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        });
        expectOk(res, path);
        keys.push(...res.json().data.map((e: Json) => e.key));
        cursor = res.json().page.nextCursor;
      } while (cursor);
      expect(new Set(keys), path).toEqual(inside);
      expect(keys).toHaveLength(inside.size);
    }
    // a region deep inside: only its own cities' entries
    const region = await t.app.inject({ url: '/v1/timeline?place=place:r3&limit=500' });
    expectOk(region, 'region');
    expect(region.json().data.length).toBeGreaterThan(0);
    expect(region.json().data.length).toBeLessThan(inside.size);
  });

  it('the histogram counts the subtree (from entries: a place filter)', async () => {
    for (const window of ['&from=2022-01&to=2022-01', '']) {
      const res = await t.app.inject({ url: `/v1/timeline/histogram?place=place:root&interval=month${window}` });
      expectOk(res, `histogram${window}`);
      const buckets = res.json().buckets as { count: number; imprecise: number }[];
      expect(buckets.reduce((n, b) => n + b.count, 0), window).toBe(inside.size);
    }
  });

  it('every streaming format holds the whole subtree, complete', async () => {
    for (const path of ['/v1/timeline?place=place:root&', '/v1/places/place:root/timeline?']) {
      const ask = (format: string) => t.app.inject({ url: `${path}format=${format}` });
      const nd = await ask('ndjson');
      expectOk(nd, 'ndjson');
      expect(new Set(nd.body.trimEnd().split('\n').map((l) => (JSON.parse(l) as Json).key))).toEqual(inside);
      const csv = await ask('csv');
      expectOk(csv, 'csv');
      expect(csv.body.trimEnd().split('\r\n')).toHaveLength(inside.size + 1);
      const ics = await ask('ics');
      expectOk(ics, 'ics');
      expect(ics.body.match(/BEGIN:VEVENT/g)).toHaveLength(inside.size);
      expect(ics.body.trimEnd().endsWith('END:VCALENDAR')).toBe(true);
      const tl = await ask('timelinejs');
      expectOk(tl, 'timelinejs');
      expect((JSON.parse(tl.body) as Json).events).toHaveLength(inside.size);
      // every place under the root takes the root's coordinates
      const geo = await ask('geojson');
      expectOk(geo, 'geojson');
      expect((JSON.parse(geo.body) as Json).features).toHaveLength(inside.size);
    }
  });

  it('a page whose entries have 10,000 places gets all their coordinates', async () => {
    const geo = await t.app.inject({ url: '/v1/timeline?type=meeting&format=geojson' });
    expectOk(geo, 'geojson');
    const features = (JSON.parse(geo.body) as Json).features as Json[];
    expect(features).toHaveLength(50);
    for (const f of features) expect(f.geometry).toEqual({ type: 'Point', coordinates: [68, 48] });
  });

  it('the export of the subtree holds its entries and every place they name, with its trailer', async () => {
    const res = await t.app.inject({ url: '/v1/export?place=place:root' });
    expectOk(res, 'export');
    const lines = res.body.trimEnd().split('\n').map((l) => JSON.parse(l) as Json);
    const trailer = lines.pop()!;
    const entries = lines.filter((r) => r.kind === 'event' || r.kind === 'statement').map((r) => r.key);
    expect(new Set(entries)).toEqual(inside);
    expect(trailer).toMatchObject({ kind: 'end', records: lines.length });
    expect(lines.some((r) => r.key === 'place:root')).toBe(true);
  });
});

/* ------------------------------------------------------------------------------------------ */
/* 3. The export's trailer                                                                     */
/* ------------------------------------------------------------------------------------------ */

describe("the export's trailer", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ seed: true });
  });
  afterAll(() => t?.close());

  const revision = () =>
    (sqliteDb(t.app).$client.prepare("SELECT value FROM settings WHERE name = 'revision'").get() as { value: string }).value;

  it('is the last line of a full export: records by kind, and the revision the snapshot was taken at', async () => {
    const res = await t.app.inject({ url: '/v1/export' });
    expect(res.statusCode).toBe(200);
    const lines = res.body.trimEnd().split('\n').map((l) => JSON.parse(l) as Json);
    const trailer = lines.pop()!;
    const counts: Json = { source: 0, place: 0, actor: 0, event: 0, statement: 0, timeline: 0 };
    for (const record of lines) counts[record.kind]++;
    expect(counts.event).toBeGreaterThan(0);
    expect(counts.timeline).toBeGreaterThan(0);
    expect(res.body.endsWith('}\n')).toBe(true);
    expect(trailer).toEqual({ kind: 'end', records: lines.length, counts, sequence: expect.any(Number), revision: revision() });
    expect(Object.keys(trailer)).toEqual(['kind', 'records', 'counts', 'sequence', 'revision']);
    expect(Object.keys(trailer.counts)).toEqual(['source', 'place', 'actor', 'event', 'statement', 'timeline']);

    // after a write: one more record, and the revision it was made at
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/sources',
      headers: AUTH,
      payload: { key: 'src:after', type: 'report', title: { en: 'After' } },
    });
    expect(created.statusCode).toBe(201);
    const again = (await t.app.inject({ url: '/v1/export' })).body.trimEnd().split('\n');
    const next = JSON.parse(again.pop()!) as Json;
    expect(next).toEqual({ kind: 'end', records: lines.length + 1, counts: { ...counts, source: counts.source + 1 }, sequence: expect.any(Number), revision: revision() });
    expect(Number(next.revision)).toBeGreaterThan(Number(trailer.revision));
  });

  it('ends a filtered export too, and one that selects nothing', async () => {
    const part = (await t.app.inject({ url: '/v1/export?actor=actor:amreyev' })).body.trimEnd().split('\n').map((l) => JSON.parse(l) as Json);
    const trailer = part.pop()!;
    expect(trailer).toMatchObject({ kind: 'end', records: part.length });
    expect(part.every((r) => r.kind !== 'end')).toBe(true);
    const none = await t.app.inject({ url: '/v1/export?from=1800&to=1801' });
    expect(JSON.parse(none.body)).toEqual({
      kind: 'end',
      records: 0,
      counts: { source: 0, place: 0, actor: 0, event: 0, statement: 0, timeline: 0 },
      sequence: expect.any(Number),
      revision: revision(),
    });
  });

  it('names the revision of the snapshot, not of writes made while it streams', async () => {
    const listening = await listen(t);
    await importRecords(t, bigSources(1500, 'snap'));
    const at = revision();
    let wrote = false;
    const received = await get(listening, '/v1/export', {
      onFirstChunk: () => {
        sqliteDb(t.app).$client.exec(`UPDATE settings SET value = CAST(value AS INTEGER) + 5 WHERE name = 'revision'`);
        wrote = true;
      },
    }).done;
    expect(wrote).toBe(true);
    expect(received.complete).toBe(true);
    expect(JSON.parse(lastLine(received.body))).toMatchObject({ kind: 'end', revision: at });
    expect(Number(revision())).toBe(Number(at) + 5);
  }, 60_000);
});

/* ------------------------------------------------------------------------------------------ */
/* 4. Shutdown has a deadline (real process)                                                   */
/* ------------------------------------------------------------------------------------------ */

describe('shutdown with a client that stopped reading', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await stopAllServers();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('exits within ANNALS_SHUTDOWN_TIMEOUT_S, the slow export cut off visibly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'annals-shutdown-'));
    dirs.push(dir);
    const server = await startServer({ databasePath: join(dir, 'annals.db'), env: { ANNALS_SHUTDOWN_TIMEOUT_S: '2' } });
    const load = await fetch(`${server.url}/v1/import`, {
      method: 'POST',
      headers: { ...SERVER_AUTH, 'content-type': 'application/x-ndjson' },
      body: ndjson(bigSources(2500, 'down')),
    });
    expect(load.status).toBe(200);
    expect(await load.json()).toMatchObject({ created: 2500, refused: 0 });

    const slow = get(server.url, '/v1/export', { pauseAfterFirst: true });
    await sleep(500);
    const signalled = Date.now();
    server.child.kill('SIGTERM');
    const exit = await Promise.race([server.exited, sleep(12_000).then(() => null)]);
    const took = Date.now() - signalled;
    expect(exit, 'the process exits').toEqual({ code: 0, signal: null });
    // the deadline (2 s) and the closing of what is left, not the export's own pace
    expect(took).toBeGreaterThanOrEqual(1900);
    expect(took).toBeLessThan(6000);
    expect(server.logs.some((l) => l.msg === 'shutdown deadline passed: closing the connections still open')).toBe(true);

    slow.resume();
    const received = await slow.done;
    expect(received.status).toBe(200);
    expect(received.complete, 'the client sees the export broken').toBe(false);
    expect(lastLine(received.body)).not.toMatch(/"kind":"end"/);
  }, 60_000);
});

/* ------------------------------------------------------------------------------------------ */
/* 5. Chronological order: instants by their moment in UTC                                     */
/* ------------------------------------------------------------------------------------------ */

describe('instants in chronological order', () => {
  let t: TestApp;
  // created in this order, so that ids follow neither the calendar days nor the moments
  const DATES: [key: string, date: string][] = [
    ['event:west', '2022-08-08T23:30-05:00'], // 2022-08-09T04:30Z
    ['event:east', '2022-08-09T01:00+06:00'], // 2022-08-08T19:00Z
    ['event:day9', '2022-08-09'], // from 2022-08-09T00:00Z
    ['event:day8', '2022-08-08'], // from 2022-08-08T00:00Z
    ['event:utc-noon', '2022-08-08T12:00Z'],
    ['event:kiritimati', '2022-08-09T02:00+14:00'], // 2022-08-08T12:00Z, the same moment, a later id
    ['event:midnight', '2022-08-09T00:00Z'], // the moment day9 starts: before it, being shorter
    ['event:span', '2022-08-08T18:00Z/2022-08-09T06:00+06:00'], // 18:00Z to 2022-08-09T00:00Z
  ];
  const ORDER = ['event:day8', 'event:utc-noon', 'event:kiritimati', 'event:span', 'event:east', 'event:midnight', 'event:day9', 'event:west'];
  beforeAll(async () => {
    t = await buildTestApp({ memory: true });
    for (const [key, date] of DATES) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/events', headers: AUTH, payload: { key, type: 'protest', date, title: { en: key } } });
      expect(res.statusCode, res.body).toBe(201);
    }
  });
  afterAll(() => t?.close());

  const keys = async (url: string) => {
    const res = await t.app.inject({ url });
    expect(res.statusCode, res.body).toBe(200);
    return (res.json().data as Json[]).map((e) => e.key);
  };

  it('orders by the UTC moment, a day from its 00:00 UTC, then the end, then id', async () => {
    expect(await keys('/v1/timeline')).toEqual(ORDER);
    expect(await keys('/v1/timeline?order=desc')).toEqual([...ORDER].reverse());
    expect(await keys('/v1/events')).toEqual(ORDER);
    // a window on days selects by the stated calendar days (west's is 8 August), and keeps the order
    expect(await keys('/v1/timeline?from=2022-08-09&to=2022-08-09')).toEqual(
      ORDER.filter((k) => !['event:day8', 'event:utc-noon', 'event:west'].includes(k)),
    );
    const nd = await t.app.inject({ url: '/v1/timeline?format=ndjson' });
    expect(nd.body.trimEnd().split('\n').map((l) => (JSON.parse(l) as Json).key)).toEqual(ORDER);
  });

  it('cursor pages of one entry walk the same order, both ways', async () => {
    for (const order of ['asc', 'desc'] as const) {
      const walked: string[] = [];
      let cursor: string | null = null;
      do {
        const res: { statusCode: number; body: string; json: () => Json } = await t.app.inject({
          url: `/v1/timeline?limit=1&order=${order}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        });
        expect(res.statusCode, res.body).toBe(200);
        walked.push(...res.json().data.map((e: Json) => e.key));
        cursor = res.json().page.nextCursor;
      } while (cursor);
      expect(walked).toEqual(order === 'asc' ? ORDER : [...ORDER].reverse());
    }
  });

  it('a cursor of the former order (earliest, latest, kind, id) is refused, not read as a position', async () => {
    const first = await t.app.inject({ url: '/v1/timeline?limit=2' });
    const params = { match: 'overlaps', order: 'asc', sort: 'chronological' };
    const scope = filterScope('timeline', params);
    // the scope is the route's: a cursor of the current shape, signed here, is accepted
    const [body] = (first.json().page.nextCursor as string).split('.') as [string];
    const position = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as unknown[];
    expect(position).toHaveLength(3);
    const current = await t.app.inject({ url: `/v1/timeline?limit=2&cursor=${encodeURIComponent(t.app.cursors.encode(scope, position))}` });
    expect(current.statusCode, current.body).toBe(200);
    expect(current.json().data.map((e: Json) => e.key)).toEqual(ORDER.slice(2, 4));
    for (const former of [[19212, 19212, 'event', 3], ['x', 1, 2], [1, 2], {}]) {
      const res = await t.app.inject({ url: `/v1/timeline?limit=2&cursor=${encodeURIComponent(t.app.cursors.encode(scope, former))}` });
      expect(res.statusCode, JSON.stringify(former)).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });
});

describe('migration 0005 on a populated database', () => {
  const DATES = [
    '2022', '2022-01', '2022-01-05', '2022-01-05?', '2022-01-05~', '2022-01%', '0000-01-01', '9999-12-31',
    '2022-01-05T14:30Z', '2022-01-05T14:30:07Z', '2022-01-05T14:30:07.5+05:45', '2022-01-05T14:30:07.123-03:30',
    '2022-08-09T01:00+06:00', '2022-08-08T23:30-05:00', '2022-01-05T00:00+14:00', '2022-01-05T23:59:59.999-12:00',
    '2022-01-05T23:30:00-05:00?', '2021-12-31/2022-01-02', '2022-01-05/..', '../2022-01-05', '2020/2023', '2022-01~/2022-03?',
    '2022-01-05T10:00Z/2022-01-07', '2022-01-05/2022-01-07T10:00+03:00', '2022-01-05T10:00Z/2022-01-05T11:00+01:00',
    '2022-01-05T23:00-05:00/2022-01-05', '../2022-01-05T10:00Z%', '2022-01-05T10:00:00.5Z/..',
  ];

  it('gives every entry already there the position a write gives it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'annals-0005-'));
    try {
      // the migrations before 0005, entries written as the code before it wrote them, then the rest
      const { client, db, applied } = databaseBefore(dir, '0005_');
      expect(applied).toBe(5);
      const insert = client.prepare(
        `INSERT INTO entries (key, kind, type, date, precision, earliest, latest, span_class, created_at, updated_at)
         VALUES (?, 'event', 'protest', ?, ?, ?, ?, ?, '', '')`,
      );
      DATES.forEach((date, i) => {
        const parsed = parseEdtf(date);
        const { earliest, latest } = dayBounds(parsed);
        insert.run(`event:m${i}`, date, parsed.precision, earliest, latest, spanClass(earliest, latest));
      });
      runMigrations(db);
      const rows = client.prepare('SELECT date, sort_start AS start, sort_end AS "end" FROM entries ORDER BY id').all() as { date: string; start: number; end: number }[];
      expect(rows.map((r) => ({ date: r.date, start: r.start, end: r.end }))).toEqual(
        DATES.map((date) => ({ date, ...chronoPosition(parseEdtf(date)) })),
      );
      // and the index the timeline reads is there again, on the new columns
      const index = client.prepare("SELECT sql FROM sqlite_master WHERE name = 'entries_chrono_idx'").pluck().get() as string;
      expect(index).toContain('`sort_start`');
      client.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
