// Writes kept waiting for the write lock, alike on both engines (issue #15): a write waits for
// another's lock a bounded time (WRITE_LOCK_WAIT_MS), then answers 503 database-busy with
// Retry-After; it is stored when the lock is freed within the bound; an import that holds the
// lock for longer than the bound is never cut by it (the writes arriving meanwhile are what get
// the 503); and a dry run holds the lock as an import does, on either engine. The lock is held
// by another process or server, as another worker, the CLI or another server would: on SQLite a
// child process holding BEGIN IMMEDIATE on the file, on PostgreSQL another connection holding
// the revision row, which every write takes first.
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import type { AppConfig } from '../src/config.js';
import { WRITE_LOCK_WAIT_MS } from '../src/storage/lock-waits.js';
import { AUTH, buildTestApp, expectProblem, ndjson, type TestApp } from './helpers.js';
import { describeEngines, describePg, type Engine } from './support/pg.js';
import { REPO, sleep } from './support/server.js';

type Json = Record<string, any>;

let t: TestApp | undefined;
const holders: { release(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(holders.splice(0).map((holder) => holder.release()));
  await t?.close();
  t = undefined;
});

async function fresh(engine: Engine, config: Partial<AppConfig> = {}): Promise<TestApp> {
  t = await buildTestApp({ engine, config });
  return t;
}

const place = (key: string, extra: Json = {}) => ({ key, type: 'site', name: { en: key }, ...extra });

const write = (app: TestApp, key: string) =>
  app.app.inject({ method: 'POST', url: '/v1/places', headers: { ...AUTH, 'content-type': 'application/json' }, payload: place(key) });

/** A write and how long it took to be answered. */
async function timedWrite(app: TestApp, key: string) {
  const started = performance.now();
  const res = await write(app, key);
  return { res, ms: performance.now() - started };
}

const status = async (app: TestApp, key: string) => (await app.app.inject({ url: `/v1/places/${key}` })).statusCode;

/** A 503 database-busy with Retry-After, after the write waited the bound (and not much more). */
function expectBusyAfterBound(answer: { res: Awaited<ReturnType<typeof write>>; ms: number }) {
  const problem = expectProblem(answer.res, 503);
  expect(problem.type).toBe('/problems/database-busy');
  expect(answer.res.headers['retry-after']).toMatch(/^\d+$/);
  expect(problem.detail).not.toMatch(/sqlite|SQLITE_BUSY|postgres|lock_timeout|canceling/i);
  // timers fire a little early or late: a margin below, and a shared, loaded machine above
  expect(answer.ms, 'how long the write waited (ms)').toBeGreaterThanOrEqual(WRITE_LOCK_WAIT_MS - 100);
  expect(answer.ms, 'how long the write waited (ms)').toBeLessThan(WRITE_LOCK_WAIT_MS * 3);
}

/**
 * Takes the write lock of `app`'s database as another process or server would, and holds it
 * until `release()`, or for `forMs` when given. On SQLite the holder is a child process: a
 * write of this process waiting inside SQLite's busy handler blocks its thread, so no timer of
 * this process could free the lock meanwhile.
 */
