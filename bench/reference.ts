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
// one range scan per span class, as Annals does, so both answer the same question exactly
const page = db.prepare(`
  SELECT * FROM (
    SELECT id, key, kind, type, date, earliest, latest, title, text FROM entries WHERE span_class = 0 AND earliest BETWEEN @from AND @to ORDER BY earliest, latest, kind, id LIMIT 50)
  UNION ALL SELECT * FROM (
    SELECT id, key, kind, type, date, earliest, latest, title, text FROM entries WHERE span_class = 1 AND earliest BETWEEN @from - 30 AND @to AND latest >= @from ORDER BY earliest, latest, kind, id LIMIT 50)
  UNION ALL SELECT * FROM (
    SELECT id, key, kind, type, date, earliest, latest, title, text FROM entries WHERE span_class = 2 AND earliest BETWEEN @from - 365 AND @to AND latest >= @from ORDER BY earliest, latest, kind, id LIMIT 50)
  UNION ALL SELECT * FROM (
    SELECT id, key, kind, type, date, earliest, latest, title, text FROM entries WHERE span_class = 3 AND earliest <= @to AND latest >= @from ORDER BY earliest, latest, kind, id LIMIT 50)
  ORDER BY earliest, latest, kind, id LIMIT 50`);

const dayNumber = (iso: string) => Math.floor(Date.parse(`${iso}T00:00:00Z`) / 86_400_000);

const app = Fastify({ logger: false });
app.get('/v1/timeline', async (request) => {
  const { from, to } = request.query as { from: string; to: string };
  const rows = page.all({ from: dayNumber(from), to: dayNumber(to) }) as { title: string | null; text: string | null }[];
  return { data: rows.map((r) => ({ ...r, title: r.title && JSON.parse(r.title), text: r.text && JSON.parse(r.text) })) };
});
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`listening ${(app.server.address() as { port: number }).port}\n`);
