import type { TimelinePosition, TimelineQuery } from '../types.js';
export type { TimelinePosition, TimelineQuery } from '../types.js';
import { sql, type SQL } from 'drizzle-orm';
import { ftsMatch } from './match.js';
import { invalidCursor } from '../cursor.js';
import { DAY_MS, MAX_OFFSET_MS } from '../../dates/edtf.js';
import { allRows } from './statements.js';
import { placeSubtreeSql } from './places.js';
import { SPAN_CLASS_MAX_DAYS } from '../dates.js';
import type { Tx } from './transactions.js';

/**
 * Where an entry sits in chronological order, the keyset of timeline cursors: its position
 * (`sort_start`, `sort_end`: src/dates/edtf.ts chronoPosition) and its id.
 */

/**
 * A decoded cursor is signed, but may come from before the order changed (when a position
 * was four values): anything but the current shape is refused, never read as another place.
 */
function checkedPosition<T extends unknown[]>(after: unknown, length: number): T | undefined {
  if (after === undefined) return undefined;
  if (!Array.isArray(after) || after.length !== length || !after.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw invalidCursor();
  }
  return after as T;
}


/**
 * A LIMIT written into the SQL rather than bound: with `LIMIT ?` SQLite cannot plan the
 * union's branches as top-N sorts and a page took twice as long (415 vs 188 µs on the
 * benchmark's week window). Page sizes are few, so statements are still reused.
 */
const limitSql = (limit: number) => sql.raw(String(Math.max(0, Math.trunc(limit))));

/**
 * A list of values as one bound JSON array: one statement for every length of list (and no
 * limit on the length but SQLite's), where a parameter per value made a statement per length.
 */
const list = (values: readonly (string | number)[]) => sql`SELECT value FROM json_each(${JSON.stringify([...new Set(values)])})`;

/**
 * What a page is read from: the window's range scans of `entries_chrono_idx` (one per span
 * class), or the links of the actor filter or of the place filter, when those are fewer than
 * the window's entries and are sorted instead. The order, and so every cursor, is the same.
 */
export type TimelineDriver = 'window' | 'actors' | 'places';

/** The role condition of the actor filter on its links, `entry_actors a`. */
const linkRole = (q: TimelineQuery): SQL => (q.role === undefined ? sql`a.role <> 'about'` : sql`a.role = ${q.role}`);

/** An event's actors never take a statement's roles: any other role is an event's alone. */
const eventRole = (q: TimelineQuery) => q.role !== undefined && q.role !== 'speaker' && q.role !== 'about';

/**
 * Filters that do not depend on the date index: shared by every span-class branch. With a
 * driver other than the window, that filter is the set of entry ids the page starts from.
 */
export function filterConditions(q: TimelineQuery, driver: TimelineDriver = 'window'): SQL[] {
  const where: SQL[] = [];
  if (q.kinds?.length) where.push(sql`e.kind IN (${list(q.kinds)})`);
  if (q.types?.length) where.push(sql`e.type IN (${list(q.types)})`);
  if (q.tags?.length) {
    where.push(sql`EXISTS (SELECT 1 FROM entry_tags t WHERE t.entry_id = e.id AND t.tag IN (${list(q.tags)}))`);
  }
  if (q.actors?.length) {
    if (driver === 'actors') {
      // the entry's kind is checked on the entry, so that the subquery is not correlated and
      // is read once, down entry_actors_actor_idx
      where.push(sql`e.id IN (SELECT a.entry_id FROM entry_actors a WHERE a.actor_id IN (${list(q.actors)}) AND ${linkRole(q)})`);
      if (eventRole(q)) where.push(sql`e.kind = 'event'`);
    } else {
      where.push(
        // `+a.actor_id` keeps SQLite from probing the actor index (which, for a popular actor,
        // walks all of that actor's rows for every candidate entry): each candidate from the
        // window looks up its own few roles by primary key instead.
        sql`EXISTS (SELECT 1 FROM entry_actors a WHERE a.entry_id = e.id AND +a.actor_id IN (${list(q.actors)}) AND ${linkRole(q)}${eventRole(q) ? sql` AND e.kind = 'event'` : sql``})`,
      );
    }
  }
  if (q.places) {
    where.push(
      !q.places.length
        ? sql`0`
        : driver === 'places'
          ? sql`e.id IN (SELECT p.entry_id FROM entry_places p WHERE p.place_id IN (${placeSubtreeSql(q.places)}))`
          : sql`EXISTS (SELECT 1 FROM entry_places p WHERE p.entry_id = e.id AND +p.place_id IN (${placeSubtreeSql(q.places)}))`,
    );
  }
  return where;
}

