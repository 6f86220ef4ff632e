import { ConfigError, type AppConfig } from '../config.js';
import type { Storage } from './port.js';
import { SqliteStorage } from './sqlite/index.js';

export type { Storage } from './port.js';

/**
 * Why a PostgreSQL ANNALS_DB is refused for now: the engine (src/storage/postgres) has its
 * schema and migrations but does not implement the whole port yet, and a server that
 * answered some requests from it would give answers that differ from SQLite's.
 */
export const POSTGRES_NOT_READY =
  'ANNALS_DB names a PostgreSQL database, but the PostgreSQL engine is not complete yet: use the path of an SQLite file';

/** Opens the storage engine the configuration names and brings its database up to date. */
export async function openStorage(config: AppConfig): Promise<Storage> {
  if (config.postgres) throw new ConfigError(POSTGRES_NOT_READY);
  return SqliteStorage.open(config);
}
