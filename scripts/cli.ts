import { ConfigError, readServerConfig } from '../src/config.js';
import { openDatabase, type Db } from '../src/storage/sqlite/client.js';
import { runMigrations } from '../src/storage/sqlite/migrate.js';
import { ensureSearchIndex } from '../src/storage/sqlite/search.js';
import type { Storage } from '../src/storage/port.js';
import { PostgresStorage, preparePostgresDatabase } from '../src/storage/postgres/index.js';
import { SqliteStorage } from '../src/storage/sqlite/index.js';

/**
 * Why a command-line tool refuses a PostgreSQL ANNALS_DB: the tools below open the SQLite file
 * themselves. On PostgreSQL the server seeds (ANNALS_SEED), manages keys through the API, and
 * pg_dump backs the database up; the import works through the storage port on either engine.
 */
export const CLI_POSTGRES_NOT_READY =
  'ANNALS_DB names a PostgreSQL database: this command-line tool works on SQLite files only for now (on PostgreSQL, use the API, npm run import, or pg_dump for backups)';

/** Opens the configured database (ANNALS_DB) for a command-line tool, migrated. */
export function openConfiguredDatabase(): Db {
  return openMigrated().db;
}

/** The configured database behind the storage port, for a tool that works through it (the import), on either engine. */
export async function openConfiguredStorage(): Promise<Storage> {
  const postgres = readConfig().postgres;
  // migrated and given a new lineage as a server's start does; never seeded
  if (postgres) return new PostgresStorage(await preparePostgresDatabase({ ...postgres, poolSize: Math.min(postgres.poolSize, 2) }));
  const { db, path } = openMigrated();
  // a short-lived process of its own: no statistics timer, and a bulk load on its connection
  return new SqliteStorage(db, path, { optimizeIntervalMs: 0, exclusive: true });
}

function readConfig() {
  try {
    return readServerConfig();
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
}

function openMigrated(): { db: Db; path: string } {
  try {
    const config = readServerConfig();
    if (config.postgres) fail(CLI_POSTGRES_NOT_READY);
    const db = openDatabase(config.databasePath);
    runMigrations(db);
    ensureSearchIndex(db);
    return { db, path: config.databasePath };
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
}

export function fail(message: string): never {
  process.stderr.write(`annals: ${message}\n`);
  process.exit(2);
}
