/**
 * Text normalisation for full-text search.
 *
 * The FTS5 table stores a *normalised* copy of every searchable text. It is
 * normalised here, in JS, both when a document is written (`normalizeForIndex`)
 * and when a user query comes in (`buildMatchQuery`). So the FTS5 tokenizer
 * (`unicode61 remove_diacritics 2`) only ever sees tokens that are already
 * folded, and the two sides always agree.
 *
 * Pipeline (the same for documents and queries):
 *   1. NFKD: decomposes Latin accents (é -> e + U+0301), compatibility forms
 *      (ligatures such as ﬁ, full-width letters, Arabic presentation forms such
 *      as ﻻ -> لا) and Arabic hamza letters (أ -> ا + U+0654).
 *   2. Invisible format characters that can sit inside a word (soft hyphen,
 *      ZWNJ/ZWJ, bidi marks, BOM) are removed, so they don't split words.
 *   3. `foldArabic`: Arabic orthographic folding (see below).
 *   4. Lower-case; combining marks after a Latin letter are removed
 *      ("Tokáyev" / "TOKAYEV" -> "tokayev"); then NFC for every other script.
 *   5. Tokenise: a token is a letter or digit followed by letters, digits or
 *      combining marks (Unicode-aware); everything else is a separator.
 *      (Marks are kept inside tokens so that e.g. Devanagari vowel signs don't
 *      break words; the Arabic and Latin marks are already gone by then.)
 *   6. Arabic tokens are light-stemmed (`stemArabicToken`). The index gets
 *      both the folded surface form and the stem; the query matches either.
 */

/**
 * Bump when the normalisation below changes: each engine then rebuilds its search index at
 * start-up, since stored documents were normalised the old way.
 */
export const SEARCH_INDEX_VERSION = '1';

/** Longest query (in UTF-16 code units) that the search route accepts; longer queries get a 400. */
export const MAX_QUERY_LENGTH = 500;

/**
 * At most this many distinct terms go into one MATCH expression. Queries that
 * respect MAX_QUERY_LENGTH rarely get near it; extra terms are dropped (which
 * can only widen the result set, since terms are AND-ed).
 */
export const MAX_QUERY_TOKENS = 64;

// ---------------------------------------------------------------------------
// Arabic folding
// ---------------------------------------------------------------------------

/**
 * Tashkeel / Quranic annotation marks, superscript alef and tatweel:
 * U+0610–U+061A, U+064B–U+065F, U+0670, U+06D6–U+06ED, U+0640.
 * (U+0653–U+0655 are madda/hamza above/below, so decomposed أ إ آ ؤ ئ fold too.)
 */
const ARABIC_MARKS_RE = /[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640]/g;

/**
 * Letter folding. أ إ آ ٱ -> ا ; ى -> ي ; ة -> ه ; and, as is common practice
 * in Arabic IR (e.g. Larkey et al.'s normaliser and Lucene's
 * ArabicNormalizer-style folding), the hamza carriers ؤ -> و and ئ -> ي.
 * The Persian keheh ک and Farsi yeh ی are folded to Arabic ك / ي too, since
 * they often turn up in Arabic text typed on Persian keyboards.
 */
const ARABIC_LETTER_MAP: Readonly<Record<string, string>> = {
  '\u0623': '\u0627', // أ -> ا
  '\u0625': '\u0627', // إ -> ا
  '\u0622': '\u0627', // آ -> ا
  '\u0671': '\u0627', // ٱ -> ا
  '\u0649': '\u064A', // ى -> ي
  '\u0629': '\u0647', // ة -> ه
  '\u0624': '\u0648', // ؤ -> و
  '\u0626': '\u064A', // ئ -> ي
  '\u06A9': '\u0643', // ک -> ك
  '\u06CC': '\u064A', // ی -> ي
};
const ARABIC_LETTER_RE = /[\u0623\u0625\u0622\u0671\u0649\u0629\u0624\u0626\u06A9\u06CC]/g;

/** Arabic-Indic ٠-٩ (U+0660–U+0669) and Extended Arabic-Indic ۰-۹ (U+06F0–U+06F9) digits. */
const ARABIC_DIGIT_RE = /[\u0660-\u0669\u06F0-\u06F9]/g;

/**
 * Arabic orthographic folding (no stemming): removes diacritics and tatweel,
 * unifies alef/yeh/teh-marbuta/hamza-carrier variants and maps Arabic-Indic
 * digits to ASCII digits. Other characters are left alone. Idempotent.
 */
export function foldArabic(text: string): string {
  return text
    .replace(ARABIC_MARKS_RE, '')
    .replace(ARABIC_LETTER_RE, (c) => ARABIC_LETTER_MAP[c] ?? c)
    .replace(ARABIC_DIGIT_RE, (c) => {
      const cp = c.charCodeAt(0);
      return String(cp >= 0x06f0 ? cp - 0x06f0 : cp - 0x0660);
    });
}

