import type { DateCounts } from '../types.js';
export type { DateCounts } from '../types.js';
import { sql, type SQL } from 'drizzle-orm';
import { ftsMatch } from './match.js';
import { allRows, allTuples } from './statements.js';
import { SPAN_CLASS_MAX_DAYS } from '../dates.js';
import type { Tx } from './transactions.js';
import { filterConditions, positionBounds, windowConditions, type TimelineQuery } from './timeline.js';

/**
 * How many matching entries have each distinct [earliest, latest]: the histogram's input,
 * small even when millions of entries match (entries share their days). Bounds beyond a
 * closed side of the window come back as the day just beyond it: such an entry fits in no
 * bucket and spans the same ones whatever its true bound, and long spans (every one of
 * which is different) then share a few rows instead of one each.
 */
export function spanCounts(tx: Tx, q: TimelineQuery): { earliest: number; latest: number; n: number }[] {
  return tx.all(spanCountsSql(q));
}

/**
 * True when `entry_span_counts` can answer the query: it keys on the date and the kind only.
 * Asked of filterConditions itself, so that a filter added there goes to `entries`.
 */
export function countedByKind(q: TimelineQuery): boolean {
  return q.text === undefined && filterConditions({ ...q, kinds: undefined }).length === 0;
}

/**
 * The SQL of {@link spanCounts} (exposed for EXPLAIN QUERY PLAN): per span class, like the
 * timeline, so that a windowed histogram reads key ranges rather than a whole index. Without
 * filters beyond the window and `kind` it sums the counts of `entry_span_counts`, which has
 * a row per distinct date and kind however many entries share it, instead of counting the
 * window's entries. Both tables are aliased `e`: the window and kind conditions are the
 * timeline's own, so the two answers cannot drift apart.
 */
export function spanCountsSql(q: TimelineQuery): SQL {
  const counted = countedByKind(q);
  const text = q.text === undefined ? [] : [sql`e.id IN (SELECT rowid FROM search_index WHERE search_index MATCH ${ftsMatch(q.text)})`];
  const branches = SPAN_CLASS_MAX_DAYS.map((maxSpan, spanClass) => {
    const where: SQL[] = [sql`e.span_class = ${spanClass}`, ...windowConditions(q), ...filterConditions(q), ...text];
    if (q.match === 'overlaps' && q.from !== undefined && Number.isFinite(maxSpan)) {
      where.push(sql`e.earliest >= ${q.from - maxSpan}`);
    }
    // entries_chrono_idx is ordered by position, not by day: its range comes from the window's
    // bounds on the position, the day conditions checked on its columns
    return counted
      ? sql`SELECT e.earliest, e.latest, e.n FROM entry_span_counts e WHERE ${sql.join(where, sql` AND `)}`
      : sql`SELECT e.earliest, e.latest FROM entries e INDEXED BY entries_chrono_idx
          WHERE ${sql.join([...positionBounds(q, maxSpan), ...where], sql` AND `)}`;
  });
  const earliest = q.from === undefined ? sql`earliest` : sql`max(earliest, ${q.from - 1})`;
  const latest = q.to === undefined ? sql`latest` : sql`min(latest, ${q.to + 1})`;
  const n = counted ? sql`sum(n)` : sql`count(*)`;
  return sql`SELECT ${earliest} AS earliest, ${latest} AS latest, ${n} AS n
    FROM (${sql.join(branches, sql` UNION ALL `)}) GROUP BY 1, 2`;
}


const BLOCK = 9;

/**
 * The histogram's input over [first, last] when only `kind` filters it: from these, the
 * entries overlapping a bucket are the starts up to its end less the ends before its start,
 * and those inside it are among `within`. Reads a block's days and the blocks before at
 * most, the range's days, and the short spans inside the range: nothing that grows with the
 * long intervals begun before it (faster than entry_span_counts, and flat in the data's size:
 * see bench/results/). Rows come as arrays and ungrouped,
 * the caller sums them: a GROUP BY cost more than the sums.
 */
export function dateCounts(tx: Tx, q: TimelineQuery, first: number, last: number, maxDays: number): DateCounts {
  const queries = dateCountsSql(q, first, last, maxDays);
  const [before] = allRows<{ starts: number | null; ends: number | null }>(tx, queries.before);
  const days = allTuples<[number, number, number]>(tx, queries.days).sort((a, b) => a[0] - b[0]);
  const within = queries.within.flatMap((query) => allTuples<[number, number, number]>(tx, query));
  return { before: { starts: before?.starts ?? 0, ends: before?.ends ?? 0 }, days, within };
}

/** The SQL of {@link dateCounts} (exposed for EXPLAIN QUERY PLAN): one query per part, one per span class of `within`. */
export function dateCountsSql(q: TimelineQuery, first: number, last: number, maxDays: number): { before: SQL; days: SQL; within: SQL[] } {
  const kinds = sql.join((q.kinds?.length ? q.kinds : ['event', 'statement']).map((k) => sql`${k}`), sql`, `);
  const blockStart = (first >> BLOCK) << BLOCK;
  const classes = SPAN_CLASS_MAX_DAYS.flatMap((_, spanClass) =>
    spanClass === 0 || SPAN_CLASS_MAX_DAYS[spanClass - 1]! + 1 < maxDays ? [spanClass] : [],
  );
  return {
    before: sql`SELECT sum(starts) AS starts, sum(ends) AS ends FROM (
      SELECT starts, ends FROM entry_date_counts WHERE grain = ${BLOCK} AND kind IN (${kinds}) AND unit < ${first >> BLOCK}
      UNION ALL
      SELECT starts, ends FROM entry_date_counts WHERE grain = 0 AND kind IN (${kinds}) AND unit >= ${blockStart} AND unit < ${first})`,
    days: sql`SELECT unit, starts, ends
      FROM entry_date_counts WHERE grain = 0 AND kind IN (${kinds}) AND unit >= ${first} AND unit <= ${last}`,
    within: classes.map(
      (spanClass) => sql`SELECT earliest, latest, n FROM entry_span_counts
        WHERE span_class = ${spanClass} AND earliest >= ${first} AND earliest <= ${last} AND latest <= ${last} AND kind IN (${kinds})`,
    ),
  };
}

/** True when the histogram can come from {@link dateCounts}: only `kind` filters it, and the window is closed and overlapping. */
export function countedByDate(q: TimelineQuery): q is TimelineQuery & { from: number; to: number } {
  return countedByKind(q) && q.match === 'overlaps' && q.from !== undefined && q.to !== undefined;
}
