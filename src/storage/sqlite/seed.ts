import { createReadStream, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { count } from 'drizzle-orm';
import type { Db } from './client.js';
import { entries, sources } from './schema.js';
import { importNdjson, type ImportReport } from '../../import/ndjson.js';
import { batchImportSession } from './import.js';

export const seedFolder = fileURLToPath(new URL('../../../data/seed', import.meta.url));

/** The shipped dataset's files, in name order. */
export function seedFiles(folder = seedFolder): string[] {
  return readdirSync(folder)
    .filter((name) => name.endsWith('.ndjson'))
    .sort()
    .map((name) => join(folder, name));
}

export async function loadSeed(db: Db, folder = seedFolder): Promise<ImportReport[]> {
  const reports: ImportReport[] = [];
  for (const file of seedFiles(folder)) {
    const report = await importNdjson(batchImportSession(db), createReadStream(file));
    if (report.refused > 0) {
      throw new Error(`the seed file ${file} has refused lines: ${JSON.stringify(report.errors.slice(0, 3))}`);
    }
    reports.push(report);
  }
  return reports;
}

/** Loads the seed dataset into a database that has no sources and no entries. */
export async function loadSeedIfEmpty(db: Db): Promise<boolean> {
  const stored =
    db.select({ n: count() }).from(sources).get()!.n + db.select({ n: count() }).from(entries).get()!.n;
  if (stored > 0) return false;
  await loadSeed(db);
  return true;
}
