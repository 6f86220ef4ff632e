import { sql, type SQL } from 'drizzle-orm';
import { SPAN_CLASS_MAX_DAYS, type Tx } from './support.js';
import { filterConditions, windowConditions, type TimelineQuery } from './timeline.js';

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
  const text = q.text === undefined ? [] : [sql`e.id IN (SELECT rowid FROM search_index WHERE search_index MATCH ${q.text})`];
  const branches = SPAN_CLASS_MAX_DAYS.map((maxSpan, spanClass) => {
    const where: SQL[] = [sql`e.span_class = ${spanClass}`, ...windowConditions(q), ...filterConditions(q), ...text];
    if (q.match === 'overlaps' && q.from !== undefined && Number.isFinite(maxSpan)) {
      where.push(sql`e.earliest >= ${q.from - maxSpan}`);
    }
    const conditions = sql.join(where, sql` AND `);
    return counted
      ? sql`SELECT e.earliest, e.latest, e.n FROM entry_span_counts e WHERE ${conditions}`
      : sql`SELECT e.earliest, e.latest FROM entries e INDEXED BY entries_chrono_idx WHERE ${conditions}`;
  });
  const earliest = q.from === undefined ? sql`earliest` : sql`max(earliest, ${q.from - 1})`;
  const latest = q.to === undefined ? sql`latest` : sql`min(latest, ${q.to + 1})`;
  const n = counted ? sql`sum(n)` : sql`count(*)`;
  return sql`SELECT ${earliest} AS earliest, ${latest} AS latest, ${n} AS n
    FROM (${sql.join(branches, sql` UNION ALL `)}) GROUP BY 1, 2`;
}
