import { buildMatchQuery } from '../../search/text.js';

/** The FTS5 MATCH expression of a query's text (TimelineQuery.text, checked upstream to hold a word). */
export function ftsMatch(text: string): string {
  const match = buildMatchQuery(text);
  if (match === null) throw new Error('a full-text query without a word to search for reached the engine');
  return match;
}
