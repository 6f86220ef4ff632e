// Security properties over HTTP: who may write (the auth matrix of every write operation the
// served document lists; reads are public), that keys never reach the logs, idempotency keys under
// concurrency, rate limits (per key, per address, and the failure budget), and request limits
// (body size, unknown and server-managed fields, prototype pollution, helmet headers).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FAILURE_LIMIT } from '../src/plugins/limits.js';
import type { Scope } from '../src/storage/types.js';
import { createApiKey as createPgApiKey, revokeApiKey as revokePgApiKey } from '../src/storage/postgres/apiKeys.js';
import { PostgresStorage } from '../src/storage/postgres/index.js';
import { createApiKey, revokeApiKey } from '../src/storage/sqlite/apiKeys.js';
import { AUTH, TEST_KEY, buildTestApp, ndjson, type TestApp, expectProblem } from './helpers.js';
import { describeEngines, freshPgDatabase } from './support/pg.js';
import { sqliteDb } from './support/sqlite.js';

type Json = Record<string, any>;


const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

// Keys have no route: they are made with the command line, which calls the engine's own module.
/** A new API key in the database of `t`, stored by its engine. */
async function storeKey(t: TestApp, name: string, scopes: Scope[]): Promise<{ secret: string; id: number }> {
  const storage = t.app.storage;
  const { secret, key } = storage instanceof PostgresStorage ? await createPgApiKey(storage.db, storage.db, name, scopes) : createApiKey(sqliteDb(t.app), name, scopes);
  return { secret, id: key.id };
}
async function revokeKey(t: TestApp, id: number): Promise<boolean> {
  const storage = t.app.storage;
  return storage instanceof PostgresStorage ? revokePgApiKey(storage.db, id) : revokeApiKey(sqliteDb(t.app), id);
}
/** The `n` column of a query's first row, on the database of `t`. */
async function countOf(t: TestApp, query: string): Promise<number> {
  const storage = t.app.storage;
  if (storage instanceof PostgresStorage) return Number((await storage.db.$client.query<{ n: number }>(query)).rows[0]!.n);
  return (sqliteDb(t.app).$client.prepare(query).get() as { n: number }).n;
}

/** A valid create body per collection (the seed's records are referred to). */
const CREATE: Record<string, (n: string) => Json> = {
  sources: () => ({ type: 'news_article', title: { en: 'A source' } }),
  places: () => ({ type: 'city', name: { en: 'A place' }, parent: 'place:kz' }),
  actors: () => ({ type: 'person', name: { en: 'An actor' } }),
  events: () => ({ type: 'protest', date: '2022-01-05', title: { en: 'An event' } }),
  statements: () => ({ type: 'quote', date: '2022-01-05', speaker: 'actor:amreyev', text: { en: 'A statement' } }),
  timelines: (n) => ({ slug: `security-${n}`, title: { en: 'A timeline' } }),
};

/** A record of each collection that exists in the seed. */
const EXISTING: Record<string, string> = {
  sources: 'src:turkpress-2022-01-11-amreyev',
  places: 'place:kz',
  actors: 'actor:amreyev',
  events: 'event:kz-protests-2022-01-02',
  statements: 'stmt:amreyev-condolences',
  timelines: 'kazakhstan-january-2022',
};

/** The served document's operations. */
async function operations(t: TestApp) {
  const doc = (await t.app.inject({ url: '/openapi.json' })).json();
  return Object.entries<Json>(doc.paths).flatMap(([path, item]) =>
    ['get', 'post', 'patch', 'delete'].filter((m) => item[m]).map((m) => ({ path, method: m.toUpperCase(), id: item[m].operationId as string })),
  );
}

/* ------------------------------------------------------------------------------------------ */

