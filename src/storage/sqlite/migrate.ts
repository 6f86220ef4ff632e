import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import type { Db } from './client.js';
import { ensureEntryDocuments } from './documents.js';

export const migrationsFolder = fileURLToPath(new URL('../../../migrations', import.meta.url));

/**
 * Applies the committed migrations. drizzle's migrator runs them all in one transaction,
 * where `PRAGMA foreign_keys=OFF` (which drizzle-kit emits around table rebuilds) is a
 * no-op, so a rebuild would fire ON DELETE CASCADE: foreign keys are switched off around
 * the whole run and checked afterwards instead.
 * https://github.com/drizzle-team/drizzle-orm/issues/5782
 * Returns how many migrations this call applied.
 */
export function runMigrations(db: Db): number {
  const sqlite = db.$client;
  const applied = () =>
    migrationsTableExists(db) ? (sqlite.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number }).n : 0;
  const before = applied();
  sqlite.pragma('foreign_keys = OFF');
  try {
    migrate(db, { migrationsFolder });
    // the check reads every row that has a foreign key: only after a migration ran
    if (applied() !== before) {
      const violations = sqlite.pragma('foreign_key_check') as unknown[];
      if (violations.length > 0) {
        throw new Error(`migrations left ${violations.length} foreign key violations`);
      }
    }
  } finally {
    sqlite.pragma('foreign_keys = ON');
  }
  // what no SQL migration can write: entries rendered by the application
  ensureEntryDocuments(db);
  return applied() - before;
}

/** How many migrations the code ships. */
export function committedMigrations(): number {
  const journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] };
  return journal.entries.length;
}

const migrationsTableExists = (db: Db) =>
  (
    db.$client
      .prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'")
      .get() as { n: number }
  ).n > 0;

/** True when every committed migration has been applied (for readiness checks). */
export function migrationsApplied(db: Db, expected = committedMigrations()): boolean {
  if (!migrationsTableExists(db)) return false;
  const applied = db.$client.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number };
  return applied.n >= expected;
}
