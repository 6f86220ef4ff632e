import { ConfigError, readServerConfig, type ServerConfig } from '../src/config.js';
import type { Storage } from '../src/storage/port.js';
import type { ApiKeyInfo, Scope } from '../src/storage/types.js';
import * as sqliteKeys from '../src/storage/sqlite/apiKeys.js';
import { openDatabase, type Db } from '../src/storage/sqlite/client.js';
import { committedMigrations as sqliteMigrations, runMigrations } from '../src/storage/sqlite/migrate.js';
import { ensureSearchIndex } from '../src/storage/sqlite/search.js';
import { SqliteStorage } from '../src/storage/sqlite/index.js';
import * as pgKeys from '../src/storage/postgres/apiKeys.js';
import { openPool, type PgDb } from '../src/storage/postgres/client.js';
import { committedMigrations as pgMigrations, runMigrations as runPgMigrations } from '../src/storage/postgres/migrate.js';
import { PostgresStorage, preparePostgresDatabase } from '../src/storage/postgres/index.js';

/**
 * Connections a command-line tool opens to PostgreSQL: it does one thing at a time, and must
 * not take a share of max_connections that the servers' pools count on.
 */
const CLI_POOL_SIZE = 2;

/** What to use instead of `npm run backup` on PostgreSQL: its own tools, which know its files and its WAL. */
export const POSTGRES_BACKUP_ADVICE = [
  'ANNALS_DB names a PostgreSQL database: npm run backup copies SQLite files only. Back it up with PostgreSQL\'s own tools:',
  '  a logical dump (any time, while the servers run):  pg_dump --format=custom --file=annals-$(date +%F).dump "$ANNALS_DB"',
  '    restore into a new, empty UTF8 database:         pg_restore --no-owner --dbname="$NEW_DATABASE_URL" annals-YYYY-MM-DD.dump',
  '  a physical base backup of the whole cluster:       pg_basebackup --pgdata=/backups/base-$(date +%F) --wal-method=stream --checkpoint=fast --progress -d "$ANNALS_DB"',
  '    (with WAL archiving, archive_command, for point-in-time recovery)',
].join('\n');

/** The configuration a tool reads (ANNALS_DB, ANNALS_DB_POOL among it), or a one-line failure. */
export function configuredDatabase(): ServerConfig {
  try {
    return readServerConfig();
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
}

/** Opens the configured SQLite database (ANNALS_DB) for a tool that works on the file itself, migrated; refuses PostgreSQL with `refusal`. */
export function openConfiguredSqlite(refusal: string): Db {
  const config = configuredDatabase();
  if (config.postgres) fail(refusal);
  return openMigratedSqlite(config.databasePath);
}

/** The configured database behind the storage port, migrated, for a tool that works through it (the import, the seed). */
export async function openConfiguredStorage(): Promise<Storage> {
  const config = configuredDatabase();
  if (config.postgres) {
    return new PostgresStorage(await openPostgres(config));
  }
  const db = openMigratedSqlite(config.databasePath);
  // a short-lived process of its own: no statistics timer, and a bulk load on its connection
  return new SqliteStorage(db, config.databasePath, { optimizeIntervalMs: 0, exclusive: true });
}

/** Applies the migrations the configured database lacks (under the servers' advisory lock on PostgreSQL); how many, of how many. */
export async function migrateConfigured(): Promise<{ applied: number; total: number }> {
  const config = configuredDatabase();
  if (config.postgres) {
    const db = openPool({ url: config.postgres.url, poolSize: 1 });
    try {
      return { applied: await runPgMigrations(db.$client), total: pgMigrations() };
    } catch (error) {
      fail(`cannot migrate the PostgreSQL database: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      await db.$client.end();
    }
  }
  const db = openDatabase(config.databasePath);
  const applied = runMigrations(db);
  db.$client.close();
  return { applied, total: sqliteMigrations() };
}

/** What `npm run keys` does to the keys of either engine. */
export interface KeyAdministration {
  create(name: string, scopes: readonly Scope[]): Promise<{ secret: string; key: ApiKeyInfo }>;
  list(includeRevoked: boolean): Promise<ApiKeyInfo[]>;
  revoke(id: number): Promise<boolean>;
  close(): Promise<void>;
}

/** The configured database's API keys, with keys stored by earlier versions upgraded first (as a server's start does). */
export async function openConfiguredKeys(): Promise<KeyAdministration> {
  const config = configuredDatabase();
  if (config.postgres) {
    const db = await openPostgres(config);
    return {
      create: (name, scopes) => db.transaction((tx) => pgKeys.createApiKey(db, tx, name, scopes)),
      list: (includeRevoked) => pgKeys.listApiKeys(db, includeRevoked),
      revoke: (id) => pgKeys.revokeApiKey(db, id),
      close: () => db.$client.end(),
    };
  }
  const db = openMigratedSqlite(config.databasePath);
  db.transaction((tx) => sqliteKeys.upgradeApiKeys(tx), { behavior: 'immediate' });
  // the SQLite engine's key functions are synchronous
  return {
    create: (name, scopes) => Promise.resolve(sqliteKeys.createApiKey(db, name, scopes)),
    list: (includeRevoked) => Promise.resolve(sqliteKeys.listApiKeys(db, includeRevoked)),
    revoke: (id) => Promise.resolve(sqliteKeys.revokeApiKey(db, id)),
    close: () => Promise.resolve(void db.$client.close()),
  };
}

/** The PostgreSQL database migrated (under the servers' advisory lock) and its keys upgraded; no seed, no bootstrap key. */
async function openPostgres(config: ServerConfig): Promise<PgDb> {
  const target = { url: config.postgres!.url, poolSize: Math.min(config.postgres!.poolSize, CLI_POOL_SIZE) };
  try {
    return await preparePostgresDatabase(target);
  } catch (error) {
    // node-postgres's own message (no URL in it: the URL may hold a password)
    fail(`cannot open the PostgreSQL database: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function openMigratedSqlite(path: string): Db {
  const db = openDatabase(path);
  runMigrations(db);
  ensureSearchIndex(db);
  return db;
}

export function fail(message: string): never {
  process.stderr.write(`annals: ${message}\n`);
  process.exit(2);
}