/** The window condition over all span classes at once. */
export function windowConditions(q: TimelineQuery): SQL[] {
  const where: SQL[] = [];
  if (q.match === 'within') {
    if (q.from !== undefined) where.push(sql`e.earliest >= ${q.from}`);
    // `earliest <= to` follows from `latest <= to` (earliest <= latest is a CHECK), but only
    // a bound on `earliest` closes the key range of entry_span_counts (the histogram's)
    if (q.to !== undefined) where.push(sql`e.latest <= ${q.to}`, sql`e.earliest <= ${q.to}`);
  } else {
    if (q.to !== undefined) where.push(sql`e.earliest <= ${q.to}`);
    if (q.from !== undefined) where.push(sql`e.latest >= ${q.from}`);
  }
  return where;
}

/**
 * Bounds on `sort_start` that follow from the window on days (and, for an overlap window, from
 * a span class's longest span): an entry's position lies within 14 hours of its stated days,
 * so these close the index range; the conditions on the days themselves stay exact.
 */
export function positionBounds(q: TimelineQuery, maxSpan: number): SQL[] {
  const where: SQL[] = [];
  const lowest = lowestStart(q, maxSpan);
  if (lowest !== undefined) where.push(sql`e.sort_start >= ${lowest}`);
  if (q.to !== undefined) where.push(sql`e.sort_start < ${(q.to + 1) * DAY_MS + MAX_OFFSET_MS}`);
  return where;
}

/** The least position an entry of a span class in the window can have, or undefined. */
function lowestStart(q: TimelineQuery, maxSpan: number): number | undefined {
  if (q.from === undefined) return undefined;
  if (q.match === 'within') return q.from * DAY_MS - MAX_OFFSET_MS;
  return Number.isFinite(maxSpan) ? (q.from - maxSpan) * DAY_MS - MAX_OFFSET_MS : undefined;
}

const afterCondition = (order: 'asc' | 'desc', after: TimelinePosition | undefined): SQL[] => {
  if (!after) return [];
  const [start, end, id] = after;
  return [
    order === 'asc'
      ? sql`(e.sort_start, e.sort_end, e.id) > (${start}, ${end}, ${id})`
      : sql`(e.sort_start, e.sort_end, e.id) < (${start}, ${end}, ${id})`,
  ];
};

/**
 * One branch per span class, each a range scan of `entries_chrono_idx`: within a class the
 * longest span is known, so an overlap window bounds the position from below as well as above.
 */
function branch(q: TimelineQuery, spanClass: number, after: TimelinePosition | undefined, limit: number): SQL {
  const where: SQL[] = [
    sql`e.span_class = ${spanClass}`,
    ...positionBounds(q, SPAN_CLASS_MAX_DAYS[spanClass]!),
    ...windowConditions(q),
    ...afterCondition(q.order, after),
    ...filterConditions(q),
  ];
  const dir = q.order === 'asc' ? sql`ASC` : sql`DESC`;
  return sql`SELECT * FROM (SELECT e.id, e.sort_start AS sortStart, e.sort_end AS sortEnd FROM entries e INDEXED BY entries_chrono_idx
    WHERE ${sql.join(where, sql` AND `)}
    ORDER BY e.sort_start ${dir}, e.sort_end ${dir}, e.id ${dir} LIMIT ${limitSql(limit)})`;
}

