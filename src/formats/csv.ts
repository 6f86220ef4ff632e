import { stringify } from 'csv-stringify/sync';
import { Readable } from 'node:stream';
import type { EntryDto } from '../repositories/entries.js';
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
  '`earliest`/`latest` are empty.';

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
  async function* generate() {
    yield stringify([], { header: true, columns, bom: options.bom ?? false, record_delimiter: 'windows' });
    for await (const page of pages) {
      if (page.length > 0) yield stringify(page.map((entry) => row(entry, options.lang)), { columns, record_delimiter: 'windows' });
    }
  }
  return Readable.from(generate(), { objectMode: false });
}
