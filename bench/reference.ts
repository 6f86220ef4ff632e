/**
 * The ceiling of this stack for the benchmark's scenarios: bare Fastify and hand-written
 * better-sqlite3 prepared statements over the same database, one statement a request,
 * answering a window's first page of 50 (ids, keys, types, dates and titles) as JSON:
 *
 *   /v1/timeline?from=DAY&to=DAY                 entries overlapping the window
 *   /v1/timeline?from=DAY&to=DAY&match=within    entries inside it
 *   /v1/timeline?from=DAY&to=DAY&actor=KEY       entries overlapping it that the actor takes part in
 *   &lang=TAG                                    texts in that language only
 *
 *   ANNALS_DB=... PORT=... tsx bench/reference.ts
 *
 * The statements are exported for the benchmark's report of their query plans.
 */
import Database from 'better-sqlite3';
import Fastify from 'fastify';

const COLUMNS = 'e.id, e.key, e.kind, e.type, e.date, e.earliest, e.latest, e.sort_start, e.sort_end, e.title, e.text';
const ORDER = 'ORDER BY sort_start, sort_end, id LIMIT 50';
const BRANCH_ORDER = 'ORDER BY e.sort_start, e.sort_end, e.id LIMIT 50';

/**
 * One range scan per span class, as Annals does, so that both answer the same question
 * exactly: the position (sort_start) is bounded by the window's days give or take the widest
 * UTC offset (14 h), and within a class the longest span bounds it from below.
 */
const overlapBranches = (from = 'FROM entries e', condition = '') =>
  [
    `e.span_class = 0 AND e.sort_start >= @lo0 AND e.sort_start < @hi AND e.earliest BETWEEN @from AND @to`,
    `e.span_class = 1 AND e.sort_start >= @lo1 AND e.sort_start < @hi AND e.earliest <= @to AND e.latest >= @from`,
    `e.span_class = 2 AND e.sort_start >= @lo2 AND e.sort_start < @hi AND e.earliest <= @to AND e.latest >= @from`,
    `e.span_class = 3 AND e.sort_start < @hi AND e.earliest <= @to AND e.latest >= @from`,
  ].map((where) => `SELECT * FROM (SELECT ${COLUMNS} ${from} WHERE ${where}${condition} ${BRANCH_ORDER})`);

/** A window's first page of entries that overlap it. */
export const OVERLAP_PAGE_SQL = `${overlapBranches().join(' UNION ALL ')} ${ORDER}`;

/** A window's first page of entries that lie inside it. */
export const WITHIN_PAGE_SQL = `${[0, 1, 2, 3]
  .map(
    (spanClass) =>
      `SELECT * FROM (SELECT ${COLUMNS} FROM entries e WHERE e.span_class = ${spanClass} AND e.sort_start >= @lo0 AND e.sort_start < @hi AND e.earliest BETWEEN @from AND @to AND e.latest <= @to ${BRANCH_ORDER})`,
  )
  .join(' UNION ALL ')} ${ORDER}`;

/**
 * A window's first page of entries the actor (by key) takes part in, in any role but `about`,
 * as Annals' `actor=` filter reads it: a join through entry_actors. The window's range scan
 * is the outer loop (CROSS JOIN: SQLite keeps that order) and each of its entries' few links
 * is read by the entry's key: `+a.actor_id` keeps SQLite from probing the actor index
 * instead, which walks every link of a popular actor for each entry of the window. The
 * generator links an actor to an entry at most once outside `about`, so the join gives each
 * entry once.
 */
export const ACTOR_PAGE_SQL = `${overlapBranches(
  'FROM entries e CROSS JOIN entry_actors a ON a.entry_id = e.id',
  ` AND +a.actor_id = (SELECT id FROM actors WHERE key = @actor) AND a.role <> 'about'`,
).join(' UNION ALL ')} ${ORDER}`;

const DAY_MS = 86_400_000;
const OFFSET_MS = 14 * 3_600_000;
const dayNumber = (iso: string) => Math.floor(Date.parse(`${iso}T00:00:00Z`) / DAY_MS);

/** The statements' parameters for a window of days (inclusive). */
export function windowParameters(from: number, to: number) {
  return {
    from,
    to,
    lo0: from * DAY_MS - OFFSET_MS,
    lo1: (from - 30) * DAY_MS - OFFSET_MS,
    lo2: (from - 365) * DAY_MS - OFFSET_MS,
    hi: (to + 1) * DAY_MS + OFFSET_MS,
  };
}

/** A language map's text in `lang` (or its first language), as Annals' `lang=` narrows it. */
function pick(json: string | null, lang: string | undefined): Record<string, string> | null {
  if (json === null) return null;
  const map = JSON.parse(json) as Record<string, string>;
  if (lang === undefined) return map;
  const chosen = lang in map ? lang : Object.keys(map)[0];
  return chosen === undefined ? {} : { [chosen]: map[chosen]! };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const db = new Database(process.env.ANNALS_DB ?? 'data/annals.db', { readonly: true });
  db.pragma('cache_size = -65536');
  const overlapPage = db.prepare(OVERLAP_PAGE_SQL);
  const withinPage = db.prepare(WITHIN_PAGE_SQL);
  const actorPage = db.prepare(ACTOR_PAGE_SQL);

  const app = Fastify({ logger: false });
  app.get('/v1/timeline', (request, reply) => {
    const { from, to, match, actor, lang } = request.query as { from: string; to: string; match?: string; actor?: string; lang?: string };
    const window = windowParameters(dayNumber(from), dayNumber(to));
    const rows = (
      actor !== undefined ? actorPage.all({ ...window, actor }) : match === 'within' ? withinPage.all(window) : overlapPage.all(window)
    ) as { title: string | null; text: string | null; sort_start?: number; sort_end?: number }[];
    return reply.send({
      data: rows.map(({ sort_start: _start, sort_end: _end, ...r }) => ({ ...r, title: pick(r.title, lang), text: pick(r.text, lang) })),
    });
  });
  await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
  process.stdout.write(`listening ${(app.server.address() as { port: number }).port}\n`);
}
