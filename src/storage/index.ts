import type { AppConfig } from '../config.js';
import type { Storage } from './port.js';
import { PostgresStorage } from './postgres/index.js';
import { SqliteStorage } from './sqlite/index.js';

export type { Storage } from './port.js';

/** Opens the storage engine the configuration names (PostgreSQL for a URL) and brings its database up to date. */
export async function openStorage(config: AppConfig): Promise<Storage> {
  if (config.postgres) return PostgresStorage.open(config);
  return SqliteStorage.open(config);
}
