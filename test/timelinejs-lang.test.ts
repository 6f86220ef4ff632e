// TimelineJS3 output in the language asked for (`lang`): display dates with that language's month
// names and digits, keeping precision and qualifiers; group labels in it; and open intervals drawn
// from their start only, never to an end the data does not give.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEdtf } from '../src/dates/edtf.js';
import { displayDate } from '../src/formats/text.js';
import { AUTH, buildTestApp, type TestApp } from './helpers.js';

type Json = Record<string, any>;

/** Events the tests add to the seed, one for each precision or qualifier to be written. */
const ADDED: Json[] = [
  { key: 'event:lang-month', type: 'meeting', date: '2022-03', title: { en: 'Some time in March 2022', ar: 'في مارس 2022' } },
  { key: 'event:lang-month-uncertain', type: 'meeting', date: '2022-04?', title: { en: 'April 2022, perhaps', ar: 'أبريل 2022 ربما' } },
  { key: 'event:lang-instant', type: 'meeting', date: '2022-01-05T14:30:00+06:00', title: { en: 'At 14:30 in Almaty', ar: 'في 14:30 بتوقيت ألماتي' } },
  { key: 'event:lang-open-start', type: 'meeting', date: '../2022-01-03', title: { en: 'Until 3 January', ar: 'حتى 3 يناير' } },
  { key: 'event:lang-type-unknown', type: 'ceasefire_talks', date: '2022-01-09', title: { en: 'Talks', ar: 'محادثات' } },
];

const ENGLISH_MONTHS = /January|February|March|April|May|June|July|August|September|October|November|December/;
/** How Intl writes a number in a locale (the digits ICU gives `ar` depend on its CLDR version). */
const digits = (locale: string, n: number) => new Intl.NumberFormat(locale, { useGrouping: false }).format(n);

let t: TestApp;
const get = (url: string) => t.app.inject({ url });
async function timelineJs(query: string): Promise<Json> {
  const res = await get(`/v1/timeline?format=timelinejs&${query}`);
  expect(res.statusCode, res.body).toBe(200);
  return JSON.parse(res.body) as Json;
}
const slideOf = (doc: Json, key: string): Json => {
  const found = (doc.events as Json[]).find((s) => s.unique_id === key);
  expect(found, key).toBeDefined();
  return found!;
};

beforeAll(async () => {
  t = await buildTestApp({ seed: true, memory: true });
  for (const event of ADDED) {
    const res = await t.app.inject({ method: 'POST', url: '/v1/events', headers: AUTH, payload: event });
    expect(res.statusCode, res.body).toBe(201);
  }
});
afterAll(() => t.close());

