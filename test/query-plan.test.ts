// EXPLAIN QUERY PLAN of the timeline's SQL shapes: every span-class branch must be a range
// scan of `entries_chrono_idx` (span_class = ? and the position, sort_start, between two
// bounds), never a scan of `entries`. The SQL is the one the routes run (`timelinePageSql`,
// `spanCountsSql`).
import { sql, type SQL } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, dayNumber } from '../src/dates/edtf.js';
import { countedByDate, countedByKind, dateCountsSql, spanCountsSql } from '../src/storage/sqlite/histogram.js';
import { timelinePageSql, type TimelinePosition, type TimelineQuery } from '../src/storage/sqlite/timeline.js';
import { buildTestApp, type TestApp } from './helpers.js';
import { sqliteDb } from './support/sqlite.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ seed: true });
});
afterAll(() => t.close());

/** The `detail` lines of the plan, in order. */
function plan(query: SQL): string[] {
  return sqliteDb(t.app).all<{ detail: string }>(sql`EXPLAIN QUERY PLAN ${query}`).map((row) => row.detail);
}

/** `span_class=?`, then at most a lower and an upper bound on `sort_start` (or on a row value from it). */
const CHRONO_SEARCH = /^SEARCH e USING (?:COVERING )?INDEX entries_chrono_idx \(span_class=\?(?: AND (?:sort_start|\(sort_start[a-z_,]*\))[<>]\S+){0,2}\)$/;
const CHRONO_LOWER = /AND (?:sort_start|\(sort_start[a-z_,]*\))>/;
const CHRONO_UPPER = /AND (?:sort_start|\(sort_start[a-z_,]*\))</;
const LOWER = /AND (?:earliest|\(earliest[a-z,]*\))>/;
const UPPER = /AND (?:earliest|\(earliest[a-z,]*\))</;

/** How each branch (span class 0..3) bounds `sort_start`: 'both', 'lower', 'upper' or 'none'. */
function chronoRanges(lines: string[]): string[] {
  const searches = lines.filter((line) => line.startsWith('SEARCH e ') || line.startsWith('SCAN e'));
  for (const line of searches) expect(line).toMatch(CHRONO_SEARCH);
  return searches.map((line) =>
    CHRONO_LOWER.test(line) ? (CHRONO_UPPER.test(line) ? 'both' : 'lower') : CHRONO_UPPER.test(line) ? 'upper' : 'none',
  );
}

/** No line reads the whole `entries` table (or its alias `e`). */
function expectNoTableScan(lines: string[]) {
  expect(lines.filter((line) => /^SCAN (e|entries)\b/.test(line))).toEqual([]);
}

// a one-week window: Monday 3 to Sunday 9 January 2022
const week: TimelineQuery = {
  from: dayNumber('2022-01-03'),
  to: dayNumber('2022-01-09'),
  match: 'overlaps',
  order: 'asc',
};
const cursor: TimelinePosition = [dayNumber('2022-01-05') * DAY_MS, (dayNumber('2022-01-05') + 1) * DAY_MS - 1, 7];

