import { sql, type SQL } from 'drizzle-orm';
import { invalidCursor } from '../cursor.js';
import { SPAN_CLASS_MAX_DAYS } from '../dates.js';
import type { TimelinePosition, TimelineQuery } from '../types.js';
import { DAY_MS, MAX_OFFSET_MS } from '../../dates/edtf.js';
import { tsqueryLiteral } from './search-text.js';
import { runPrepared } from './prepared.js';
import { holdsNul } from './text.js';
import type { PgTx } from './transactions.js';

/**
 * The timeline on PostgreSQL: the same conditions as SQLite's (src/storage/sqlite/timeline.ts
 * explains the window, the position bounds and the span classes), in PostgreSQL's SQL: lists
 * bound as one array each, the places under a place found by a recursive CTE, full text as a
 * tsquery over search_index. The planner picks how to drive a page (the window's index, or a
 * selective actor's or place's links): its statistics come from ANALYZE.
 */

/** A signed cursor from before the order changed is refused, never read as another place. */
function checkedPosition(after: unknown): TimelinePosition | undefined {
  if (after === undefined) return undefined;
  if (!Array.isArray(after) || after.length !== 3 || !after.every((v) => typeof v === 'number' && Number.isSafeInteger(v))) {
    throw invalidCursor();
  }
  return [after[0] as number, after[1] as number, after[2] as number];
}

const texts = (values: readonly string[]) => sql.param([...new Set(values.filter((v) => !holdsNul(v)))]);
const ints = (values: readonly number[]) => sql.param([...new Set(values)]);

const linkRole = (q: TimelineQuery): SQL => (q.role === undefined ? sql`a.role <> 'about'` : sql`a.role = ${q.role}`);
const eventRole = (q: TimelineQuery) => q.role !== undefined && q.role !== 'speaker' && q.role !== 'about';

/** The places `ids` and every place under them. */
export function placeSubtreeSql(ids: readonly number[]): SQL {
  return sql`WITH RECURSIVE down(id) AS (
      SELECT unnest(${ints(ids)}::integer[])
      UNION SELECT child.id FROM places child JOIN down ON child.parent_id = down.id)
    SELECT id FROM down`;
}

/** The full-text condition of a query's text. */
export function textCondition(text: string): SQL {
  const query = tsqueryLiteral(text);
  if (query === null) throw new Error('a full-text query without a word to search for reached the engine');
  return sql`e.id IN (SELECT entry_id FROM search_index WHERE document @@ ${query}::tsquery)`;
}

/** Filters that do not depend on the date index. */
export function filterConditions(q: TimelineQuery): SQL[] {
  const where: SQL[] = [];
  if (q.kinds?.length) where.push(sql`e.kind = ANY(${texts(q.kinds)}::text[])`);
  if (q.types?.length) where.push(sql`e.type = ANY(${texts(q.types)}::text[])`);
  if (q.tags?.length) where.push(sql`EXISTS (SELECT 1 FROM entry_tags t WHERE t.entry_id = e.id AND t.tag = ANY(${texts(q.tags)}::text[]))`);
  if (q.actors?.length) {
    where.push(
      sql`EXISTS (SELECT 1 FROM entry_actors a WHERE a.entry_id = e.id AND a.actor_id = ANY(${ints(q.actors)}::integer[]) AND ${linkRole(q)})`,
    );
    if (eventRole(q)) where.push(sql`e.kind = 'event'`);
  }
  if (q.places) {
    where.push(
      q.places.length === 0
        ? sql`false`
        : sql`EXISTS (SELECT 1 FROM entry_places p WHERE p.entry_id = e.id AND p.place_id IN (${placeSubtreeSql(q.places)}))`,
    );
  }
  return where;
}

/** The window condition over all span classes at once. */
export function windowConditions(q: TimelineQuery): SQL[] {
  const where: SQL[] = [];
  if (q.match === 'within') {
    if (q.from !== undefined) where.push(sql`e.earliest >= ${q.from}`);
    if (q.to !== undefined) where.push(sql`e.latest <= ${q.to}`, sql`e.earliest <= ${q.to}`);
  } else {
    if (q.to !== undefined) where.push(sql`e.earliest <= ${q.to}`);
    if (q.from !== undefined) where.push(sql`e.latest >= ${q.from}`);
  }
  return where;
}

