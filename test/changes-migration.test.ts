// Migration 0007 on a database that already holds records: they have no changes in the log, so
// the feed from 0 is refused (410) and a client resyncs from an export, whose trailer says where
// the log starts; an empty database's feed starts at 0.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { AUTH, buildTestApp, expectProblem, TEST_KEY, type TestApp } from './helpers.js';
import { databaseBefore } from './support/migrations.js';
import { describePg, eachTestPgDatabase } from './support/pg.js';

let dir: string | undefined;
let open: TestApp | undefined;
afterEach(async () => {
  await open?.app.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  open = undefined;
});

async function migrated(withRecord: boolean) {
  dir = mkdtempSync(join(tmpdir(), 'annals-changes-migration-'));
  const { client } = databaseBefore(dir, '0007_');
  if (withRecord) {
    client
      .prepare(`INSERT INTO actors (key, type, name, aliases, external_ids, created_at, updated_at) VALUES (?, 'person', ?, '[]', '{}', ?, ?)`)
      .run('actor:old', JSON.stringify({ en: 'Old' }), '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');
  }
  client.close();
  open = await buildTestApp({ config: { databasePath: join(dir, 'annals.db') } });
  return open.app;
}

test('records stored before the log: since=0 is a 410, and the export says where to follow from', async () => {
  const app = await migrated(true);
  const problem = expectProblem(await app.inject({ url: '/v1/changes?since=0' }), 410);
  expect(problem.resyncFrom).toBe(1);
  const lines = (await app.inject({ url: '/v1/export' })).body.trimEnd().split('\n');
  expect(JSON.parse(lines[0]!).key).toBe('actor:old');
  const sequence = JSON.parse(lines[lines.length - 1]!).sequence;
  expect(sequence).toBe(1);
  await app.inject({ method: 'PATCH', url: '/v1/actors/actor:old', headers: AUTH, payload: { name: { en: 'New' } } });
  const feed = (await app.inject({ url: `/v1/changes?since=${sequence}` })).json();
  expect(feed.data.map((c: any) => [c.sequence, c.operation, c.key])).toEqual([[2, 'update', 'actor:old']]);
});

test('an empty database before the log: the feed starts at 0', async () => {
  const app = await migrated(false);
  expect((await app.inject({ url: '/v1/changes?since=0' })).statusCode).toBe(200);
});

// On PostgreSQL the table came with the engine, unwritten until the log's counter: a server
// that starts on a database holding records and no counter starts the log past 1, as above.
describePg('change log on a database written before it', () => {
  const { database, pool } = eachTestPgDatabase();
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  const start = async () => {
    app = await buildApp({ databasePath: '', postgres: { url: database().url, poolSize: 2 }, bootstrapKey: TEST_KEY, logLevel: 'silent', rateLimit: 0, seedWhenEmpty: false });
    return app;
  };

  test('records stored before the counter: since=0 is a 410, and the export says where to follow from', async () => {
    let a = await start();
    expect((await a.inject({ method: 'POST', url: '/v1/actors', headers: AUTH, payload: { key: 'actor:old', type: 'person', name: { en: 'Old' } } })).statusCode).toBe(201);
    await a.close();
    app = undefined;
    // as a database written by a version that did not log
    await pool().query(`DELETE FROM changes; DELETE FROM settings WHERE name = 'change_sequence'`);
    a = await start();
    expect(expectProblem(await a.inject({ url: '/v1/changes?since=0' }), 410).resyncFrom).toBe(1);
    const lines = (await a.inject({ url: '/v1/export' })).body.trimEnd().split('\n');
    const sequence = JSON.parse(lines[lines.length - 1]!).sequence;
    expect(sequence).toBe(1);
    await a.inject({ method: 'PATCH', url: '/v1/actors/actor:old', headers: AUTH, payload: { name: { en: 'New' } } });
    const feed = (await a.inject({ url: `/v1/changes?since=${sequence}` })).json();
    expect(feed.data.map((c: any) => [c.sequence, c.operation, c.key])).toEqual([[2, 'update', 'actor:old']]);
  });

  test('an empty database: the feed starts at 0, and a second start keeps the counter', async () => {
    let a = await start();
    expect((await a.inject({ url: '/v1/changes?since=0' })).statusCode).toBe(200);
    await a.inject({ method: 'POST', url: '/v1/actors', headers: AUTH, payload: { key: 'actor:n', type: 'person', name: { en: 'N' } } });
    await a.close();
    a = await start();
    expect((await a.inject({ url: '/v1/changes?since=0' })).json().data.map((c: any) => c.sequence)).toEqual([1]);
  });
});
