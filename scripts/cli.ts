import { ConfigError, readServerConfig } from '../src/config.js';
import { POSTGRES_NOT_READY } from '../src/storage/index.js';
import { openDatabase, type Db } from '../src/storage/sqlite/client.js';
import { runMigrations } from '../src/storage/sqlite/migrate.js';
import { ensureSearchIndex } from '../src/storage/sqlite/search.js';

/** Opens the configured database (ANNALS_DB) for a command-line tool, migrated. */
export function openConfiguredDatabase(): Db {
  try {
    const config = readServerConfig();
    if (config.postgres) fail(POSTGRES_NOT_READY);
    const db = openDatabase(config.databasePath);
    runMigrations(db);
    ensureSearchIndex(db);
    return db;
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
}

export function fail(message: string): never {
  process.stderr.write(`annals: ${message}\n`);
  process.exit(2);
}
