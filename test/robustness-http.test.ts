// Robustness of the HTTP layer (issue #13): memory that clients' headers cannot grow, content
// negotiation and conditional requests by RFC 9110, errors before routing as problem documents,
// ETags across databases and restored backups, sockets of refused and stalled uploads, probes
// outside the rate limit, stored API keys that do not give their secrets away, and CSV cells
// that spreadsheets do not run as formulas.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import Database from 'better-sqlite3';
import { parse as parseCsv } from 'csv-parse/sync';
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { openDatabase } from '../src/storage/sqlite/client.js';
import { backupDatabase } from '../src/storage/sqlite/backup.js';
import { CSV_COLUMNS, neutraliseCell } from '../src/formats/csv.js';
import { parseAccept } from '../src/formats/negotiate.js';
import { ifNoneMatchList } from '../src/plugins/caching.js';
import { clientAddress } from '../src/plugins/limits.js';
import { BoundedCounters, REQUEST_COUNTERS_LIMIT } from '../src/storage/request-counts.js';
import { createApiKey, knownApiKey, revokeApiKey, slowVerificationCount } from '../src/storage/sqlite/apiKeys.js';
import { AUTH, TEST_KEY, buildTestApp, ndjson, type TestApp, expectProblem } from './helpers.js';
import { sqliteDb } from './support/sqlite.js';

type Json = Record<string, any>;

const opened: TestApp[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
});
async function app(options: Parameters<typeof buildTestApp>[0] = {}): Promise<TestApp> {
  const t = await buildTestApp({ memory: true, ...options });
  opened.push(t);
  return t;
}


const event = (key: string, title: string, extra: Json = {}) => ({ key, type: 'protest', date: '2022-01-03', title: { en: title }, ...extra });

async function post(t: TestApp, url: string, body: unknown, headers: Json = AUTH): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'POST', url, headers: { ...headers, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
}

async function listen(t: TestApp): Promise<number> {
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  return (t.app.server.address() as AddressInfo).port;
}

