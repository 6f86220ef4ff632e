import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { buildApp } from '../src/app.js';
import type { AppConfig } from '../src/config.js';
import { engineDatabase, type Engine } from './support/pg.js';

/** The secret of the key every test app is bootstrapped with (every scope). */
export const TEST_KEY = 'test-bootstrap-key-0123456789abcdef';
export const AUTH = { authorization: `Bearer ${TEST_KEY}` };

export interface TestApp {
  app: FastifyInstance;
  /** The engine the app stores in. */
  engine: Engine;
  /** Path of the database file (a fresh temp file unless `memory` was asked for; '' on PostgreSQL). */
  databasePath: string;
  /** The PostgreSQL database's URL ('' on SQLite). */
  postgresUrl: string;
  close(): Promise<void>;
}

/**
 * Builds the real app on its own fresh database: on SQLite a temp file (or `:memory:`), on
 * PostgreSQL a new database on the suite's server (test/support/pg.ts), dropped by `close`.
 * With `sameDatabaseAs`, a second server on another app's PostgreSQL database instead (which
 * that app drops: close this one first).
 */
export async function buildTestApp(
  options: { seed?: boolean; memory?: boolean; engine?: Engine; config?: Partial<AppConfig>; sameDatabaseAs?: TestApp } = {},
): Promise<TestApp> {
  const shared = options.sameDatabaseAs;
  if (shared && shared.engine !== 'postgres') throw new Error('sameDatabaseAs: only a PostgreSQL database is shared between apps');
  const engine = shared ? 'postgres' : (options.engine ?? 'sqlite');
  const dir = options.memory || engine === 'postgres' ? null : mkdtempSync(join(tmpdir(), 'annals-test-'));
  const database = shared
    ? { config: { databasePath: '', postgres: { url: shared.postgresUrl, poolSize: 4 } }, async close() {} }
    : await engineDatabase(engine, dir ? join(dir, 'annals.db') : ':memory:');
  const databasePath = database.config.databasePath;
  const app = await buildApp({
    ...database.config,
    seedWhenEmpty: options.seed ?? false,
    bootstrapKey: TEST_KEY,
    logLevel: 'silent',
    // the suites send thousands of requests from one address; rate-limit tests turn it on
    rateLimit: 0,
    ...options.config,
  });
  return {
    app,
    engine,
    databasePath,
    postgresUrl: database.config.postgres?.url ?? '',
    async close() {
      await app.close();
      await database.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The mode of each import session the app's storage begins from now on (a bulk load or batches), in order. */
export function recordImportModes(app: FastifyInstance): string[] {
  const storage = app.storage;
  const begin = storage.beginImport.bind(storage);
  const modes: string[] = [];
  storage.beginImport = async (options) => {
    const session = await begin(options);
    modes.push(session.mode);
    return session;
  };
  return modes;
}

/** Interchange NDJSON from records. */
export const ndjson = (records: object[]) => `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;

/** A parsed JSON body, as `inject().json()` returns it. */
type Json = any;

/**
 * An RFC 9457 problem answer with `status` (an inject response, or a real HTTP one given as its
 * status, headers and body): its type, title and detail, returned parsed.
 */
export function expectProblem(res: { statusCode: number; headers: Json; body: string }, status: number, where = ''): Json {
  expect(res.statusCode, `${where} ${res.body.slice(0, 300)}`).toBe(status);
  expect(String(res.headers['content-type']), where).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(res.body);
  expect(body.status, where).toBe(status);
  for (const member of ['type', 'title', 'detail']) expect(typeof body[member], `${where} ${member}`).toBe('string');
  return body;
}

/** Each record kind's collection under /v1. */
export const COLLECTION = {
  source: 'sources',
  place: 'places',
  actor: 'actors',
  event: 'events',
  statement: 'statements',
  timeline: 'timelines',
} as const;