describe('EXPLAIN QUERY PLAN of the timeline page', () => {
  it('a one-week window: one range scan of entries_chrono_idx per span class', () => {
    const lines = plan(timelinePageSql(week, undefined, 51));
    expectNoTableScan(lines);
    // classes 0-2 know their longest span, so the position is bounded on both sides;
    // class 3 (longer or open) only from above
    expect(chronoRanges(lines)).toEqual(['both', 'both', 'both', 'upper']);
  });

  it('+ actor: the same ranges, the actor looked up by index in entry_actors', () => {
    for (const actors of [[1], [1, 2]]) {
      const lines = plan(timelinePageSql({ ...week, actors }, undefined, 51));
      expectNoTableScan(lines);
      expect(chronoRanges(lines)).toEqual(['both', 'both', 'both', 'upper']);
      const lookups = lines.filter((l) => /\ba\b/.test(l) && /entry_actors/.test(l));
      expect(lookups).toHaveLength(4);
      for (const l of lookups) expect(l).toMatch(/^SEARCH a EXISTS USING (?:COVERING )?INDEX /);
    }
  });

  it('+ actor and role', () => {
    const lines = plan(timelinePageSql({ ...week, actors: [1], role: 'participant' }, undefined, 51));
    expectNoTableScan(lines);
    expect(chronoRanges(lines)).toEqual(['both', 'both', 'both', 'upper']);
  });

  it('+ place: the same ranges, the entry\'s places looked up by entry, the subtree resolved by SQLite down places_parent_idx', () => {
    const lines = plan(timelinePageSql({ ...week, places: [1, 2, 3] }, undefined, 51));
    expectNoTableScan(lines);
    expect(chronoRanges(lines)).toEqual(['both', 'both', 'both', 'upper']);
    const lookups = lines.filter((l) => l.includes('entry_places'));
    expect(lookups).toHaveLength(4);
    for (const l of lookups) expect(l).toMatch(/^SEARCH p EXISTS USING (?:COVERING )?INDEX /);
    // the places under the given ones: a recursive query over the parent index, one per branch
    expect(lines.filter((l) => l === 'SEARCH child USING COVERING INDEX places_parent_idx (parent_id=?)')).toHaveLength(4);
    expect(lines.filter((l) => l === 'MATERIALIZE down')).toHaveLength(4);
  });

  it('+ type, tag and kind', () => {
    const lines = plan(timelinePageSql({ ...week, types: ['protest'], tags: ['x'], kinds: ['event'] }, undefined, 51));
    expectNoTableScan(lines);
    expect(chronoRanges(lines)).toEqual(['both', 'both', 'both', 'upper']);
  });

  it('desc order', () => {
    const lines = plan(timelinePageSql({ ...week, order: 'desc' }, undefined, 51));
    expectNoTableScan(lines);
    expect(chronoRanges(lines)).toEqual(['both', 'both', 'both', 'upper']);
  });

  it('with a cursor, ascending and descending', () => {
    // ascending, the cursor also bounds class 3 from below; descending it bounds from above
    const asc = plan(timelinePageSql(week, cursor, 51));
    expectNoTableScan(asc);
    expect(chronoRanges(asc)).toEqual(['both', 'both', 'both', 'both']);
    const desc = plan(timelinePageSql({ ...week, order: 'desc' }, cursor, 51));
    expectNoTableScan(desc);
    expect(chronoRanges(desc)).toEqual(['both', 'both', 'both', 'upper']);
    // the keyset position itself is part of the index range
    expect(asc.some((l) => l.includes('(sort_start,sort_end)>(?,?)'))).toBe(true);
  });

  it('match=within: every class bounded on both sides', () => {
    const lines = plan(timelinePageSql({ ...week, match: 'within' }, cursor, 51));
    expectNoTableScan(lines);
    expect(chronoRanges(lines)).toEqual(['both', 'both', 'both', 'both']);
  });

  it('half-open windows still search the index (from only: class 3 is the one unbounded branch)', () => {
    const fromOnly = plan(timelinePageSql({ ...week, to: undefined }, undefined, 51));
    expectNoTableScan(fromOnly);
    expect(chronoRanges(fromOnly)).toEqual(['lower', 'lower', 'lower', 'none']);
    const toOnly = plan(timelinePageSql({ ...week, from: undefined }, undefined, 51));
    expectNoTableScan(toOnly);
    expect(chronoRanges(toOnly)).toEqual(['upper', 'upper', 'upper', 'upper']);
  });

  it('text search starts from the FTS matches and looks entries up by id', () => {
    const lines = plan(timelinePageSql({ ...week, text: '"كازاخستان"' }, undefined, 51));
    expectNoTableScan(lines);
    expect(lines).toContain('SEARCH e USING INTEGER PRIMARY KEY (rowid=?)');
    expect(lines.some((l) => /^SCAN search_index VIRTUAL TABLE INDEX \d+:M/.test(l))).toBe(true);
  });
});

/** `span_class=?`, then at most a lower and an upper bound on `earliest`, on the key of entry_span_counts. */
const COUNTS_SEARCH = /^SEARCH e USING PRIMARY KEY \(span_class=\?(?: AND earliest[<>]\S+){0,2}\)$/;

/** How each branch of a histogram over entry_span_counts bounds `earliest` (as chronoRanges). */
function countsRanges(lines: string[]): string[] {
  const searches = lines.filter((line) => /^(SEARCH|SCAN) e\b/.test(line));
  for (const line of searches) expect(line).toMatch(COUNTS_SEARCH);
  return searches.map((line) =>
    LOWER.test(line) ? (UPPER.test(line) ? 'both' : 'lower') : UPPER.test(line) ? 'upper' : 'none',
  );
}

