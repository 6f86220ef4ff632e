/**
 * The shipped dataset (data/seed) and its loading through an import session, the same for
 * every engine: each file is imported batch by batch, and a refused line is an error (the
 * seed is ours, and must load whole).
 */
import { createReadStream, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importNdjson, type ImportReport } from '../import/ndjson.js';
import type { ImportSession } from './import.js';

export const seedFolder = fileURLToPath(new URL('../../data/seed', import.meta.url));

/** The shipped dataset's files, in name order. */
export function seedFiles(folder = seedFolder): string[] {
  return readdirSync(folder)
    .filter((name) => name.endsWith('.ndjson'))
    .sort()
    .map((name) => join(folder, name));
}

/** Imports every seed file, each through a session of its own that `begin` opens. */
export async function loadSeedThrough(begin: () => ImportSession | Promise<ImportSession>, folder = seedFolder): Promise<ImportReport[]> {
  const reports: ImportReport[] = [];
  for (const file of seedFiles(folder)) {
    const report = await importNdjson(await begin(), createReadStream(file));
    if (report.refused > 0) {
      throw new Error(`the seed file ${file} has refused lines: ${JSON.stringify(report.errors.slice(0, 3))}`);
    }
    reports.push(report);
  }
  return reports;
}
