// Checks of histogram answers shared by test/robustness-histogram.test.ts and test/fuzz.test.ts.
import { dayNumber, dayToIso, daysInMonth } from '../../src/dates/edtf.js';

export interface Bucket {
  start: string;
  end: string;
  count: number;
  imprecise: number;
}

export interface Histogram {
  interval: 'day' | 'week' | 'month' | 'year';
  from: string | null;
  to: string | null;
  buckets: Bucket[];
}

export const FIRST_DAY = '0000-01-01';
export const LAST_DAY = '9999-12-31';
const next = (iso: string) => dayToIso(dayNumber(iso) + 1);
/** 0 on a Monday, 6 on a Sunday. */
export const weekday = (iso: string) => (((dayNumber(iso) + 3) % 7) + 7) % 7;

/**
 * What is wrong with a histogram's buckets, if anything: they must tile [from, to] in order, each
 * one whole interval, cut only by the calendar's edges. (Plain checks: an answer has up to 10,000
 * buckets, too many for an expect each.)
 */
export function bucketFaults(h: Histogram): string[] {
  const faults: string[] = [];
  if (h.buckets.length === 0) {
    if (h.from !== null || h.to !== null) faults.push(`no buckets but from=${h.from} to=${h.to}`);
    return faults;
  }
  if (h.from !== h.buckets[0]!.start) faults.push(`from=${h.from} is not the first bucket's start`);
  if (h.to !== h.buckets[h.buckets.length - 1]!.end) faults.push(`to=${h.to} is not the last bucket's end`);
  h.buckets.forEach((b, i) => {
    const fault = (what: string) => faults.push(`bucket ${i} ${JSON.stringify(b)}: ${what}`);
    if (!(b.start >= FIRST_DAY && b.end <= LAST_DAY && b.start <= b.end)) fault('outside the calendar or reversed');
    if (i > 0 && b.start !== next(h.buckets[i - 1]!.end)) fault('does not follow the bucket before');
    if (!(Number.isInteger(b.count) && b.count >= 0 && Number.isInteger(b.imprecise) && b.imprecise >= 0)) fault('bad counts');
    const [y, m] = b.start.split('-').map(Number) as [number, number];
    switch (h.interval) {
      case 'day':
        if (b.end !== b.start) fault('not one day');
        break;
      case 'week':
        if (weekday(b.start) !== 0 && b.start !== FIRST_DAY) fault('does not start on a Monday');
        if (weekday(b.end) !== 6 && b.end !== LAST_DAY) fault('does not end on a Sunday');
        if (dayNumber(b.end) - dayNumber(b.start) >= 7) fault('longer than a week');
        break;
      case 'month':
        if (b.start.slice(8) !== '01' || b.end !== `${b.start.slice(0, 8)}${String(daysInMonth(y, m)).padStart(2, '0')}`) fault('not a month');
        break;
      case 'year':
        if (b.start.slice(5) !== '01-01' || b.end !== `${b.start.slice(0, 4)}-12-31`) fault('not a year');
        break;
    }
  });
  return faults;
}