describeEngines('the auth matrix', (engine) => {
  let t: TestApp;
  let ops: { path: string; method: string; id: string }[];
  let readOnly: string;
  let revoked: string;
  beforeAll(async () => {
    t = await buildTestApp({ seed: true, memory: true, engine });
    ops = await operations(t);
    readOnly = (await storeKey(t, 'reader', ['read'])).secret;
    const gone = await storeKey(t, 'gone', ['read', 'write']);
    expect(await revokeKey(t, gone.id)).toBe(true);
    revoked = gone.secret;
  });
  afterAll(() => t.close());

  let counter = 0;
  /** A request of the operation, with a body that the right key gets a 2xx for. */
  async function request(op: { path: string; method: string }, headers: Record<string, string>) {
    // back-to-back injections never let the event loop reach under-pressure's timer, which would
    // then take one long delay (the seed's load on a busy machine) for the whole run and shed load
    await new Promise((resolve) => setImmediate(resolve));
    const collection = op.path.split('/')[2]!;
    const n = String(++counter);
    if (op.path === '/v1/import') {
      const body = ndjson([{ kind: 'place', key: `place:security-${n}`, type: 'city', name: { en: 'Imported' } }]);
      return t.app.inject({ method: 'POST', url: op.path, headers: { ...headers, 'content-type': 'application/x-ndjson' }, payload: body });
    }
    if (op.method === 'POST') return t.app.inject({ method: 'POST', url: op.path, headers, payload: CREATE[collection]!(n) });
    if (op.method === 'PATCH') return t.app.inject({ method: 'PATCH', url: op.path.replace('{id}', EXISTING[collection]!), headers, payload: {} });
    // DELETE: a record created for it, so that the right key really deletes
    const created = await t.app.inject({ method: 'POST', url: `/v1/${collection}`, headers: AUTH, payload: CREATE[collection]!(n) });
    expect(created.statusCode, created.body).toBe(201);
    return t.app.inject({ method: 'DELETE', url: op.path.replace('{id}', String(created.json().id)), headers });
  }

  const MALFORMED = [
    'Basic dXNlcjpwYXNzd29yZA==',
    'Bearer',
    'Bearer ',
    `Token ${TEST_KEY}`,
    TEST_KEY,
    `Bearer ${TEST_KEY} ${TEST_KEY}`,
  ];

  it('covers every POST, PATCH and DELETE of the document, POST /v1/import among them', () => {
    const writes = ops.filter((o) => o.method !== 'GET');
    expect(writes.length).toBe(6 * 3 + 1);
    expect(writes.map((o) => o.id)).toContain('importRecords');
  });

  it('refuses every write without a key, with a malformed header, a wrong, a revoked or a read-only key', async () => {
    const rows: string[] = [];
    for (const op of ops.filter((o) => o.method !== 'GET')) {
      const where = (what: string) => `${op.method} ${op.path} ${what}`;
      const none = await request(op, {});
      expectProblem(none, 401, where('no key'));
      expect(none.headers['www-authenticate'], where('no key')).toMatch(/^Bearer realm="annals"/);
      for (const header of MALFORMED) {
        const res = await request(op, { authorization: header });
        expectProblem(res, 401, where(`Authorization: ${header}`));
        expect(res.headers['www-authenticate']).toBeDefined();
      }
      const wrong = await request(op, bearer(`annals_${randomBytes(32).toString('base64url')}`));
      expectProblem(wrong, 401, where('wrong key'));
      expect(wrong.headers['www-authenticate']).toBeDefined();
      expectProblem(await request(op, bearer(revoked)), 401, where('revoked key'));
      expectProblem(await request(op, bearer(readOnly)), 403, where('read-only key'));
      const right = await request(op, AUTH);
      expect([401, 403], where(`right key: ${right.body.slice(0, 200)}`)).not.toContain(right.statusCode);
      expect(right.statusCode, where(`right key: ${right.body.slice(0, 200)}`)).toBeLessThan(300);
      rows.push(`${op.method} ${op.path}: ${right.statusCode}`);
    }
    console.log(`security: the right key: ${rows.join(', ')}`);
  });

  it('refuses a write without a key before reading its body: a 2 MiB body is a 401, not a 413', async () => {
    const big = JSON.stringify({ type: 'x', text: 'x'.repeat(2 * 1024 * 1024) });
    for (const op of ops.filter((o) => o.method === 'POST' || o.method === 'PATCH')) {
      const url = op.path.replace('{id}', 'whatever');
      await new Promise((resolve) => setImmediate(resolve));
      const res = await t.app.inject({ method: op.method as 'POST', url, headers: { 'content-type': 'application/json' }, payload: big });
      expectProblem(res, 401, `${op.method} ${op.path}`);
    }
  });

  it('answers every GET of the document without a key', async () => {
    const gets = ops.filter((o) => o.method === 'GET');
    expect(gets.length).toBeGreaterThan(15);
    for (const op of gets) {
      const collection = op.path.split('/')[2]!;
      const url = op.path.replace('{id}', encodeURIComponent(EXISTING[collection] ?? 'x')).replace('{code}', 'not-found');
      await new Promise((resolve) => setImmediate(resolve));
      const res = await t.app.inject({ url });
      expect(res.statusCode, `${op.id} ${url}: ${res.body.slice(0, 200)}`).toBe(200);
    }
  });
});

