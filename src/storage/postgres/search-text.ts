/**
 * Full text on PostgreSQL from the same analysis as SQLite's FTS5 index (src/search/text.ts):
 * documents are the space-separated tokens of normalizeForIndex, queries the terms of
 * analyze. Both are handed to PostgreSQL as tsvector and tsquery literals, which take each
 * lexeme as it is written, so that no text-search configuration (its parser, dictionaries or
 * stemmer) folds or splits them differently from what SQLite's index holds.
 */
import { analyze, MAX_QUERY_TOKENS } from '../../search/text.js';

/**
 * PostgreSQL's limits on a lexeme (2047 bytes) and on a position (16383; later ones are
 * counted at 16383). A longer token is cut at the last whole code point within the limit, in
 * documents and queries alike, so that it still matches itself (and, unlike FTS5, also any
 * token that shares those first 2047 bytes).
 */
export const MAX_LEXEME_BYTES = 2047;
const MAX_POSITION = 16383;

/** A UTF-16 code unit is at most 3 bytes of UTF-8: a token no longer than this fits whatever it holds. */
const ALWAYS_FITS = Math.floor(MAX_LEXEME_BYTES / 3);

function fitLexeme(token: string): string {
  if (token.length <= ALWAYS_FITS || Buffer.byteLength(token) <= MAX_LEXEME_BYTES) return token;
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

/** A lexeme quoted for a tsvector or tsquery literal (tokens are letters, digits and marks, but quote anyway). */
const quote = (lexeme: string) => (/['\\]/.test(lexeme) ? `'${lexeme.replaceAll('\\', '\\\\').replaceAll("'", "''")}'` : `'${lexeme}'`);

/**
 * The tsvector literal of an index body (normalizeForIndex's output): each token at its
 * position, 1-based, as FTS5 counts them. '' for an empty body (an empty tsvector).
 */
export function tsvectorLiteral(body: string): string {
  const positions = new Map<string, number[]>();
  let position = 0;
  for (const token of body.split(' ')) {
    if (token === '') continue;
    position += 1;
    const lexeme = fitLexeme(token);
    let list = positions.get(lexeme);
    if (list === undefined) positions.set(lexeme, (list = []));
    // PostgreSQL keeps at most 256 positions of a lexeme
    if (list.length < 256) list.push(Math.min(position, MAX_POSITION));
  }
  // positions repeat only at the last one PostgreSQL counts
  const capped = position > MAX_POSITION;
  let literal = '';
  for (const [lexeme, list] of positions) literal += `${literal === '' ? '' : ' '}${quote(lexeme)}:${(capped ? [...new Set(list)] : list).join(',')}`;
  return literal;
}

/**
 * The tsquery literal of a user query, or null when nothing searchable remains: the same
 * terms as buildMatchQuery's FTS5 expression (src/search/text.ts), AND-ed, an Arabic term
 * matching its stem or its folded form, duplicates dropped, at most MAX_QUERY_TOKENS, and
 * with `prefix` the last term a prefix (`:*`). No input can inject tsquery syntax: every
 * lexeme is quoted.
 */
export function tsqueryLiteral(q: string, opts: { prefix?: boolean } = {}): string | null {
  const terms = analyze(q);
  if (terms.length === 0) return null;
  const prefixIndex = opts.prefix === true ? terms.length - 1 : -1;
  const seen = new Set<string>();
  const parts: string[] = [];
  for (let i = 0; i < terms.length && parts.length < MAX_QUERY_TOKENS; i++) {
    const term = terms[i]!;
    const star = i === prefixIndex ? ':*' : '';
    const alternatives = (term.stem !== undefined ? [term.stem, term.folded] : [term.folded]).map((a) => quote(fitLexeme(a)) + star);
    const part = alternatives.length === 1 ? alternatives[0]! : `(${alternatives.join(' | ')})`;
    if (seen.has(part)) continue;
    seen.add(part);
    parts.push(part);
  }
  return parts.join(' & ');
}