/** Bounds on `sort_start` that follow from the window on days and a span class's longest span. */
export function positionBounds(q: TimelineQuery, maxSpan: number): SQL[] {
  const where: SQL[] = [];
  if (q.from !== undefined) {
    const lowest = q.match === 'within' ? q.from * DAY_MS - MAX_OFFSET_MS : Number.isFinite(maxSpan) ? (q.from - maxSpan) * DAY_MS - MAX_OFFSET_MS : undefined;
    if (lowest !== undefined) where.push(sql`e.sort_start >= ${lowest}::bigint`);
  }
  if (q.to !== undefined) where.push(sql`e.sort_start < ${(q.to + 1) * DAY_MS + MAX_OFFSET_MS}::bigint`);
  return where;
}

const afterCondition = (order: 'asc' | 'desc', after: TimelinePosition | undefined): SQL[] => {
  if (!after) return [];
  const [start, end, id] = after;
  const position = sql`(e.sort_start, e.sort_end, e.id)`;
  const bound = sql`(${start}::bigint, ${end}::bigint, ${id}::integer)`;
  return [order === 'asc' ? sql`${position} > ${bound}` : sql`${position} < ${bound}`];
};

/** The SQL of one timeline page: a branch per span class, each a range of entries_chrono_idx. */
export function timelinePageSql(q: TimelineQuery, after: TimelinePosition | undefined, limit: number): SQL {
  const dir = q.order === 'asc' ? sql`ASC` : sql`DESC`;
  const n = sql.raw(String(Math.max(0, Math.trunc(limit))));
  const common = [...windowConditions(q), ...afterCondition(q.order, after), ...filterConditions(q), ...(q.text === undefined ? [] : [textCondition(q.text)])];
  const branches = SPAN_CLASS_MAX_DAYS.map((maxSpan, spanClass) => {
    const where = [sql`e.span_class = ${spanClass}`, ...positionBounds(q, maxSpan), ...common];
    return sql`(SELECT e.id, e.sort_start, e.sort_end FROM entries e WHERE ${sql.join(where, sql` AND `)}
      ORDER BY e.sort_start ${dir}, e.sort_end ${dir}, e.id ${dir} LIMIT ${n})`;
  });
  return sql`${sql.join(branches, sql` UNION ALL `)} ORDER BY sort_start ${dir}, sort_end ${dir}, id ${dir} LIMIT ${n}`;
}

/**
 * Whether a page's plan is the same for every value of its parameters: its window and kinds
 * alone. A filter on actors, places, tags, types or text is not, since how selective a value
 * is decides how to drive the page (a generic plan for the actor filter, once PostgreSQL
 * settles on one, reads the whole window of an actor named by thousands of entries).
 */
const planHoldsForEveryValue = (q: TimelineQuery) =>
  !q.actors?.length && q.places === undefined && !q.tags?.length && !q.types?.length && q.text === undefined;

type PageRow = { id: number; sort_start: string | number; sort_end: string | number };

/** Runs a page's statement, prepared where its plan holds for every value (planning costs more than running it). */
async function pageRows(tx: PgTx, q: TimelineQuery, statement: SQL): Promise<PageRow[]> {
  return planHoldsForEveryValue(q) ? runPrepared<PageRow>(tx, statement) : (await tx.execute<PageRow>(statement)).rows;
}

/** One page of entry ids in chronological order, and the position to continue after. */
export async function timelinePage(tx: PgTx, q: TimelineQuery, afterCursor: unknown, limit: number): Promise<{ ids: number[]; next: TimelinePosition | null }> {
  const after = checkedPosition(afterCursor);
  const rows = await pageRows(tx, q, timelinePageSql(q, after, limit + 1));
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    ids: page.map((r) => r.id),
    next: rows.length > limit && last ? [Number(last.sort_start), Number(last.sort_end), last.id] : null,
  };
}

/** Which of the entries `ids` the query selects, in no order (its text and order aside), as on SQLite: a live feed's window filter. */
export async function entriesMatching(tx: PgTx, q: TimelineQuery, ids: readonly number[]): Promise<number[]> {
  if (ids.length === 0) return [];
  const where = [sql`e.id = ANY(${ints(ids)}::integer[])`, ...filterConditions(q), ...windowConditions(q)];
  const { rows } = await tx.execute<{ id: number }>(sql`SELECT e.id FROM entries e WHERE ${sql.join(where, sql` AND `)}`);
  return rows.map((row) => row.id);
}