/* ------------------------------------------------------------------------------------------ */

describeEngines('keys never reach the logs', (engine) => {
  // pino writes to file descriptor 1 itself (not through process.stdout), so the log is read from
  // a real server process: `node --import tsx src/server.ts`, its stdout and stderr captured whole.
  it('no secret, valid or wrong, appears in a trace-level log of writes, failures and an import', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'annals-logs-'));
    const pgDatabase = engine === 'postgres' ? await freshPgDatabase() : null;
    const secret = `annals_logsecret_${randomBytes(24).toString('base64url')}`;
    const wrong = `annals_wrongsecret_${randomBytes(24).toString('base64url')}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      ANNALS_DB: pgDatabase?.url ?? join(dir, 'annals.db'),
      ANNALS_SEED: 'auto',
      ANNALS_BOOTSTRAP_KEY: secret,
      ANNALS_RATE_LIMIT: '0',
      LOG_LEVEL: 'trace',
    };
    delete env.NODE_OPTIONS; // the test runner's loader options are not the server's
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: new URL('..', import.meta.url),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the server did not start: ${err.slice(-2000)}`)), 30_000);
        const look = () => {
          const match = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
          if (match) {
            clearTimeout(timer);
            resolve(Number(match[1]));
          }
        };
        child.stdout.on('data', look);
        child.on('close', () => reject(new Error(`the server exited: ${err.slice(-2000)}`)));
      });
      const base = `http://127.0.0.1:${port}`;
      const json = { 'content-type': 'application/json' };
      const answers: number[] = [];
      const call = async (path: string, init: RequestInit) => {
        const res = await fetch(base + path, init);
        await res.arrayBuffer();
        answers.push(res.status);
      };
      await call('/v1/places', { method: 'POST', headers: { ...bearer(secret), ...json }, body: JSON.stringify({ type: 'city', name: { en: 'Logged' } }) });
      await call('/v1/places', { method: 'POST', headers: { ...bearer(wrong), ...json }, body: JSON.stringify({ type: 'city', name: { en: 'Refused' } }) });
      await call('/v1/places', { headers: { ...bearer(secret), cookie: `session=${secret}` } });
      await call('/v1/places/nope', { method: 'PATCH', headers: { ...bearer(secret), ...json }, body: '{}' });
      await call('/v1/places', { method: 'POST', headers: { authorization: `Basic ${secret}`, ...json }, body: '{}' });
      await call('/v1/import', {
        method: 'POST',
        headers: { ...bearer(secret), 'content-type': 'application/x-ndjson', 'idempotency-key': 'log-import-1' },
        body: ndjson([{ kind: 'place', key: 'place:logged', type: 'city', name: { en: 'Imported' } }]),
      });
      expect(answers).toEqual([201, 401, 200, 404, 401, 200]);
    } finally {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
      await pgDatabase?.drop();
    }
    const log = `${out}\n${err}`;
    // the capture works: the requests are in it
    expect(out).toContain('incoming request');
    expect(out).toContain('/v1/import');
    expect(out).toContain('import batch committed');
    for (const [name, value] of [
      ['the key', secret],
      ['the wrong key', wrong],
      ['the end of the key', secret.slice(-20)],
    ] as const) {
      expect(log.includes(value), `${name} is in the log`).toBe(false);
    }
    expect(log).not.toMatch(/Bearer [^\s"]/);
  }, 60_000);
});

/* ------------------------------------------------------------------------------------------ */

