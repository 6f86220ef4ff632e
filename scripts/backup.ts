/**
 * npm run backup -- PATH
 * Copies ANNALS_DB to PATH with SQLite's online backup API (safe while the server runs)
 * and checks the copy with PRAGMA integrity_check.
 */
import { existsSync } from 'node:fs';
import { backupDatabase } from '../src/storage/sqlite/backup.js';
import { fail, openConfiguredDatabase } from './cli.js';

const target = process.argv[2];
if (!target) fail('usage: npm run backup -- PATH');
if (existsSync(target)) fail(`${target} exists; choose a new path`);

const db = openConfiguredDatabase();
const { pages, integrity } = await backupDatabase(db, target);
db.$client.close();
process.stderr.write(`backed up ${pages} pages to ${target}; integrity_check: ${integrity}\n`);
process.exit(integrity === 'ok' ? 0 : 1);
