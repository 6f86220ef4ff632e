/**
 * npm run backup -- PATH
 * Copies ANNALS_DB to PATH with SQLite's online backup API (safe while the server runs)
 * and checks the copy with PRAGMA integrity_check. On PostgreSQL it says what to run instead
 * (pg_dump, pg_basebackup) and exits 2.
 */
import { existsSync } from 'node:fs';
import { backupDatabase } from '../src/storage/sqlite/backup.js';
import { configuredDatabase, fail, openConfiguredSqlite, POSTGRES_BACKUP_ADVICE } from './cli.js';

// before the usage: on PostgreSQL no PATH makes this tool the right one
if (configuredDatabase().postgres) fail(POSTGRES_BACKUP_ADVICE);
const target = process.argv[2];
if (!target) fail('usage: npm run backup -- PATH');
if (existsSync(target)) fail(`${target} exists; choose a new path`);

const db = openConfiguredSqlite(POSTGRES_BACKUP_ADVICE);
const { pages, integrity } = await backupDatabase(db, target);
db.$client.close();
process.stderr.write(`backed up ${pages} pages to ${target}; integrity_check: ${integrity}\n`);
process.exit(integrity === 'ok' ? 0 : 1);