async function holdWriteLock(app: TestApp, forMs?: number): Promise<{ release(): Promise<void> }> {
  if (app.engine === 'postgres') {
    const client = new pg.Client({ connectionString: app.postgresUrl });
    await client.connect();
    await client.query('BEGIN');
    await client.query(`UPDATE settings SET value = value WHERE name = 'revision'`);
    let released: Promise<void> | null = null;
    const release = () =>
      (released ??= client
        .query('ROLLBACK')
        .then(() => client.end())
        .then(() => {}));
    if (forMs !== undefined) setTimeout(() => void release(), forMs);
    const holder = { release };
    holders.push(holder);
    return holder;
  }
  const script = `
    const db = new (require('better-sqlite3'))(process.argv[1]);
    db.exec('BEGIN IMMEDIATE');
    const release = () => { db.exec('ROLLBACK'); db.close(); process.exit(0); };
    process.stdout.write('held\\n');
    const forMs = Number(process.argv[2]);
    if (forMs > 0) setTimeout(release, forMs);
    process.stdin.on('data', release);
    process.stdin.on('end', release);`;
  const child = spawn(process.execPath, ['-e', script, app.databasePath, String(forMs ?? 0)], { cwd: REPO, stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the lock holder exited (${code}) before it held the lock`)));
    createInterface({ input: child.stdout }).once('line', () => resolve());
  });
  const holder = {
    async release() {
      if (child.exitCode === null) child.stdin.end();
      await exited;
    },
  };
  holders.push(holder);
  return holder;
}

describeEngines('a write kept waiting for the write lock', (engine) => {
  it('answers 503 database-busy with Retry-After once it has waited the bound, having stored nothing', { timeout: 60_000 }, async () => {
    const app = await fresh(engine);
    expect((await write(app, 'place:first')).statusCode).toBe(201);
    const holder = await holdWriteLock(app);
    expectBusyAfterBound(await timedWrite(app, 'place:refused'));
    await holder.release();
    expect(await status(app, 'place:refused')).toBe(404);
    // the lock free again: the same write is stored at once
    const again = await timedWrite(app, 'place:refused');
    expect(again.res.statusCode, again.res.body).toBe(201);
    expect(again.ms).toBeLessThan(WRITE_LOCK_WAIT_MS);
  });

  it('is stored once the lock is freed within the bound, after waiting for it', { timeout: 60_000 }, async () => {
    const app = await fresh(engine);
    expect((await write(app, 'place:first')).statusCode).toBe(201);
    const heldMs = WRITE_LOCK_WAIT_MS / 4;
    await holdWriteLock(app, heldMs);
    const answer = await timedWrite(app, 'place:waited');
    expect(answer.res.statusCode, answer.res.body).toBe(201);
    // it waited for the lock (less a margin for the time the holder took to start its timer)
    expect(answer.ms).toBeGreaterThanOrEqual(heldMs / 2);
    expect(await status(app, 'place:waited')).toBe(200);
  });
});

describeEngines('an import holding the write lock for longer than the bound', (engine) => {
  it('is not cut by it: a bulk load whose body arrives slowly is stored whole, and a write meanwhile answers 503', { timeout: 90_000 }, async () => {
    const app = await fresh(engine, { bulkImportMinBytes: 0 });
    await app.app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.app.server.address() as AddressInfo).port}`;
    const lines = 40;
    const body = Buffer.from(ndjson(Array.from({ length: lines }, (_, i) => ({ kind: 'place', ...place(`place:slow${i}`) }))));
    // the body takes about twice the bound to arrive: the load holds the lock all along
    const chunks = 8;
    const gapMs = (WRITE_LOCK_WAIT_MS * 2) / chunks;
    const started = performance.now();
    const load = new Promise<{ status: number; body: Json }>((resolve, reject) => {
      const request = http.request(`${base}/v1/import`, {
        method: 'POST',
        agent: false,
        headers: { ...AUTH, 'content-type': 'application/x-ndjson', 'content-length': String(body.length) },
      });
      request.on('error', reject);
      request.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Json }));
      });
      void (async () => {
        const size = Math.ceil(body.length / chunks);
        for (let offset = 0; offset < body.length; offset += size) {
          request.write(body.subarray(offset, offset + size));
          await sleep(gapMs);
        }
        request.end();
      })();
    });
    await sleep(gapMs);
    const meanwhile = await timedWrite(app, 'place:meanwhile');
    const result = await load;
    expect(result.status, JSON.stringify(result.body)).toBe(200);
    expect(result.body).toMatchObject({ created: lines, refused: 0 });
    expect(performance.now() - started, 'how long the load held the lock (ms)').toBeGreaterThan(WRITE_LOCK_WAIT_MS * 1.5);
    expectBusyAfterBound(meanwhile);
    expect(await status(app, 'place:meanwhile')).toBe(404);
    expect(await status(app, `place:slow${lines - 1}`)).toBe(200);
    // the load over, writes are served again
    expect((await write(app, 'place:after')).statusCode).toBe(201);
  });
});

describePg('an import batch waiting, once it holds the revision row, for longer than the bound', () => {
  it('is not cut by the bound (only the wait for the revision row is bounded), and a write meanwhile answers 503', { timeout: 90_000 }, async () => {
    const app = await fresh('postgres');
    expect((await write(app, 'place:locked')).statusCode).toBe(201);
    // another transaction holds a row the batch updates (not the revision row, which it takes first)
    const other = new pg.Client({ connectionString: app.postgresUrl });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(`SELECT * FROM places WHERE key = 'place:locked' FOR UPDATE`);
      const heldMs = WRITE_LOCK_WAIT_MS * 2;
      const freed = sleep(heldMs).then(() => other.query('ROLLBACK'));
      const started = performance.now();
      const importing = app.app.inject({
        method: 'POST',
        url: '/v1/import',
        headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
        payload: ndjson([{ kind: 'place', ...place('place:locked', { name: { en: 'Renamed' } }) }, { kind: 'place', ...place('place:new') }]),
      });
      await sleep(WRITE_LOCK_WAIT_MS / 5);
      const meanwhile = await timedWrite(app, 'place:meanwhile');
      const res = await importing;
      const took = performance.now() - started;
      await freed;
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ created: 1, updated: 1, refused: 0 });
      expect(took).toBeGreaterThanOrEqual(heldMs - 100);
      expectBusyAfterBound(meanwhile);
      expect((await app.app.inject({ url: '/v1/places/place:locked' })).json().name).toEqual({ en: 'Renamed' });
    } finally {
      await other.end();
    }
  });
});

describeEngines('a dry run and a write at the same time', (engine) => {
  it('the dry run holds the write lock to its end: a write waits for it, then answers 503, or is stored when it ends within the bound', { timeout: 60_000 }, async () => {
    const app = await fresh(engine);
    expect((await write(app, 'place:first')).statusCode).toBe(201);
    const revision = (await app.app.inject({ url: '/v1/places' })).headers.etag;
    const dry = await app.app.storage.beginImport({ dryRun: true });
    await dry.batch(async (writer) => {
      expect(await writer.upsert('place', place('place:dry'))).toEqual({ outcome: 'created' });
    });
    expectBusyAfterBound(await timedWrite(app, 'place:refused'));
    // a write arriving while it runs waits for it, and is stored once it has ended
    const waiting = timedWrite(app, 'place:waited');
    const heldMs = WRITE_LOCK_WAIT_MS / 4;
    await sleep(heldMs);
    await dry.finish();
    const waited = await waiting;
    expect(waited.res.statusCode, waited.res.body).toBe(201);
    expect(waited.ms).toBeGreaterThanOrEqual(heldMs - 50);
    expect(await status(app, 'place:dry')).toBe(404);
    expect(await status(app, 'place:refused')).toBe(404);
    expect(await status(app, 'place:waited')).toBe(200);
    // the dry run changed nothing, the write after it did
    expect((await app.app.inject({ url: '/v1/places' })).headers.etag).not.toBe(revision);
  });
});
