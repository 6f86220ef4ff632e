/**
 * npm run import -- FILE [--dry-run] [--stop-on-error]
 * Loads an interchange NDJSON file (or - for standard input) into ANNALS_DB, with a live
 * progress line on stderr and the report as JSON on stdout.
 */
import { createReadStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { ImportInterrupted, importNdjson, type ImportProgress } from '../src/import/ndjson.js';
import { parseFileInWorker, ParseWorkerError } from '../src/import/parallel.js';
import { STATISTICS_AFTER_IMPORT_RECORDS } from '../src/storage/port.js';
import { fail, openConfiguredStorage } from './cli.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'dry-run': { type: 'boolean' }, 'stop-on-error': { type: 'boolean' } },
});
const file = positionals[0];
if (!file) fail('usage: npm run import -- FILE [--dry-run] [--stop-on-error]');

const storage = await openConfiguredStorage();
// Loading an empty database, nothing else can be lost to a failure and nobody is kept
// waiting for the write lock: a bulk load (one transaction, indexes built at the end).
const session = await storage.beginImport({ dryRun: values['dry-run'] ?? false, bulkLoad: 'when-empty' });
const started = process.hrtime.bigint();
const interactive = process.stderr.isTTY;
let lastPrinted = 0;
const progressLine = (p: ImportProgress) => {
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const stored = p.created + p.updated + p.unchanged;
  const rate = seconds > 0 ? Math.round(stored / seconds) : 0;
  return `${p.lines} lines read, ${stored} records (${p.created} created, ${p.updated} updated, ${p.unchanged} unchanged), ${rate} records/s, ${p.refused} refused`;
};
const onProgress = (p: ImportProgress) => {
  const now = Date.now();
  if (now - lastPrinted < 250) return;
  lastPrinted = now;
  process.stderr.write(interactive ? `\r\x1b[K${progressLine(p)}` : `${progressLine(p)}\n`);
};

const bulkLoad = session.mode === 'bulk';
const streamed = () => {
  const input = file === '-' ? process.stdin : createReadStream(file);
  input.on('error', (error: Error) => fail(`cannot read ${file}: ${error.message}`));
  return input;
};
// A bulk load of a file reads and parses it on the second core (a worker thread) while
// this thread writes; the database and the report are the same either way.
const report = await importNdjson(session, bulkLoad && file !== '-' ? { parsed: parseFileInWorker(file, session.batchRecords === undefined ? {} : { batchLines: session.batchRecords }) } : streamed(), {
  stopOnError: values['stop-on-error'] ?? false,
  onProgress,
}).catch((error: unknown) => {
  const cause = error instanceof ImportInterrupted ? error.cause : error;
  if (cause instanceof ParseWorkerError) fail(cause.message);
  if (error instanceof ImportInterrupted) {
    const r = error.report;
    fail(`${error.message} (${r.created} created, ${r.updated} updated, ${r.unchanged} unchanged, ${r.refused} refused before it ended)`);
  }
  throw error;
});
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
process.stderr.write(
  `${interactive ? '\r\x1b[K' : ''}${progressLine(report)}${report.dryRun ? ' (dry run: nothing stored)' : ''}; ` +
    `${seconds.toFixed(1)} s, peak RSS ${peakRssMb} MB\n`,
);
if (report.end) {
  process.stderr.write(
    `end line ${report.end.line}: ${report.end.records} records declared, ${report.end.read.records} read` +
      `${report.end.complete ? ' (complete)' : ' (INCOMPLETE: see the refusal of that line)'}\n`,
  );
}
for (const error of report.errors.slice(0, 20)) {
  process.stderr.write(`  line ${error.line}${error.key ? ` (${error.key})` : ''}: ${error.reason}\n`);
}
process.stdout.write(`${JSON.stringify(report)}\n`);
// as after an import through the API: PostgreSQL's planner and index-only scans need it after a large load
if (storage.engine === 'postgres' && report.created + report.updated >= STATISTICS_AFTER_IMPORT_RECORDS) await storage.refreshStatistics({ everyTable: true });
await storage.close();
process.exit(report.refused > 0 ? 1 : 0);