describeEngines('idempotency keys over real HTTP', (engine) => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await buildTestApp({ seed: true, engine });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => t.close());

  const count = (sql: string) => countOf(t, sql);
  const events = () => count("SELECT count(*) AS n FROM entries WHERE kind = 'event'");
  const post = (path: string, body: string, headers: Record<string, string>) =>
    fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  it('20 concurrent POSTs with one Idempotency-Key create one record; all answer 201 with its id, 19 marked replayed', async () => {
    const before = await events();
    const body = JSON.stringify({ type: 'protest', date: '2022-01-06', title: { en: 'Concurrent' } });
    const responses = await Promise.all(Array.from({ length: 20 }, () => post('/v1/events', body, { ...AUTH, 'idempotency-key': 'concurrent-1' })));
    const results = await Promise.all(
      responses.map(async (res) => ({ status: res.status, replayed: res.headers.get('idempotent-replayed'), location: res.headers.get('location'), body: (await res.json()) as Json })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(201));
    const ids = new Set(results.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.replayed === 'true')).toHaveLength(19);
    expect(results.filter((r) => r.replayed === null)).toHaveLength(1);
    expect(new Set(results.map((r) => r.location))).toEqual(new Set([`/v1/events/${[...ids][0]}`]));
    expect(await events()).toBe(before + 1);
  });

  it('refuses the same key with another body (422), and keeps another API key\'s same idempotency key apart', async () => {
    const body = JSON.stringify({ type: 'protest', date: '2022-01-07', title: { en: 'First' } });
    const first = await post('/v1/events', body, { ...AUTH, 'idempotency-key': 'shared-key' });
    expect(first.status).toBe(201);
    const firstId = ((await first.json()) as Json).id;

    const other = await post('/v1/events', JSON.stringify({ type: 'protest', date: '2022-01-07', title: { en: 'Other' } }), {
      ...AUTH,
      'idempotency-key': 'shared-key',
    });
    expectProblem({ statusCode: other.status, headers: { 'content-type': other.headers.get('content-type') }, body: await other.text() }, 422, 'another body');

    const before = await events();
    const second = (await storeKey(t, 'second writer', ['write'])).secret;
    const mine = await post('/v1/events', body, { ...bearer(second), 'idempotency-key': 'shared-key' });
    expect(mine.status).toBe(201);
    expect(mine.headers.get('idempotent-replayed')).toBeNull();
    const mineId = ((await mine.json()) as Json).id;
    expect(mineId).not.toBe(firstId);
    expect(await events()).toBe(before + 1);
    // and each key replays its own
    const replay = await post('/v1/events', body, { ...bearer(second), 'idempotency-key': 'shared-key' });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(((await replay.json()) as Json).id).toBe(mineId);
    const replayFirst = await post('/v1/events', body, { ...AUTH, 'idempotency-key': 'shared-key' });
    expect(((await replayFirst.json()) as Json).id).toBe(firstId);
    expect(await events()).toBe(before + 1);
  });

  it('replays an import\'s report on retry with the same Idempotency-Key, and refuses it for another body', async () => {
    const places = () => count('SELECT count(*) AS n FROM places');
    const before = await places();
    const body = ndjson([
      { kind: 'place', key: 'place:idem-1', type: 'city', name: { en: 'One' }, parent: 'place:kz' },
      { kind: 'place', key: 'place:idem-2', type: 'city', name: { en: 'Two' }, parent: 'place:kz' },
    ]);
    const send = (payload: string) =>
      fetch(`${base}/v1/import`, {
        method: 'POST',
        headers: { ...AUTH, 'content-type': 'application/x-ndjson', 'idempotency-key': 'import-1' },
        body: payload,
      });
    const first = await send(body);
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const report = (await first.json()) as Json;
    expect(report).toMatchObject({ created: 2, refused: 0 });
    expect(await places()).toBe(before + 2);

    // the data changes in between: a real re-run would now say "unchanged" and undo the change
    const patched = await fetch(`${base}/v1/places/place:idem-1`, {
      method: 'PATCH',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ name: { en: 'Renamed' } }),
    });
    expect(patched.status).toBe(200);

    const retry = await send(body);
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.json()).toEqual(report);
    expect(await places()).toBe(before + 2);
    const renamed = (await (await fetch(`${base}/v1/places/place:idem-1`)).json()) as Json;
    expect(renamed.name).toEqual({ en: 'Renamed' });

    const other = await send(ndjson([{ kind: 'place', key: 'place:idem-3', type: 'city', name: { en: 'Three' } }]));
    expect(other.status).toBe(422);
    expect(other.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    await other.arrayBuffer();
    expect(await places()).toBe(before + 2);
  });
});