// ---------------------------------------------------------------------------
// Arabic light stemming (Light10)
// ---------------------------------------------------------------------------

/**
 * Light stemming in the manner of Light10 from
 *   Leah S. Larkey, Lisa Ballesteros, Margaret E. Connell,
 *   "Improving Stemming for Arabic Information Retrieval: Light Stemming and
 *   Co-occurrence Analysis", SIGIR 2002; and
 *   "Light Stemming for Arabic Information Retrieval", in Arabic Computational
 *   Morphology (Springer, 2007).
 *
 * Applied to the folded form (so ة is already ه and ية is يه). Lengths are in
 * letters. Rules, in order:
 *   1. Remove و ("and") if at least 3 letters remain (i.e. word length ≥ 4);
 *      the stricter limit is because many words begin with و.
 *   2. Remove ONE definite article — وال, بال, كال, فال, ال, لل (longest first)
 *      — if at least 2 letters remain.
 *   3. Go once through the suffix list, right to left as in the paper:
 *        ها, ان, ات, ون, ين, يه, ية, ه, ة, ي
 *      removing each one found at the end of the word if at least 2 letters
 *      remain. (After folding, ية/ة never occur; they stay for fidelity.)
 *
 * Example: الكازاخستانية -> fold الكازاخستانيه -> ال: كازاخستانيه -> يه: كازاخستان.
 */
const LIGHT10_ARTICLES = ['وال', 'بال', 'كال', 'فال', 'ال', 'لل'] as const;
const LIGHT10_SUFFIXES = ['ها', 'ان', 'ات', 'ون', 'ين', 'يه', 'ية', 'ه', 'ة', 'ي'] as const;

/** A token made only of Arabic letters (after folding). Digits or other scripts: not stemmed. */
const ARABIC_WORD_RE = /^[\u0621-\u063A\u0641-\u064A\u066E-\u06D3\u06D5\u06EE\u06EF\u06FA-\u06FF]+$/;

function isArabicWord(token: string): boolean {
  return ARABIC_WORD_RE.test(token);
}

/**
 * Light10 stem of one token. The token is folded first (foldArabic is
 * idempotent). Tokens that are not purely Arabic letters come back folded
 * but otherwise unchanged.
 */
export function stemArabicToken(token: string): string {
  let w = foldArabic(token);
  if (!isArabicWord(w)) return w;

  if (w.length >= 4 && w.startsWith('و')) w = w.slice(1);

  for (const article of LIGHT10_ARTICLES) {
    if (w.startsWith(article) && w.length - article.length >= 2) {
      w = w.slice(article.length);
      break;
    }
  }

  for (const suffix of LIGHT10_SUFFIXES) {
    if (w.endsWith(suffix) && w.length - suffix.length >= 2) {
      w = w.slice(0, -suffix.length);
    }
  }
  return w;
}

// ---------------------------------------------------------------------------
// Pipeline
// ---------------------------------------------------------------------------

/**
 * Invisible format characters that may occur inside a word: soft hyphen,
 * Arabic letter mark, ZWNJ, ZWJ, LRM/RLM, bidi embeddings/overrides/isolates,
 * word joiner & invisible operators, BOM. Removed (not treated as separators).
 */
