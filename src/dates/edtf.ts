/**
 * EDTF (ISO 8601-2) parsing for the subset Annals accepts.
 *
 * Accepted forms:
 *   - `YYYY`, `YYYY-MM`, `YYYY-MM-DD` (years 0000-9999, proleptic Gregorian calendar)
 *   - instants `YYYY-MM-DDThh:mm[:ss[.s{1,3}]]` followed by a REQUIRED offset (`Z` or `±HH:MM`, within ±14:00)
 *   - intervals `A/B` where each side is one of the above or `..` (open); `../..` is refused
 *   - a single qualifier suffix `?` (uncertain), `~` (approximate) or `%` (both) on a value or on
 *     either side of an interval. Qualifiers never move the bounds.
 *
 * Bounds are inclusive calendar dates. An instant's calendar date is taken in its own offset.
 */

export type Precision = 'year' | 'month' | 'day' | 'instant' | 'interval';

export interface EdtfPoint {
  /** the text of this part, including its qualifier if it has one */
  edtf: string;
  precision: 'year' | 'month' | 'day' | 'instant';
  /** inclusive calendar date YYYY-MM-DD */
  earliest: string;
  /** inclusive calendar date YYYY-MM-DD */
  latest: string;
  /** for precision 'instant': the instant in UTC, `YYYY-MM-DDTHH:MM:SS(.sss)Z` */
  instant?: string;
  /** this part carries `?` or `%` */
  uncertain: boolean;
  /** this part carries `~` or `%` */
  approximate: boolean;
}

export interface ParsedDate {
  /** the canonical text (as given; it is already canonical in this subset) */
  edtf: string;
  precision: Precision;
  /** inclusive calendar date YYYY-MM-DD; null only for an open start */
  earliest: string | null;
  /** inclusive calendar date YYYY-MM-DD; null only for an open end */
  latest: string | null;
  /** for precision 'instant': the instant normalised to UTC, `YYYY-MM-DDTHH:MM:SS(.sss)Z` */
  instant?: string;
  /** OR over all parts */
  uncertain: boolean;
  /** OR over all parts */
  approximate: boolean;
  /** for intervals only: the start part (null when open) */
  start?: EdtfPoint | null;
  /** for intervals only: the end part (null when open) */
  end?: EdtfPoint | null;
}

/** Thrown by {@link parseEdtf}. `message` is `"<input>": <reason>`. */
export class EdtfError extends Error {
  override readonly name = 'EdtfError';
  /** the rejected input */
  readonly input: string;
  /** what is wrong, without the quoted input (e.g. `February 2022 has 28 days`) */
  readonly reason: string;

  constructor(input: string, reason: string) {
    super(`${quote(input)}: ${reason}`);
    this.input = input;
    this.reason = reason;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Calendar arithmetic (pure integers, proleptic Gregorian)                                     */
/* ------------------------------------------------------------------------------------------ */

const MONTH_NAMES = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
] as const;

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

export function daysInMonth(year: number, month: number): number {
  if (!Number.isInteger(year) || !Number.isInteger(month) || month < 1 || month > 12) {
    throw new RangeError(`daysInMonth: invalid year/month ${year}/${month}`);
  }
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Howard Hinnant's days_from_civil: days since 1970-01-01 for a proleptic Gregorian date. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400; // [0, 399]
  const mp = month > 2 ? month - 3 : month + 9; // March = 0
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1; // [0, 365]
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy; // [0, 146096]
  return era * 146097 + doe - 719468;
}

/** Howard Hinnant's civil_from_days. */
function civilFromDays(days: number): [year: number, month: number, day: number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097; // [0, 146096]
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100)); // [0, 365]
  const mp = Math.floor((5 * doy + 2) / 153); // [0, 11]
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return [year, month, day];
}

/** dayNumber('0000-01-01') */
export const MIN_DAY = daysFromCivil(0, 1, 1); // -719528
/** dayNumber('9999-12-31') */
export const MAX_DAY = daysFromCivil(9999, 12, 31); // 2932896

