import { stringify } from 'csv-stringify/sync';
import { Readable } from 'node:stream';
import type { EntryDto } from '../storage/types.js';
import { bodyText, oneLanguage } from './text.js';

/**
 * The CSV columns, one row per entry. Multi-valued cells join their values with `|`
 * (keys never contain it); an actor is `key=role`. Text columns carry one language:
 * `lang` if given, else English, else the original.
 */
export const CSV_COLUMNS = [
  'kind',
  'id',
  'key',
  'type',
  'date',
  'precision',
  'earliest',
  'latest',
  'uncertain',
  'approximate',
  'title',
  'text',
  'original_lang',
  'speaker',
  'actors',
  'places',
  'tags',
  'parent',
  'context',
  'sources',
] as const;

export const CSV_DESCRIPTION =
  'RFC 4180, UTF-8 (add `bom=true` for spreadsheet programs), a header row and one row per entry. Columns: ' +
  `${CSV_COLUMNS.join(', ')}. \`title\` is an event's title or a statement's text; \`text\` an event's description ` +
  'or a statement\'s text. Multi-valued cells join values with `|`; an actor is written `key=role`. Open ends of ' +
  '`earliest`/`latest` are empty. Against CSV injection (OWASP), a text cell that starts with `=`, `+`, `-`, `@`, ' +
  'a tab or a carriage return (or the full-width `＝ ＋ － ＠`) is written with a single quote before it, and quoted, ' +
  'so that spreadsheets show it as text instead of running it as a formula; numbers (`id`) are written as they are.';

/**
 * What makes a spreadsheet read a cell as a formula (OWASP, CSV injection): `=`, `+`, `-`, `@`,
 * tab and carriage return first, and the full-width forms some spreadsheets read the same way.
 */
const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;
const NEUTRALISED = /^'[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;

/**
 * A cell as written: text that a spreadsheet would run as a formula gets a leading `'` (which
 * spreadsheets read as "this is text" and do not show). Numbers are left alone, negative ones
 * too: a number cannot hold a formula, and OWASP's rule is for text cells.
 */
export function neutraliseCell(value: string | number): string | number {
  return typeof value === 'string' && FORMULA_START.test(value) ? `'${value}` : value;
}

function row(entry: EntryDto, lang: string | undefined): (string | number)[] {
  const d = entry.date;
  const common = [entry.kind, entry.id, entry.key, entry.type, d.edtf, d.precision, d.earliest ?? '', d.latest ?? '', String(d.uncertain), String(d.approximate)];
  const sources = entry.sources.map((c) => c.source.key).join('|');
  if (entry.kind === 'event') {
    return [
      ...common,
      oneLanguage(entry.title, lang),
      bodyText(entry, lang),
      '',
      '',
      entry.actors.map((a) => `${a.actor.key}=${a.role}`).join('|'),
      entry.places.map((p) => p.key).join('|'),
      entry.tags.join('|'),
      entry.parent?.key ?? '',
      '',
      sources,
    ];
  }
  const text = oneLanguage(entry.text, lang, entry.originalLang);
  return [
    ...common,
    text,
    text,
    entry.originalLang ?? '',
    entry.speaker.key,
    entry.about.actors.map((a) => `${a.key}=about`).join('|'),
    entry.about.places.map((p) => p.key).join('|'),
    '',
    '',
    entry.context?.key ?? '',
    sources,
  ];
}

/**
 * Written a page at a time by csv-stringify's synchronous API: a generator like the other
 * formats', so that a stream destroyed before its end (the client went away) closes the pages
 * it reads, where a loop feeding a stringifier waited for a `drain` that never came.
 */
export function csvStream(pages: AsyncIterable<EntryDto[]>, options: { lang?: string | undefined; bom?: boolean }): Readable {
  const columns = [...CSV_COLUMNS];
  // a neutralised cell is quoted too, as OWASP asks: its tab or CR stays inside the cell
  const settings = { columns, record_delimiter: 'windows', quoted_match: NEUTRALISED } as const;
  async function* generate() {
    yield stringify([], { ...settings, header: true, bom: options.bom ?? false });
    for await (const page of pages) {
      if (page.length > 0) yield stringify(page.map((entry) => row(entry, options.lang).map(neutraliseCell)), settings);
    }
  }
  return Readable.from(generate(), { objectMode: false });
}
