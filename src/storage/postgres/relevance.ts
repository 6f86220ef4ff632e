import { sql } from 'drizzle-orm';
import { addToDigest, cursorExpired } from '../cursor.js';
import type { RelevancePosition, TimelineQuery } from '../types.js';
import { analyze, MAX_QUERY_TOKENS } from '../../search/text.js';
import type { PgDb } from './client.js';
import { MAX_LEXEME_BYTES } from './search-text.js';
import { currentRevision } from './settings.js';
import { filterConditions, textCondition, windowConditions } from './timeline.js';
import type { PgTx } from './transactions.js';

/**
 * Relevance on PostgreSQL as SQLite's FTS5 ranks it: BM25 with FTS5's constants (k1 = 1.2,
 * b = 0.75) and its formula, term for term (fts5_aux.c): over every phrase of the query (an
 * Arabic word's stem and folded form are two), the IDF from the documents holding it (at least
 * 1e-6), the phrase's count in the document and the document's length against the mean. The
 * counts come from PostgreSQL, the arithmetic is done here in the order FTS5 does it, so that
 * both engines rank alike. Pages and cursors work as on SQLite (src/storage/sqlite/search.ts).
 */

const K1 = 1.2;
const B = 0.75;

/** The phrases of a query in FTS5's order: each term's alternatives (stem, then folded form), duplicates of a term dropped as buildMatchQuery drops them. */
export function queryPhrases(text: string): string[] {
  const seen = new Set<string>();
  const phrases: string[] = [];
  let parts = 0;
  for (const term of analyze(text)) {
    if (parts >= MAX_QUERY_TOKENS) break;
    const alternatives = (term.stem !== undefined ? [term.stem, term.folded] : [term.folded]).map(fit);
    const part = alternatives.join('\u0000');
    if (seen.has(part)) continue;
    seen.add(part);
    parts += 1;
    phrases.push(...alternatives);
  }
  return phrases;
}

function fit(token: string): string {
  if (Buffer.byteLength(token) <= MAX_LEXEME_BYTES) return token;
  let bytes = 0;
  let end = 0;
  for (const c of token) {
    const size = Buffer.byteLength(c);
    if (bytes + size > MAX_LEXEME_BYTES) break;
    bytes += size;
    end += c.length;
  }
  return token.slice(0, end);
}

/** A single lexeme as a tsquery literal. */
const lexemeQuery = (lexeme: string) => `'${lexeme.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;

/** Every match of the query (ids up to `maxId`) with its BM25 rank (negative, best first, as FTS5's bm25()), sorted by rank then id. */
async function rankedMatches(tx: PgTx, q: TimelineQuery & { text: string }, maxId: number): Promise<{ id: number; rank: number }[]> {
  const phrases = queryPhrases(q.text);
  const { rows: totals } = await tx.execute<{ n: number; tokens: number }>(
    sql`SELECT count(*)::float8 AS n, coalesce(sum(length), 0)::float8 AS tokens FROM search_index`,
  );
  const nRow = Number(totals[0]?.n ?? 0);
  const nToken = Number(totals[0]?.tokens ?? 0);
  const { rows: hitRows } = await tx.execute<{ hits: number }>(sql`
    SELECT (SELECT count(*)::integer FROM search_index WHERE document @@ p.q::tsquery) AS hits
    FROM unnest(${sql.param(phrases.map(lexemeQuery))}::text[]) WITH ORDINALITY AS p(q, i) ORDER BY p.i`);
  const idf = hitRows.map(({ hits }) => {
    const value = Math.log((nRow - hits + 0.5) / (hits + 0.5));
    return value <= 0 ? 1e-6 : value;
  });
  const avgdl = nToken / nRow;
  const where = [textCondition(q.text), sql`e.id <= ${Math.min(maxId, 2_147_483_647)}`, ...windowConditions(q), ...filterConditions(q)];
  const { rows } = await tx.execute<{ id: number; length: number; freqs: number[] }>(sql`
    SELECT e.id, s.length, ARRAY(
        SELECT coalesce((SELECT array_length(u.positions, 1) FROM unnest(s.document) AS u WHERE u.lexeme = x.lexeme), 0)
        FROM unnest(${sql.param(phrases)}::text[]) WITH ORDINALITY AS x(lexeme, i) ORDER BY x.i) AS freqs
    FROM entries e JOIN search_index s ON s.entry_id = e.id
    WHERE ${sql.join(where, sql` AND `)}`);
  const ranked = rows.map((r) => {
    let score = 0;
    for (let i = 0; i < phrases.length; i++) {
      const freq = r.freqs[i] ?? 0;
      score += (idf[i]! * (freq * (K1 + 1.0))) / (freq + K1 * (1 - B + (B * r.length) / avgdl));
    }
    return { id: r.id, rank: -1.0 * score };
  });
  return ranked.sort((a, b) => a.rank - b.rank || a.id - b.id);
}

const EXPIRED =
  'the results changed since this cursor was issued (entries were written that change which matches rank ' +
  'before it): restart from the first page, without a cursor';

/** One page of a text search in relevance order, from one snapshot (see SQLite's relevancePage for the cursor's rules). */
export async function relevancePage(
  db: PgDb,
  q: TimelineQuery & { text: string },
  after: RelevancePosition | undefined,
  limit: number,
): Promise<{ ids: number[]; next: RelevancePosition | null }> {
  return db.transaction(
    async (tx) => {
      const revision = await currentRevision(tx);
      let rows: { id: number; rank: number }[];
      let maxId: number;
      let seen = 0;
      let digest: [number, number] = [0, 0];
      if (after === undefined) {
        const { rows: highest } = await tx.execute<{ id: number | null }>(sql`SELECT max(id) AS id FROM entries`);
        maxId = highest[0]?.id ?? 0;
        rows = (await rankedMatches(tx, q, maxId)).slice(0, limit + 1);
      } else {
        const [takenAt, highest, count, high, low, rank, id] = after;
        maxId = highest;
        seen = count;
        digest = [high, low];
        const ranked = await rankedMatches(tx, q, maxId);
        if (takenAt === revision) {
          rows = ranked.filter((r) => r.rank > rank || (r.rank === rank && r.id > id)).slice(0, limit + 1);
        } else {
          // the data changed: the pages so far must still be the best `seen` matches
          const before = ranked.slice(0, seen);
          const same = addToDigest([0, 0], before.map((r) => r.id));
          if (before.length < seen || same[0] !== high || same[1] !== low) throw cursorExpired(EXPIRED);
          rows = ranked.slice(seen, seen + limit + 1);
        }
      }
      const page = rows.slice(0, limit);
      const ids = page.map((r) => r.id);
      const last = page[page.length - 1];
      if (rows.length <= limit || last === undefined) return { ids, next: null };
      const [high, low] = addToDigest(digest, ids);
      return { ids, next: [revision, maxId, seen + ids.length, high, low, last.rank, last.id] };
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
}

/** Every match of a text search in relevance order, read at once. */
export async function relevanceIds(tx: PgTx, q: TimelineQuery & { text: string }): Promise<number[]> {
  return (await rankedMatches(tx, q, Number.MAX_SAFE_INTEGER)).map((r) => r.id);
}
