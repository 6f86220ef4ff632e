/**
 * Citations as both engines check them: pure functions over a source's text, so that a
 * citation refused on one engine is refused on the other with the same message.
 */

export interface CitationWrite {
  sourceId: number;
  excerpt: string | null;
  start: number | null;
  end: number | null;
}

/**
 * A source text as citations' offsets see it: its length and slices in code points (for text
 * without astral characters, UTF-16 indexes), split once for all the citations checked.
 */
export interface CitedText {
  length: number;
  slice(start: number, end: number): string;
}

export function citedText(text: string): CitedText {
  if (!/[\uD800-\uDFFF]/.test(text)) return { length: text.length, slice: (start, end) => text.slice(start, end) };
  const chars = Array.from(text);
  return { length: chars.length, slice: (start, end) => chars.slice(start, end).join('') };
}

/**
 * What is wrong with a citation of a source whose text is `text` (null: the source has none),
 * as the field under the citation and a message; null when nothing is. Offsets point into
 * the stored text: both or neither, in order, within it, and holding the excerpt when there
 * is one. Without a text they point at nothing and are refused, by the API and the import
 * alike, and a source's text cannot change under citations it would no longer hold.
 */
export function citationProblem(
  text: CitedText | null,
  c: Pick<CitationWrite, 'excerpt' | 'start' | 'end'>,
): { field: string; message: string } | null {
  if (c.start === null && c.end === null) return null;
  if (c.start === null || c.end === null) return { field: '', message: 'start and end go together' };
  if (c.start > c.end) return { field: '/end', message: 'end must not be before start' };
  if (text === null) return { field: '/start', message: 'the source has no text for the offsets to point into' };
  if (c.end > text.length) {
    return { field: '/end', message: `end ${c.end} is beyond the source text, which has ${text.length} characters` };
  }
  if (c.excerpt !== null && text.slice(c.start, c.end) !== c.excerpt) {
    return { field: '/excerpt', message: `the source text at [${c.start}, ${c.end}) is not this excerpt` };
  }
  return null;
}

