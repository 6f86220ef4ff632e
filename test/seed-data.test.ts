// Checks the shipped seed dataset (data/seed/kazakhstan-january-2022.ndjson) on its own, against
// the report it was built from (data/seed/turkpress-2022-01-11-amreyev.txt, the seed document as
// given): plain JSON per line, no application code involved.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

type Json = Record<string, any>;

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const seedFile = path.join(repo, 'data/seed/kazakhstan-january-2022.ndjson');
const reportFile = path.join(repo, 'data/seed/turkpress-2022-01-11-amreyev.txt');
const report = readFileSync(reportFile, 'utf8');

const SOURCE_KEY = 'src:turkpress-2022-01-11-amreyev';
const MEETING_KEY = 'event:ots-cfm-extraordinary-2022-01-11';
const UNREST_KEY = 'event:kz-unrest-2022';
const KEY_RE = /^[A-Za-z][A-Za-z0-9:._~-]*$/;
const KIND_ORDER = ['source', 'place', 'actor', 'event', 'statement', 'timeline'] as const;
const KIND_PREFIX: Record<string, string> = {
  source: 'src:',
  place: 'place:',
  actor: 'actor:',
  event: 'event:',
  statement: 'stmt:',
  timeline: 'timeline:',
};

const raw = readFileSync(seedFile, 'utf8');
const lines = raw.endsWith('\n') ? raw.slice(0, -1).split('\n') : raw.split('\n');
const records: Json[] = lines.map((line) => JSON.parse(line) as Json);
const byKey = new Map<string, Json>(records.map((r) => [r.key as string, r]));
const ofKind = (kind: string) => records.filter((r) => r.kind === kind);
const get = (key: string): Json => {
  const r = byKey.get(key);
  if (!r) throw new Error(`no record ${key}`);
  return r;
};

/** Slice by Unicode code points, as the interchange format counts offsets. */
const cpSlice = (text: string, start: number, end: number) =>
  Array.from(text).slice(start, end).join('');

/** Validates the EDTF subset of PRODUCT.md: day/month/year, intervals with `..`, qualifiers. */
function edtfBounds(value: string): { earliest: string; latest: string } | null {
  const body = value.replace(/[?~%]$/, '');
  const part = (p: string, isEnd: boolean): string | null => {
    if (p === '..') return isEnd ? '9999-12-31' : '0000-01-01';
    const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(p);
    if (!m) return null;
    const [, y, mo, d] = m;
    const year = Number(y);
    if (mo === undefined) return isEnd ? `${y}-12-31` : `${y}-01-01`;
    const month = Number(mo);
    if (month < 1 || month > 12) return null;
    const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
    if (d === undefined) return isEnd ? `${y}-${mo}-${String(days)}` : `${y}-${mo}-01`;
    const day = Number(d);
    if (day < 1 || day > days) return null;
    return `${y}-${mo}-${d}`;
  };
  const pieces = body.split('/');
  if (pieces.length > 2) return null;
  if (pieces.length === 2 && pieces[0] === '..' && pieces[1] === '..') return null;
  const earliest = part(pieces[0]!, false);
  const latest = part(pieces[pieces.length - 1]!, true);
  if (earliest === null || latest === null || earliest > latest) return null;
  return { earliest, latest };
}

function expectLangMap(value: unknown, where: string) {
  expect(value, where).toBeTypeOf('object');
  const map = value as Record<string, unknown>;
  for (const lang of ['ar', 'en']) {
    expect(typeof map[lang], `${where}.${lang}`).toBe('string');
    expect((map[lang] as string).trim().length, `${where}.${lang}`).toBeGreaterThan(0);
  }
}

