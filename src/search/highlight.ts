import { analyze } from './text.js';

/** A word as written, with its UTF-16 offsets in the text. */
const WORD_RE = /[\p{L}\p{N}][\p{L}\p{N}\p{M}\u00AD\u200C\u200D]*/gu;

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The index terms a query asks for: every folded form and stem it would match. */
export function queryTerms(q: string): Set<string> {
  const terms = new Set<string>();
  for (const term of analyze(q)) {
    terms.add(term.folded);
    if (term.stem !== undefined) terms.add(term.stem);
  }
  return terms;
}

/**
 * A snippet of `text` around its first words that match `terms`, as HTML: the text is
 * escaped and the matching words are wrapped in `<mark>`. Null when no word matches
 * (the entry matched through an actor's or a place's name).
 */
export function highlightText(text: string, terms: Set<string>, contextWords = 12): string | null {
  const words = [...text.matchAll(WORD_RE)].map((m) => ({ start: m.index, end: m.index + m[0].length, word: m[0] }));
  const hits = words.map((w) => analyze(w.word).some((t) => terms.has(t.folded) || (t.stem !== undefined && terms.has(t.stem))));
  const first = hits.indexOf(true);
  if (first === -1) return null;
  const from = Math.max(0, first - contextWords);
  const to = Math.min(words.length - 1, first + contextWords * 2);
  let html = from > 0 ? '…' : '';
  let cursor = words[from]!.start;
  for (let i = from; i <= to; i++) {
    const w = words[i]!;
    html += escapeHtml(text.slice(cursor, w.start));
    html += hits[i] ? `<mark>${escapeHtml(text.slice(w.start, w.end))}</mark>` : escapeHtml(text.slice(w.start, w.end));
    cursor = w.end;
  }
  html += to < words.length - 1 ? '…' : escapeHtml(text.slice(cursor));
  return html;
}

/** The first field and language of a language-map set in which the query matches a word. */
export function highlightFields(
  fields: Record<string, Record<string, string> | null>,
  terms: Set<string>,
): { field: string; lang: string; snippet: string } | null {
  for (const [field, map] of Object.entries(fields)) {
    for (const [lang, text] of Object.entries(map ?? {})) {
      const snippet = highlightText(text, terms);
      if (snippet !== null) return { field, lang, snippet };
    }
  }
  return null;
}
