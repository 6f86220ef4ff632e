/**
 * npm run migrate: brings ANNALS_DB up to date with the migrations of this release and exits,
 * as a deploy step before servers of the release start (each server also migrates at start-up,
 * under the same PostgreSQL advisory lock, so running it is never required, and never harmful).
 */
import { migrateConfigured } from './cli.js';

const { applied, total } = await migrateConfigured();
process.stderr.write(`applied ${applied} migration${applied === 1 ? '' : 's'}; the database has all ${total} of this release\n`);