/* ------------------------------------------------------------------------------------------ */

describeEngines('rate limits', (engine) => {
  const RATE_HEADERS = ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'];

  it('answers the 6th request in a minute with a 429 problem, Retry-After and RateLimit-* headers (rateLimit: 5)', async () => {
    const t = await buildTestApp({ engine, memory: true, config: { rateLimit: 5 } });
    try {
      // (not /healthz: probes are neither limited nor counted, see test/robustness-http.test.ts)
      for (let i = 1; i <= 5; i++) {
        const res = await t.app.inject({ url: '/v1/places' });
        expect(res.statusCode).toBe(200);
        expect(res.headers['ratelimit-limit']).toBe('5');
        expect(res.headers['ratelimit-remaining']).toBe(String(5 - i));
      }
      const limited = await t.app.inject({ url: '/v1/events' });
      const problem = expectProblem(limited, 429, '6th');
      expect(problem.type).toMatch(/rate-limited$/);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
      for (const header of RATE_HEADERS) expect(limited.headers[header], header).toBeDefined();
      expect(limited.headers['ratelimit-remaining']).toBe('0');
    } finally {
      await t.close();
    }
  });

  it('counts per API key: two keys and the anonymous address have separate budgets', async () => {
    const t = await buildTestApp({ engine, memory: true, config: { rateLimit: 5 } });
    try {
      const other = bearer((await storeKey(t, 'other', ['read'])).secret);
      const statuses = async (headers: Record<string, string>, n: number) => {
        const out: number[] = [];
        for (let i = 0; i < n; i++) out.push((await t.app.inject({ url: '/v1/places', headers })).statusCode);
        return out;
      };
      expect(await statuses(AUTH, 6)).toEqual([200, 200, 200, 200, 200, 429]);
      expect(await statuses(other, 6)).toEqual([200, 200, 200, 200, 200, 429]);
      expect(await statuses({}, 6)).toEqual([200, 200, 200, 200, 200, 429]);
      // another address has its own
      expect((await t.app.inject({ url: '/v1/places', remoteAddress: '10.0.0.2' })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('gives unknown keys no budget of their own: made-up bearer tokens count against the address', async () => {
    const t = await buildTestApp({ engine, memory: true, config: { rateLimit: 5 } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        const res = await t.app.inject({ url: '/v1/places', headers: bearer(`made-up-${i}-${randomBytes(8).toString('hex')}`) });
        statuses.push(res.statusCode);
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    } finally {
      await t.close();
    }
  });

  it(`answers 429 after ${FAILURE_LIMIT} 404s or failed authentications a minute from one address`, async () => {
    const t = await buildTestApp({ engine, memory: true, seed: true, config: { rateLimit: 10_000 } });
    try {
      // unknown routes and unknown records are both 404s
      for (let i = 0; i < FAILURE_LIMIT; i++) {
        const url = i % 2 ? `/v1/no-such-route-${i}` : `/v1/events/event:no-such-${i}`;
        expectProblem(await t.app.inject({ url }), 404, url);
      }
      const limited = await t.app.inject({ url: '/v1/no-such-route' });
      expectProblem(limited, 429, 'failure budget');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expectProblem(await t.app.inject({ url: '/v1/events/event:no-such' }), 429, 'a missing record past the budget');
      // another address is not affected, and reads that succeed still do
      expectProblem(await t.app.inject({ url: '/v1/no-such-route', remoteAddress: '10.0.0.3' }), 404, 'another address');
      expect((await t.app.inject({ url: '/v1/events/event:kz-protests-2022-01-02' })).statusCode).toBe(200);

      // failed authentications: wrong keys and malformed headers
      const address = '10.0.0.4';
      for (let i = 0; i < FAILURE_LIMIT; i++) {
        const headers = i % 2 ? bearer(`wrong-${i}`) : { authorization: `Basic ${i}` };
        expectProblem(await t.app.inject({ method: 'POST', url: '/v1/places', headers, payload: {}, remoteAddress: address }), 401, `attempt ${i}`);
      }
      const guessing = await t.app.inject({ method: 'POST', url: '/v1/places', headers: bearer('wrong-last'), payload: {}, remoteAddress: address });
      expectProblem(guessing, 429, 'key guessing');
      expect(guessing.headers['retry-after']).toBeDefined();
    } finally {
      await t.close();
    }
  });
});

/* ------------------------------------------------------------------------------------------ */

describeEngines('request limits and hardening', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ seed: true, memory: true, engine });
  });
  afterAll(() => t.close());

  const write = (method: 'POST' | 'PATCH', url: string, payload: string) =>
    t.app.inject({ method, url, headers: { ...AUTH, 'content-type': 'application/json' }, payload });

  const targets = () =>
    Object.keys(CREATE).flatMap((collection) => [
      { method: 'POST' as const, url: `/v1/${collection}`, body: CREATE[collection]!('limits') },
      { method: 'PATCH' as const, url: `/v1/${collection}/${encodeURIComponent(EXISTING[collection]!)}`, body: {} },
    ]);

  it('answers a JSON body over 1 MiB with 413', async () => {
    const payload = JSON.stringify({ type: 'x', text: 'x'.repeat(1024 * 1024) });
    for (const { method, url } of targets()) expectProblem(await write(method, url, payload), 413, `${method} ${url}`);
  });

  it('refuses unknown fields with a 400 naming them', async () => {
    for (const { method, url, body } of targets()) {
      const problem = expectProblem(await write(method, url, JSON.stringify({ ...body, colour: 'blue' })), 400, `${method} ${url}`);
      expect(problem.detail).toContain('colour');
    }
  });

  it('refuses server-managed fields (id, createdAt, updatedAt) with a 400', async () => {
    for (const { method, url, body } of targets()) {
      for (const field of ['id', 'createdAt', 'updatedAt']) {
        const value = field === 'id' ? 12345 : '2020-01-01T00:00:00.000Z';
        expectProblem(await write(method, url, JSON.stringify({ ...body, [field]: value })), 400, `${method} ${url} ${field}`);
      }
    }
  });

  it('refuses __proto__ and constructor.prototype keys with a 400, and nothing is polluted', async () => {
    const poisons = [
      '{"__proto__":{"polluted":"yes"}}',
      '{"constructor":{"prototype":{"polluted":"yes"}}}',
      '{"type":"city","name":{"__proto__":{"polluted":"yes"}}}',
      '{"type":"city","name":{"en":"x"},"aliases":[{"constructor":{"prototype":{"polluted":"yes"}}}]}',
    ];
    for (const { method, url, body } of targets()) {
      for (const poison of poisons) {
        // the poison merged into a body that is otherwise valid
        const payload = `${JSON.stringify(body).slice(0, -1)}${Object.keys(body).length ? ',' : ''}${poison.slice(1)}`;
        expectProblem(await write(method, url, payload), 400, `${method} ${url} ${payload}`);
      }
    }
    // an import line is parsed by the importer: refused as a line, and nothing polluted either
    const imported = await t.app.inject({
      method: 'POST',
      url: '/v1/import',
      headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
      payload: `${poisons.map((p) => `{"kind":"place","key":"place:poison",${p.slice(1)}`).join('\n')}\n`,
    });
    expect(imported.statusCode, imported.body).toBe(200);
    expect(imported.json()).toMatchObject({ created: 0, updated: 0, refused: poisons.length });
    expect(({} as Json).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
    expect((await t.app.inject({ url: '/v1/places/place:poison' })).statusCode).toBe(404);
  });

  it('sends helmet headers on data, problems and writes', async () => {
    const answers = [
      await t.app.inject({ url: '/v1/events' }),
      await t.app.inject({ url: '/v1/no-such-route' }),
      await t.app.inject({ method: 'POST', url: '/v1/events', payload: {} }),
    ];
    for (const res of answers) {
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['cross-origin-resource-policy']).toBe('cross-origin');
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
  });

  it('still serves the explorer at /docs/ (HTML and its assets), and /readyz and /healthz', async () => {
    const docs = await t.app.inject({ url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.headers['content-type']).toMatch(/^text\/html/);
    expect(docs.headers['x-content-type-options']).toBe('nosniff');
    const assets = [...docs.body.matchAll(/(?:src|href)="\.\/(static\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      const res = await t.app.inject({ url: `/docs/${asset}` });
      expect(res.statusCode, asset).toBe(200);
    }
    const ready = await t.app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ok' });
    expect((await t.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
  });
});
