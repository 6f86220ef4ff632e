/** npm run seed: loads the shipped dataset (data/seed) into ANNALS_DB, on either engine; running it again changes nothing. */
import { loadSeedThrough } from '../src/storage/seed.js';
import { openConfiguredStorage } from './cli.js';

const storage = await openConfiguredStorage();
for (const report of await loadSeedThrough(() => storage.beginImport())) {
  process.stderr.write(
    `${report.lines} lines: ${report.created} created, ${report.updated} updated, ${report.unchanged} unchanged\n`,
  );
}
await storage.close();