describe('TimelineJS display_date in the language asked for', () => {
  it('writes every date in Arabic with lang=ar: Arabic month names, no English word', async () => {
    const doc = await timelineJs('lang=ar');
    const y = digits('ar', 2022);
    expect(slideOf(doc, 'event:kz-protests-2022-01-02').display_date).toBe(`${digits('ar', 2)} يناير ${y}`);
    expect(slideOf(doc, 'event:kz-government-resignation-2022-01-05').display_date).toBe(`${digits('ar', 5)} يناير ${y}`);
    for (const slide of doc.events as Json[]) {
      const shown = slide.display_date as string;
      expect(shown, slide.unique_id).not.toMatch(ENGLISH_MONTHS);
      // only an instant carries a Latin word: its time zone
      expect(shown.replace(/UTC/, ''), slide.unique_id).not.toMatch(/[A-Za-z]/);
    }
  });

  it('keeps precision and qualifiers in Arabic: a month is a month, a year a year, "~" and "?" marked', async () => {
    const doc = await timelineJs('lang=ar');
    const y = digits('ar', 2022);
    // a month stays a month: no day written
    expect(slideOf(doc, 'event:lang-month').display_date).toBe(`مارس ${y}`);
    expect(slideOf(doc, 'event:lang-month-uncertain').display_date).toBe(`أبريل ${y}؟`);
    // the approximate year 1992~
    expect(slideOf(doc, 'event:kz-independence').display_date).toBe(`حوالي ${digits('ar', 1992)}`);
    // the state of emergency, its day inferred from the report: uncertain
    expect(slideOf(doc, 'event:kz-state-of-emergency-2022-01-05').display_date).toBe(`${digits('ar', 5)} يناير ${y}؟`);
    // intervals: both ends, an open end, an open start
    expect(slideOf(doc, 'event:almaty-riots-2022-01').display_date).toBe(`${digits('ar', 2)} يناير ${y} – ${digits('ar', 11)} يناير ${y}`);
    expect(slideOf(doc, 'event:kz-unrest-2022').display_date).toBe(`ابتداءً من ${digits('ar', 2)} يناير ${y}`);
    expect(slideOf(doc, 'event:lang-open-start').display_date).toBe(`حتى ${digits('ar', 3)} يناير ${y}`);
    // an instant: its UTC day and time (14:30 in Almaty is 08:30 UTC)
    const instant = slideOf(doc, 'event:lang-instant').display_date as string;
    expect(instant).toContain(`${digits('ar', 5)} يناير ${y}`);
    expect(instant).toContain(`${digits('ar', 8).padStart(2, digits('ar', 0))}:${digits('ar', 30)}`);
    expect(instant).toContain('UTC');
  });

  it('uses the digits of the locale asked for: ar-EG and ar-u-nu-arab write Arabic-Indic digits', async () => {
    for (const lang of ['ar-EG', 'ar-u-nu-arab']) {
      const doc = await timelineJs(`lang=${lang}`);
      expect(slideOf(doc, 'event:kz-protests-2022-01-02').display_date, lang).toBe('٢ يناير ٢٠٢٢');
      expect(slideOf(doc, 'event:kz-independence').display_date, lang).toBe('حوالي ١٩٩٢');
      for (const slide of doc.events as Json[]) expect(slide.display_date, `${lang} ${slide.unique_id}`).not.toMatch(/[0-9]/);
    }
  });

  it('writes Gregorian dates even for a locale whose calendar is another (ar-SA: Hijri)', async () => {
    const doc = await timelineJs('lang=ar-SA');
    // 2 January 2022 is 28 Jumada al-Awwal 1443 in the Hijri calendar: it must not be shown so
    expect(slideOf(doc, 'event:kz-protests-2022-01-02').display_date).toBe('٢ يناير ٢٠٢٢');
    expect(slideOf(doc, 'event:lang-month').display_date).toBe('مارس ٢٠٢٢');
  });

  it('writes other languages Intl knows with their month names and EDTF marks for the qualifiers', async () => {
    const doc = await timelineJs('lang=fr');
    expect(slideOf(doc, 'event:kz-protests-2022-01-02').display_date).toBe('2 janvier 2022');
    expect(slideOf(doc, 'event:lang-month').display_date).toBe('mars 2022');
    expect(slideOf(doc, 'event:kz-independence').display_date).toBe('~1992');
    expect(slideOf(doc, 'event:kz-state-of-emergency-2022-01-05').display_date).toBe('5 janvier 2022?');
    expect(slideOf(doc, 'event:kz-unrest-2022').display_date).toBe('2 janvier 2022 –');
  });

  it('keeps English as it was, and writes English for a language Intl does not know', async () => {
    for (const query of ['', 'lang=en', 'lang=en-US', 'lang=zz', 'lang=ar-x']) {
      const doc = await timelineJs(query);
      // ar-x is refused by Intl: its language alone (ar) is used
      const arabic = query === 'lang=ar-x';
      expect(slideOf(doc, 'event:kz-independence').display_date, query).toBe(arabic ? `حوالي ${digits('ar', 1992)}` : 'c. 1992');
      if (!arabic) {
        expect(slideOf(doc, 'event:lang-month').display_date, query).toBe('March 2022');
        expect(slideOf(doc, 'event:kz-unrest-2022').display_date, query).toBe('from 2 January 2022');
      }
    }
  });

  it('writes an astronomical year before 1 as the number it is, not as a year of an era', () => {
    // Intl alone writes the year 0 as "1" (1 BC)
    expect(displayDate(parseEdtf('0000') as never, 'ar-EG')).toBe('٠');
    expect(displayDate(parseEdtf('0000~') as never, 'ar')).toBe(`حوالي ${digits('ar', 0)}`);
    expect(displayDate(parseEdtf('0099-05') as never, 'fr')).toBe('mai 99');
    expect(displayDate(parseEdtf('0000') as never)).toBe('0');
  });
});