const INVISIBLE_RE = /[\u00AD\u061C\u200C-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/g;

/** Combining marks on a Latin letter (after NFKD): é -> e, ñ -> n, İ -> i. */
const LATIN_MARKS_RE = /(\p{Script=Latin})\p{M}+/gu;

/** Tokens: a letter or digit, then letters, digits or combining marks. */
const TOKEN_RE = /[\p{L}\p{N}][\p{L}\p{N}\p{M}]*/gu;

/**
 * Characters that JS calls letters but SQLite's unicode61 tokenizer treats as
 * separators (New Tai Lue vowel signs, two Vedic signs — found by probing
 * every \p{L}\p{N} code point), plus marks. A token made only of these would
 * become an empty FTS5 phrase, and `"x" AND ""` matches nothing, so such
 * tokens are dropped.
 */
const NOT_A_TOKEN_IN_SQLITE_RE = /^[\u19B0-\u19C0\u19C8\u19C9\u1CF2\u1CF3\p{M}]+$/u;

export interface Term {
  /** The folded surface form. */
  readonly folded: string;
  /** The Light10 stem, for Arabic tokens whose stem differs from the folded form. */
  readonly stem?: string;
}

/** The shared document/query analysis: folded tokens, with stems for Arabic ones. */
export function analyze(text: string): Term[] {
  const folded = foldArabic(text.normalize('NFKD').replace(INVISIBLE_RE, ''))
    .toLowerCase()
    .replace(LATIN_MARKS_RE, '$1')
    .normalize('NFC');

  const terms: Term[] = [];
  for (const match of folded.matchAll(TOKEN_RE)) {
    const token = match[0];
    if (NOT_A_TOKEN_IN_SQLITE_RE.test(token)) continue;
    if (isArabicWord(token)) {
      const stem = stemArabicToken(token);
      terms.push(stem === token ? { folded: token } : { folded: token, stem });
    } else {
      terms.push({ folded: token });
    }
  }
  return terms;
}

/**
 * Full pipeline for the document side. Returns space-separated index tokens:
 * for Arabic words the folded surface form followed by its stem (when it
 * differs), so exact words still rank and stems still match; for other
 * words the folded form only.
 */
export function normalizeForIndex(text: string): string {
  // Every step of the pipeline works within runs of text between spaces and line breaks
  // (NFKD and NFC do not reorder or compose across them, lower-casing's final-sigma rule
  // stops at them, and they separate tokens), so the text is normalised run by run and the
  // runs are remembered: documents are written from a small vocabulary of words and names
  // over and over, and an import spends most of its normalising time on words seen before.
  let out = '';
  let start = 0;
  const length = text.length;
  for (let i = 0; i <= length; i++) {
    const c = i < length ? text.charCodeAt(i) : 32;
    if (c !== 32 && c !== 10) continue;
    if (i > start) {
      const normalized = normalizeRun(text.slice(start, i));
      if (normalized !== '') out = out === '' ? normalized : `${out} ${normalized}`;
    }
    start = i + 1;
  }
  return out;
}

const runCache = new Map<string, string>();
export const RUN_CACHE_LIMIT = 100_000;
/** Runs longer than this are not remembered: words repeat, long runs rarely do, and the limit bounds the cache's bytes too. */
const RUN_CACHE_LONGEST = 64;
/** Runs remembered now (at most RUN_CACHE_LIMIT, each at most RUN_CACHE_LONGEST characters). */
export const runCacheSize = () => runCache.size;
/** A run of plain ASCII letters and digits: lower-casing is all the pipeline does to it. */
const ASCII_WORD_RE = /^[A-Za-z0-9]+$/;

function normalizeRun(run: string): string {
  let normalized = runCache.get(run);
  if (normalized === undefined) {
    normalized = ASCII_WORD_RE.test(run) ? run.toLowerCase() : analyzeToIndex(run);
    // a bounded cache: a corpus with a huge vocabulary starts over rather than grow without end
    if (run.length <= RUN_CACHE_LONGEST) {
      if (runCache.size >= RUN_CACHE_LIMIT) runCache.clear();
      runCache.set(run, normalized);
    }
  }
  return normalized;
}

function analyzeToIndex(text: string): string {
  const out: string[] = [];
  for (const term of analyze(text)) {
    out.push(term.folded);
    if (term.stem !== undefined) out.push(term.stem);
  }
  return out.join(' ');
}

/** An FTS5 string literal. Tokens never contain `"`, but double it anyway. */
function quote(token: string): string {
  return `"${token.replaceAll('"', '""')}"`;
}

/**
 * Turns a user query into a safe FTS5 MATCH expression, or null if nothing
 * searchable remains.
 *
 * The query goes through the same pipeline as documents. Every term is an
 * FTS5 string (double-quoted), and only letters, digits and marks survive
 * tokenisation, so no input can inject FTS5 syntax: `"`, `*`, `-`, `^`,
 * `col:term`, parentheses, NEAR(...) and the keywords AND/OR/NOT/NEAR (which
 * inside quotes are plain tokens) are all either separators or plain words.
 *
 * Arabic terms match the stem or the folded form: `("stem" OR "folded")`.
 * Terms are joined with an explicit AND (FTS5's implicit AND does not accept
 * a parenthesised group as an operand). Duplicate terms are dropped and at
 * most MAX_QUERY_TOKENS terms are kept. With `prefix: true` the last term is
 * a prefix query (`"tok" *`; for Arabic both alternatives get the `*`).
 *
 * Does not enforce MAX_QUERY_LENGTH — the route checks that and returns 400.
 */
export function buildMatchQuery(q: string, opts: { prefix?: boolean } = {}): string | null {
  if (typeof q !== 'string') return null;
  const terms = analyze(q);
  if (terms.length === 0) return null;

  const prefixIndex = opts.prefix === true ? terms.length - 1 : -1;
  const seen = new Set<string>();
  const parts: string[] = [];
  for (let i = 0; i < terms.length && parts.length < MAX_QUERY_TOKENS; i++) {
    const term = terms[i]!;
    const star = i === prefixIndex ? ' *' : '';
    const alternatives = term.stem !== undefined ? [term.stem, term.folded] : [term.folded];
    const part =
      alternatives.length === 1
        ? quote(alternatives[0]!) + star
        : `(${alternatives.map((a) => quote(a) + star).join(' OR ')})`;
    if (seen.has(part)) continue;
    seen.add(part);
    parts.push(part);
  }
  return parts.join(' AND ');
}
