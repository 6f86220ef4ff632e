import { count } from 'drizzle-orm';
import type { Db } from './client.js';
import { entries, sources } from './schema.js';
import type { ImportReport } from '../../import/ndjson.js';
import { loadSeedThrough, seedFolder } from '../seed.js';
import { batchImportSession } from './import.js';

export { seedFiles, seedFolder } from '../seed.js';

export async function loadSeed(db: Db, folder = seedFolder): Promise<ImportReport[]> {
  return loadSeedThrough(() => batchImportSession(db), folder);
}

/** Loads the seed dataset into a database that has no sources and no entries. */
export async function loadSeedIfEmpty(db: Db): Promise<boolean> {
  const stored =
    db.select({ n: count() }).from(sources).get()!.n + db.select({ n: count() }).from(entries).get()!.n;
  if (stored > 0) return false;
  await loadSeed(db);
  return true;
}