/** Sentinel stored for an open start: smaller than any real day number (int32 minimum). */
export const OPEN_START_DAY = -2147483648;
/** Sentinel stored for an open end: larger than any real day number (int32 maximum). */
export const OPEN_END_DAY = 2147483647;

const ISO_DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Days since 1970-01-01 (negative before) for a valid `YYYY-MM-DD` date. Throws RangeError otherwise. */
export function dayNumber(isoDate: string): number {
  const m = typeof isoDate === 'string' ? ISO_DATE_RE.exec(isoDate) : null;
  if (m) {
    const year = Number(m[1]);
    const month = Number(m[2]);
    const day = Number(m[3]);
    if (month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month)) {
      return daysFromCivil(year, month, day);
    }
  }
  throw new RangeError(`dayNumber: ${quote(String(isoDate))} is not a valid YYYY-MM-DD date`);
}

/** Inverse of {@link dayNumber}. Throws RangeError outside 0000-01-01 .. 9999-12-31 (including the open sentinels). */
export function dayToIso(day: number): string {
  if (!Number.isInteger(day) || day < MIN_DAY || day > MAX_DAY) {
    throw new RangeError(`dayToIso: ${day} is not a day number within 0000-01-01..9999-12-31`);
  }
  const [y, m, d] = civilFromDays(day);
  return `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
}

/* ------------------------------------------------------------------------------------------ */
/* Chronological position                                                                      */
/* ------------------------------------------------------------------------------------------ */

export const DAY_MS = 86_400_000;
/** The farthest an instant lies from its stated calendar day in UTC: the widest offset (±14:00). */
export const MAX_OFFSET_MS = 14 * 3_600_000;
/** Positions of an open start and an open end: before and after every real moment. */
export const OPEN_START_MS = Number.MIN_SAFE_INTEGER;
export const OPEN_END_MS = Number.MAX_SAFE_INTEGER;

/** Milliseconds since 1970-01-01T00:00:00Z of a UTC instant as {@link parseEdtf} writes it. */
function instantMs(instant: string): number {
  const day = dayNumber(instant.slice(0, 10));
  const [hh, mm, ss] = instant.slice(11, 19).split(':').map(Number) as [number, number, number];
  const millis = instant[19] === '.' ? Number(instant.slice(20, 23)) : 0;
  return day * DAY_MS + ((hh * 60 + mm) * 60 + ss) * 1000 + millis;
}

/**
 * Where a date sits in chronological order, as milliseconds since 1970-01-01T00:00:00Z: from
 * when it starts to when it ends. An instant is its moment in UTC (whatever the offset it was
 * written with); a year, month or day runs from 00:00 UTC of its first day to the last
 * millisecond of its last, so a day comes before the instants within it. Open ends are
 * {@link OPEN_START_MS} and {@link OPEN_END_MS}. `end` is never before `start` (an interval
 * from an instant to the day it falls on, in another offset, ends where it starts).
 */
export function chronoPosition(date: ParsedDate): { start: number; end: number } {
  const first = date.precision === 'interval' ? date.start : date;
  const last = date.precision === 'interval' ? date.end : date;
  const start =
    first === null || first === undefined || first.earliest === null
      ? OPEN_START_MS
      : first.instant !== undefined
        ? instantMs(first.instant)
        : dayNumber(first.earliest) * DAY_MS;
  const end =
    last === null || last === undefined || last.latest === null
      ? OPEN_END_MS
      : last.instant !== undefined
        ? instantMs(last.instant)
        : (dayNumber(last.latest) + 1) * DAY_MS - 1;
  return { start, end: Math.max(start, end) };
}

/* ------------------------------------------------------------------------------------------ */
/* Parsing                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/** Internal: a refusal reason, turned into an EdtfError carrying the whole input at the top. */
class Refusal extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

function refuse(reason: string): never {
  throw new Refusal(reason);
}

const EXPECTED = 'expected YYYY, YYYY-MM, YYYY-MM-DD, an instant like 2022-01-05T14:30:00Z, or an interval A/B';

const DATE_RE = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/;
const INSTANT_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})$/;

interface PointInternal {
  point: EdtfPoint;
  /** for instants: milliseconds since 1970-01-01T00:00:00Z */
  ms?: number;
}

export function parseEdtf(input: string): ParsedDate {
  if (typeof input !== 'string') {
    throw new EdtfError(String(input), `expected a string, got ${input === null ? 'null' : typeof input}`);
  }
  try {
    return parseInner(input);
  } catch (e) {
    if (e instanceof Refusal) throw new EdtfError(input, e.reason);
    throw e;
  }
}

export function tryParseEdtf(input: string): { ok: true; value: ParsedDate } | { ok: false; error: string } {
  try {
    return { ok: true, value: parseEdtf(input) };
  } catch (e) {
    if (e instanceof EdtfError) return { ok: false, error: e.message };
    throw e;
  }
}

function parseInner(input: string): ParsedDate {
  if (input === '') refuse(`empty date; ${EXPECTED}`);
  if (/^\s|\s$/.test(input)) refuse('leading or trailing whitespace is not allowed');
  if (/[[\]{}]/.test(input)) refuse('sets ("[...]" and "{...}") are not supported; give a single date or an interval A/B');
  if (/\d{4}-\d{2}-\d{2} \d/.test(input)) refuse('use "T" between the date and the time, not a space');
  if (/\s/.test(input)) refuse('whitespace is not allowed inside a date');

  const parts = input.split('/');
  if (parts.length > 2) refuse('an interval has exactly one "/" (A/B)');

  if (parts.length === 1) {
    if (input === '..') refuse('".." (open end) is only allowed as one side of an interval, e.g. "../2022" or "2022/.."');
    const { point } = parsePoint(input);
    const result: ParsedDate = {
      edtf: input,
      precision: point.precision,
      earliest: point.earliest,
      latest: point.latest,
      uncertain: point.uncertain,
      approximate: point.approximate,
    };
    if (point.instant !== undefined) result.instant = point.instant;
    return result;
  }

  const a = parts[0] ?? '';
  const b = parts[1] ?? '';
  if (a === '' && b === '') refuse('both sides of the interval are empty; use ".." for an open end (but not on both sides)');
  if (a === '') refuse('the interval start is empty; use ".." for an open start (e.g. "../2022")');
  if (b === '') refuse('the interval end is empty; use ".." for an open end (e.g. "2022/..")');
  if (a === '..' && b === '..') refuse('an interval cannot be open at both ends ("../..")');

  const start = a === '..' ? null : parseSide(a, 'start');
  const end = b === '..' ? null : parseSide(b, 'end');

  if (start && end) {
    if (start.point.earliest > end.point.latest) {
      refuse(`the interval ends (${end.point.latest}) before it starts (${start.point.earliest})`);
    }
    if (start.ms !== undefined && end.ms !== undefined && start.ms > end.ms) {
      refuse(`the interval ends (${end.point.instant}) before it starts (${start.point.instant})`);
    }
  }

  return {
    edtf: input,
    precision: 'interval',
    earliest: start ? start.point.earliest : null,
    latest: end ? end.point.latest : null,
    uncertain: Boolean(start?.point.uncertain || end?.point.uncertain),
    approximate: Boolean(start?.point.approximate || end?.point.approximate),
    start: start ? start.point : null,
    end: end ? end.point : null,
  };
}

function parseSide(text: string, side: 'start' | 'end'): PointInternal {
  if (text.startsWith('..')) {
    if (/^\.\.[?~%]+$/.test(text)) refuse(`an open ${side} ("..") cannot carry a qualifier`);
    refuse(`unexpected ${quote(text)} as interval ${side}; use ".." alone for an open ${side}`);
  }
  try {
    return parsePoint(text);
  } catch (e) {
    if (e instanceof Refusal) refuse(`${side} ${quote(text)}: ${e.reason}`);
    throw e;
  }
}

function parsePoint(text: string): PointInternal {
  // qualifier suffix
  let core = text;
  let qualifier = '';
  const q = /[?~%]+$/.exec(text);
  if (q) {
    if (q[0].length > 1) refuse(`only one qualifier is allowed (got ${quote(q[0])}); use "%" for uncertain and approximate`);
    qualifier = q[0];
    core = text.slice(0, -1);
  }
  if (/[?~%]/.test(core)) refuse('qualifiers ("?", "~", "%") are only allowed at the end of a date');
  if (core === '') refuse('a qualifier needs a date before it');

  const uncertain = qualifier === '?' || qualifier === '%';
  const approximate = qualifier === '~' || qualifier === '%';

  const dm = DATE_RE.exec(core);
  if (dm) {
    const year = Number(dm[1]);
    const yyyy = dm[1] as string;
    if (dm[2] === undefined) {
      return { point: { edtf: text, precision: 'year', earliest: `${yyyy}-01-01`, latest: `${yyyy}-12-31`, uncertain, approximate } };
    }
    const month = checkMonth(dm[2]);
    if (dm[3] === undefined) {
      const last = daysInMonth(year, month);
      return {
        point: { edtf: text, precision: 'month', earliest: `${yyyy}-${dm[2]}-01`, latest: `${yyyy}-${dm[2]}-${pad(last, 2)}`, uncertain, approximate },
      };
    }
    checkDay(year, month, dm[3]);
    return { point: { edtf: text, precision: 'day', earliest: core, latest: core, uncertain, approximate } };
  }

  const im = INSTANT_RE.exec(core);
  if (im) {
    const [, yyyy = '', mm = '', dd = '', hh = '', mi = '', ss, frac, offset = ''] = im;
    const year = Number(yyyy);
    const month = checkMonth(mm);
    const day = checkDay(year, month, dd);
    const hour = Number(hh);
    const minute = Number(mi);
    const second = ss === undefined ? 0 : Number(ss);
    if (hour > 23) refuse(`hour ${hh} is out of range (00-23)`);
    if (minute > 59) refuse(`minute ${mi} is out of range (00-59)`);
    if (second === 60) refuse('second 60 is out of range (00-59); leap seconds are not supported');
    if (second > 59) refuse(`second ${ss} is out of range (00-59)`);
    if (frac !== undefined && frac.length > 3) refuse(`fractional seconds are limited to 3 digits (milliseconds), got ${quote('.' + frac)}`);
    const offsetMinutes = parseOffset(offset);

    const localDate = `${yyyy}-${mm}-${dd}`;
    const utcMinutes = daysFromCivil(year, month, day) * 1440 + hour * 60 + minute - offsetMinutes;
    const utcDay = Math.floor(utcMinutes / 1440);
    if (utcDay < MIN_DAY || utcDay > MAX_DAY) refuse('in UTC this instant falls outside the years 0000-9999');
    const minuteOfDay = utcMinutes - utcDay * 1440;
    const millis = frac === undefined ? 0 : Number(frac.padEnd(3, '0'));
    const instant =
      `${dayToIso(utcDay)}T${pad(Math.floor(minuteOfDay / 60), 2)}:${pad(minuteOfDay % 60, 2)}:${pad(second, 2)}` +
      `${frac === undefined ? '' : '.' + frac.padEnd(3, '0')}Z`;
    return {
      point: { edtf: text, precision: 'instant', earliest: localDate, latest: localDate, instant, uncertain, approximate },
      ms: utcMinutes * 60000 + second * 1000 + millis,
    };
  }

  return refuse(diagnose(core));
}

function checkMonth(mm: string): number {
  const month = Number(mm);
  if (month === 0) refuse('month 00 does not exist (months are 01-12)');
  if (month >= 21 && month <= 41) refuse(`month ${mm} does not exist; seasons (21-41) are not supported`);
  if (month > 12) refuse(`month ${mm} does not exist (months are 01-12)`);
  return month;
}

function checkDay(year: number, month: number, dd: string): number {
  const day = Number(dd);
  if (day === 0) refuse('day 00 does not exist (days start at 01)');
  const dim = daysInMonth(year, month);
  if (day > dim) {
    const name = MONTH_NAMES[month - 1] as string;
    const leapNote = month === 2 && day === 29 ? ` (${pad(year, 4)} is not a leap year)` : '';
    refuse(`${name} ${pad(year, 4)} has ${dim} days${leapNote}`);
  }
  return day;
}

/** Offset in minutes east of UTC. */
function parseOffset(offset: string): number {
  if (offset === 'Z') return 0;
  const sign = offset.startsWith('-') ? -1 : 1;
  const oh = Number(offset.slice(1, 3));
  const om = Number(offset.slice(4, 6));
  if (om > 59) refuse(`UTC offset "${offset}": minutes must be 00-59`);
  if (oh * 60 + om > 14 * 60) refuse(`UTC offset "${offset}" is outside -14:00..+14:00`);
  return sign * (oh * 60 + om);
}

/** Explain why `core` (qualifier already removed) is not one of the accepted forms. */
function diagnose(core: string): string {
  if (/^[\dX]{4}(?:-[\dX]{2}){0,2}$/.test(core)) return 'unspecified digits ("X") are not supported';
  if (/^Y/.test(core)) return 'years must be exactly 4 digits (0000-9999); "Y" long years are not supported';
  if (/^[+-]/.test(core)) return 'years must be exactly 4 digits (0000-9999) without a sign';
  if (/^\d{4}-\d{2}-\d{2}t/.test(core)) return 'use an uppercase "T" between the date and the time';
  if (/^\d{4}-\d{2}-\d{2}T.*\dz$/.test(core)) return 'use an uppercase "Z" for UTC';

  const tIdx = core.indexOf('T');
  const datePart = tIdx < 0 ? core : core.slice(0, tIdx);
  const dm = /^(\d+)(?:-(\d+))?(?:-(\d+))?$/.exec(datePart);
  if (!dm) return `not a supported EDTF date; ${EXPECTED}`;
  const [, y = '', m, d] = dm;
  if (y.length !== 4) return `the year must have exactly 4 digits (got ${quote(y)})`;
  if (m !== undefined && m.length !== 2) return `the month must have exactly 2 digits (got ${quote(m)})`;
  if (d !== undefined && d.length !== 2) return `the day must have exactly 2 digits (got ${quote(d)})`;
  if (tIdx < 0) return `not a supported EDTF date; ${EXPECTED}`;
  if (d === undefined) return 'a time needs a full date (YYYY-MM-DDThh:mm...)';

  const timePart = core.slice(tIdx + 1);
  const tm = /^(\d{2}):(\d{2})(?::(\d{2})(?:([.,])(\d*))?)?(.*)$/.exec(timePart);
  if (!tm) return `the time must be hh:mm or hh:mm:ss with 2 digits each (got ${quote(timePart)})`;
  const [, , , , sep, frac, rest = ''] = tm;
  if (sep === ',') return 'use "." for fractional seconds';
  if (sep === '.' && frac === '') return 'fractional seconds need digits after "."';
  if (rest.startsWith('.') || rest.startsWith(',')) return 'fractional seconds need seconds (hh:mm:ss.sss)';
  if (rest === '') return 'a time needs a UTC offset ("Z" or ±HH:MM)';
  return `the UTC offset ${quote(rest)} must be "Z" or ±HH:MM`;
}

/* ------------------------------------------------------------------------------------------ */

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Quote an input for a message; long inputs are shortened. */
function quote(s: string): string {
  const short = s.length > 100 ? `${s.slice(0, 97)}...` : s;
  return JSON.stringify(short);
}
