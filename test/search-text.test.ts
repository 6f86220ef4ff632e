import { describe, expect, it } from 'vitest';
import {
  MAX_QUERY_LENGTH,
  MAX_QUERY_TOKENS,
  buildMatchQuery,
  foldArabic,
  normalizeForIndex,
  stemArabicToken,
} from '../src/search/text.js';

const tokens = (s: string): string[] => normalizeForIndex(s).split(' ').filter(Boolean);

describe('foldArabic', () => {
  it.each([
    // alef forms
    ['أمرييف', 'امرييف'],
    ['إلى', 'الي'],
    ['آخر', 'اخر'],
    ['ٱلله', 'الله'],
    // alef maksura, teh marbuta
    ['مصطفى', 'مصطفي'],
    ['الكازاخستانية', 'الكازاخستانيه'],
    // hamza carriers
    ['مؤتمر', 'موتمر'],
    ['رئيس', 'رييس'],
    // tashkeel: tanween, fatha, shadda, sukun, superscript alef, Quranic marks
    ['مشددًا', 'مشددا'],
    ['مُحَمَّدٌ', 'محمد'],
    ['هٰذا', 'هذا'],
    ['ذٰلِكَ ۖ', 'ذلك '],
    ['\u0610صلى', 'صلي'],
    // tatweel
    ['كــــازاخستان', 'كازاخستان'],
    // decomposed hamza (alef + U+0654) folds like the precomposed letter
    ['\u0627\u0654\u0645\u0631', 'امر'],
    // digits
    ['٢٠٢٢', '2022'],
    ['۱۹۹۹', '1999'],
    ['٠١٢٣٤٥٦٧٨٩', '0123456789'],
    // Persian keheh / yeh
    ['کتاب ی', 'كتاب ي'],
    // non-Arabic text untouched
    ['Tokáyev 2022 — «x»', 'Tokáyev 2022 — «x»'],
    ['', ''],
  ])('%s -> %s', (input, expected) => {
    expect(foldArabic(input)).toBe(expected);
  });

  it('is idempotent', () => {
    const s = 'قالَ أمينُ عامِّ منظمةِ الدولِ التركيةِ إِنَّ ٱستقرارَ كازاخستانَ ٣٠';
    expect(foldArabic(foldArabic(s))).toBe(foldArabic(s));
  });
});

describe('stemArabicToken (Light10)', () => {
  it.each([
    // definite article + suffixes
    ['الكازاخستانية', 'كازاخستان'], // ال, then يه (folded ية)
    ['الكازاخستاني', 'كازاخستان'], // ال, then ي
    ['السلطات', 'سلط'], // ال, ات
    ['سلطات', 'سلط'], // ات
    ['سلطاتها', 'سلط'], // ها then ات, one pass through the list
    ['كازاخستان', 'كازاخست'], // ان
    ['الاستقرار', 'استقرار'],
    ['استقرار', 'استقرار'],
    // و then an article
    ['والاستقرار', 'استقرار'],
    ['وللقيادة', 'قياد'], // و, لل, ه
    ['بالسلطات', 'سلط'],
    ['كالبيت', 'بيت'],
    ['فالامر', 'امر'],
    ['وازدهار', 'ازدهار'],
    ['للنظام', 'نظام'],
    // suffixes
    ['المعلمون', 'معلم'],
    ['المعلمين', 'معلم'],
    ['مدينته', 'مدينت'], // ه (one pass: ت is not a suffix)
    ['عربي', 'عرب'],
  ])('%s -> %s', (input, expected) => {
    expect(stemArabicToken(input)).toBe(expected);
  });

  it.each([
    ['وقت', 'وقت'], // 3 letters: و kept (needs ≥ 3 letters after it)
    ['وقتا', 'قتا'], // 4 letters: و removed
    ['والد', 'الد'], // و removed (3 left), ال would leave 1: kept
    ['الم', 'الم'], // ال would leave 1
    ['بان', 'بان'], // ان would leave 1
    ['هات', 'هات'],
    ['في', 'في'],
    ['و', 'و'],
  ])('respects minimum lengths: %s -> %s', (input, expected) => {
    expect(stemArabicToken(input)).toBe(expected);
  });

  it('folds before stemming, so diacritics and ة do not matter', () => {
    expect(stemArabicToken('السُّلُطاتُ')).toBe('سلط');
    expect(stemArabicToken('الكازاخستانيّة')).toBe('كازاخستان');
  });

  it('leaves non-Arabic and mixed tokens unchanged', () => {
    expect(stemArabicToken('tokayev')).toBe('tokayev');
    expect(stemArabicToken('2022م')).toBe('2022م');
    expect(stemArabicToken('')).toBe('');
  });
});

