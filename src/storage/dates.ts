/**
 * What every engine stores for a dated record beside its EDTF text: day-number bounds, the
 * span class and the chronological position, computed here so that all engines order and
 * filter alike.
 */
import { OPEN_END_DAY, OPEN_START_DAY, chronoPosition, dayNumber, parseEdtf, type ParsedDate } from '../dates/edtf.js';

/** Day-number bounds of a parsed date, with open ends as sentinels. */
export function dayBounds(date: ParsedDate): { earliest: number; latest: number } {
  return {
    earliest: date.earliest === null ? OPEN_START_DAY : dayNumber(date.earliest),
    latest: date.latest === null ? OPEN_END_DAY : dayNumber(date.latest),
  };
}

/** Columns stored for a dated entry (an import stores many entries of each date: the parse is remembered, see dateValue). */
export function dateColumns(edtf: string) {
  const parsed = dateValue(edtf);
  const { earliest, latest } = dayBounds(parsed);
  const position = chronoPosition(parsed);
  return {
    date: parsed.edtf,
    precision: parsed.precision,
    earliest,
    latest,
    spanClass: spanClass(earliest, latest),
    sortStart: position.start,
    sortEnd: position.end,
  };
}

/** See the `entries` table: 0 one day, 1 up to 31 days, 2 up to 366 days, 3 longer or open. */
export const SPAN_CLASS_MAX_DAYS = [0, 30, 365, Number.POSITIVE_INFINITY] as const;

export function spanClass(earliest: number, latest: number): number {
  if (earliest === OPEN_START_DAY || latest === OPEN_END_DAY) return 3;
  const span = latest - earliest;
  return SPAN_CLASS_MAX_DAYS.findIndex((max) => span <= max);
}

const parsedDates = new Map<string, ParsedDate>();
export const PARSED_DATES_LIMIT = 50_000;
/** Date parses remembered now (at most PARSED_DATES_LIMIT; stored EDTF texts are short). */
export const parsedDateCount = () => parsedDates.size;

/**
 * The date object of the API for a stored EDTF text (null stays null). Stored dates are
 * valid and repeat a lot, so parses are remembered (a bounded cache; the objects are only
 * ever serialised, never changed).
 */
export function dateValue(edtf: string): ParsedDate;
export function dateValue(edtf: string | null): ParsedDate | null;
export function dateValue(edtf: string | null): ParsedDate | null {
  if (edtf === null) return null;
  let parsed = parsedDates.get(edtf);
  if (parsed === undefined) {
    if (parsedDates.size >= PARSED_DATES_LIMIT) parsedDates.clear();
    parsed = parseEdtf(edtf);
    parsedDates.set(edtf, parsed);
  }
  return parsed;
}