/** A raw client socket: what it received, and when it closed. */
class RawClient {
  readonly socket: net.Socket;
  received = '';
  closedAt: number | null = null;
  readonly startedAt = Date.now();
  readonly closed: Promise<void>;
  #trickle: NodeJS.Timeout | undefined;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (chunk) => (this.received += chunk.toString('latin1')));
    // a reset after the answer is fine: what matters is that it was read and the socket closed
    this.socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      this.socket.once('close', () => {
        this.closedAt = Date.now();
        clearInterval(this.#trickle);
        resolve();
      }),
    );
  }

  write(text: string): void {
    if (!this.socket.destroyed) this.socket.write(text);
  }

  /** Writes `bytes` bytes of `a` every `everyMs` until the socket closes. */
  trickle(bytes: number, everyMs: number): void {
    this.#trickle = setInterval(() => this.write('a'.repeat(bytes)), everyMs);
  }

  stop(): void {
    clearInterval(this.#trickle);
  }

  /** Resolves once a whole response (by Content-Length) is in, or rejects after `ms`. */
  async response(ms: number): Promise<{ statusCode: number; headers: Json; body: string }> {
    const deadline = Date.now() + ms;
    for (;;) {
      const end = this.received.indexOf('\r\n\r\n');
      if (end >= 0) {
        const [statusLine, ...lines] = this.received.slice(0, end).split('\r\n');
        const headers: Json = {};
        for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
        const length = Number(headers['content-length'] ?? 0);
        const body = Buffer.from(this.received.slice(end + 4), 'latin1');
        if (body.length >= length) {
          return { statusCode: Number(statusLine!.split(' ')[1]), headers, body: body.subarray(0, length).toString('utf8') };
        }
      }
      if (Date.now() > deadline) throw new Error(`no whole response within ${ms} ms; received ${JSON.stringify(this.received.slice(0, 200))}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Milliseconds from the start until the socket closed, waiting at most `ms` (null: still open). */
  async closesWithin(ms: number): Promise<number | null> {
    await Promise.race([this.closed, new Promise((resolve) => setTimeout(resolve, ms))]);
    return this.closedAt === null ? null : this.closedAt - this.startedAt;
  }

  destroy(): void {
    this.stop();
    this.socket.destroy();
  }
}

/* ------------------------------------------------------------------------------------------ */
/* 2. Nothing a request sends grows a process-wide structure without a bound                   */
/* ------------------------------------------------------------------------------------------ */

const collectGarbage: () => void = (() => {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
})();

function heapUsed(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

describe('memory per distinct header', () => {
  it('keeps nothing per Accept, Accept-Language or other header: thousands of unique 8 KB values leave the heap as it was', async () => {
    const t = await app();
    const port = await listen(t);
    // over real HTTP: light-my-request (app.inject) itself keeps some of every request it sends
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const send = (i: number) => {
      const id = i.toString(36);
      // 14 KB in all: Node's limit for the headers of a request is 16 KB
      const headers = {
        accept: `application/vnd.unknown-${id}-${'x'.repeat(8 * 1024)}`,
        'accept-language': `en-${id}-${'y'.repeat(3 * 1024)}`,
        'x-anything': `${id}-${'z'.repeat(3 * 1024)}`,
      };
      return new Promise<number>((resolve, reject) =>
        http
          .get({ host: '127.0.0.1', port, path: '/v1/timeline', agent, headers }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode!));
          })
          .on('error', reject),
      );
    };
    try {
      for (let i = 0; i < 200; i++) await send(-i - 1);
      const before = heapUsed();
      for (let i = 0; i < 3000; i++) expect(await send(i)).toBe(406);
      const grown = heapUsed() - before;
      // 3000 Accept headers of 8 KB are 24 MB: a structure that kept each would show here
      expect(grown, `heap grew by ${(grown / 1e6).toFixed(1)} MB`).toBeLessThan(8 * 1024 * 1024);
    } finally {
      agent.destroy();
    }
    for (const [name, { size, limit }] of Object.entries(t.app.boundedStructures())) {
      expect(size, name).toBeLessThanOrEqual(limit);
    }
  });

  it('bounds the statement cache, whatever shapes of query the filters build', async () => {
    const t = await app();
    for (let tags = 1; tags <= 50; tags++) {
      for (const kind of ['event', 'statement']) {
        const query = Array.from({ length: tags }, (_, i) => `tag=t${i}`).join('&');
        const res = await t.app.inject({ url: `/v1/timeline?${query}&kind=${kind}&type=a&type=b` });
        expect(res.statusCode).toBe(200);
      }
    }
    const { preparedStatements } = t.app.boundedStructures();
    expect(preparedStatements!.size).toBeGreaterThan(0);
    expect(preparedStatements!.size).toBeLessThanOrEqual(preparedStatements!.limit);
  });

  it('bounds the in-process request counters to REQUEST_COUNTERS_LIMIT clients, the least recently seen going first', () => {
    const counters = new BoundedCounters();
    for (let i = 0; i < REQUEST_COUNTERS_LIMIT + 5000; i++) counters.count(`ip:${i}`, 60_000);
    expect(counters.size).toBe(REQUEST_COUNTERS_LIMIT);
    // the last one seen is still counted; the first ones were let go, and start again
    expect(counters.count(`ip:${REQUEST_COUNTERS_LIMIT + 4999}`, 60_000).current).toBe(2);
    expect(counters.count('ip:0', 60_000).current).toBe(1);
    expect(counters.size).toBe(REQUEST_COUNTERS_LIMIT);
  });

  it('counts the rate limit in those bounded stores, and an IPv6 client by its /64', async () => {
    const t = await app({ config: { rateLimit: 3, trustProxy: true } });
    const from = (address: string) => t.app.inject({ url: '/v1/places', headers: { 'x-forwarded-for': address } });
    const statuses: number[] = [];
    for (const suffix of ['1', '2', 'abcd', 'ffff:1']) statuses.push((await from(`2001:db8:1:2::${suffix}`)).statusCode);
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect((await from('2001:db8:1:3::1')).statusCode).toBe(200);
    expect(clientAddress('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(clientAddress('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(clientAddress('192.0.2.1')).toBe('192.0.2.1');
    for (let i = 0; i < 50; i++) await from(`10.0.${i >> 8}.${i & 255}`);
    const { rateLimitClients } = t.app.boundedStructures();
    expect(rateLimitClients!.size).toBeGreaterThan(50);
    expect(rateLimitClients!.size).toBeLessThanOrEqual(rateLimitClients!.limit);
  });

  it('does not remember long runs of text written to the search index', async () => {
    const t = await app();
    const before = t.app.boundedStructures().searchRuns!.size;
    for (let i = 0; i < 150; i++) {
      const run = `${i.toString(36)}${'q'.repeat(120)}`;
      expect((await post(t, '/v1/events', event(`event:run-${i}`, run))).statusCode).toBe(201);
    }
    const grown = t.app.boundedStructures().searchRuns!.size - before;
    expect(grown).toBeLessThan(50);
  });
});

/* ------------------------------------------------------------------------------------------ */
/* 22. Content negotiation, If-None-Match, errors before routing                                */
/* ------------------------------------------------------------------------------------------ */

describe('content negotiation (RFC 9110 §12.5.1)', () => {
  const get = async (t: TestApp, url: string, accept: string) => t.app.inject({ url, headers: { accept } });
  const type = (res: LightMyRequestResponse) => String(res.headers['content-type']).split(';')[0];

  it('media ranges, wildcards, q=0 and specificity over the formats of a timeline', async () => {
    const t = await app({ seed: true });
    const cases: [string, string | 406][] = [
      ['text/*', 'text/csv'],
      ['text/*;q=0.5, application/geo+json', 'application/geo+json'],
      ['text/csv;q=0, text/*', 'text/calendar'],
      ['application/*', 'application/json'],
      ['application/*;q=0', 406],
      ['application/*;q=0, */*', 'text/csv'],
      ['application/json;q=0, */*', 'application/x-ndjson'],
      ['*/*;q=0', 406],
      ['*/*;q=0.1, text/calendar;q=0.2', 'text/calendar'],
      ['application/json;charset=utf-8', 'application/json'],
      ['application/json;charset=UTF-8;q=0.9, text/csv;q=0.8', 'application/json'],
      ['text/csv;charset=iso-8859-1', 406],
      ['text/csv;header=present', 'text/csv'],
      ['text/csv;header=absent', 406],
      ['TEXT/CSV', 'text/csv'],
      ['application/problem+json', 406],
      ['image/png, */*;q=0', 406],
      ['text/csv;q=0, text/csv', 406],
      ['*;q=0.2', 'application/json'],
      ['text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2', 'application/json'],
      ['application/json;q=2', 406],
      ['text/csv;q=0.5;charset=latin1', 'text/csv'],
      [' , ', 'application/json'],
      ['garbage', 406],
    ];
    for (const [accept, expected] of cases) {
      for (const url of ['/v1/timeline?limit=2', '/v1/timelines/kazakhstan-january-2022', '/v1/places/place:kz/timeline']) {
        const res = await get(t, url, accept);
        if (expected === 406) expectProblem(res, 406, `${url} Accept: ${accept}`);
        else {
          expect(res.statusCode, `${url} Accept: ${accept}`).toBe(200);
          expect(type(res), `${url} Accept: ${accept}`).toBe(expected);
        }
      }
    }
  });

  it('the export (one format) refuses an Accept that excludes NDJSON', async () => {
    const t = await app();
    for (const accept of ['text/csv', 'application/x-ndjson;q=0, */*', 'application/json']) {
      expectProblem(await get(t, '/v1/export', accept), 406, accept);
    }
    for (const accept of ['application/x-ndjson', '*/*', 'application/*', 'application/x-ndjson;charset=utf-8']) {
      const res = await get(t, '/v1/export', accept);
      expect(res.statusCode, accept).toBe(200);
      expect(type(res)).toBe('application/x-ndjson');
    }
  });

  it('parses quoted parameters with commas, and drops ranges that do not parse', () => {
    expect(parseAccept('text/csv;a="x,y";q=0.5, application/json')).toEqual([
      { type: 'text', subtype: 'csv', params: [['a', 'x,y']], q: 0.5 },
      { type: 'application', subtype: 'json', params: [], q: 1 },
    ]);
    expect(parseAccept('*/csv, text/, /json, a b/c, text/csv;q=abc, text/csv;=x, text/csv;a="open')).toEqual([]);
    // long hostile values are scanned once, with no regular expression backtracking
    const started = Date.now();
    parseAccept(`${'text/csv;a=b;'.repeat(5000)}x`);
    parseAccept(`${'; '.repeat(20000)}`);
    expect(Date.now() - started).toBeLessThan(500);
  });
});

describe('If-None-Match (weak comparison, RFC 9110 §13.1.2)', () => {
  it('matches W/"x" with "x" and W/"x", also inside a list whose tags hold commas', async () => {
    const t = await app({ seed: true });
    const url = '/v1/timeline?limit=3';
    const first = await t.app.inject({ url });
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^W\/"/);
    const strong = etag.slice(2);
    for (const header of [etag, strong, `W/"a,b", ${strong}`, `"other" , ${etag}`]) {
      const res = await t.app.inject({ url, headers: { 'if-none-match': header } });
      expect(res.statusCode, header).toBe(304);
    }
    for (const header of ['W/"other"', `${strong.slice(0, -2)}"`, 'garbage', `x${strong}`]) {
      expect((await t.app.inject({ url, headers: { 'if-none-match': header } })).statusCode, header).toBe(200);
    }
    expect(ifNoneMatchList('W/"a", "b,c" ,junk, W/"d"')).toEqual(['"a"', '"b,c"', '"d"']);
  });
});