describe('normalizeForIndex', () => {
  it('emits both the folded surface form and the stem of Arabic words', () => {
    expect(normalizeForIndex('السلطات الكازاخستانية')).toBe('السلطات سلط الكازاخستانيه كازاخستان');
    // stem == surface form: emitted once
    expect(normalizeForIndex('استقرار')).toBe('استقرار');
  });

  it.each([
    ['Tokayev', 'tokayev'],
    ['TOKAYEV', 'tokayev'],
    ['Tokáyev', 'tokayev'],
    ['Toka\u0301yev', 'tokayev'], // decomposed accent
    ['İstanbul Ñuñoa Ærø', 'istanbul nunoa ærø'], // ø has no decomposition (unicode61 folds it)
    ['ﬁnal ＡＢＣ', 'final abc'], // compatibility forms
    ['Toka\u00ADyev', 'tokayev'], // soft hyphen does not split
    ['Nur-Sultan, 2022!', 'nur sultan 2022'],
    ['e-mail: a.b@c.kz', 'e mail a b c kz'],
    ['"NEAR(a b)" AND col:x*', 'near a b and col x'],
    // only Latin loses its marks; other scripts are lower-cased and NFC-composed
    ['Москва Αθήνα Ёлка', 'москва αθήνα ёлка'],
    ['', ''],
    ['  ,.;:!?()[]{}"\'*^-+ ', ''],
    ['\0\0', ''],
    ['😀🇰🇿 👍🏽', ''],
  ])('%j -> %j', (input, expected) => {
    expect(normalizeForIndex(input)).toBe(expected);
  });

  it('folds Arabic presentation forms, digits and diacritics', () => {
    expect(normalizeForIndex('ﻻ')).toBe('لا');
    expect(normalizeForIndex('في ٢ يناير')).toBe('في 2 يناير');
    expect(normalizeForIndex('مشددًا')).toBe('مشددا');
    expect(normalizeForIndex('قالَ أمرييف')).toBe('قال امرييف');
  });

  it('splits on Arabic punctuation but keeps ZWNJ-joined words together', () => {
    expect(normalizeForIndex('كازاخستان، ألماتي؛ البلاد؟')).toBe(
      // Light10 is blind to names: ألماتي -> الماتي -> ماتي -> مات (the folded form is indexed too)
      'كازاخستان كازاخست الماتي مات البلاد بلاد',
    );
    expect(normalizeForIndex('می\u200Cخواهم')).toBe('ميخواهم');
  });

  it('keeps combining marks of other scripts inside the word', () => {
    expect(tokens('हिन्दी किताब')).toEqual(['हिन्दी', 'किताब']);
  });

  it('survives lone surrogates and huge inputs', () => {
    expect(normalizeForIndex('a\uD800b\uDC00c')).toBe('a b c');
    const big = 'كازاخستان Tokayev '.repeat(1000);
    expect(tokens(big)).toHaveLength(3000);
  });
});

