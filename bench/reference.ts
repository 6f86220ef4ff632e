/**
 * The ceiling of this stack for the benchmark's first scenario: bare Fastify and one
 * hand-written better-sqlite3 prepared statement over the same database, answering a
 * one-week window's first page of 50 (ids, keys, types, dates and titles) as JSON.
 *
 *   ANNALS_DB=... PORT=... tsx bench/reference.ts
 */
import Database from 'better-sqlite3';
import Fastify from 'fastify';

const db = new Database(process.env.ANNALS_DB ?? 'data/annals.db', { readonly: true });
db.pragma('cache_size = -65536');
// one range scan per span class, as Annals does, so both answer the same question exactly: the
// position (sort_start) bounded by the window's days give or take the widest UTC offset, 14 h
const page = db.prepare(`
  SELECT * FROM (
    SELECT id, key, kind, type, date, earliest, latest, sort_start, sort_end, title, text FROM entries WHERE span_class = 0 AND sort_start >= @lo0 AND sort_start < @hi AND earliest BETWEEN @from AND @to ORDER BY sort_start, sort_end, id LIMIT 50)
  UNION ALL SELECT * FROM (
    SELECT id, key, kind, type, date, earliest, latest, sort_start, sort_end, title, text FROM entries WHERE span_class = 1 AND sort_start >= @lo1 AND sort_start < @hi AND earliest <= @to AND latest >= @from ORDER BY sort_start, sort_end, id LIMIT 50)
  UNION ALL SELECT * FROM (
    SELECT id, key, kind, type, date, earliest, latest, sort_start, sort_end, title, text FROM entries WHERE span_class = 2 AND sort_start >= @lo2 AND sort_start < @hi AND earliest <= @to AND latest >= @from ORDER BY sort_start, sort_end, id LIMIT 50)
  UNION ALL SELECT * FROM (
    SELECT id, key, kind, type, date, earliest, latest, sort_start, sort_end, title, text FROM entries WHERE span_class = 3 AND sort_start < @hi AND earliest <= @to AND latest >= @from ORDER BY sort_start, sort_end, id LIMIT 50)
  ORDER BY sort_start, sort_end, id LIMIT 50`);

const DAY_MS = 86_400_000;
const OFFSET_MS = 14 * 3_600_000;
const dayNumber = (iso: string) => Math.floor(Date.parse(`${iso}T00:00:00Z`) / DAY_MS);

const app = Fastify({ logger: false });
app.get('/v1/timeline', async (request) => {
  const { from, to } = request.query as { from: string; to: string };
  const [first, last] = [dayNumber(from), dayNumber(to)];
  const rows = page.all({
    from: first,
    to: last,
    lo0: first * DAY_MS - OFFSET_MS,
    lo1: (first - 30) * DAY_MS - OFFSET_MS,
    lo2: (first - 365) * DAY_MS - OFFSET_MS,
    hi: (last + 1) * DAY_MS + OFFSET_MS,
  }) as { title: string | null; text: string | null; sort_start?: number; sort_end?: number }[];
  return {
    data: rows.map(({ sort_start: _start, sort_end: _end, ...r }) => ({ ...r, title: r.title && JSON.parse(r.title), text: r.text && JSON.parse(r.text) })),
  };
});
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`listening ${(app.server.address() as { port: number }).port}\n`);
