// A database as an older release left it: the committed migrations before one of them, applied
// into a file of its own, so that a test can write rows as the code of then wrote them and
// check that the migration carries them forward.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { migrationsFolder } from '../../src/storage/sqlite/migrate.js';
import * as schema from '../../src/storage/sqlite/schema.js';

/**
 * Opens `dir/annals.db` migrated by every committed migration before the one whose tag starts
 * with `tagPrefix` (e.g. `0005_`); returns the connection (raw and drizzle's) and how many
 * migrations it applied.
 */
export function databaseBefore(dir: string, tagPrefix: string) {
  const earlier = join(dir, 'migrations');
  mkdirSync(join(earlier, 'meta'), { recursive: true });
  const journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] };
  const index = journal.entries.findIndex((e) => e.tag.startsWith(tagPrefix));
  if (index < 0) throw new Error(`no committed migration ${tagPrefix}`);
  const before = journal.entries.slice(0, index);
  writeFileSync(join(earlier, 'meta', '_journal.json'), JSON.stringify({ ...journal, entries: before }));
  for (const { tag } of before) copyFileSync(join(migrationsFolder, `${tag}.sql`), join(earlier, `${tag}.sql`));
  const client = new Database(join(dir, 'annals.db'));
  const db = drizzle({ client, schema });
  migrate(db, { migrationsFolder: earlier });
  return { client, db, applied: before.length };
}