describe('buildMatchQuery', () => {
  it.each([
    ['Tokayev', '"tokayev"'],
    ['TOKÁYEV', '"tokayev"'],
    ['Tokayev Almaty', '"tokayev" AND "almaty"'],
    ['استقرار', '"استقرار"'],
    ['كازاخستان', '("كازاخست" OR "كازاخستان")'],
    ['سلطات', '("سلط" OR "سلطات")'],
    ['الاستقرار', '("استقرار" OR "الاستقرار")'],
    ['أمرييف', '"امرييف"'],
    ['مشددًا', '"مشددا"'],
    ['مشددا', '"مشددا"'],
    ['أمرييف Tokayev', '"امرييف" AND "tokayev"'],
    ['tokayev Tokayev TOKAYEV', '"tokayev"'], // duplicates dropped
  ])('%s -> %s', (input, expected) => {
    expect(buildMatchQuery(input)).toBe(expected);
  });

  it('prefix mode puts * on the last term only (both alternatives for Arabic)', () => {
    expect(buildMatchQuery('Toka', { prefix: true })).toBe('"toka" *');
    expect(buildMatchQuery('president toka', { prefix: true })).toBe('"president" AND "toka" *');
    expect(buildMatchQuery('السلطات', { prefix: true })).toBe('("سلط" * OR "السلطات" *)');
    expect(buildMatchQuery('Toka', { prefix: false })).toBe('"toka"');
    expect(buildMatchQuery('toka toka', { prefix: true })).toBe('"toka" AND "toka" *');
  });

  it.each([
    '',
    '   ',
    '"',
    '""',
    '*',
    '-',
    '()',
    '(((',
    ')',
    '^',
    ':',
    '+',
    '\0',
    '\uD800',
    '😀',
    '؟،؛',
    'ـــ', // tatweel only
    'ًٌٍ', // tashkeel only
  ])('returns null when nothing searchable remains: %j', (input) => {
    expect(buildMatchQuery(input)).toBeNull();
    expect(buildMatchQuery(input, { prefix: true })).toBeNull();
  });

  it.each([
    ['"hello', '"hello"'],
    ['NEAR(a b, 3)', '"near" AND "a" AND "b" AND "3"'],
    ['a* OR b', '"a" AND "or" AND "b"'],
    ['-foo', '"foo"'],
    ['body:foo', '"body" AND "foo"'],
    ['{body title}: foo', '"body" AND "title" AND "foo"'],
    ['AND OR NOT', '"and" AND "or" AND "not"'],
    ['foo)(bar', '"foo" AND "bar"'],
    ['^foo + bar', '"foo" AND "bar"'],
    ['a\0b', '"a" AND "b"'],
  ])('neutralises FTS5 syntax: %j -> %s', (input, expected) => {
    expect(buildMatchQuery(input)).toBe(expected);
  });

  it('only ever produces quoted terms, AND, OR, parentheses and *', () => {
    const inputs = ['"a" "b', 'x OR (y AND NOT z)', 'NEAR("a" "b")', 'كازاخستان -السلطات*'];
    for (const input of inputs) {
      const q = buildMatchQuery(input, { prefix: true });
      expect(q).not.toBeNull();
      // strip the quoted strings: what remains is our own syntax only
      const skeleton = q!.replace(/"(?:[^"]|"")*"/g, 'T');
      expect(skeleton).toMatch(/^(?:\(?T(?: \*)?(?: OR T(?: \*)?)*\)?)(?: AND \(?T(?: \*)?(?: OR T(?: \*)?)*\)?)*$/);
    }
  });

  it(`caps the number of terms at ${MAX_QUERY_TOKENS}`, () => {
    const q = Array.from({ length: 200 }, (_, i) => `w${i}`).join(' ');
    const built = buildMatchQuery(q)!;
    expect(built.split(' AND ')).toHaveLength(MAX_QUERY_TOKENS);
  });

  it('exports a sane MAX_QUERY_LENGTH', () => {
    expect(MAX_QUERY_LENGTH).toBe(500);
  });

  it('document and query sides agree token by token', () => {
    // Every term of the query for a text is found among that text's index tokens.
    const texts = [
      'السلطات الكازاخستانية',
      'قال أمين عام منظمة الدول التركية بغداد أمرييف',
      'President Kassym-Jomart Tokáyev, 5 January 2022',
      'وفي ٥ يناير، أعلنت الحكومة استقالتها',
    ];
    for (const text of texts) {
      const index = new Set(tokens(text));
      const q = buildMatchQuery(text)!;
      const groups = q.split(' AND ');
      for (const group of groups) {
        const alternatives = [...group.matchAll(/"((?:[^"]|"")*)"/g)].map((m) => m[1]!);
        expect(alternatives.some((a) => index.has(a))).toBe(true);
      }
    }
  });
});
