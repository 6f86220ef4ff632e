import { sql, type SQL } from 'drizzle-orm';
import { allRows } from '../db/statements.js';
import { SPAN_CLASS_MAX_DAYS, type Tx } from './support.js';

/** Where an entry sits in chronological order: the keyset of timeline cursors. */
export type TimelinePosition = [earliest: number, latest: number, kind: 'event' | 'statement', id: number];

export interface TimelineQuery {
  /** Window bounds as day numbers, inclusive; undefined is open. */
  from?: number | undefined;
  to?: number | undefined;
  match: 'overlaps' | 'within';
  kinds?: ('event' | 'statement')[] | undefined;
  types?: string[] | undefined;
  tags?: string[] | undefined;
  /** Actor ids (OR). Events match by any role (or `role`); statements by speaker, or `about`. */
  actors?: number[] | undefined;
  role?: string | undefined;
  /** Place ids, already expanded to their subtrees (OR). */
  places?: number[] | undefined;
  /** An FTS5 MATCH expression over the search index (built by src/search/text.ts, never raw input). */
  text?: string | undefined;
  order: 'asc' | 'desc';
}

/**
 * A LIMIT written into the SQL rather than bound: with `LIMIT ?` SQLite cannot plan the
 * union's branches as top-N sorts and a page took twice as long (415 vs 188 µs on the
 * benchmark's week window). Page sizes are few, so statements are still reused.
 */
const limitSql = (limit: number) => sql.raw(String(Math.max(0, Math.trunc(limit))));

const list = (values: readonly (string | number)[]) => sql.join(values.map((v) => sql`${v}`), sql`, `);