describe('errors before routing are problem documents', () => {
  const send = async (port: number, request: string) => {
    const client = new RawClient(port);
    client.write(request);
    try {
      return await client.response(5000);
    } finally {
      client.destroy();
    }
  };

  it('431 for over-long headers, 414 for an over-long URL, 400 for what is not HTTP, 417 for an unknown Expect', async () => {
    const t = await app();
    const port = await listen(t);
    expectProblem(await send(port, `GET /v1/places HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`), 431, 'headers');
    expectProblem(await send(port, `GET /v1/places?q=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`), 414, 'url');
    expectProblem(await send(port, 'GET /v1/places HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n'), 400, 'header without a colon');
    expectProblem(await send(port, 'POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'), 400, 'smuggling');
    const expect417 = await send(port, 'GET /v1/places HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n');
    expectProblem(expect417, 417, 'expect');
  });
});

describe('a request that arrives while the server shuts down', () => {
  it('is a 503 problem, not fastify\'s own JSON', async () => {
    const t = await app();
    const port = await listen(t);
    const client = new RawClient(port);
    // an import in flight, its body still arriving; then the shutdown; then the rest of its body
    // with a second request pipelined behind it, which arrives while the server closes
    client.write(
      `POST /v1/import HTTP/1.1\r\nHost: x\r\nAuthorization: ${AUTH.authorization}\r\n` +
        'Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    client.write(chunk(ndjson([{ kind: 'source', type: 'news_article', key: 'src:closing', title: { en: 'Closing' } }])));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const closed = t.app.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    client.write('0\r\n\r\nGET /v1/places HTTP/1.1\r\nHost: x\r\n\r\n');
    try {
      const first = await client.response(5000);
      expect(first.statusCode, first.body).toBe(200);
      client.received = client.received.slice(client.received.indexOf('\r\n\r\n') + 4 + Buffer.byteLength(first.body));
      const second = await client.response(5000);
      expectProblem(second, 503, 'while closing');
      expect(second.headers.connection).toBe('close');
    } finally {
      client.destroy();
      await closed;
      opened.splice(opened.indexOf(t), 1);
    }
  });
});

/* ------------------------------------------------------------------------------------------ */
/* 12. ETags name the database's lineage as well as its revision                                */
/* ------------------------------------------------------------------------------------------ */

describe('ETags across databases and restored backups', () => {
  const URL_ = '/v1/timeline?from=2022-01&to=2022-01';
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const fileApp = async (path: string) =>
    buildApp({ databasePath: path, seedWhenEmpty: false, bootstrapKey: TEST_KEY, logLevel: 'silent', rateLimit: 0 });
  const write = async (a: Awaited<ReturnType<typeof fileApp>>, key: string) => {
    const res = await a.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: JSON.stringify(event(key, key)),
    });
    expect(res.statusCode).toBe(201);
  };
  const revision = (a: Awaited<ReturnType<typeof fileApp>>) =>
    (sqliteDb(a).$client.prepare("SELECT value FROM settings WHERE name = 'revision'").get() as { value: string }).value;

  it('two databases at the same revision with different data give different ETags', async () => {
    const a = await app();
    const b = await app();
    expect((await post(a, '/v1/events', event('event:in-a', 'A'))).statusCode).toBe(201);
    expect((await post(b, '/v1/events', event('event:in-b', 'B'))).statusCode).toBe(201);
    const tagA = (await a.app.inject({ url: URL_ })).headers.etag;
    const fromB = await b.app.inject({ url: URL_, headers: { 'if-none-match': String(tagA) } });
    expect(fromB.statusCode).toBe(200);
    expect(fromB.headers.etag).not.toBe(tagA);
  });

  it('a backup restored (twice) and written to up to the same revision does not validate the newer ETag', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'annals-lineage-'));
    dirs.push(dir);
    const live = join(dir, 'live.db');
    const copy = join(dir, 'copy.db');
    let a = await fileApp(live);
    await write(a, 'event:before-backup');
    const result = await backupDatabase(sqliteDb(a), copy);
    expect(result.integrity).toBe('ok');
    await write(a, 'event:after-backup-1');
    await write(a, 'event:after-backup-2');
    const newer = await a.inject({ url: URL_ });
    const newerTag = String(newer.headers.etag);
    const newerRevision = revision(a);
    await a.close();

    for (const round of [1, 2]) {
      // restore: the copy over the live file (the server stopped), then the same number of writes
      for (const suffix of ['', '-wal', '-shm']) rmSync(live + suffix, { force: true });
      copyFileSync(copy, live);
      a = await fileApp(live);
      await write(a, `event:restored-${round}-1`);
      await write(a, `event:restored-${round}-2`);
      expect(revision(a)).toBe(newerRevision);
      const res = await a.inject({ url: URL_, headers: { 'if-none-match': newerTag } });
      expect(res.statusCode, `restore ${round}`).toBe(200);
      expect(res.json().data.map((e: Json) => e.key)).toContain(`event:restored-${round}-1`);
      await a.close();
    }
    // the copy itself names a lineage of its own
    const lineage = (path: string) => {
      const db = new Database(path, { readonly: true });
      try {
        return (db.prepare("SELECT value FROM settings WHERE name = 'lineage'").get() as { value: string }).value;
      } finally {
        db.close();
      }
    };
    expect(lineage(copy)).not.toBe(lineage(live));
  });
});