/** The SQL of one timeline page (exposed for EXPLAIN QUERY PLAN tests and the benchmark). */
export function timelinePageSql(
  q: TimelineQuery,
  after: TimelinePosition | undefined,
  limit: number,
  driver: TimelineDriver = 'window',
): SQL {
  const dir = q.order === 'asc' ? sql`ASC` : sql`DESC`;
  const drivenBy = q.text !== undefined ? 'text' : applicableDriver(q, driver);
  if (drivenBy !== 'window') {
    // A text search starts from the index's matches (usually far fewer than the window's
    // entries) and sorts them, instead of scanning the window; so do a few actors' or places'
    // links. NOT INDEXED leaves SQLite only the rowid lookups of those ids.
    const where = [
      ...(q.text !== undefined ? [sql`e.id IN (SELECT rowid FROM search_index WHERE search_index MATCH ${ftsMatch(q.text)})`] : []),
      ...windowConditions(q),
      ...afterCondition(q.order, after),
      ...filterConditions(q, drivenBy === 'text' ? 'window' : drivenBy),
    ];
    return sql`SELECT e.id, e.sort_start AS sortStart, e.sort_end AS sortEnd FROM entries e${drivenBy === 'text' ? sql`` : sql` NOT INDEXED`}
      WHERE ${sql.join(where, sql` AND `)}
      ORDER BY e.sort_start ${dir}, e.sort_end ${dir}, e.id ${dir} LIMIT ${limitSql(limit)}`;
  }
  const branches = SPAN_CLASS_MAX_DAYS.map((_, spanClass) => branch(q, spanClass, after, limit));
  return sql`${sql.join(branches, sql` UNION ALL `)}
    ORDER BY sortStart ${dir}, sortEnd ${dir}, id ${dir} LIMIT ${limitSql(limit)}`;
}

/** The driver asked for, or the window when the query has no such filter to start from. */
function applicableDriver(q: TimelineQuery, driver: TimelineDriver): TimelineDriver {
  if (driver === 'actors' && q.actors?.length) return 'actors';
  if (driver === 'places' && q.places?.length) return 'places';
  return 'window';
}

/**
 * Links beyond this many are not counted: past it the filter is not selective enough for its
 * links to be read and sorted whole, where the window's scan stops at a full page.
 */
export const DRIVER_LINK_LIMIT = 1000;

/** How many entries the window (after the cursor) holds, counted up to `cap`, on the chrono index alone. */
function windowCountSql(q: TimelineQuery, after: TimelinePosition | undefined, cap: number): SQL {
  const branches = SPAN_CLASS_MAX_DAYS.map((maxSpan, spanClass) => {
    const where = [sql`e.span_class = ${spanClass}`, ...positionBounds(q, maxSpan), ...windowConditions(q), ...afterCondition(q.order, after)];
    return sql`SELECT 1 FROM entries e INDEXED BY entries_chrono_idx WHERE ${sql.join(where, sql` AND `)}`;
  });
  return sql`SELECT count(*) AS n FROM (SELECT 1 FROM (${sql.join(branches, sql` UNION ALL `)}) LIMIT ${cap})`;
}

/** How many links the actor or place filter has (at least), counted up to `cap`, down its index. */
function linkCountSql(q: TimelineQuery, driver: 'actors' | 'places', cap: number): SQL {
  const links =
    driver === 'actors'
      ? // without a role, `about` links are counted too: skipping them is not a range of the
        // index, and a popular subject's would all be read before the first of its others
        sql`SELECT 1 FROM entry_actors a WHERE a.actor_id IN (${list(q.actors ?? [])})${q.role === undefined ? sql`` : sql` AND a.role = ${q.role}`}`
      : sql`SELECT 1 FROM entry_places p WHERE p.place_id IN (${placeSubtreeSql(q.places ?? [])})`;
  return sql`SELECT count(*) AS n FROM (${links} LIMIT ${cap})`;
}

const countOf = (tx: Tx, query: SQL) => allRows<{ n: number }>(tx, query)[0]?.n ?? 0;

/**
 * The driver of a page, from counts that stop early: the actor or place filter with the fewest
 * links, if they are fewer than DRIVER_LINK_LIMIT and than the window's entries; else the window.
 * The links are counted first, so that a filter too wide to drive costs at most that many
 * index entries, and the window only up to the links' count.
 */
