import { sql, type SQL } from 'drizzle-orm';
import { SPAN_CLASS_MAX_DAYS } from '../dates.js';
import type { DateCounts, SpanCount, TimelineQuery } from '../types.js';
import { filterConditions, positionBounds, textCondition, windowConditions } from './timeline.js';
import type { PgTx } from './transactions.js';

/** The histogram's inputs, as SQLite's (src/storage/sqlite/histogram.ts explains both). */

/** True when `entry_span_counts` can answer the query: it keys on the date and the kind only. */
export function countedByKind(q: TimelineQuery): boolean {
  return q.text === undefined && filterConditions({ ...q, kinds: undefined }).length === 0;
}

/** True when the histogram can come from {@link dateCounts}: only `kind` filters it, and the window is closed and overlapping. */
export function countedByDate(q: TimelineQuery): boolean {
  return countedByKind(q) && q.match === 'overlaps' && q.from !== undefined && q.to !== undefined;
}

/** How many matching entries have each distinct [earliest, latest], bounds beyond a closed side clamped to the day past it. */
export async function spanCounts(tx: PgTx, q: TimelineQuery): Promise<SpanCount[]> {
  const counted = countedByKind(q);
  const text = q.text === undefined ? [] : [textCondition(q.text)];
  const branches = SPAN_CLASS_MAX_DAYS.map((maxSpan, spanClass) => {
    const where: SQL[] = [sql`e.span_class = ${spanClass}`, ...windowConditions(q), ...filterConditions(q), ...text];
    if (q.match === 'overlaps' && q.from !== undefined && Number.isFinite(maxSpan)) where.push(sql`e.earliest >= ${q.from - maxSpan}`);
    return counted
      ? sql`SELECT e.earliest, e.latest, e.n FROM entry_span_counts e WHERE ${sql.join(where, sql` AND `)}`
      : sql`SELECT e.earliest, e.latest, 1 AS n FROM entries e WHERE ${sql.join([...positionBounds(q, maxSpan), ...where], sql` AND `)}`;
  });
  const earliest = q.from === undefined ? sql`earliest` : sql`greatest(earliest, ${q.from - 1})`;
  const latest = q.to === undefined ? sql`latest` : sql`least(latest, ${q.to + 1})`;
  const { rows } = await tx.execute<{ earliest: number; latest: number; n: number }>(sql`
    SELECT ${earliest} AS earliest, ${latest} AS latest, sum(n)::integer AS n
    FROM (${sql.join(branches, sql` UNION ALL `)}) AS c GROUP BY 1, 2`);
  return rows;
}

const BLOCK = 9;

/** The per-day starts and ends over [first, last] when only `kind` filters (see SQLite's dateCounts). */
export async function dateCounts(tx: PgTx, q: TimelineQuery, first: number, last: number, maxDays: number): Promise<DateCounts> {
  const kinds = sql.param(q.kinds?.length ? q.kinds : ['event', 'statement']);
  const blockStart = (first >> BLOCK) << BLOCK;
  const classes = SPAN_CLASS_MAX_DAYS.flatMap((_, spanClass) => (spanClass === 0 || SPAN_CLASS_MAX_DAYS[spanClass - 1]! + 1 < maxDays ? [spanClass] : []));
  const { rows: before } = await tx.execute<{ starts: number | null; ends: number | null }>(sql`
    SELECT sum(starts)::integer AS starts, sum(ends)::integer AS ends FROM (
      SELECT starts, ends FROM entry_date_counts WHERE grain = ${BLOCK} AND kind = ANY(${kinds}::text[]) AND unit < ${first >> BLOCK}
      UNION ALL
      SELECT starts, ends FROM entry_date_counts WHERE grain = 0 AND kind = ANY(${kinds}::text[]) AND unit >= ${blockStart} AND unit < ${first}) AS b`);
  const { rows: days } = await tx.execute<{ unit: number; starts: number; ends: number }>(sql`
    SELECT unit, starts, ends FROM entry_date_counts
    WHERE grain = 0 AND kind = ANY(${kinds}::text[]) AND unit >= ${first} AND unit <= ${last}`);
  const within: [number, number, number][] = [];
  if (classes.length > 0) {
    const { rows } = await tx.execute<{ earliest: number; latest: number; n: number }>(sql`
      SELECT earliest, latest, n FROM entry_span_counts
      WHERE span_class = ANY(${sql.param(classes)}::integer[]) AND earliest >= ${first} AND earliest <= ${last} AND latest <= ${last}
        AND kind = ANY(${kinds}::text[])`);
    for (const r of rows) within.push([r.earliest, r.latest, r.n]);
  }
  return {
    before: { starts: before[0]?.starts ?? 0, ends: before[0]?.ends ?? 0 },
    days: days.map((d): [number, number, number] => [d.unit, d.starts, d.ends]).sort((a, b) => a[0] - b[0]),
    within,
  };
}
