// The command-line tools with ANNALS_DB naming a PostgreSQL database: migrate, keys, seed and import
// work on it as on an SQLite file; backup says what to use instead (PostgreSQL's own tools).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { committedMigrations } from '../src/storage/postgres/migrate.js';
import { freshPgDatabase, describePg, type PgDatabase } from './support/pg.js';
import { REPO } from './support/server.js';

function runCli(url: string, script: string, args: string[] = []) {
  const env: NodeJS.ProcessEnv = { ...process.env, ANNALS_DB: url, ANNALS_BOOTSTRAP_KEY: '', ANNALS_SEED: 'off' };
  // the test runner's own loader options must not leak into the tool
  delete env.NODE_OPTIONS;
  const result = spawnSync(process.execPath, ['--import', 'tsx', `scripts/${script}.ts`, ...args], {
    cwd: REPO,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describePg('command-line tools on PostgreSQL', () => {
  let database: PgDatabase;
  let pool: pg.Pool;
  const count = async (table: string) => (await pool.query<{ n: number }>(`SELECT count(*)::integer AS n FROM ${table}`)).rows[0]!.n;

  beforeAll(async () => {
    database = await freshPgDatabase();
    pool = new pg.Pool({ connectionString: database.url, max: 1 });
    pool.on('error', () => {});
  });
  afterAll(async () => {
    await pool.end();
    await database.drop();
  });

  it('migrates as a deploy step of its own: every migration once, then nothing', () => {
    const total = committedMigrations();
    const first = runCli(database.url, 'migrate');
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toContain(`applied ${total} migrations; the database has all ${total} of this release`);
    const again = runCli(database.url, 'migrate');
    expect(again.stderr).toContain(`applied 0 migrations; the database has all ${total} of this release`);
  });

  it('seeds an empty database, and changes nothing when run again', async () => {
    const first = runCli(database.url, 'seed');
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/^\d+ lines: (\d+) created, 0 updated, 0 unchanged$/m);
    const entries = await count('entries');
    expect(entries).toBeGreaterThan(10);
    const again = runCli(database.url, 'seed');
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/^\d+ lines: 0 created, 0 updated, \d+ unchanged$/m);
    expect(await count('entries')).toBe(entries);
  }, 120_000);

  it('imports a file, with its report as JSON on stdout', () => {
    const file = path.join(REPO, 'data/seed/kazakhstan-january-2022.ndjson');
    const run = runCli(database.url, 'import', [file]);
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { lines: number; unchanged: number; refused: number; created: number };
    expect(report.refused).toBe(0);
    // the seed is this file: every record is there already
    expect(report.created).toBe(0);
    expect(report.unchanged).toBeGreaterThan(10);
  }, 120_000);

  it('creates, lists and revokes keys that every server on the database then honours', async () => {
    const created = runCli(database.url, 'keys', ['create', '--name', 'cli', '--scopes', 'read,write']);
    expect(created.status, created.stderr).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^annals_[A-Za-z0-9_-]{43}$/);
    const id = /created key (\d+) "cli"/.exec(created.stderr)?.[1];
    expect(id).toBeDefined();
    const listed = runCli(database.url, 'keys', ['list']);
    expect(listed.stdout).toMatch(new RegExp(`^${id}\\tcli\\t[^\\t]+\\tread,write\\t[^\\t]+\\tactive$`, 'm'));
    expect(listed.stdout).not.toContain(secret);

    const app: FastifyInstance = await buildApp({
      databasePath: '',
      postgres: { url: database.url, poolSize: 2 },
      seedWhenEmpty: false,
      logLevel: 'silent',
      rateLimit: 0,
    });
    try {
      const write = (key: string) =>
        app.inject({
          method: 'POST',
          url: '/v1/places',
          headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
          payload: { key, type: 'city', name: { en: key } },
        });
      expect((await write('place:cli-one')).statusCode).toBe(201);
      const revoked = runCli(database.url, 'keys', ['revoke', id!]);
      expect(revoked.status, revoked.stderr).toBe(0);
      expect((await write('place:cli-two')).statusCode).toBe(401);
    } finally {
      await app.close();
    }
    expect(runCli(database.url, 'keys', ['list']).stdout).not.toMatch(new RegExp(`^${id}\\t`, 'm'));
    expect(runCli(database.url, 'keys', ['list', '--all']).stdout).toMatch(new RegExp(`^${id}\\tcli\\t.*\\trevoked `, 'm'));
    expect(runCli(database.url, 'keys', ['revoke', '99999']).status).toBe(2);
  }, 120_000);

  it('backup says which PostgreSQL tools to use, with their command lines, and copies nothing', () => {
    const target = path.join(tmpdir(), `annals-never-written-${process.pid}.db`);
    for (const args of [[target], []]) {
      const run = runCli(database.url, 'backup', args);
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(/PostgreSQL database: npm run backup copies SQLite files only/);
      expect(run.stderr).toMatch(/pg_dump --format=custom --file=.+\.dump "\$ANNALS_DB"/);
      expect(run.stderr).toMatch(/pg_restore /);
      expect(run.stderr).toMatch(/pg_basebackup /);
      // the URL (which may hold a password) is never printed
      expect(run.stderr).not.toContain(database.url);
    }
    expect(existsSync(target)).toBe(false);
  });
});