/* ------------------------------------------------------------------------------------------ */
/* 13. Sockets of refused and stalled uploads                                                  */
/* ------------------------------------------------------------------------------------------ */

/** One chunk of a chunked body. */
const chunk = (data: string) => `${Buffer.byteLength(data).toString(16)}\r\n${data}\r\n`;

describe('slow request bodies', () => {
  const head = (method: string, url: string, headers: Record<string, string>) =>
    `${method} ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`;

  it('answers a refused upload at once with Connection: close, and closes the socket while the client still trickles', async () => {
    const t = await app();
    const reader = createApiKey(sqliteDb(t.app), 'reader', ['read']).secret;
    const port = await listen(t);
    const cases: [string, string, Record<string, string>, number][] = [
      ['no key', '/v1/events', { 'content-type': 'application/json' }, 401],
      ['no key, import', '/v1/import', { 'content-type': 'application/x-ndjson' }, 401],
      ['read-only key', '/v1/events', { 'content-type': 'application/json', authorization: `Bearer ${reader}` }, 403],
      ['too large', '/v1/events', { 'content-type': 'application/json', ...AUTH }, 413],
    ];
    for (const [what, url, headers, status] of cases) {
      const client = new RawClient(port);
      const length = status === 413 ? 5 * 1024 * 1024 : 200_000;
      client.write(head('POST', url, { ...headers, 'content-length': String(length) }));
      client.trickle(16, 50);
      try {
        const res = await client.response(2000);
        expectProblem(res, status, what);
        expect(res.headers.connection, what).toBe('close');
        const closedAfter = await client.closesWithin(4000);
        expect(closedAfter, `${what}: the socket is still open 4 s later`).not.toBeNull();
      } finally {
        client.destroy();
      }
    }
  });

  it('cuts a body that stops arriving after the idle timeout with a 408, for JSON bodies and streamed imports', async () => {
    const t = await app({ config: { bodyIdleTimeoutMs: 400 } });
    const port = await listen(t);
    const cases: [string, Record<string, string>, string][] = [
      ['/v1/events', { 'content-type': 'application/json', 'content-length': '1000' }, '{"key":"event:stalled",'],
      ['/v1/import', { 'content-type': 'application/x-ndjson', 'transfer-encoding': 'chunked' }, chunk('{"kind":"source","key":"src:s"')],
    ];
    for (const [url, headers, start] of cases) {
      const client = new RawClient(port);
      client.write(head('POST', url, { ...AUTH, ...headers }));
      client.write(start);
      try {
        const res = await client.response(3000);
        expectProblem(res, 408, `${url} ${JSON.stringify(res.headers)} ${res.body}`);
        expect(await client.closesWithin(3000), `${url}: socket still open`).not.toBeNull();
        expect(Date.now() - client.startedAt).toBeGreaterThanOrEqual(350);
      } finally {
        client.destroy();
      }
    }
  });

  it('lets an import stream for longer than the idle timeout as long as its chunks keep coming', async () => {
    const t = await app({ config: { bodyIdleTimeoutMs: 600 } });
    const port = await listen(t);
    const client = new RawClient(port);
    client.write(head('POST', '/v1/import', { ...AUTH, 'content-type': 'application/x-ndjson', 'transfer-encoding': 'chunked' }));
    try {
      for (let i = 0; i < 8; i++) {
        const line = ndjson([{ kind: 'source', type: 'news_article', key: `src:steady-${i}`, title: { en: `Steady ${i}` } }]);
        client.write(chunk(line));
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      client.write('0\r\n\r\n');
      const res = await client.response(5000);
      expect(res.statusCode, res.body).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ created: 8, refused: 0 });
    } finally {
      client.destroy();
    }
  });
});

