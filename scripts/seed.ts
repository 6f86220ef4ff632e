/** npm run seed: loads the shipped dataset (data/seed) into ANNALS_DB; running it again changes nothing. */
import { loadSeed } from '../src/storage/sqlite/seed.js';
import { openConfiguredDatabase } from './cli.js';

const db = openConfiguredDatabase();
for (const report of await loadSeed(db)) {
  process.stderr.write(
    `${report.lines} lines: ${report.created} created, ${report.updated} updated, ${report.unchanged} unchanged\n`,
  );
}
db.$client.close();
