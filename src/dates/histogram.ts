import { MAX_DAY, MIN_DAY, OPEN_END_DAY, OPEN_START_DAY, dayNumber, dayToIso } from './edtf.js';

export type Interval = 'day' | 'week' | 'month' | 'year';

/** Most buckets one histogram answers; beyond it, narrow the window or take a coarser interval. */
export const MAX_BUCKETS = 10_000;

export interface Bucket {
  start: string;
  end: string;
  /** Entries whose [earliest, latest] lies inside the bucket. */
  count: number;
  /** Entries that overlap the bucket without fitting inside it (coarser or longer dates). */
  imprecise: number;
}

const iso = (day: number) => dayToIso(day);

/** 0 on a Monday, 6 on a Sunday (1970-01-01, day 0, was a Thursday). */
const daysSinceMonday = (day: number) => (((day + 3) % 7) + 7) % 7;

/**
 * First day of the bucket that contains `day` (weeks start on Monday, ISO 8601). Buckets never
 * reach outside the calendar (0000-01-01 to 9999-12-31): the week holding 0000-01-01, a
 * Saturday, starts on that day, and the one holding 9999-12-31, a Friday, ends on it.
 */
export function bucketStart(day: number, interval: Interval): number {
  switch (interval) {
    case 'day':
      return day;
    case 'week':
      return Math.max(MIN_DAY, day - daysSinceMonday(day));
    case 'month':
      return dayNumber(`${iso(day).slice(0, 7)}-01`);
    case 'year':
      return dayNumber(`${iso(day).slice(0, 4)}-01-01`);
  }
}

/** First day of the bucket after the one starting at `start`. */
function nextBucket(start: number, interval: Interval): number {
  switch (interval) {
    case 'day':
      return start + 1;
    case 'week':
      // the next Monday: the first week of the calendar starts on a Saturday (see bucketStart)
      return Math.min(MAX_DAY + 1, start - daysSinceMonday(start) + 7);
    case 'month': {
      const [y, m] = iso(start).split('-').map(Number) as [number, number];
      if (y >= 9999 && m === 12) return MAX_DAY + 1;
      return m === 12 ? dayNumber(`${String(y + 1).padStart(4, '0')}-01-01`) : dayNumber(`${String(y).padStart(4, '0')}-${String(m + 1).padStart(2, '0')}-01`);
    }
    case 'year': {
      const y = Number(iso(start).slice(0, 4));
      return y >= 9999 ? MAX_DAY + 1 : dayNumber(`${String(y + 1).padStart(4, '0')}-01-01`);
    }
  }
}

/** Last day of the bucket that contains `day`. */
export function bucketEnd(day: number, interval: Interval): number {
  return nextBucket(bucketStart(day, interval), interval) - 1;
}

/** Bucket starts from the bucket holding `from` to the one holding `to`, or null if too many. */
export function bucketStarts(from: number, to: number, interval: Interval): number[] | null {
  const starts: number[] = [];
  for (let start = bucketStart(from, interval); start <= to; start = nextBucket(start, interval)) {
    if (starts.length >= MAX_BUCKETS) return null;
    starts.push(start);
  }
  return starts;
}

/**
 * The days a histogram covers: the window's closed sides, and for an open side the farthest
 * known bound of the matching entries, either bound: an entry open at one end (`2022-01-05/..`,
 * `../2022`) has only the other, and without it such entries would fall outside every bucket
 * (or, when all of them are open-ended, leave no bucket at all). Null when a side is open and
 * nothing matches. `spans` are those of spanCounts, whose bounds beyond a closed side come as
 * the day just beyond it: the range is kept inside the window and the calendar.
 */
