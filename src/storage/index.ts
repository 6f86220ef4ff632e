import type { AppConfig } from '../config.js';
import type { Storage } from './port.js';
import { SqliteStorage } from './sqlite/index.js';

export type { Storage } from './port.js';

/** Opens the storage engine the configuration names and brings its database up to date. */
export async function openStorage(config: AppConfig): Promise<Storage> {
  return SqliteStorage.open(config);
}
