/**
 * Query windows: the `from` / `to` query parameters.
 *
 * Each bound is a year, month or day (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`). `from` takes the earliest day of
 * that period (`from=2022` -> 2022-01-01), `to` the latest (`to=2022-01` -> 2022-01-31), both inclusive.
 */
import { dayNumber, EdtfError, parseEdtf, type ParsedDate } from './edtf.js';

export type WindowSide = 'from' | 'to';

export function parseWindowBound(
  value: string,
  side: WindowSide,
): { ok: true; day: number; iso: string } | { ok: false; error: string } {
  const fail = (reason: string) => ({ ok: false as const, error: `${side}=${JSON.stringify(value)}: ${reason}` });
  const expected = `${side} takes a year, month or day: YYYY, YYYY-MM or YYYY-MM-DD`;

  if (typeof value !== 'string') return fail(`expected a string; ${expected}`);
  if (value === '') return fail(`empty value; ${expected}`);

  let parsed: ParsedDate;
  try {
    parsed = parseEdtf(value);
  } catch (e) {
    if (e instanceof EdtfError) {
      // the generic EDTF explanation mentions instants and intervals, which are not allowed here
      return fail(e.reason.startsWith('not a supported EDTF date') ? `not a date; ${expected}` : e.reason);
    }
    throw e;
  }

  if (parsed.precision === 'interval') return fail(`an interval is not allowed here; ${expected}`);
  if (parsed.precision === 'instant') return fail(`a time is not allowed here; ${expected}`);
  if (parsed.uncertain || parsed.approximate) return fail(`qualifiers ("?", "~", "%") are not allowed here; ${expected}`);

  const iso = side === 'from' ? parsed.earliest : parsed.latest;
  if (iso === null) return fail(expected); // unreachable for year/month/day precision
  return { ok: true, day: dayNumber(iso), iso };
}
