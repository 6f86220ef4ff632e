import { Readable } from 'node:stream';
import { MAX_DAY, dayNumber, dayToIso } from '../dates/edtf.js';
import type { EntryDto } from '../storage/types.js';
import { bodyText, displayDate, headline, oneLanguage } from './text.js';

/**
 * iCalendar (RFC 5545), written here rather than with a calendar library so that it streams:
 * the libraries build the whole calendar in memory.
 */
export const ICS_DESCRIPTION =
  'RFC 5545. Day, month and year precision become all-day events (`DTSTART;VALUE=DATE` with an exclusive ' +
  '`DTEND` after the last day: a month covers the whole month); instants are UTC date-times; intervals span ' +
  'their bounds (an open end gives a one-day event). `UID` is the entry key; `CATEGORIES` the kind and type; ' +
  '`X-ANNALS-DATE` keeps the EDTF date.';

/**
 * TEXT escaping (RFC 5545 §3.3.11). Every line break (CRLF, LF or a bare CR) becomes `\n`; other
 * control characters, which TEXT cannot hold (TSAFE-CHAR), are dropped.
 */
export const escapeText = (text: string) =>
  text
    .replace(/\\/g, '\\\\')
    .replace(/;/g, '\\;')
    .replace(/,/g, '\\,')
    .replace(/\r\n?|\n/g, '\\n')
    // eslint-disable-next-line no-control-regex -- RFC 5545 TEXT may not hold control characters: they are what is removed
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');

/** Folds a content line at 75 octets, never inside a UTF-8 character (§3.1). */
export function foldLine(line: string): string {
  const out: string[] = [];
  let current = '';
  let size = 0;
  let limit = 75;
  for (const char of line) {
    const bytes = Buffer.byteLength(char);
    if (size + bytes > limit) {
      out.push(current);
      current = '';
      size = 0;
      limit = 74; // continuation lines start with a space
    }
    current += char;
    size += bytes;
  }
  out.push(current);
  return out.join('\r\n ');
}

const basicDate = (iso: string) => iso.replace(/-/g, '');
const basicDateTime = (instant: string) => `${instant.slice(0, 19).replace(/[-:]/g, '')}Z`;
const dayAfter = (iso: string) => dayToIso(Math.min(dayNumber(iso) + 1, MAX_DAY));

function dateLines(date: EntryDto['date']): string[] {
  const start = date.precision === 'interval' ? date.start : null;
  const end = date.precision === 'interval' ? date.end : null;
  if (date.precision === 'instant' && date.instant) return [`DTSTART:${basicDateTime(date.instant)}`];
  if (start?.instant && end?.instant) return [`DTSTART:${basicDateTime(start.instant)}`, `DTEND:${basicDateTime(end.instant)}`];
  if (date.earliest && date.latest) {
    return [`DTSTART;VALUE=DATE:${basicDate(date.earliest)}`, `DTEND;VALUE=DATE:${basicDate(dayAfter(date.latest))}`];
  }
  const known = (date.earliest ?? date.latest)!;
  return [`DTSTART;VALUE=DATE:${basicDate(known)}`, `DTEND;VALUE=DATE:${basicDate(dayAfter(known))}`];
}

function vevent(entry: EntryDto, lang: string | undefined): string[] {
  const places = entry.kind === 'event' ? entry.places : entry.about.places;
  const description = [bodyText(entry, lang), `Date: ${displayDate(entry.date)}`, ...entry.sources.map((c) => `Source: ${oneLanguage(c.source.title, lang) || c.source.key}${c.source.url ? ` ${c.source.url}` : ''}`)]
    .filter(Boolean)
    .join('\n');
  return [
    'BEGIN:VEVENT',
    `UID:${escapeText(entry.key)}@annals`,
    `DTSTAMP:${basicDateTime(entry.updatedAt)}`,
    ...dateLines(entry.date),
    `SUMMARY:${escapeText(headline(entry, lang))}`,
    `DESCRIPTION:${escapeText(description)}`,
    ...(places.length ? [`LOCATION:${escapeText(places.map((p) => oneLanguage(p.name, lang)).join('; '))}`] : []),
    `CATEGORIES:${[entry.kind, entry.type].map(escapeText).join(',')}`,
    `X-ANNALS-DATE:${escapeText(entry.date.edtf)}`,
    'END:VEVENT',
  ];
}

export function icsStream(pages: AsyncIterable<EntryDto[]>, options: { lang?: string | undefined; name?: string }): Readable {
  const lines = (lines: string[]) => lines.map((l) => `${foldLine(l)}\r\n`).join('');
  async function* generate() {
    yield lines([
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//Annals//Annals timeline//EN',
      'CALSCALE:GREGORIAN',
      'METHOD:PUBLISH',
      `X-WR-CALNAME:${escapeText(options.name ?? 'Annals timeline')}`,
    ]);
    for await (const page of pages) yield lines(page.flatMap((entry) => vevent(entry, options.lang)));
    yield lines(['END:VCALENDAR']);
  }
  return Readable.from(generate(), { objectMode: false });
}