describe('TimelineJS group labels in the language asked for', () => {
  it('labels the kinds in Arabic with lang=ar, and as stored in English', async () => {
    const ar = await timelineJs('lang=ar');
    expect(slideOf(ar, 'event:kz-protests-2022-01-02').group).toBe('حدث');
    expect(slideOf(ar, 'stmt:amreyev-condolences').group).toBe('تصريح');
    expect(new Set((ar.events as Json[]).map((s) => s.group))).toEqual(new Set(['حدث', 'تصريح']));
    const en = await timelineJs('lang=en');
    expect(new Set((en.events as Json[]).map((s) => s.group))).toEqual(new Set(['event', 'statement']));
  });

  it('labels the types in Arabic with group=type, one label per type, an unknown type as stored', async () => {
    const doc = await timelineJs('lang=ar&group=type');
    expect(slideOf(doc, 'event:kz-protests-2022-01-02').group).toBe('احتجاج');
    expect(slideOf(doc, 'event:kz-government-resignation-2022-01-05').group).toBe('استقالة حكومة');
    expect(slideOf(doc, 'event:kz-state-of-emergency-2022-01-05').group).toBe('حالة طوارئ');
    expect(slideOf(doc, 'event:ots-cfm-extraordinary-2022-01-11').group).toBe('اجتماع');
    expect(slideOf(doc, 'stmt:amreyev-quote-motherland-of-all-turks').group).toBe('اقتباس مباشر');
    expect(slideOf(doc, 'stmt:amreyev-condolences').group).toBe('كلام منقول بتصرف');
    expect(slideOf(doc, 'event:lang-type-unknown').group).toBe('ceasefire_talks');
    // every seed type has an Arabic label, and two types never share one (they would merge groups)
    const entries = (await get('/v1/timeline?limit=500')).json().data as Json[];
    const labelOfType = new Map<string, string>();
    for (const entry of entries) labelOfType.set(entry.type, slideOf(doc, entry.key).group);
    for (const [type, label] of labelOfType) {
      if (type !== 'ceasefire_talks') expect(label, type).toMatch(/^[\u0600-\u06FF ]+$/);
    }
    expect(new Set(labelOfType.values()).size).toBe(labelOfType.size);
  });
});

describe('TimelineJS open intervals', () => {
  it('gives an open interval a start only: no end_date on its slide and no era, in any language', async () => {
    for (const query of ['', 'lang=ar']) {
      const doc = await timelineJs(query);
      const unrest = slideOf(doc, 'event:kz-unrest-2022');
      expect(unrest.start_date, query).toEqual({ year: 2022, month: 1, day: 2 });
      expect('end_date' in unrest, query).toBe(false);
      // an open start: the one date given is its end, drawn as the slide's start, with nothing after it
      const openStart = slideOf(doc, 'event:lang-open-start');
      expect(openStart.start_date, query).toEqual({ year: 2022, month: 1, day: 3 });
      expect('end_date' in openStart, query).toBe(false);
      // eras are the intervals with both ends, each with an end_date (TimelineJS3 refuses eras without one)
      const entries = (await get(`/v1/timeline?limit=500${query ? `&${query}` : ''}`)).json().data as Json[];
      const closed = entries.filter((e) => e.date.precision === 'interval' && e.date.start && e.date.end);
      expect(closed.map((e) => e.key).sort()).toEqual(['event:almaty-riots-2022-01', 'event:ots-secretariat-statement-2022-01']);
      expect(doc.eras).toHaveLength(closed.length);
      for (const era of doc.eras as Json[]) expect(era.end_date, query).toBeDefined();
    }
  });

  it('does not stretch an open era to the last day shown, whatever comes later', async () => {
    // before: the unrest's era ran to the latest day any other entry reached (11 January here)
    const doc = await timelineJs('type=unrest&type=meeting');
    expect((doc.events as Json[]).map((s) => s.unique_id)).toContain('event:kz-unrest-2022');
    expect(doc.eras).toEqual([]);
  });
});