/** Filters that do not depend on the date index: shared by every span-class branch. */
export function filterConditions(q: TimelineQuery): SQL[] {
  const where: SQL[] = [];
  if (q.kinds?.length) where.push(sql`e.kind IN (${list(q.kinds)})`);
  if (q.types?.length) where.push(sql`e.type IN (${list(q.types)})`);
  if (q.tags?.length) {
    where.push(sql`EXISTS (SELECT 1 FROM entry_tags t WHERE t.entry_id = e.id AND t.tag IN (${list(q.tags)}))`);
  }
  if (q.actors?.length) {
    const role =
      q.role === undefined
        ? sql`a.role <> 'about'`
        : q.role === 'speaker' || q.role === 'about'
          ? sql`a.role = ${q.role}`
          : sql`a.role = ${q.role} AND e.kind = 'event'`;
    where.push(
      // `+a.actor_id` keeps SQLite from probing the actor index (which, for a popular actor,
      // walks all of that actor's rows for every candidate entry): each candidate from the
      // window looks up its own few roles by primary key instead.
      sql`EXISTS (SELECT 1 FROM entry_actors a WHERE a.entry_id = e.id AND +a.actor_id IN (${list(q.actors)}) AND ${role})`,
    );
  }
  if (q.places) {
    where.push(
      q.places.length
        ? sql`EXISTS (SELECT 1 FROM entry_places p WHERE p.entry_id = e.id AND +p.place_id IN (${list(q.places)}))`
        : sql`0`,
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
    // a bound on `earliest` closes the index range: without it a window scans to the end
    if (q.to !== undefined) where.push(sql`e.latest <= ${q.to}`, sql`e.earliest <= ${q.to}`);
  } else {
    if (q.to !== undefined) where.push(sql`e.earliest <= ${q.to}`);
    if (q.from !== undefined) where.push(sql`e.latest >= ${q.from}`);
  }
  return where;
}

const afterCondition = (order: 'asc' | 'desc', after: TimelinePosition | undefined): SQL[] => {
  if (!after) return [];
  const [earliest, latest, kind, id] = after;
  return [
    order === 'asc'
      ? sql`(e.earliest, e.latest, e.kind, e.id) > (${earliest}, ${latest}, ${kind}, ${id})`
      : sql`(e.earliest, e.latest, e.kind, e.id) < (${earliest}, ${latest}, ${kind}, ${id})`,
  ];
};

/**
 * One branch per span class, each a range scan of `entries_chrono_idx`: within a class the
 * longest span is known, so an overlap window bounds `earliest` from below as well as above.
 */
function branch(q: TimelineQuery, spanClass: number, after: TimelinePosition | undefined, limit: number): SQL {
  const where: SQL[] = [sql`e.span_class = ${spanClass}`, ...windowConditions(q)];
  const maxSpan = SPAN_CLASS_MAX_DAYS[spanClass]!;
  if (q.match === 'overlaps' && q.from !== undefined && Number.isFinite(maxSpan)) {
    where.push(sql`e.earliest >= ${q.from - maxSpan}`);
  }
  where.push(...afterCondition(q.order, after), ...filterConditions(q));
  const dir = q.order === 'asc' ? sql`ASC` : sql`DESC`;
  return sql`SELECT * FROM (SELECT e.id, e.earliest, e.latest, e.kind FROM entries e INDEXED BY entries_chrono_idx
    WHERE ${sql.join(where, sql` AND `)}
    ORDER BY e.earliest ${dir}, e.latest ${dir}, e.kind ${dir}, e.id ${dir} LIMIT ${limitSql(limit)})`;
}

/** The SQL of one timeline page (exposed for EXPLAIN QUERY PLAN tests and the benchmark). */
export function timelinePageSql(q: TimelineQuery, after: TimelinePosition | undefined, limit: number): SQL {
  const dir = q.order === 'asc' ? sql`ASC` : sql`DESC`;
  if (q.text !== undefined) {
    // A text search starts from the index's matches (usually far fewer than the window's
    // entries) and sorts them, instead of scanning the window.
    const where = [
      sql`e.id IN (SELECT rowid FROM search_index WHERE search_index MATCH ${q.text})`,
      ...windowConditions(q),
      ...afterCondition(q.order, after),
      ...filterConditions(q),
    ];
    return sql`SELECT e.id, e.earliest, e.latest, e.kind FROM entries e WHERE ${sql.join(where, sql` AND `)}
      ORDER BY e.earliest ${dir}, e.latest ${dir}, e.kind ${dir}, e.id ${dir} LIMIT ${limitSql(limit)}`;
  }
  const branches = SPAN_CLASS_MAX_DAYS.map((_, spanClass) => branch(q, spanClass, after, limit));
  return sql`${sql.join(branches, sql` UNION ALL `)}
    ORDER BY earliest ${dir}, latest ${dir}, kind ${dir}, id ${dir} LIMIT ${limitSql(limit)}`;
}

type PageRow = { id: number; earliest: number; latest: number; kind: 'event' | 'statement' };

const compareAsc = (a: PageRow, b: PageRow) =>
  a.earliest - b.earliest || a.latest - b.latest || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0) || a.id - b.id;

/**
 * The least `earliest` an entry of each span class can have in an ascending page, or
 * undefined when the classes share one bound and nothing can be skipped.
 */
function classLowerBounds(q: TimelineQuery, after: TimelinePosition | undefined): number[] | undefined {
  if (q.order !== 'asc' || q.from === undefined || q.match !== 'overlaps') return undefined;
  const from = q.from;
  return SPAN_CLASS_MAX_DAYS.map((maxSpan) =>
    Math.max(Number.isFinite(maxSpan) ? from - maxSpan : Number.NEGATIVE_INFINITY, after?.[0] ?? Number.NEGATIVE_INFINITY),
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
    if (last !== undefined && last.earliest < bound) break;
    rows = rows.concat(allRows<PageRow>(tx, branch(q, spanClass, after, limit))).sort(compareAsc).slice(0, limit);
  }
  return rows;
}

/** One page of entry ids in chronological order, and the position to continue after. */
export function timelinePage(
  tx: Tx,
  q: TimelineQuery,
  after: TimelinePosition | undefined,
  limit: number,
): { ids: number[]; next: TimelinePosition | null } {
  const bounds = q.text === undefined ? classLowerBounds(q, after) : undefined;
  const rows = bounds
    ? pageByClass(tx, q, after, limit + 1, bounds)
    : allRows<PageRow>(tx, timelinePageSql(q, after, limit + 1));
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    ids: page.map((r) => r.id),
    next: rows.length > limit && last ? [last.earliest, last.latest, last.kind, last.id] : null,
  };
}
