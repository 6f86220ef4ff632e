import { ConfigError, readServerConfig } from '../src/config.js';
import { POSTGRES_NOT_READY } from '../src/storage/index.js';
import { openDatabase, type Db } from '../src/storage/sqlite/client.js';
import { runMigrations } from '../src/storage/sqlite/migrate.js';
import { ensureSearchIndex } from '../src/storage/sqlite/search.js';
import { SqliteStorage } from '../src/storage/sqlite/index.js';

/** Opens the configured database (ANNALS_DB) for a command-line tool, migrated. */
export function openConfiguredDatabase(): Db {
  return openMigrated().db;
}

/** The configured database behind the storage port, for a tool that works through it (the import). */
export function openConfiguredStorage(): SqliteStorage {
  const { db, path } = openMigrated();
  // a short-lived process of its own: no statistics timer, and a bulk load on its connection
  return new SqliteStorage(db, path, { optimizeIntervalMs: 0, exclusive: true });
}

function openMigrated(): { db: Db; path: string } {
  try {
    const config = readServerConfig();
    if (config.postgres) fail(POSTGRES_NOT_READY);
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
