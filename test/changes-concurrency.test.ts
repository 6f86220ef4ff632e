// The change log under parallel writers on PostgreSQL: several apps (each a server with a pool
// of its own) write on one database at once, creates, patches and imports, while a reader
// follows GET /v1/changes. However transactions interleave, every page the reader gets starts
// right after its `since` and holds consecutive sequences, so a sequence it has passed is never
// committed later (a gap filled afterwards would be a change the reader skipped for ever), and
// at the end the log holds each change once.
import type { FastifyInstance } from 'fastify';
import { afterEach, expect, test } from 'vitest';
import { buildApp } from '../src/app.js';
import { AUTH, ndjson, TEST_KEY } from './helpers.js';
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
});
