import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_QUERY_LENGTH, buildMatchQuery, normalizeForIndex } from '../src/search/text.js';

// the seed report, as shipped with the dataset built from it
const SEED_FILE = new URL('../data/seed/turkpress-2022-01-11-amreyev.txt', import.meta.url);

const paragraphs = readFileSync(SEED_FILE, 'utf8')
  .split(/\r?\n\s*\r?\n/)
  .map((p) => p.trim())
  .filter((p) => p.length > 0);

// Extra non-Arabic rows, after the seed paragraphs.
const extras = [
  'President Kassym-Jomart Tokayev addressed the nation.',
  'TOKAYEV DECLARES STATE OF EMERGENCY',
  'Токаев / Tokáyev (with an accent)',
  'and or not near', // FTS5 keywords as plain words
  'Nur-Sultan, 5 January 2022',
];

const docs = [...paragraphs, ...extras];

let db: Database.Database;

beforeAll(() => {
  db = new Database(':memory:');
  db.exec(`CREATE VIRTUAL TABLE t USING fts5(body, tokenize = "unicode61 remove_diacritics 2")`);
  const insert = db.prepare('INSERT INTO t(rowid, body) VALUES (?, ?)');
  db.transaction(() => {
    docs.forEach((doc, i) => insert.run(i + 1, normalizeForIndex(doc)));
  })();
});

afterAll(() => db.close());

/** Row ids (1-based paragraph numbers) matching a user query, or [] when the query has no terms. */
function search(q: string, opts?: { prefix?: boolean }): number[] {
  const match = buildMatchQuery(q, opts);
  if (match === null) return [];
  return db
    .prepare('SELECT rowid FROM t WHERE t MATCH ? ORDER BY rowid')
    .pluck()
    .all(match) as number[];
}

/** Row ids of the documents whose raw text satisfies the predicate. */
function rowsWhere(pred: (doc: string) => boolean): number[] {
  return docs.flatMap((doc, i) => (pred(doc) ? [i + 1] : []));
}
const rowsContaining = (...needles: string[]) => rowsWhere((d) => needles.some((n) => d.includes(n)));

