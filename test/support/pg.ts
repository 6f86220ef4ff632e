/**
 * The PostgreSQL half of the suite: a database of its own for each test, and describe blocks
 * that run on PostgreSQL (skipped, and counted as not run, where there is none: see
 * test/support/postgres.ts, the global setup that provides the server).
 *
 * Test names carry their engine, `[postgres]` or `[sqlite]`, which is how .ci/run and the
 * engines reporter count the tests each engine ran.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, inject } from 'vitest';
import type { AppConfig } from '../../src/config.js';
import { runMigrations } from '../../src/storage/postgres/migrate.js';

const ROOT = new URL('../..', import.meta.url).pathname;

/** A PostgreSQL URL whose role may create databases, or '' when the PostgreSQL half does not run. */
export const pgUrl = inject('pgUrl');
/** Why the PostgreSQL half does not run ('' when it does). */
export const pgMissing = inject('pgMissing');

export type Engine = 'sqlite' | 'postgres';
/** Every engine, PostgreSQL included even when it is missing (its blocks are then skipped, and reported). */
export const ENGINES: readonly Engine[] = ['sqlite', 'postgres'];

const tag = (engine: Engine, name: string) => `[${engine}] ${name}`;

/** A describe block that runs on PostgreSQL, skipped when there is none. */
export function describePg(name: string, body: () => void): void {
  describe.skipIf(pgUrl === '')(tag('postgres', name), body);
}

/** The same block once per engine (the PostgreSQL one skipped when there is none). */
export function describeEngines(name: string, body: (engine: Engine) => void): void {
  for (const engine of ENGINES) describe.skipIf(engine === 'postgres' && pgUrl === '')(tag(engine, name), () => body(engine));
}

export interface PgDatabase {
  /** The database's URL, for the engine (ANNALS_DB) or a pg.Pool. */
  url: string;
  /** Drops the database, ending any connection still open to it. */
  drop(): Promise<void>;
}

let created = 0;

/** Runs one statement on the server's maintenance database. */
async function administer(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/**
 * A new, empty UTF-8 database on the test server (from template0, so that nothing another
 * test left in template1 is in it), named for this process so that parallel test files never
 * collide; with `migrated`, a copy of a database that has every migration applied.
 */
export async function freshPgDatabase(options: { migrated?: boolean } = {}): Promise<PgDatabase> {
  if (pgUrl === '') throw new Error(`no PostgreSQL for the tests: ${pgMissing}`);
  const template = options.migrated ? await migratedTemplate() : 'template0';
  created += 1;
  const name = `annals_test_${process.pid}_${created}_${randomBytes(3).toString('hex')}`;
  await administer(`CREATE DATABASE "${name}" TEMPLATE "${template}" ENCODING 'UTF8'`);
  const url = urlOf(name);
  let dropped = false;
  return {
    url,
    async drop() {
      if (dropped) return;
      dropped = true;
      await administer(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}

const urlOf = (name: string) => {
  const url = new URL(pgUrl);
  url.pathname = `/${name}`;
  return url.toString();
};

let template: Promise<string> | undefined;

/**
 * A database with every migration applied and nothing else, for fresh databases to be copied
 * from (CREATE DATABASE ... TEMPLATE): migrating each test's database took seconds, a copy
 * takes a fraction of one. Named for the migrations' contents, so that a changed migration
 * makes a new one; made once on the server by whichever test process comes first (under an
 * advisory lock, and renamed into place only when complete).
 */
function migratedTemplate(): Promise<string> {
  template ??= (async () => {
    const hash = createHash('sha256');
    const folder = join(ROOT, 'migrations', 'pg');
    for (const file of readdirSync(folder, { recursive: true, encoding: 'utf8' }).sort()) {
      const path = join(folder, file);
      if (statSync(path).isFile()) hash.update(file).update(readFileSync(path));
    }
    const name = `annals_template_${hash.digest('hex').slice(0, 16)}`;
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    try {
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [name]);
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (exists.rowCount === 0) {
        const building = `${name}_${process.pid}`;
        await client.query(`DROP DATABASE IF EXISTS "${building}"`);
        await client.query(`CREATE DATABASE "${building}" TEMPLATE template0 ENCODING 'UTF8'`);
        // the migrations only: what a server does at start beside them (the lineage, the
        // cursor secret, keys) is each database's own
        const migrating = new pg.Pool({ connectionString: urlOf(building), max: 1 });
        try {
          await runMigrations(migrating);
        } finally {
          await migrating.end();
        }
        await client.query(`ALTER DATABASE "${building}" RENAME TO "${name}"`);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [name]).catch(() => {});
      await client.end();
    }
    return name;
  })();
  return template;
}

/** The part of an AppConfig that names a fresh database on `engine`, and its removal. */
export interface EngineDatabase {
  config: Pick<AppConfig, 'databasePath' | 'postgres'>;
  close(): Promise<void>;
}

/** A fresh database on `engine`: a temp SQLite file is the caller's (buildTestApp makes one), a PostgreSQL database is made here. */
export async function engineDatabase(engine: Engine, sqlitePath: string): Promise<EngineDatabase> {
  if (engine === 'sqlite') return { config: { databasePath: sqlitePath }, async close() {} };
  const database = await freshPgDatabase({ migrated: true });
  return { config: { databasePath: '', postgres: { url: database.url, poolSize: 4 } }, close: () => database.drop() };
}

/**
 * Inside a describe block: a fresh database for each of its tests, dropped after it, and
 * pg pools on it that are ended after the test. Returns the accessors.
 */
export function eachTestPgDatabase(): { database: () => PgDatabase; pool: (max?: number) => pg.Pool } {
  let current: PgDatabase | undefined;
  const pools: pg.Pool[] = [];
  beforeEach(async () => {
    current = await freshPgDatabase();
  });
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.end()));
    await current?.drop();
    current = undefined;
  });
  const database = () => {
    if (current === undefined) throw new Error('the database exists only while a test runs');
    return current;
  };
  return {
    database,
    pool: (max = 2) => {
      const created = new pg.Pool({ connectionString: database().url, max });
      // dropping the database ends connections the pool may still be closing
      created.on('error', () => {});
      pools.push(created);
      return created;
    },
  };
}