/* ------------------------------------------------------------------------------------------ */
/* 14. Probes are outside the rate limit                                                        */
/* ------------------------------------------------------------------------------------------ */

describe('probes and the rate limit', () => {
  it('never answers /healthz or /readyz 429, and does not count them against the address', async () => {
    const t = await app({ config: { rateLimit: 3 } });
    for (let i = 0; i < 20; i++) {
      for (const [method, url] of [['GET', '/healthz'], ['GET', '/readyz'], ['HEAD', '/healthz'], ['GET', '/healthz/']] as const) {
        const res = await t.app.inject({ method, url });
        expect(res.statusCode, `${method} ${url} #${i}`).toBe(200);
      }
    }
    const first = await t.app.inject({ url: '/v1/places' });
    expect(first.statusCode).toBe(200);
    expect(first.headers['ratelimit-remaining']).toBe('2');
  });
});

/* ------------------------------------------------------------------------------------------ */
/* 11. Stored API keys                                                                         */
/* ------------------------------------------------------------------------------------------ */

describe('stored API keys', () => {
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  const rows = (t: TestApp) =>
    sqliteDb(t.app).$client.prepare('SELECT id, name, hash, hint, revoked_at FROM api_keys ORDER BY id').all() as {
      id: number;
      name: string;
      hash: string;
      hint: string;
      revoked_at: string | null;
    }[];
  const hintChars = (hint: string) => hint.replace(/…$/, '');
  const write = (t: TestApp, secret: string, key: string) =>
    post(t, '/v1/events', event(key, key), { authorization: `Bearer ${secret}` });

  it('keeps a hint of at most 4 characters and a salted slow hash of the bootstrap key, which still authenticates', async () => {
    const t = await app();
    const [bootstrap] = rows(t);
    expect(bootstrap!.name).toBe('bootstrap');
    expect(hintChars(bootstrap!.hint).length).toBeLessThanOrEqual(4);
    expect(TEST_KEY.startsWith(hintChars(bootstrap!.hint))).toBe(true);
    expect(bootstrap!.hash).not.toBe(sha256(TEST_KEY));
    expect(bootstrap!.hash).not.toContain(sha256(TEST_KEY));
    expect(bootstrap!.hash).toMatch(/^scrypt\$/);
    // salted: the same secret in another database hashes otherwise
    const other = await app();
    expect(rows(other)[0]!.hash).not.toBe(bootstrap!.hash);
    expect((await write(t, TEST_KEY, 'event:bootstrap-write')).statusCode).toBe(201);
  });

  it('shows 4 characters of a generated secret beside its public prefix, stores no SHA-256 of it, and revokes', async () => {
    const t = await app();
    const { secret, key } = createApiKey(sqliteDb(t.app), 'generated', ['write']);
    const row = rows(t).find((r) => r.id === key.id)!;
    expect(row.hint).toBe(`${secret.slice(0, 11)}…`);
    expect(hintChars(row.hint).length - 'annals_'.length).toBe(4);
    expect(row.hash).not.toContain(sha256(secret));
    expect((await write(t, secret, 'event:generated-1')).statusCode).toBe(201);
    expect(revokeApiKey(sqliteDb(t.app), key.id)).toBe(true);
    expectProblem(await write(t, secret, 'event:generated-2'), 401);
  });

  it('verifies a hand-chosen secret with the slow hash once, then fast; revocation still holds', async () => {
    const t = await app({ memory: false });
    const secret = 'correct-horse-battery-staple';
    // created on another connection (as a script or another server would): this process's
    // connection has not verified it
    const other = openDatabase(t.databasePath);
    const { key } = createApiKey(other, 'human', ['write'], secret);
    const row = rows(t).find((r) => r.id === key.id)!;
    expect(hintChars(row.hint).length).toBeLessThanOrEqual(4);
    expect(row.hash).toMatch(/^scrypt\$/);
    expect(row.hash).not.toContain(sha256(secret));
    const send = (i: number | string, token = secret) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/events',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        payload: JSON.stringify(event(`event:human-${i}`, 'human')),
      });
    try {
      const slowBefore = slowVerificationCount();
      let started = performance.now();
      expect((await send(0)).statusCode).toBe(201);
      const firstMs = performance.now() - started;
      expect(slowVerificationCount()).toBeGreaterThan(slowBefore);
      const slowAfterFirst = slowVerificationCount();
      started = performance.now();
      for (let i = 1; i <= 30; i++) expect((await send(i)).statusCode).toBe(201);
      const laterMs = (performance.now() - started) / 30;
      expect(slowVerificationCount(), 'no slow hash after the first verification').toBe(slowAfterFirst);
      expect(laterMs, `first ${firstMs.toFixed(1)} ms, then ${laterMs.toFixed(1)} ms a request`).toBeLessThan(firstMs);
      started = performance.now();
      for (let i = 0; i < 200; i++) expect(knownApiKey(sqliteDb(t.app), secret)?.id).toBe(key.id);
      expect((performance.now() - started) / 200).toBeLessThan(2);
      // a wrong secret is refused
      expectProblem(await send('wrong', `${secret}!`), 401);
      // revoked on the other connection (as `npm run keys -- revoke` would): refused at once
      expect(revokeApiKey(other, key.id)).toBe(true);
      expectProblem(await send('revoked'), 401);
    } finally {
      other.$client.close();
    }
  });

  it('upgrades keys stored by earlier versions (a bare SHA-256, an 11-character hint) at start-up; they keep working', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'annals-keys-'));
    try {
      const path = join(dir, 'annals.db');
      const first = await buildApp({ databasePath: path, seedWhenEmpty: false, logLevel: 'silent', rateLimit: 0 });
      await first.close();
      const generated = `annals_${'Ab3_'.repeat(10)}xyz`;
      const human = 'my-own-chosen-secret-phrase';
      const legacy = new Database(path);
      const insert = legacy.prepare(
        "INSERT INTO api_keys (name, hash, hint, scopes, created_at) VALUES (?, ?, ?, '[\"read\",\"write\"]', '2024-01-01T00:00:00.000Z')",
      );
      insert.run('old generated', sha256(generated), `${generated.slice(0, 11)}…`);
      insert.run('old human', sha256(human), `${human.slice(0, 11)}…`);
      legacy.close();

      const upgraded = await buildApp({ databasePath: path, seedWhenEmpty: false, logLevel: 'silent', rateLimit: 0 });
      try {
        const stored = sqliteDb(upgraded).$client.prepare('SELECT name, hash, hint FROM api_keys ORDER BY id').all() as Json[];
        for (const row of stored) {
          expect(row.hash, row.name).not.toMatch(/^[0-9a-f]{64}$/);
          expect(hintChars(row.hint).replace(/^annals_/, '').length, row.name).toBeLessThanOrEqual(4);
        }
        expect(stored.find((r) => r.name === 'old human')!.hash).toMatch(/^scrypt\$/);
        for (const [secret, key] of [[generated, 'event:old-generated'], [human, 'event:old-human']] as const) {
          const res = await upgraded.inject({
            method: 'POST',
            url: '/v1/events',
            headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
            payload: JSON.stringify(event(key, key)),
          });
          expect(res.statusCode, key).toBe(201);
        }
      } finally {
        await upgraded.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs only a few slow verifications at once: a burst of made-up secrets gets 503s, not a queue', async () => {
    const t = await app();
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        t.app.inject({ method: 'POST', url: '/v1/events', headers: { authorization: `Bearer made-up-secret-${i}`, 'content-type': 'application/json' }, payload: '{}' }),
      ),
    );
    const statuses = results.map((r) => r.statusCode);
    expect(statuses.every((s) => s === 401 || s === 503), statuses.join(' ')).toBe(true);
    expect(statuses).toContain(503);
    for (const res of results) expectProblem(res, res.statusCode);
  });
});