export function histogramRange(
  from: number | undefined,
  to: number | undefined,
  spans: readonly { earliest: number; latest: number }[],
): { first: number; last: number } | null {
  let lowest = Number.POSITIVE_INFINITY;
  let highest = Number.NEGATIVE_INFINITY;
  for (const { earliest, latest } of spans) {
    for (const day of [earliest, latest]) {
      if (day === OPEN_START_DAY || day === OPEN_END_DAY) continue;
      lowest = Math.min(lowest, day);
      highest = Math.max(highest, day);
    }
  }
  let first = from ?? lowest;
  let last = to ?? highest;
  if (!Number.isFinite(first) || !Number.isFinite(last)) return null;
  // a side taken from the data never crosses the window's other side
  if (from === undefined) first = Math.min(first, last);
  if (to === undefined) last = Math.max(last, first);
  const clamp = (day: number) => Math.min(MAX_DAY, Math.max(MIN_DAY, day));
  return { first: clamp(first), last: clamp(last) };
}

/** The last day of each bucket of `starts`. */
function bucketEnds(starts: number[], interval: Interval): number[] {
  return starts.map((_, i) => (i + 1 < starts.length ? starts[i + 1]! : bucketsEnd(starts, interval) + 1) - 1);
}

/** The last day of the last bucket of `starts`. */
export function bucketsEnd(starts: number[], interval: Interval): number {
  return nextBucket(starts[starts.length - 1]!, interval) - 1;
}

/**
 * Buckets from counts of entries per distinct [earliest, latest]. An entry counts in the one
 * bucket it fits inside, or as imprecise in every bucket it overlaps: a month-precise entry
 * never inflates a single day.
 */
export function histogram(
  starts: number[],
  interval: Interval,
  spans: { earliest: number; latest: number; n: number }[],
): Bucket[] {
  const ends = bucketEnds(starts, interval);
  const count = new Array<number>(starts.length).fill(0);
  const spanning = new Array<number>(starts.length + 1).fill(0);
  /** Index of the bucket holding `day`, clamped to the range. */
  const indexOf = (day: number) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= day) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const first = starts[0]!;
  const last = ends[ends.length - 1]!;
  for (const { earliest, latest, n } of spans) {
    if (latest < first || earliest > last) continue;
    const a = indexOf(Math.max(earliest, first, MIN_DAY));
    const b = indexOf(Math.min(latest, last, MAX_DAY));
    if (a === b && earliest >= starts[a]! && latest <= ends[a]!) count[a]! += n;
    else {
      spanning[a]! += n;
      spanning[b + 1]! -= n;
    }
  }
  let running = 0;
  return starts.map((start, i) => {
    running += spanning[i]!;
    return { start: iso(start), end: iso(ends[i]!), count: count[i]!, imprecise: running };
  });
}

/** The longest bucket of an interval, in days. */
export const LONGEST_BUCKET_DAYS: Record<Interval, number> = { day: 1, week: 7, month: 31, year: 366 };

/**
 * Buckets from start and end counts per day (see dateCounts in src/storage/sqlite/histogram.ts):
 * the same buckets as {@link histogram}. The entries overlapping a bucket are those that
 * start by its last day less those that end before its first; the ones inside it come from
 * the short spans, and the rest are imprecise.
 */
export function histogramFromDateCounts(
  starts: number[],
  interval: Interval,
  counts: {
    before: { starts: number; ends: number };
    days: [day: number, starts: number, ends: number][];
    within: [earliest: number, latest: number, n: number][];
  },
): Bucket[] {
  const ends = bucketEnds(starts, interval);
  const count = new Array<number>(starts.length).fill(0);
  let bucket = 0;
  for (const [earliest, latest, n] of [...counts.within].sort((a, b) => a[0] - b[0])) {
    while (bucket + 1 < starts.length && starts[bucket + 1]! <= earliest) bucket++;
    if (earliest >= starts[bucket]! && latest <= ends[bucket]!) count[bucket]! += n;
  }
  const { days } = counts;
  let started = counts.before.starts;
  let ended = counts.before.ends;
  let day = 0;
  return starts.map((start, i) => {
    // everything before this bucket's first day
    for (; day < days.length && days[day]![0] < start; day++) {
      started += days[day]![1];
      ended += days[day]![2];
    }
    let startedBy = started;
    for (let d = day; d < days.length && days[d]![0] <= ends[i]!; d++) startedBy += days[d]![1];
    const overlapping = startedBy - ended;
    return { start: iso(start), end: iso(ends[i]!), count: count[i]!, imprecise: overlapping - count[i]! };
  });
}
