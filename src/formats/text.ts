import type { LanguageMap } from '../storage/language.js';
import type { EntryDto } from '../storage/types.js';
import { pickLanguage } from '../storage/language.js';

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

/** The words around a date in one language: qualifiers and the sides of an interval. */
interface DateWords {
  approximate: (text: string) => string;
  uncertain: (text: string) => string;
  range: (start: string, end: string) => string;
  from: (start: string) => string;
  until: (end: string) => string;
}

const ENGLISH_WORDS: DateWords = {
  approximate: (t) => `c. ${t}`,
  uncertain: (t) => `${t}?`,
  range: (a, b) => `${a} – ${b}`,
  from: (a) => `from ${a}`,
  until: (b) => `until ${b}`,
};

const ARABIC_WORDS: DateWords = {
  approximate: (t) => `حوالي ${t}`,
  uncertain: (t) => `${t}؟`,
  range: (a, b) => `${a} – ${b}`,
  from: (a) => `ابتداءً من ${a}`,
  until: (b) => `حتى ${b}`,
};

/** For languages without words of their own here: EDTF's own marks, which read in any script. */
const NEUTRAL_WORDS: DateWords = {
  approximate: (t) => `~${t}`,
  uncertain: (t) => `${t}?`,
  range: (a, b) => `${a} – ${b}`,
  from: (a) => `${a} –`,
  until: (b) => `– ${b}`,
};

const POINT_FORMATS: Record<string, Intl.DateTimeFormatOptions> = {
  year: { year: 'numeric' },
  month: { year: 'numeric', month: 'long' },
  day: { year: 'numeric', month: 'long', day: 'numeric' },
  instant: { year: 'numeric', month: 'long', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' },
};

// `lang` comes from the request: the cache is bounded so that many distinct tags cannot grow it
const formatters = new Map<string, { date: Intl.DateTimeFormat; year: Intl.NumberFormat }>();
function formatter(locale: string, precision: string) {
  const key = `${locale} ${precision}`;
  let found = formatters.get(key);
  if (!found) {
    if (formatters.size >= 256) formatters.clear();
    // EDTF dates are Gregorian and their days calendar days: a locale whose default calendar is
    // another (ar-SA: Hijri) must not turn a Gregorian month into a different span
    const date = new Intl.DateTimeFormat(locale, { calendar: 'gregory', timeZone: 'UTC', ...POINT_FORMATS[precision] });
    const year = new Intl.NumberFormat(locale, { useGrouping: false, numberingSystem: date.resolvedOptions().numberingSystem });
    found = { date, year };
    formatters.set(key, found);
  }
  return found;
}

function writeIntlPoint(locale: string, p: PointLike): string {
  const iso = p.precision === 'instant' && p.instant ? p.instant.slice(0, 10) : (p.earliest ?? '');
  const [y, m, d] = iso.split('-').map(Number) as [number, number, number];
  const moment = p.precision === 'instant' && p.instant ? new Date(p.instant) : new Date(0);
  // setUTCFullYear, not Date.UTC: the latter reads years 0-99 as 1900-1999
  if (!(p.precision === 'instant' && p.instant)) moment.setUTCFullYear(y, (m || 1) - 1, d || 1);
  const { date, year } = formatter(locale, POINT_FORMATS[p.precision] ? p.precision : 'day');
  // Intl writes a year before 1 as a year of an era (0 as "1", meaning 1 BC); EDTF years are
  // astronomical, so the year is written as the number it is
  return date
    .formatToParts(moment)
    .map((part) => (part.type === 'year' ? year.format(y) : part.value))
    .join('');
}

/**
 * How dates are written for `lang`: English (the default, and for `en-*`) by hand; a language
 * Intl knows with its month names and digits (`ar-EG`: Arabic-Indic digits, `ar-u-nu-arab` too),
 * with words of its own where this module has them (Arabic) and EDTF's marks otherwise.
 */
function dateWriting(lang: string | undefined): { point: (p: PointLike) => string; words: DateWords } {
  const english = { point: writePoint, words: ENGLISH_WORDS };
  if (lang === undefined || lang.toLowerCase().split('-')[0] === 'en') return english;
  const primary = lang.toLowerCase().split('-')[0]!;
  let locale: string | undefined;
  for (const tag of [lang, primary]) {
    try {
      locale = Intl.DateTimeFormat.supportedLocalesOf([tag])[0];
    } catch {
      // a tag of the accepted shape that Intl still refuses ("ar-x"): try its language alone
    }
    if (locale !== undefined) break;
  }
  // a language Intl does not know is written in English, as text missing in a language falls back
  if (locale === undefined) return english;
  const words = primary === 'ar' ? ARABIC_WORDS : NEUTRAL_WORDS;
  return { point: (p) => writeIntlPoint(locale, p), words };
}

/**
 * A date as people write it, from its precision and qualifiers, in `lang` (English by default):
 * "c. 1992", "January 2022?", "from 5 January 2022"; with `lang=ar` "حوالي 1992", "يناير 2022؟".
 * A month stays a month and a year a year, in every language.
 */
export function displayDate(date: EntryDto['date'], lang?: string): string {
  const { point, words } = dateWriting(lang);
  const qualify = (p: PointLike) => {
    const text = point(p);
    const marked = p.uncertain ? words.uncertain(text) : text;
    return p.approximate ? words.approximate(marked) : marked;
  };
  if (date.precision !== 'interval') return qualify(date);
  const start = date.start ? qualify(date.start) : null;
  const end = date.end ? qualify(date.end) : null;
  if (start && end) return words.range(start, end);
  if (start) return words.from(start);
  return words.until(end ?? '?');
}