describe('seed dataset: kazakhstan-january-2022.ndjson', () => {
  it('is one JSON object per line, each with a known kind and a unique, well-formed key', () => {
    expect(records.length).toBeGreaterThan(0);
    for (const [i, line] of lines.entries()) {
      expect(line.trim(), `line ${i + 1} is empty`).not.toBe('');
      const r = records[i]!;
      expect(r, `line ${i + 1}`).toBeTypeOf('object');
      expect(Array.isArray(r), `line ${i + 1}`).toBe(false);
      expect(KIND_ORDER as readonly string[], `line ${i + 1} kind`).toContain(r.kind);
      expect(typeof r.key, `line ${i + 1} key`).toBe('string');
      expect(r.key, `line ${i + 1} key`).toMatch(KEY_RE);
      expect(r.key, `line ${i + 1} key`).not.toMatch(/^\d+$/);
      expect((r.key as string).startsWith(KIND_PREFIX[r.kind]!), `${r.key} prefix`).toBe(true);
    }
    expect(byKey.size, 'keys are unique').toBe(records.length);
  });

  it('lists records by kind: sources, places, actors, events, statements, timeline last', () => {
    const ranks = records.map((r) => KIND_ORDER.indexOf(r.kind));
    for (let i = 1; i < ranks.length; i++) {
      expect(ranks[i]!, `line ${i + 1} (${records[i]!.key}) is out of order`).toBeGreaterThanOrEqual(
        ranks[i - 1]!,
      );
    }
    expect(records[records.length - 1]!.kind).toBe('timeline');
  });

  it('refers only to records defined earlier in the file (timeline entries: anywhere)', () => {
    const seen = new Map<string, string>();
    const problems: string[] = [];
    const ref = (from: string, key: unknown, kinds: string[]) => {
      if (typeof key !== 'string') problems.push(`${from}: reference is not a string`);
      else if (!seen.has(key)) problems.push(`${from}: ${key} is not defined earlier`);
      else if (!kinds.includes(seen.get(key)!))
        problems.push(`${from}: ${key} is a ${seen.get(key)}, expected ${kinds.join('/')}`);
    };
    for (const r of records) {
      const k = r.key as string;
      if (r.kind === 'place' && r.parent !== undefined) ref(`${k}.parent`, r.parent, ['place']);
      if (r.kind === 'actor')
        for (const a of r.affiliations ?? []) ref(`${k}.affiliations`, a.actor, ['actor']);
      if (r.kind === 'event' || r.kind === 'statement')
        for (const s of r.sources ?? []) ref(`${k}.sources`, s.source, ['source']);
      if (r.kind === 'event') {
        if (r.parent !== undefined) ref(`${k}.parent`, r.parent, ['event']);
        for (const p of r.places ?? []) ref(`${k}.places`, p, ['place']);
        for (const a of r.actors ?? []) ref(`${k}.actors`, a.actor, ['actor']);
      }
      if (r.kind === 'statement') {
        ref(`${k}.speaker`, r.speaker, ['actor']);
        if (r.context !== undefined) ref(`${k}.context`, r.context, ['event']);
        for (const a of r.about?.actors ?? []) ref(`${k}.about.actors`, a, ['actor']);
        for (const p of r.about?.places ?? []) ref(`${k}.about.places`, p, ['place']);
        for (const e of r.about?.events ?? []) ref(`${k}.about.events`, e, ['event']);
      }
      seen.set(k, r.kind);
    }
    for (const t of ofKind('timeline'))
      for (const e of t.entries ?? []) ref(`${t.key}.entries`, e, ['event', 'statement']);
    expect(problems).toEqual([]);
  });

  it('has the required fields of each kind, with ar+en language maps', () => {
    for (const r of records) {
      const k = r.key as string;
      expect(typeof r.type === 'string' || r.kind === 'timeline', `${k}.type`).toBe(true);
      switch (r.kind) {
        case 'source':
          // a title is the source's own: text it carries, never one an editor made up
          if (r.title !== null && r.title !== undefined) {
            for (const [lang, title] of Object.entries(r.title as Record<string, string>))
              expect(r.text, `${k}.title.${lang} is not in the source`).toContain(title);
          }
          break;
        case 'place':
        case 'actor':
          expectLangMap(r.name, `${k}.name`);
          for (const [i, a] of (r.aliases ?? []).entries()) expectLangMap(a, `${k}.aliases[${i}]`);
          for (const a of r.affiliations ?? []) {
            expect(typeof a.role, `${k}.affiliations.role`).toBe('string');
            if (a.date !== undefined) expect(edtfBounds(a.date), `${k} affiliation date`).not.toBeNull();
          }
          break;
        case 'event':
          expectLangMap(r.title, `${k}.title`);
          expectLangMap(r.description, `${k}.description`);
          expect(edtfBounds(r.date), `${k}.date ${r.date}`).not.toBeNull();
          expect(Array.isArray(r.places) && Array.isArray(r.actors) && Array.isArray(r.tags), k).toBe(true);
          for (const a of r.actors) expect(typeof a.role, `${k}.actors.role`).toBe('string');
          for (const t of r.tags) expect(t, `${k}.tags`).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
          expect(r.type, `${k}.type`).toMatch(/^[a-z]+(_[a-z]+)*$/);
          expect(r.sources.length, `${k}.sources`).toBeGreaterThan(0);
          break;
        case 'statement':
          expectLangMap(r.text, `${k}.text`);
          expect(r.sources.length, `${k}.sources`).toBeGreaterThan(0);
          break;
        case 'timeline':
          expectLangMap(r.title, `${k}.title`);
          expectLangMap(r.description, `${k}.description`);
          break;
      }
    }
  });

  it('carries the full source text, exactly as the seed document', () => {
    // the report in the repository is the seed document itself: its first and last lines, no more
    expect(report.startsWith('ترك برس-الأناضول\n')).toBe(true);
    expect(report.endsWith('هل أعجبك الموضوع؟ شاركه مع أصدقائك!')).toBe(true);
    const sources = ofKind('source');
    expect(sources.map((s) => s.key)).toEqual([SOURCE_KEY]);
    const src = sources[0]!;
    expect(src).toMatchObject({
      type: 'news_article',
      outlet: 'Turk Press (Anadolu)',
      lang: 'ar',
      published: '2022-01-11',
      url: null,
      // the report has no headline: the source has no title rather than one the editor wrote
      title: null,
    });
    expect('retrieved' in src).toBe(false);
    const text = src.text as string;
    expect(text.startsWith('ترك برس-الأناضول\n')).toBe(true);
    expect(text.endsWith('هل أعجبك الموضوع؟ شاركه مع أصدقائك!')).toBe(true);
    // All BMP: code-point offsets and JavaScript string indexes agree.
    expect(Array.from(text).length).toBe(text.length);
    expect(text).toBe(report);
  });

  it('cites exact excerpts with correct code-point offsets', () => {
    const texts = new Map(ofKind('source').map((s) => [s.key as string, s.text as string]));
    let count = 0;
    for (const r of records) {
      for (const [i, c] of (r.sources ?? []).entries()) {
        const where = `${r.key}.sources[${i}]`;
        const text = texts.get(c.source);
        expect(text, where).toBeTypeOf('string');
        expect(Number.isInteger(c.start) && Number.isInteger(c.end), `${where} offsets`).toBe(true);
        expect(c.start, where).toBeGreaterThanOrEqual(0);
        expect(c.end, where).toBeGreaterThan(c.start);
        expect(cpSlice(text!, c.start, c.end), where).toBe(c.excerpt);
        expect(text!.slice(c.start, c.end), where).toBe(c.excerpt);
        // The excerpt is unambiguous: it occurs exactly once.
        expect(text!.indexOf(c.excerpt), where).toBe(text!.lastIndexOf(c.excerpt));
        count++;
      }
    }
    expect(count).toBeGreaterThanOrEqual(ofKind('event').length + ofKind('statement').length);
  });

  it('models the actors and places the article names', () => {
    expect(get('actor:amreyev')).toMatchObject({
      type: 'person',
      name: { ar: 'بغداد أمرييف', en: 'Baghdad Amreyev' },
      // the report names him Secretary General when he spoke, and gives no start or end of his term:
      // an undated affiliation (held at some time the data does not bound), not an invented range
      affiliations: [{ actor: 'actor:ots', role: 'secretary_general' }],
    });
    expect(get('actor:ots').type).toBe('organization');
    expect(get('actor:ots-secretariat').affiliations).toContainEqual({ actor: 'actor:ots', role: 'organ_of' });
    expect(get('actor:ots-cfm').affiliations).toContainEqual({ actor: 'actor:ots', role: 'organ_of' });
    expect(get('actor:ots-member-states')).toMatchObject({
      type: 'group',
      affiliations: [{ actor: 'actor:ots', role: 'member_of' }],
    });
    expect(get('actor:ots-observer-states')).toMatchObject({
      type: 'group',
      affiliations: [{ actor: 'actor:ots', role: 'observer_of' }],
    });
    expect(get('actor:kz').type).toBe('state');
    expect(get('actor:kz-authorities').affiliations).toContainEqual({ actor: 'actor:kz', role: 'authority_of' });
    expect(get('actor:kz-government').affiliations).toContainEqual({ actor: 'actor:kz', role: 'government_of' });
    const tokayev = get('actor:tokayev');
    expect(tokayev.type).toBe('person');
    const presidency = (tokayev.affiliations as Json[]).find((a) => a.role === 'president');
    // The article does not date his presidency.
    expect(presidency).toEqual({ actor: 'actor:kz', role: 'president' });
    expect(get('actor:kz-people').type).toBe('group');
    expect(get('actor:kz-extremist-forces').type).toBe('group');
    // The article dates no affiliation (an affiliation has no citation to carry a date from elsewhere).
    for (const a of ofKind('actor'))
      for (const affiliation of a.affiliations ?? []) expect(affiliation.date, `${a.key} affiliation date`).toBeUndefined();

    expect(get('place:kz')).toMatchObject({ type: 'country', countryCode: 'KZ' });
    expect(get('place:almaty')).toMatchObject({ type: 'city', parent: 'place:kz', countryCode: 'KZ' });
    expect(get('place:kz-other-cities')).toMatchObject({ type: 'region', parent: 'place:kz' });
    expect(get('place:kz-other-cities').lat).toBeUndefined();

    const text = get(SOURCE_KEY).text as string;
    // Aliases are surface forms of the text; "ال" after the preposition "لـ" is written "لل".
    for (const a of ofKind('actor')) {
      for (const alias of a.aliases ?? []) {
        const ar = alias.ar as string;
        const forms = [ar, ar.replace(/^ال/, 'لل')];
        expect(forms.some((f) => text.includes(f)), `${a.key} alias ${ar}`).toBe(true);
      }
    }
  });

  it('dates every event as the article supports, no more precisely', () => {
    const expected: Record<string, [type: string, date: string, parent: string | undefined]> = {
      'event:soviet-union-collapse': ['dissolution', '1992~', undefined],
      'event:kz-independence': ['independence', '1992~', undefined],
      'event:kz-unrest-2022': ['unrest', '2022-01-02/..', undefined],
      'event:kz-protests-2022-01-02': ['protest', '2022-01-02', UNREST_KEY],
      'event:almaty-riots-2022-01': ['riot', '2022-01-02/2022-01-11', UNREST_KEY],
      'event:kz-government-resignation-2022-01-05': ['government_resignation', '2022-01-05', UNREST_KEY],
      // imposed on 5 January as the report reads ("تلاها": it followed the resignation of that day),
      // the day inferred, not stated: uncertain, day-precise, and no invented end
      'event:kz-state-of-emergency-2022-01-05': ['state_of_emergency', '2022-01-05?', UNREST_KEY],
      'event:ots-secretariat-statement-2022-01': ['statement_issued', '2022-01-02/2022-01-11', undefined],
      [MEETING_KEY]: ['meeting', '2022-01-11', undefined],
    };
    const events = ofKind('event');
    expect(events.map((e) => e.key).sort()).toEqual(Object.keys(expected).sort());
    for (const e of events) {
      const [type, date, parent] = expected[e.key as string]!;
      expect({ key: e.key, type: e.type, date: e.date, parent: e.parent }).toEqual({
        key: e.key,
        type,
        date,
        parent,
      });
    }
    // Umbrella before its children; children fall inside it.
    const unrest = edtfBounds(get(UNREST_KEY).date)!;
    for (const e of events.filter((x) => x.parent === UNREST_KEY)) {
      const b = edtfBounds(e.date)!;
      expect(b.earliest >= unrest.earliest, `${e.key} starts before the unrest`).toBe(true);
      expect(records.indexOf(e)).toBeGreaterThan(records.indexOf(get(UNREST_KEY)));
    }
    const meeting = get(MEETING_KEY);
    expect(meeting.tags).toEqual(expect.arrayContaining(['video-conference', 'extraordinary']));
    expect(meeting.actors).toEqual(
      expect.arrayContaining([
        { actor: 'actor:ots-cfm', role: 'organizer' },
        { actor: 'actor:amreyev', role: 'participant' },
      ]),
    );
    expect(get('event:kz-protests-2022-01-02').places).toEqual(['place:kz']);
    expect(get('event:almaty-riots-2022-01').places).toEqual(['place:almaty']);
  });

  it('records what happened on 5 January as the report tells it: the resignation, then the state of emergency imposed', () => {
    const resignationKey = 'event:kz-government-resignation-2022-01-05';
    const emergencyKey = 'event:kz-state-of-emergency-2022-01-05';
    // both are events of that one day (a day-precise date, not a span that merely starts on it)
    const onTheFifth = ofKind('event')
      .filter((e) => {
        const b = edtfBounds(e.date)!;
        return b.earliest === '2022-01-05' && b.latest === '2022-01-05';
      })
      .map((e) => e.key);
    expect(onTheFifth).toEqual([resignationKey, emergencyKey]);
    // nothing else in the dataset starts that day: no open "state in force" the report does not describe
    expect(ofKind('event').filter((e) => edtfBounds(e.date)!.earliest === '2022-01-05').map((e) => e.key)).toEqual(onTheFifth);
    const emergency = get(emergencyKey);
    expect(emergency.title.en).toBe('State of emergency imposed in Kazakhstan');
    // the day is the report's "On 5 January", the order its "followed": the date is marked uncertain
    expect(emergency.date).toBe('2022-01-05?');
    const excerpt = emergency.sources[0].excerpt as string;
    expect(excerpt.startsWith('وفي 5 يناير، أعلنت الحكومة استقالتها')).toBe(true);
    expect(excerpt).toContain('تلاها فرض حالة الطوارئ');
    expect(emergency.description.en).toContain('uncertain');
    expect(get(resignationKey).date).toBe('2022-01-05');
  });

  it("records Amreyev's statements at the meeting, in the article's own words", () => {
    const statements = ofKind('statement');
    expect(statements.length).toBeGreaterThanOrEqual(8);
    const text = get(SOURCE_KEY).text as string;
    const arTexts = new Set<string>();
    for (const s of statements) {
      const k = s.key as string;
      expect(s.speaker, k).toBe('actor:amreyev');
      expect(s.date, k).toBe('2022-01-11');
      expect(s.context, k).toBe(MEETING_KEY);
      expect(s.originalLang, k).toBe('ar');
      expect(['quote', 'paraphrase'], k).toContain(s.type);
      const ar = s.text.ar as string;
      if (s.type === 'quote') expect(text, `${k}: quote not in quotation marks`).toContain(`"${ar}"`);
      else expect(text, `${k}: paraphrase not as written`).toContain(ar);
      // The cited passage contains the statement's words.
      expect(s.sources.some((c: Json) => (c.excerpt as string).includes(ar)), `${k} excerpt`).toBe(true);
      expect(s.about, `${k}.about`).toBeTypeOf('object');
      expect(arTexts.has(ar), `${k} duplicates another statement`).toBe(false);
      arTexts.add(ar);
    }
    // Every quotation in the article is recorded as a quote.
    const quoted = [...text.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
    const quotes = statements.filter((s) => s.type === 'quote').map((s) => s.text.ar as string);
    expect(quotes.sort()).toEqual([...quoted].sort());
  });

  it('puts every event and statement in the timeline exactly once', () => {
    const timelines = ofKind('timeline');
    expect(timelines).toHaveLength(1);
    const t = timelines[0]!;
    expect(t.key).toBe('timeline:kazakhstan-january-2022');
    expect(t.slug).toBe('kazakhstan-january-2022');
    const entries = t.entries as string[];
    expect(new Set(entries).size, 'no entry repeated').toBe(entries.length);
    const expected = [...ofKind('event'), ...ofKind('statement')].map((r) => r.key as string);
    expect([...entries].sort()).toEqual([...expected].sort());
  });
});