describe("EXPLAIN QUERY PLAN of the histogram's spanCounts", () => {
  it('filtered only by window and kind: reads entry_span_counts, one key range per span class, never entries', () => {
    for (const q of [week, { ...week, kinds: ['event' as const] }, { ...week, kinds: ['event' as const, 'statement' as const] }]) {
      const lines = plan(spanCountsSql(q));
      expect(lines.filter((l) => /\bentries\b|entries_chrono_idx/.test(l)), JSON.stringify(q)).toEqual([]);
      expect(countsRanges(lines)).toEqual(['both', 'both', 'both', 'upper']);
    }
    expect(countsRanges(plan(spanCountsSql({ ...week, match: 'within' })))).toEqual(['both', 'both', 'both', 'both']);
    expect(countsRanges(plan(spanCountsSql({ ...week, to: undefined })))).toEqual(['lower', 'lower', 'lower', 'none']);
    expect(countsRanges(plan(spanCountsSql({ ...week, from: undefined })))).toEqual(['upper', 'upper', 'upper', 'upper']);
    expect(countsRanges(plan(spanCountsSql({ match: 'overlaps', order: 'asc' })))).toEqual(['none', 'none', 'none', 'none']);
  });

  it('a closed overlapping window filtered only by kind: key ranges of entry_date_counts and of short span classes', () => {
    const year = { from: 14610, to: 14974, match: 'overlaps' as const, order: 'asc' as const };
    const cases: [TimelineQuery, number, number][] = [
      [year, 1, 1],
      [{ ...year, kinds: ['statement'] }, 7, 2],
      [year, 366, 3],
    ];
    for (const [q, maxDays, classes] of cases) {
      expect(countedByDate(q)).toBe(true);
      const sqls = dateCountsSql(q, year.from, year.to, maxDays);
      expect(sqls.within.length).toBe(classes);
      const before = plan(sqls.before).filter((l) => /^(SEARCH|SCAN) (?!\(subquery)/.test(l));
      expect(before).toEqual([
        'SEARCH entry_date_counts USING PRIMARY KEY (grain=? AND kind=? AND unit<?)',
        'SEARCH entry_date_counts USING PRIMARY KEY (grain=? AND kind=? AND unit>? AND unit<?)',
      ]);
      expect(plan(sqls.days)).toEqual(['SEARCH entry_date_counts USING PRIMARY KEY (grain=? AND kind=? AND unit>? AND unit<?)']);
      for (const query of sqls.within) {
        expect(plan(query)).toEqual(['SEARCH entry_span_counts USING PRIMARY KEY (span_class=? AND earliest>? AND earliest<?)']);
      }
    }
    // an open side, `within`, or a filter beyond kind goes to spanCounts
    expect(countedByDate({ ...week, to: undefined })).toBe(false);
    expect(countedByDate({ ...week, match: 'within' })).toBe(false);
    expect(countedByDate({ ...week, tags: ['x'] })).toBe(false);
  });

  // any other filter needs the entries themselves
  const filtered: TimelineQuery[] = [
    { ...week, tags: ['x'] },
    { ...week, types: ['protest'], kinds: ['event'] },
    { ...week, actors: [1] },
    { ...week, places: [1, 2] },
    { ...week, text: '"كازاخستان"' },
  ];

  it('with other filters: reads entries, not entry_span_counts', () => {
    for (const q of filtered) {
      const lines = plan(spanCountsSql(q));
      expect(lines.some((l) => l.includes('entry_span_counts')), JSON.stringify(q)).toBe(false);
      expect(lines.some((l) => /^SEARCH e USING .*(entries_chrono_idx|INTEGER PRIMARY KEY)/.test(l)), JSON.stringify(q)).toBe(true);
    }
    // places that resolved to none match nothing: not a query the counts can answer either
    expect(countedByKind({ ...week, places: [] })).toBe(false);
    expect(countedByKind({ ...week, kinds: ['statement'] })).toBe(true);
  });

  it('filters on joined tables read the covering index of entries, never the table rows', () => {
    for (const q of [{ ...week, tags: ['x'] }, { ...week, actors: [1] }, { ...week, places: [1, 2] }]) {
      const lines = plan(spanCountsSql(q));
      for (const l of lines.filter((l) => /^(SCAN|SEARCH) e\b/.test(l))) expect(l).toMatch(/USING COVERING INDEX entries_chrono_idx/);
    }
  });

  it('a windowed histogram with filters range-scans entries_chrono_idx, one range per span class', () => {
    for (const q of filtered.slice(0, 4)) {
      const lines = plan(spanCountsSql(q));
      expectNoTableScan(lines);
      expect(chronoRanges(lines)).toEqual(['both', 'both', 'both', 'upper']);
    }
  });
});
