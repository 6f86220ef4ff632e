// The change log under parallel writers on PostgreSQL: several apps (each a server with a pool
// of its own) write on one database at once, creates, patches and imports, while a reader
// follows GET /v1/changes. However transactions interleave, every page the reader gets starts
// right after its `since` and holds consecutive sequences, so a sequence it has passed is never
// committed later (a gap filled afterwards would be a change the reader skipped for ever), and
// at the end the log holds each change once.
import type { FastifyInstance } from 'fastify';
import { afterEach, expect, test } from 'vitest';
import { buildApp } from '../src/app.js';
import { logChanges } from '../src/storage/postgres/changes.js';
import type { PostgresStorage } from '../src/storage/postgres/index.js';
import { writeTransaction } from '../src/storage/postgres/transactions.js';
import { AUTH, ndjson, TEST_KEY } from './helpers.js';
import pg from 'pg';
import { describePg, freshPgDatabase, type PgDatabase } from './support/pg.js';

type Json = any;

const SERVERS = 3;
/** Writes each server has in flight at once. */
const PARALLEL = 4;
/** Writes per lane. */
const WRITES = 12;

let database: PgDatabase | undefined;
let apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.map((app) => app.close()));
  apps = [];
  await database?.drop();
  database = undefined;
});

describePg('change log under parallel writers', () => {
  test('a reader following the log never passes a sequence that commits later', async () => {
    database = await freshPgDatabase();
    const url = database.url;
    for (let i = 0; i < SERVERS; i++) {
      apps.push(await buildApp({ databasePath: '', postgres: { url, poolSize: PARALLEL + 1 }, bootstrapKey: TEST_KEY, logLevel: 'silent', rateLimit: 0, seedWhenEmpty: false }));
    }
    const reader = apps[0]!;

    // each lane writes its own records: creates, a patch of each, an import of two more
    let expected = 0;
    const lane = async (app: FastifyInstance, name: string) => {
      for (let i = 0; i < WRITES; i++) {
        const key = `actor:${name}-${i}`;
        const step = i % 3;
        if (step === 0) {
          const res = await app.inject({ method: 'POST', url: '/v1/actors', headers: AUTH, payload: { key, type: 'person', name: { en: key } } });
          expect(res.statusCode, res.body).toBe(201);
          expected += 1;
        } else if (step === 1) {
          const res = await app.inject({ method: 'PATCH', url: `/v1/actors/actor:${name}-${i - 1}`, headers: AUTH, payload: { name: { en: `${key} renamed` } } });
          expect(res.statusCode, res.body).toBe(200);
          expected += 1;
        } else {
          const res = await app.inject({
            method: 'POST',
            url: '/v1/import',
            headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
            payload: ndjson([
              { kind: 'place', key: `place:${name}-${i}a`, type: 'city', name: { en: 'A' } },
              { kind: 'place', key: `place:${name}-${i}b`, type: 'city', name: { en: 'B' } },
            ]),
          });
          expect(res.statusCode, res.body).toBe(200);
          expected += 2;
        }
      }
    };

    let writing = true;
    let since = 0;
    let reads = 0;
    const seen: number[] = [];
    const follow = async () => {
      for (;;) {
        // read after `writing` is checked, so the last read comes after every write
        const last = !writing;
        const res = await reader.inject({ url: `/v1/changes?since=${since}&limit=25` });
        expect(res.statusCode, res.body).toBe(200);
        const body = res.json();
        const sequences = body.data.map((c: Json) => c.sequence as number);
        // consecutive from since + 1: nothing below the newest sequence read is missing
        expect(sequences).toEqual(sequences.map((_: number, k: number) => since + 1 + k));
        seen.push(...sequences);
        since = body.page.since;
        reads += 1;
        if (last && !body.page.more) return;
      }
    };

    const writes = Promise.all(apps.flatMap((app, s) => Array.from({ length: PARALLEL }, (_, l) => lane(app, `s${s}l${l}`)))).finally(() => {
      writing = false;
    });
    // a sequence committed out of order also shows as a 410: the oldest row read is past 1
    await Promise.all([writes, follow()]);

    expect(reads).toBeGreaterThan(1);
    expect(seen).toEqual(Array.from({ length: expected }, (_, k) => k + 1));
    // every server reads the same log, whole
    for (const app of apps) {
      const { latest, floor } = await app.storage.changeLogExtent();
      expect({ latest, floor }).toEqual({ latest: expected, floor: 0 });
      const all = await app.storage.changesAfter({}, 0, expected + 10);
      expect(all.map((c) => c.sequence)).toEqual(seen);
    }
  }, 120_000);

  test('a write that fails after logging gives its sequences back: the log has no gaps', async () => {
    database = await freshPgDatabase();
    const app = await buildApp({ databasePath: '', postgres: { url: database.url, poolSize: 2 }, bootstrapKey: TEST_KEY, logLevel: 'silent', rateLimit: 0, seedWhenEmpty: false });
    apps.push(app);
    const { db } = app.storage as PostgresStorage;
    const logged = [{ kind: 'actor' as const, id: 1, key: 'actor:never', operation: 'create' as const, fields: null, previous: null }];
    await expect(
      writeTransaction(db, async (tx) => {
        await logChanges(tx, logged, new Date().toISOString(), null);
        throw new Error('the write fails after its change was logged');
      }),
    ).rejects.toThrow('after its change was logged');
    expect(await app.storage.changeLogExtent()).toEqual({ floor: 0, latest: 0 });
    const res = await app.inject({ method: 'POST', url: '/v1/actors', headers: AUTH, payload: { key: 'actor:kept', type: 'person', name: { en: 'K' } } });
    expect(res.statusCode, res.body).toBe(201);
    expect((await app.inject({ url: '/v1/changes?since=0' })).json().data.map((c: Json) => [c.sequence, c.key])).toEqual([[1, 'actor:kept']]);
  });

  test('as_of waits for a write in flight, and answers busy when it runs long', async () => {
    database = await freshPgDatabase();
    const app = await buildApp({ databasePath: '', postgres: { url: database.url, poolSize: 2 }, bootstrapKey: TEST_KEY, logLevel: 'silent', rateLimit: 0, seedWhenEmpty: false });
    apps.push(app);
    expect((await app.inject({ method: 'POST', url: '/v1/actors', headers: AUTH, payload: { key: 'actor:w', type: 'person', name: { en: 'W' } } })).statusCode).toBe(201);
    const then = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await app.inject({ method: 'PATCH', url: '/v1/actors/actor:w', headers: AUTH, payload: { name: { en: 'W2' } } })).statusCode).toBe(200);
    // a write that holds the revision row, as every write does until it commits (a bulk load for long)
    const writer = new pg.Client({ connectionString: database.url });
    await writer.connect();
    try {
      await writer.query(`BEGIN; UPDATE settings SET value = value WHERE name = 'revision'`);
      const started = Date.now();
      const busy = await app.inject({ url: `/v1/actors/actor:w?as_of=${encodeURIComponent(then)}` });
      expect(busy.statusCode, busy.body).toBe(503);
      expect(busy.headers['retry-after']).toBeDefined();
      expect(Date.now() - started).toBeGreaterThanOrEqual(4000);
      // one that ends soon is waited for
      const waiting = app.inject({ url: `/v1/actors/actor:w?as_of=${encodeURIComponent(then)}` });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await writer.query('COMMIT');
      const res = await waiting;
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().name).toEqual({ en: 'W' });
    } finally {
      await writer.end();
    }
  }, 30_000);
});