/* ------------------------------------------------------------------------------------------ */
/* 15. CSV injection                                                                           */
/* ------------------------------------------------------------------------------------------ */

describe('CSV cells that spreadsheets would run', () => {
  it('prefixes and quotes text cells starting with = + - @ tab CR (and full-width forms); numbers stay numbers', async () => {
    const t = await app();
    const titles = ['=HYPERLINK("http://evil.example","click")', '+1+1', '-2+3', '@SUM(A1:A2)', '\t=1', '\r=1', '＝1+1', 'plain title'];
    for (const [i, title] of titles.entries()) {
      const description = i === 0 ? { description: { en: '@cmd' } } : {};
      expect((await post(t, '/v1/events', event(`event:csv-${i}`, title, description))).statusCode).toBe(201);
    }
    const res = await t.app.inject({ url: '/v1/timeline?format=csv' });
    expect(res.statusCode).toBe(200);
    const rows = parseCsv(res.body, { relax_quotes: false });
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    const column = (name: string) => CSV_COLUMNS.indexOf(name as (typeof CSV_COLUMNS)[number]);
    const byKey = new Map(rows.slice(1).map((r) => [r[column('key')]!, r]));
    for (const [i, title] of titles.entries()) {
      const row = byKey.get(`event:csv-${i}`)!;
      const expected = title === 'plain title' ? title : `'${title}`;
      expect(row[column('title')], JSON.stringify(title)).toBe(expected);
      if (expected !== title) expect(res.body).toContain(`"${expected.replaceAll('"', '""')}"`);
    }
    expect(byKey.get('event:csv-0')![column('text')]).toBe("'@cmd");
    // the id column is a number, written bare
    const firstId = byKey.get('event:csv-0')![column('id')]!;
    expect(firstId).toMatch(/^\d+$/);
    expect(res.body).toMatch(new RegExp(`\\r\\nevent,${firstId},`));
  });

  it('leaves numbers alone, negative ones too (OWASP: text cells), but not text that looks like one', () => {
    expect(neutraliseCell(-43.25)).toBe(-43.25);
    expect(neutraliseCell(12)).toBe(12);
    expect(neutraliseCell('-43.25')).toBe("'-43.25");
    expect(neutraliseCell('2022-01-05')).toBe('2022-01-05');
    expect(neutraliseCell(' =1')).toBe(' =1');
  });
});
