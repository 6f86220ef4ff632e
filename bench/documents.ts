/**
 * What the stored entry documents cost, per entry, on a database of the benchmark's data:
 *
 *   ANNALS_DB=FILE tsx bench/documents.ts [--pages N] [--build N]
 *
 * - read: timeline pages of 50 (runs of the timeline's order from random places), answered
 *   from the documents (renderEntries) and, for reference, rendered from the rows as a page
 *   was before the documents (loadEntries and JSON.stringify), each without and with `lang=en`;
 * - build: the documents of N entries rendered and written again, in a transaction that is
 *   rolled back (what a write or an import spends on them).
 * Both paths are checked to give the same bytes on the pages read.
 */
import { parseArgs } from 'node:util';
import { openDatabase } from '../src/storage/sqlite/client.js';
import { renderEntries, writeEntryDocuments } from '../src/storage/sqlite/documents.js';
import { loadEntries } from '../src/storage/sqlite/entries.js';
import { runMigrations } from '../src/storage/sqlite/migrate.js';
import { prng } from './generate.js';

const { values } = parseArgs({ options: { pages: { type: 'string', default: '400' }, build: { type: 'string', default: '20000' } } });
const db = openDatabase(process.env.ANNALS_DB ?? 'data/annals.db');
runMigrations(db);
const client = db.$client;

const order = client.prepare('SELECT id FROM entries ORDER BY sort_start, id').pluck().all() as number[];
const random = prng(7);
const pages = Array.from({ length: Number(values.pages) }, () => {
  const start = Math.floor(random() * Math.max(1, order.length - 50));
  return order.slice(start, start + 50);
});

// CPU time of this thread's process, not wall time: the figures hold on a machine shared with other work
const microsPerEntry = (work: () => number) => {
  const started = process.cpuUsage();
  const entries = work();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / entries;
};

for (const page of pages) {
  for (const lang of [undefined, 'en', 'ar']) {
    const fromRows = loadEntries(db, page, lang).map((e) => JSON.stringify(e));
    const fromDocuments = renderEntries(db, page, lang).map((b) => b.toString());
    if (JSON.stringify(fromRows) !== JSON.stringify(fromDocuments)) throw new Error(`documents differ from the rows on a page (lang ${lang})`);
  }
}

// each path over every page twice in a row, timed the second time: its pages are in SQLite's
// cache as a server's would be that reads only through it
const timed = (work: (page: number[]) => number) => {
  for (const page of pages) work(page);
  return microsPerEntry(() => pages.reduce((n, page) => n + work(page), 0));
};
const rows: string[] = [];
for (const lang of [undefined, 'en']) {
  const documents = timed((page) => renderEntries(db, page, lang).length);
  const rendered = timed((page) => loadEntries(db, page, lang).map((e) => Buffer.from(JSON.stringify(e))).length);
  rows.push(`| read, lang=${lang ?? 'unset'} | ${documents.toFixed(1)} | ${rendered.toFixed(1)} | ${(rendered / documents).toFixed(1)}x |`);
}

const ids = (client.prepare('SELECT id FROM entries ORDER BY id LIMIT ?').pluck().all(Number(values.build)) as number[]);
client.exec('BEGIN IMMEDIATE');
const build = microsPerEntry(() => {
  writeEntryDocuments(db, ids);
  return ids.length;
});
client.exec('ROLLBACK');

process.stdout.write(
  [
    `${order.length} entries; ${pages.length} pages of 50; build of ${ids.length} entries`,
    '| per entry, µs of CPU | documents | from the rows | ratio |',
    '|---|---:|---:|---:|',
    ...rows,
    `| build (render and write a document) | ${build.toFixed(1)} | | |`,
    '',
  ].join('\n'),
);