describe('FTS5 over the Arabic seed report', () => {
  it('has the paragraphs the tests rely on', () => {
    expect(paragraphs.length).toBeGreaterThan(10);
    for (const needle of ['السلطات الكازاخستانية', 'سلطات كازاخستان', 'أمرييف', 'مشددًا', 'والاستقرار', 'إن استقرار']) {
      expect(rowsContaining(needle).length, needle).toBeGreaterThan(0);
    }
  });

  it('كازاخستان finds الكازاخستانية (folded query form = document stem)', () => {
    const hits = search('كازاخستان');
    expect(hits).toEqual(rowsContaining('كازاخستان'));
    expect(hits).toEqual(expect.arrayContaining(rowsContaining('الكازاخستانية')));
  });

  it('الكازاخستانية finds bare كازاخستان (query stem = document surface form)', () => {
    const hits = search('الكازاخستانية');
    expect(hits).toEqual(expect.arrayContaining(rowsContaining('كازاخستان')));
  });

  it('سلطات finds السلطات (stem vs stem: سلط)', () => {
    const hits = search('سلطات');
    expect(hits).toEqual(rowsContaining('سلطات'));
    expect(hits).toEqual(expect.arrayContaining(rowsContaining('السلطات')));
    // and the other way round
    expect(search('السلطات')).toEqual(rowsContaining('سلطات'));
  });

  it('أمرييف and امرييف both find أمرييف', () => {
    const expected = rowsContaining('أمرييف');
    expect(expected.length).toBeGreaterThan(1);
    expect(search('أمرييف')).toEqual(expected);
    expect(search('امرييف')).toEqual(expected);
    expect(search('إمرييف')).toEqual(expected);
  });

  it('مشددا (no diacritics) and مشددًا (with tanween) both find مشددًا', () => {
    const expected = rowsContaining('مشددًا');
    expect(expected).toHaveLength(1);
    expect(search('مشددا')).toEqual(expected);
    expect(search('مشددًا')).toEqual(expected);
    expect(search('مُشَدِّدًا')).toEqual(expected);
  });

  it('الاستقرار finds استقرار (query stem = document surface form)', () => {
    const hits = search('الاستقرار');
    expect(hits).toEqual(rowsContaining('استقرار'));
    // paragraphs that only have the bare word, without the article
    const bareOnly = rowsWhere((d) => d.includes('استقرار') && !d.includes('الاستقرار'));
    expect(bareOnly.length).toBeGreaterThan(0);
    expect(hits).toEqual(expect.arrayContaining(bareOnly));
    expect(search('استقرار')).toEqual(hits);
  });

  it('terms are AND-ed', () => {
    expect(search('كازاخستان ألماتي')).toEqual(rowsWhere((d) => d.includes('كازاخستان') && d.includes('ألماتي')));
    expect(search('أمرييف مشددًا')).toEqual(rowsContaining('مشددًا'));
    expect(search('أمرييف Tokayev')).toEqual([]);
  });

  it('Arabic-Indic digits match ASCII digits', () => {
    expect(search('٥ يناير')).toEqual(rowsWhere((d) => /(^|\D)5 يناير/.test(d)));
    expect(search('٢٠٢٢')).toEqual(rowsContaining('2022'));
  });

  it('Latin: case and accents do not matter', () => {
    const expected = rowsWhere((d) => /tok[aá]yev/i.test(d));
    expect(expected).toHaveLength(3);
    for (const q of ['Tokayev', 'TOKAYEV', 'tokáyev', 'TOKÁYEV']) {
      expect(search(q), q).toEqual(expected);
    }
    expect(search('Токаев')).toEqual(rowsContaining('Токаев'));
  });

  it('prefix queries', () => {
    expect(search('Toka', { prefix: true })).toEqual(rowsWhere((d) => /tok[aá]/i.test(d)));
    expect(search('Toka')).toEqual([]);
    expect(search('كازاخ', { prefix: true })).toEqual(rowsContaining('كازاخ'));
    expect(search('السلط', { prefix: true })).toEqual(expect.arrayContaining(rowsContaining('السلطات')));
    expect(search('nur sul', { prefix: true })).toEqual(rowsContaining('Nur-Sultan'));
  });

  it('FTS5 keywords are plain words inside quotes', () => {
    const row = rowsContaining('and or not near');
    for (const q of ['AND', 'OR', 'NOT', 'NEAR', 'and OR not NEAR', 'NEAR(and or)', '"not" "near"']) {
      expect(search(q), q).toEqual(row);
    }
  });
});

