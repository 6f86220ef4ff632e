import type { LanguageMap } from '../db/schema.js';
import type { EntryDto } from '../repositories/entries.js';
import { pickLanguage } from '../repositories/support.js';

/** One language of a map for formats that carry a single text: `lang`, else English, else the original. */
export function oneLanguage(map: LanguageMap | null | undefined, lang: string | undefined, original?: string | null): string {
  if (!map) return '';
  const picked = pickLanguage(map, lang ?? 'en', original);
  return Object.values(picked)[0] ?? '';
}

/** The headline of an entry: an event's title, or a statement's speaker and opening words. */
export function headline(entry: EntryDto, lang: string | undefined): string {
  if (entry.kind === 'event') return oneLanguage(entry.title, lang);
  const speaker = oneLanguage(entry.speaker.name, lang);
  const text = oneLanguage(entry.text, lang, entry.originalLang);
  const short = text.length > 120 ? `${text.slice(0, 117).trimEnd()}…` : text;
  return `${speaker}: “${short}”`;
}

/** The body text of an entry: an event's description, or a statement's full text. */
export function bodyText(entry: EntryDto, lang: string | undefined): string {
  return entry.kind === 'event' ? oneLanguage(entry.description, lang) : oneLanguage(entry.text, lang, entry.originalLang);
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

interface PointLike {
  precision: string;
  earliest: string | null;
  instant?: string | undefined;
  uncertain?: boolean;
  approximate?: boolean;
}

function writePoint(p: PointLike): string {
  // an instant is written in UTC, its day too (its calendar date in its own offset may differ)
  const iso = p.precision === 'instant' && p.instant ? p.instant.slice(0, 10) : (p.earliest ?? '');
  const [y, m, d] = iso.split('-');
  const year = String(Number(y));
  switch (p.precision) {
    case 'year':
      return year;
    case 'month':
      return `${MONTHS[Number(m) - 1]} ${year}`;
    case 'instant':
      return `${Number(d)} ${MONTHS[Number(m) - 1]} ${year}, ${p.instant?.slice(11, 16)} UTC`;
    default:
      return `${Number(d)} ${MONTHS[Number(m) - 1]} ${year}`;
  }
}

const qualify = (text: string, p: { uncertain?: boolean; approximate?: boolean }) =>
  `${p.approximate ? 'c. ' : ''}${text}${p.uncertain ? '?' : ''}`;

/** A date as people write it, from its precision and qualifiers: "c. 1992", "January 2022?". */
export function displayDate(date: EntryDto['date']): string {
  if (date.precision !== 'interval') return qualify(writePoint(date), date);
  const start = date.start ? qualify(writePoint(date.start), date.start) : null;
  const end = date.end ? qualify(writePoint(date.end), date.end) : null;
  if (start && end) return `${start} – ${end}`;
  if (start) return `from ${start}`;
  return `until ${end ?? '?'}`;
}
