// For the tests that check the SQLite engine's own structures (plans, pragmas, triggers, rows
// the API does not show): its connection, reached through the storage port's engine.
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../src/storage/sqlite/client.js';
import { SqliteStorage } from '../../src/storage/sqlite/index.js';

/** The SQLite connection behind `app.storage`; fails the test when the app runs another engine. */
export function sqliteDb(app: FastifyInstance): Db {
  if (!(app.storage instanceof SqliteStorage)) throw new Error(`this test checks the SQLite engine, not ${app.storage.engine}`);
  return app.storage.db;
}