describe('hostile queries never break MATCH', () => {
  const hostile: string[] = [
    '"',
    '""',
    '"""',
    '"unbalanced',
    'NEAR(',
    'NEAR(a b',
    'NEAR(a b, 10)',
    'a NEAR b',
    '*',
    '**',
    'a*',
    '* a',
    '-',
    '-a',
    'a - b',
    'body:term',
    'nosuchcolumn:term',
    '{body}: x',
    '- body : x',
    '^a',
    'a + b',
    'AND',
    'OR',
    'NOT',
    'AND OR NOT',
    'a AND',
    'OR b',
    'NOT NOT NOT',
    '(',
    ')',
    '(()',
    '(a OR b',
    'a) OR (b',
    '\0',
    'a\0b',
    '\0"\0*',
    '\uD800',
    '\uDC00\uD800',
    'a\uD83Db',
    '😀',
    '👨‍👩‍👧‍👦 🇰🇿',
    'كازاخستان 😀',
    ' ',
    '',
    '\t\n\r',
    '\u200B\u200C\u200D\uFEFF',
    'ـ',
    'ًٌٍَُِّْ',
    '\u0301\u0301',
    '\u19B0', // a "letter" in JS that unicode61 treats as a separator
    'abc \u19B0\u19B1',
    'x'.repeat(10_000),
    '"'.repeat(10_000),
    '('.repeat(5_000) + ')'.repeat(4_000),
    'NEAR( '.repeat(2_000),
    'a '.repeat(5_000),
    'كازاخستان '.repeat(1_000),
    Array.from({ length: 3_000 }, (_, i) => `w${i}`).join(' OR '),
  ];

  /** Throws if SQLite rejects the expression. */
  function runMatch(q: string, prefix: boolean): void {
    const match = buildMatchQuery(q, { prefix });
    if (match === null) return;
    db.prepare('SELECT count(*) FROM t WHERE t MATCH ?').pluck().get(match);
  }

  it.each(hostile.map((q) => [q.length > 40 ? `${JSON.stringify(q.slice(0, 40))}… (${q.length})` : JSON.stringify(q), q]))(
    '%s',
    (_label, q) => {
      expect(() => runMatch(q, false)).not.toThrow();
      expect(() => runMatch(q, true)).not.toThrow();
    },
  );

  it('the route limit is smaller than the hostile inputs we accept anyway', () => {
    expect(hostile.some((q) => q.length > MAX_QUERY_LENGTH)).toBe(true);
  });

  // Arbitrary text, biased towards FTS5 syntax, Arabic and odd code units.
  const syntax = fc.constantFrom(
    '"', '*', '(', ')', '-', '+', '^', ':', '{', '}', ',', ' ', '\0',
    'AND', 'OR', 'NOT', 'NEAR', 'NEAR(', 'body:', '""',
  );
  const arabic = fc.constantFrom(
    'ال', 'و', 'ة', 'ى', 'أ', 'إ', 'آ', 'ٱ', 'ؤ', 'ئ', 'ـ', 'ً', 'ّ', 'ٰ', '٣', '۴', '،', '؟', 'كازاخستان', 'السلطات',
  );
  const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
  const hostileUnit = fc.oneof(
    { arbitrary: fc.string({ unit: 'grapheme', maxLength: 1 }), weight: 4 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 1 }), weight: 4 },
    { arbitrary: syntax, weight: 3 },
    { arbitrary: arabic, weight: 3 },
    { arbitrary: loneSurrogate, weight: 1 },
  );
  const hostileText = fc.string({ unit: hostileUnit, maxLength: 200 });

  it('random hostile strings: MATCH never throws', () => {
    fc.assert(
      fc.property(hostileText, fc.boolean(), (q, prefix) => {
        runMatch(q, prefix);
      }),
      { numRuns: 1_000, seed: 20_220_105 },
    );
  });

  it('10 KB random strings (graphemes, any code point): MATCH never throws', () => {
    const big = [
      ...fc.sample(fc.string({ unit: 'grapheme', minLength: 10_000, maxLength: 10_000 }), { numRuns: 3, seed: 1 }),
      ...fc.sample(fc.string({ unit: 'binary', minLength: 10_000, maxLength: 10_000 }), { numRuns: 3, seed: 2 }),
      ...fc.sample(fc.string({ unit: hostileUnit, minLength: 10_000, maxLength: 10_000 }), { numRuns: 3, seed: 3 }),
    ];
    for (const q of big) {
      expect(q.length).toBeGreaterThanOrEqual(10_000);
      expect(() => runMatch(q, false)).not.toThrow();
      expect(() => runMatch(q, true)).not.toThrow();
    }
  });

  it('any text finds itself once indexed (document and query sides agree)', () => {
    const probe = new Database(':memory:');
    try {
      probe.exec(`CREATE VIRTUAL TABLE p USING fts5(body, tokenize = "unicode61 remove_diacritics 2")`);
      const insert = probe.prepare('INSERT INTO p(rowid, body) VALUES (1, ?)');
      const clear = probe.prepare('DELETE FROM p');
      const find = probe.prepare('SELECT rowid FROM p WHERE p MATCH ?').pluck();
      fc.assert(
        fc.property(hostileText, fc.boolean(), (text, prefix) => {
          const match = buildMatchQuery(text, { prefix });
          clear.run();
          insert.run(normalizeForIndex(text));
          if (match !== null) expect(find.all(match)).toEqual([1]);
        }),
        {
          numRuns: 1_000,
          seed: 42,
          // letters that unicode61 drops would give an empty phrase ("x" AND "" matches nothing)
          examples: [['abc \u19B0\u19B1 \u1CF2', false], ['كازاخستان ᦰ', true], ['Tokáyev الكازاخستانية', true]],
        },
      );
    } finally {
      probe.close();
    }
  });
});