export function chooseDriver(tx: Tx, q: TimelineQuery, after: TimelinePosition | undefined): TimelineDriver {
  if (q.text !== undefined) return 'window';
  let best: TimelineDriver = 'window';
  let fewest = DRIVER_LINK_LIMIT;
  for (const candidate of ['actors', 'places'] as const) {
    if (applicableDriver(q, candidate) !== candidate) continue;
    const links = countOf(tx, linkCountSql(q, candidate, fewest));
    if (links < fewest) {
      best = candidate;
      fewest = links;
    }
  }
  if (best === 'window') return best;
  return countOf(tx, windowCountSql(q, after, fewest + 1)) > fewest ? best : 'window';
}

type PageRow = { id: number; sortStart: number; sortEnd: number };

const compareAsc = (a: PageRow, b: PageRow) => a.sortStart - b.sortStart || a.sortEnd - b.sortEnd || a.id - b.id;

/**
 * The least position an entry of each span class can have in an ascending page, or
 * undefined when the classes share one bound and nothing can be skipped.
 */
function classLowerBounds(q: TimelineQuery, after: TimelinePosition | undefined): number[] | undefined {
  if (q.order !== 'asc' || q.from === undefined || q.match !== 'overlaps') return undefined;
  return SPAN_CLASS_MAX_DAYS.map((maxSpan) =>
    Math.max(lowestStart(q, maxSpan) ?? Number.NEGATIVE_INFINITY, after?.[0] ?? Number.NEGATIVE_INFINITY),
  );
}

/**
 * An ascending overlap page reads the span classes from the one that can start earliest and
 * stops as soon as the page is full of entries that start before the next class can: on a
 * large dataset the first page of a week is all long and open intervals begun years before,
 * and the short classes need not be read at all (the benchmark's `+ actor` page went from
 * 874 to 346 µs at 1,000,000 entries, in-process).
 */
function pageByClass(tx: Tx, q: TimelineQuery, after: TimelinePosition | undefined, limit: number, bounds: number[]): PageRow[] {
  const classes = bounds.map((bound, spanClass) => ({ bound, spanClass })).sort((a, b) => a.bound - b.bound);
  let rows: PageRow[] = [];
  for (const { bound, spanClass } of classes) {
    const last = rows[limit - 1];
    if (last !== undefined && last.sortStart < bound) break;
    rows = rows.concat(allRows<PageRow>(tx, branch(q, spanClass, after, limit))).sort(compareAsc).slice(0, limit);
  }
  return rows;
}

/** One page of entry ids in chronological order, and the position to continue after. */
export function timelinePage(
  tx: Tx,
  q: TimelineQuery,
  afterCursor: unknown,
  limit: number,
  options: { driver?: TimelineDriver } = {},
): { ids: number[]; next: TimelinePosition | null } {
  const after = checkedPosition<TimelinePosition>(afterCursor, 3);
  const driver = applicableDriver(q, options.driver ?? chooseDriver(tx, q, after));
  const bounds = q.text === undefined && driver === 'window' ? classLowerBounds(q, after) : undefined;
  const rows = bounds
    ? pageByClass(tx, q, after, limit + 1, bounds)
    : allRows<PageRow>(tx, timelinePageSql(q, after, limit + 1, driver));
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    ids: page.map((r) => r.id),
    next: rows.length > limit && last ? [last.sortStart, last.sortEnd, last.id] : null,
  };
}

/** Which of the entries `ids` the timeline query selects (in no order): what a live feed filtered by a window passes on. */
export function entriesMatching(tx: Tx, q: TimelineQuery, ids: readonly number[]): number[] {
  if (ids.length === 0) return [];
  const where = [sql`e.id IN (${list(ids)})`, ...filterConditions(q), ...windowConditions(q)];
  return allRows<{ id: number }>(tx, sql`SELECT e.id FROM entries e WHERE ${sql.join(where, sql` AND `)}`).map((row) => row.id);
}
