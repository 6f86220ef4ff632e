// GET /v1/export: interchange NDJSON that imports into an empty instance and exports again to
// the same bytes, with every record after the records it refers to; filtered exports hold the
// selected entries and exactly what they refer to. Every export ends with a trailer line that
// counts its records and names the data revision and change-log sequence it read: exports of
// two instances are compared with those masked (it is each instance's own), and what is imported is the
// record lines (the trailer is the importer's to verify, not a record).
import type { InjectOptions } from 'fastify';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, buildTestApp, ndjson, type TestApp } from './helpers.js';
import { describeEngines, describePg, type Engine } from './support/pg.js';
import { prng as mulberry32 } from '../bench/generate.js';

type Json = Record<string, any>;

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const seedText = readFileSync(path.join(repo, 'data/seed/kazakhstan-january-2022.ndjson'), 'utf8');

const parseNdjson = (text: string): Json[] =>
  text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Json);

/** The keys a record refers to, by the interchange format's fields. */
function references(record: Json): string[] {
  switch (record.kind) {
    case 'source':
      return [];
    case 'place':
      return record.parent ? [record.parent] : [];
    case 'actor':
      return (record.affiliations ?? []).map((a: Json) => a.actor);
    case 'event':
      return [
        ...(record.places ?? []),
        ...(record.actors ?? []).map((a: Json) => a.actor),
        ...(record.parent ? [record.parent] : []),
        ...(record.sources ?? []).map((c: Json) => c.source),
      ];
    case 'statement':
      return [
        record.speaker,
        ...(record.context ? [record.context] : []),
        ...(record.about?.actors ?? []),
        ...(record.about?.places ?? []),
        ...(record.about?.events ?? []),
        ...(record.sources ?? []).map((c: Json) => c.source),
      ];
    case 'timeline':
      return record.entries ?? [];
    default:
      throw new Error(`unknown kind ${record.kind}`);
  }
}

/** Lines whose references are not all on earlier lines (empty when the order is right). */
function referencesNotBefore(records: Json[]): string[] {
  const seen = new Set<string>();
  const problems: string[] = [];
  records.forEach((record, i) => {
    for (const key of references(record)) {
      if (!seen.has(key)) problems.push(`line ${i + 1} (${record.key}) refers to ${key}, which is not before it`);
    }
    seen.add(record.key);
  });
  return problems;
}

/** The keys `start` reach by references, `start` included. */
function closure(start: Iterable<string>, byKey: Map<string, Json>): Set<string> {
  const reached = new Set<string>();
  const stack = [...start];
  while (stack.length > 0) {
    const key = stack.pop()!;
    if (reached.has(key)) continue;
    reached.add(key);
    const record = byKey.get(key);
    if (!record) throw new Error(`no record ${key}`);
    stack.push(...references(record));
  }
  return reached;
}

/**
 * `inject`, retried while the app sheds load: a long import blocks the event loop for a while,
 * and the load-shedding plugin then answers 503 `overloaded` until its next sample.
 */
async function send(t: TestApp, options: InjectOptions) {
  for (let attempt = 0; ; attempt++) {
    const res = await t.app.inject(options);
    if (res.statusCode !== 503 || attempt === 50) return res;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function exportText(t: TestApp, query = ''): Promise<string> {
  const res = await send(t, { url: `/v1/export${query}` });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
  return res.body;
}

/** The trailer (the last line of every export) and the record lines before it. */
function splitExport(text: string): { records: string; trailer: Json } {
  expect(text.endsWith('\n')).toBe(true);
  const cut = text.lastIndexOf('\n', text.length - 2) + 1;
  const trailer = JSON.parse(text.slice(cut)) as Json;
  expect(trailer.kind).toBe('end');
  return { records: text.slice(0, cut), trailer };
}

/** The record lines of an export, the trailer checked against them and dropped. */
function exportRecords(text: string): string {
  const { records, trailer } = splitExport(text);
  const parsed = parseNdjson(records);
  const counts: Record<string, number> = { source: 0, place: 0, actor: 0, event: 0, statement: 0, timeline: 0 };
  for (const record of parsed) counts[record.kind] = (counts[record.kind] ?? 0) + 1;
  expect(trailer).toEqual({ kind: 'end', records: parsed.length, counts, sequence: expect.any(Number), revision: expect.stringMatching(/^\d+$/) });
  return records;
}

/**
 * An export with its trailer's change-log sequence and revision masked: what two instances
 * with the same data agree on (each counts its own writes).
 */
const withoutRevision = (text: string) => text.replace(/"sequence":\d+,"revision":"\d+"\}\n$/, '"sequence":0,"revision":"*"}\n');

async function importText(t: TestApp, text: string): Promise<Json> {
  const res = await send(t, {
    method: 'POST',
    url: '/v1/import',
    headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
    payload: text,
  });
  expect(res.statusCode).toBe(200);
  return res.json<Json>();
}

/** Imports into a fresh empty app on `engine` and checks that every line was stored. */
async function importIntoEmpty(engine: Engine, text: string, lines: number): Promise<TestApp> {
  const t = await buildTestApp({ memory: true, engine });
  const report = await importText(t, text);
  expect(report.errors).toEqual([]);
  expect(report).toMatchObject({ lines, created: lines, updated: 0, unchanged: 0, refused: 0 });
  return t;
}

/** Every matching timeline entry key, through the JSON pages. */
async function selectedKeys(t: TestApp, query: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | null = null;
  do {
    const res = await send(t, {
      url: `/v1/timeline?${query}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    });
    expect(res.statusCode).toBe(200);
    const body = res.json<Json>();
    keys.push(...body.data.map((e: Json) => e.key));
    cursor = body.page.nextCursor;
  } while (cursor);
  return keys;
}

/* ------------------------------------------------------------------------------------------ */
/* A generated dataset: deterministic, every field filled, Arabic and English, refs first     */
/* ------------------------------------------------------------------------------------------ */

/** mulberry32: a small seeded PRNG, so that the dataset is the same on every run. */
function prng(seed: number) {
  const next = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const chance = (p: number) => next() < p;
  /** `n` distinct items (fewer if there are not that many). */
  const some = <T>(items: readonly T[], n: number): T[] => {
    const chosen = new Set<T>();
    const want = Math.min(n, items.length);
    while (chosen.size < want) chosen.add(pick(items));
    return [...chosen];
  };
  return { next, int, pick, chance, some };
}
type Rng = ReturnType<typeof prng>;

const AR_WORDS = [
  'كازاخستان', 'الاحتجاجات', 'الحكومة', 'السلطات', 'الاستقرار', 'الازدهار', 'المنظمة', 'الدول', 'التركية', 'الأمين',
  'العام', 'اجتماع', 'طارئ', 'وزراء', 'الخارجية', 'الشعب', 'الشقيق', 'النظام', 'القانون', 'الأمن', 'التعاون',
  'أسعار', 'الغاز', 'ألماتي', 'المدن', 'الأخرى', 'الطوارئ', 'استقالة', 'بيان', 'دعم', 'القيادة', 'الشرعية',
  'العنف', 'السلام', 'الهدوء', 'الرئيس', 'قرارات', 'مؤلمة', 'مفهومة', 'التطورات', 'منذ', 'اليوم', 'الأول',
];
const EN_WORDS = [
  'Kazakhstan', 'protests', 'government', 'authorities', 'stability', 'prosperity', 'organization', 'states',
  'Turkic', 'secretary', 'general', 'meeting', 'extraordinary', 'ministers', 'foreign', 'people', 'brotherly',
  'order', 'law', 'security', 'cooperation', 'prices', 'gas', 'Almaty', 'cities', 'other', 'emergency',
  'resignation', 'statement', 'support', 'leadership', 'legitimate', 'violence', 'peace', 'calm', 'president',
  'decisions', 'painful', 'understandable', 'developments', 'since', 'first', 'day',
];
/** Punctuation and characters that serialisers get wrong: quotes, backslashes, separators, astral. */
const SPICE = ['، ', '؛ ', ', ', '; ', ' "', '" ', " '", ' \\ ', ' | ', ' <b>', '</b> ', ' & ', '\n', '\t', ' 🌍 ', ' \u2028 ', ' — '];

function words(rng: Rng, list: readonly string[], min: number, max: number): string {
  const n = rng.int(min, max);
  let text = '';
  for (let i = 0; i < n; i++) text += (i === 0 ? '' : rng.chance(0.1) ? rng.pick(SPICE) : ' ') + rng.pick(list);
  return text;
}
const arText = (rng: Rng, min: number, max: number) => words(rng, AR_WORDS, min, max);
const enText = (rng: Rng, min: number, max: number) => words(rng, EN_WORDS, min, max);
const langMap = (rng: Rng, min: number, max: number) =>
  rng.chance(0.5) ? { ar: arText(rng, min, max), en: enText(rng, min, max) } : { en: enText(rng, min, max), ar: arText(rng, min, max) };

const pad = (n: number, width = 2) => String(n).padStart(width, '0');
const dayIso = (d: Date) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
const DAY_MS = 86_400_000;
const randomDay = (rng: Rng) => new Date(Date.UTC(1990, 0, 1) + rng.int(0, 12_400) * DAY_MS);

/** An EDTF date of the accepted subset: every precision, offsets, intervals (open too), qualifiers. */
function edtf(rng: Rng): string {
  const day = randomDay(rng);
  const qualifier = () => (rng.chance(0.15) ? rng.pick(['?', '~', '%']) : '');
  const point = (d: Date, precision: number) => {
    switch (precision) {
      case 0:
        return String(d.getUTCFullYear());
      case 1:
        return dayIso(d).slice(0, 7);
      case 2:
        return dayIso(d);
      default: {
        const offset = rng.pick(['Z', '+06:00', '-05:30', '+03:00']);
        return `${dayIso(d)}T${pad(rng.int(0, 23))}:${pad(rng.int(0, 59))}:${pad(rng.int(0, 59))}${offset}`;
      }
    }
  };
  const shape = rng.int(0, 9);
  if (shape < 6) return point(day, shape % 4) + qualifier();
  // intervals: an end that is a whole year after the start's year, so that every precision is ordered
  const end = new Date(day.getTime() + (366 + rng.int(0, 900)) * DAY_MS);
  const start = point(day, rng.int(0, 2)) + qualifier();
  const finish = point(end, rng.int(0, 2)) + qualifier();
  if (shape === 6) return `${start}/..`;
  if (shape === 7) return `../${finish}`;
  return `${start}/${finish}`;
}

const COUNTS = { sources: 1000, places: 300, actors: 1000, events: 5300, statements: 2400, timelines: 20 };

/** The generated dataset, in an order where every record comes after the records it refers to. */
function generateDataset(seed: number): Json[] {
  const rng = prng(seed);
  const records: Json[] = [];

  const sourceTexts = new Map<string, string[]>();
  const sourceKeys: string[] = [];
  for (let i = 0; i < COUNTS.sources; i++) {
    const key = `src:gen-${i}`;
    const lang = rng.pick(['ar', 'en']);
    const paragraphs = Array.from({ length: rng.int(2, 5) }, () =>
      lang === 'ar' ? arText(rng, 15, 60) : enText(rng, 15, 60),
    );
    const text = paragraphs.join('\n\n');
    sourceTexts.set(key, Array.from(text));
    sourceKeys.push(key);
    records.push({
      kind: 'source',
      key,
      type: rng.pick(['news_article', 'press_release', 'report', 'transcript']),
      title: langMap(rng, 4, 12),
      outlet: rng.pick(['Turk Press (Anadolu)', 'الجزيرة نت', 'Reuters, "World"', 'وكالة الأنباء']),
      url: `https://news.example/${i}/${rng.int(1, 1e6)}?lang=${lang}&q=a%20b`,
      lang,
      published: dayIso(randomDay(rng)),
      retrieved: `${dayIso(randomDay(rng))}T${pad(rng.int(0, 23))}:${pad(rng.int(0, 59))}:00Z`,
      text,
    });
  }
  const citations = (): Json[] =>
    Array.from({ length: rng.int(1, 2) }, () => {
      const source = rng.pick(sourceKeys);
      const chars = sourceTexts.get(source)!;
      const start = rng.int(0, chars.length - 2);
      const end = rng.int(start + 1, Math.min(chars.length, start + 80));
      return { source, excerpt: chars.slice(start, end).join(''), start, end };
    });

  // places: countries, regions in them, cities in those
  const placeKeys: string[] = [];
  const countryCodes = ['KZ', 'TR', 'AZ', 'UZ', 'KG', 'TM', 'EG', 'SA', 'JO', 'MA'];
  const placeCountry = new Map<string, string>();
  for (let i = 0; i < COUNTS.places; i++) {
    const level = i < 10 ? 0 : i < 60 ? 1 : 2;
    const parent = level === 0 ? null : level === 1 ? placeKeys[rng.int(0, 9)]! : placeKeys[rng.int(10, 59)]!;
    const countryCode = parent === null ? countryCodes[i]! : placeCountry.get(parent)!;
    const key = `place:gen-${i}`;
    placeKeys.push(key);
    placeCountry.set(key, countryCode);
    records.push({
      kind: 'place',
      key,
      type: ['country', 'region', 'city'][level],
      name: langMap(rng, 1, 3),
      countryCode,
      parent,
      lat: Math.round((rng.next() * 170 - 85) * 1e4) / 1e4,
      lon: Math.round((rng.next() * 350 - 175) * 1e6) / 1e6,
    });
  }

  // actors: affiliated to actors that came before them
  const actorKeys: string[] = [];
  for (let i = 0; i < COUNTS.actors; i++) {
    const key = `actor:gen-${i}`;
    const affiliations =
      i === 0
        ? []
        : rng.some(actorKeys, rng.int(1, 3)).map((actor) => ({
            actor,
            role: rng.pick(['member_of', 'secretary_general', 'organ_of', 'president', 'spokesperson']),
            date: rng.pick([`${dayIso(randomDay(rng))}/..`, `${rng.int(1990, 2000)}/${rng.int(2001, 2023)}`, dayIso(randomDay(rng))]),
          }));
    actorKeys.push(key);
    records.push({
      kind: 'actor',
      key,
      type: rng.pick(['person', 'organization', 'state', 'group', 'other'] as const),
      name: langMap(rng, 1, 4),
      aliases: Array.from({ length: rng.int(1, 3) }, () => langMap(rng, 1, 3)),
      externalIds: { wikidata: `Q${rng.int(1, 1e8)}`, viaf: String(rng.int(1, 1e9)) },
      affiliations,
    });
  }

  // events: parent chains of earlier events
  const eventKeys: string[] = [];
  const depth = new Map<string, number>();
  for (let i = 0; i < COUNTS.events; i++) {
    const key = `event:gen-${i}`;
    let parent: string | null = null;
    if (i > 0 && rng.chance(0.4)) {
      parent = eventKeys[rng.int(Math.max(0, i - 50), i - 1)]!;
      if (depth.get(parent)! >= 6) parent = null;
    }
    depth.set(key, parent === null ? 0 : depth.get(parent)! + 1);
    eventKeys.push(key);
    records.push({
      kind: 'event',
      key,
      type: rng.pick(['protest', 'meeting', 'riot', 'state_of_emergency', 'election', 'agreement']),
      date: edtf(rng),
      title: langMap(rng, 3, 10),
      description: langMap(rng, 6, 24),
      places: rng.some(placeKeys, rng.int(1, 2)),
      actors: rng
        .some(actorKeys, rng.int(1, 2))
        .map((actor) => ({ actor, role: rng.pick(['participant', 'organizer', 'subject', 'affected', 'issuer']) })),
      tags: rng.some(['fuel-prices', 'unrest', 'احتجاجات', 'أمن', 'diplomacy', 'economy.gas', 'q:2022', 'حالة_الطوارئ'], rng.int(1, 3)),
      parent,
      sources: citations(),
    });
  }

  // statements: by an actor, at an event, about actors, places and events
  const statementKeys: string[] = [];
  for (let i = 0; i < COUNTS.statements; i++) {
    const key = `stmt:gen-${i}`;
    const speaker = rng.pick(actorKeys);
    statementKeys.push(key);
    records.push({
      kind: 'statement',
      key,
      type: rng.pick(['quote', 'paraphrase', 'written'] as const),
      date: edtf(rng),
      speaker,
      text: langMap(rng, 6, 24),
      originalLang: rng.pick(['ar', 'en']),
      context: rng.pick(eventKeys),
      about: {
        actors: rng.some(actorKeys.filter((a) => a !== speaker), rng.int(1, 2)),
        places: rng.some(placeKeys, rng.int(1, 2)),
        events: rng.some(eventKeys, rng.int(1, 2)),
      },
      sources: citations(),
    });
  }

  for (let i = 0; i < COUNTS.timelines; i++) {
    records.push({
      kind: 'timeline',
      key: `timeline:gen-${i}`,
      slug: `generated-timeline-${i}`,
      title: langMap(rng, 3, 8),
      description: langMap(rng, 10, 30),
      entries: rng.some([...eventKeys, ...statementKeys], rng.int(5, 200)),
    });
  }
  return records;
}

/** A record as the export writes it: every field of its kind, in the format's order, absent ones null. */
function normalised(record: Json): Json {
  const nullable = (value: unknown) => value ?? null;
  switch (record.kind) {
    case 'source':
      return { kind: 'source', key: record.key, type: record.type, ...Object.fromEntries(['title', 'outlet', 'url', 'lang', 'published', 'retrieved', 'text'].map((f) => [f, nullable(record[f])])) };
    case 'place':
      return { kind: 'place', key: record.key, type: record.type, name: record.name, ...Object.fromEntries(['countryCode', 'parent', 'lat', 'lon'].map((f) => [f, nullable(record[f])])) };
    case 'actor':
      return { kind: 'actor', key: record.key, type: record.type, name: record.name, aliases: record.aliases ?? [], externalIds: record.externalIds ?? {}, affiliations: (record.affiliations ?? []).map((a: Json) => ({ actor: a.actor, role: a.role, date: nullable(a.date) })) };
    case 'event':
      return { kind: 'event', key: record.key, type: record.type, date: record.date, title: record.title, description: nullable(record.description), places: record.places ?? [], actors: record.actors ?? [], tags: record.tags ?? [], parent: nullable(record.parent), sources: (record.sources ?? []).map((c: Json) => ({ source: c.source, excerpt: nullable(c.excerpt), start: nullable(c.start), end: nullable(c.end) })) };
    case 'statement':
      return { kind: 'statement', key: record.key, type: record.type, date: record.date, speaker: record.speaker, text: record.text, originalLang: nullable(record.originalLang), context: nullable(record.context), about: { actors: record.about?.actors ?? [], places: record.about?.places ?? [], events: record.about?.events ?? [] }, sources: (record.sources ?? []).map((c: Json) => ({ source: c.source, excerpt: nullable(c.excerpt), start: nullable(c.start), end: nullable(c.end) })) };
    case 'timeline':
      return { kind: 'timeline', key: record.key, slug: record.slug, title: record.title, description: nullable(record.description), entries: record.entries ?? [] };
    default:
      throw new Error(`unknown kind ${record.kind}`);
  }
}

const KIND_ORDER = ['source', 'place', 'actor', 'event', 'statement', 'timeline'];

/* ------------------------------------------------------------------------------------------ */

describeEngines('export of the seeded app', (engine) => {
  let seeded: TestApp;
  let first: string;
  let records: Json[];
  beforeAll(async () => {
    seeded = await buildTestApp({ seed: true, memory: true, engine });
    first = await exportText(seeded);
    records = parseNdjson(exportRecords(first));
  });
  afterAll(() => seeded.close());

  it('is attached NDJSON with one record a line, every record of the seed', () => {
    expect(first.endsWith('\n')).toBe(true);
    expect(first.split('\n').slice(0, -1).every((line) => line.startsWith('{') && line.endsWith('}'))).toBe(true);
    const seed = parseNdjson(seedText);
    expect(records).toHaveLength(seed.length);
    expect(new Set(records.map((r) => r.key))).toEqual(new Set(seed.map((r) => r.key)));
    // the data survived: every seed record is exported with the same content
    const byKey = new Map(records.map((r) => [r.key, r]));
    for (const record of seed) expect(byKey.get(record.key), record.key).toEqual(normalised(record));
  });

  it('puts every record after the records it refers to, kinds in order', () => {
    expect(referencesNotBefore(records)).toEqual([]);
    const ranks = records.map((r) => KIND_ORDER.indexOf(r.kind));
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
  });

  it('imports into an empty app and exports again to the same bytes', async () => {
    const copy = await importIntoEmpty(engine, exportRecords(first), records.length);
    try {
      const second = await exportText(copy);
      expect(withoutRevision(second)).toBe(withoutRevision(first));
      // and once more: the import is idempotent and the export stable
      const again = await importText(copy, exportRecords(second));
      expect(again).toMatchObject({ created: 0, updated: 0, unchanged: records.length, refused: 0 });
      expect(withoutRevision(await exportText(copy))).toBe(withoutRevision(first));
    } finally {
      await copy.close();
    }
  });

  describe.each([
    ['?actor=actor:amreyev', 'actor=actor:amreyev'],
    ['?place=place:almaty&kind=event', 'place=place:almaty&kind=event'],
    ['?from=2022-01-05&to=2022-01-10', 'from=2022-01-05&to=2022-01-10'],
    ['?actor=actor:kz&role=subject', 'actor=actor:kz&role=subject'],
    ['?kind=statement&from=2022-01-11&to=2022-01-11', 'kind=statement&from=2022-01-11&to=2022-01-11'],
  ])('filtered export %s', (exportQuery, timelineQuery) => {
    let text: string;
    let part: Json[];
    let selected: string[];
    beforeAll(async () => {
      text = await exportText(seeded, exportQuery);
      part = parseNdjson(exportRecords(text));
      selected = await selectedKeys(seeded, timelineQuery);
    });

    it('holds the selected entries and exactly what they refer to, references first', () => {
      expect(selected.length).toBeGreaterThan(0);
      const exported = new Set(part.map((r) => r.key));
      expect(exported.size).toBe(part.length);
      for (const key of selected) expect(exported, key).toContain(key);
      const full = new Map(records.map((r) => [r.key, r]));
      expect(exported).toEqual(closure(selected, full));
      expect(part.some((r) => r.kind === 'timeline')).toBe(false);
      expect(referencesNotBefore(part)).toEqual([]);
      // each record as in the full export
      for (const record of part) expect(record).toEqual(full.get(record.key));
    });

    it('imports cleanly into an empty app, which exports the same bytes', async () => {
      const copy = await importIntoEmpty(engine, exportRecords(text), part.length);
      try {
        expect(withoutRevision(await exportText(copy))).toBe(withoutRevision(text));
      } finally {
        await copy.close();
      }
    });
  });

  it('the place filter takes the places under it, and the closure brings their parents', async () => {
    const part = parseNdjson(exportRecords(await exportText(seeded, '?place=place:kz&kind=event')));
    const places = part.filter((r) => r.kind === 'place').map((r) => r.key);
    expect(places).toContain('place:kz');
    expect(places).toContain('place:almaty');
    expect(places.indexOf('place:kz')).toBeLessThan(places.indexOf('place:almaty'));
  });

  it('a filter that selects nothing exports nothing but the trailer', async () => {
    const res = await send(seeded, { url: '/v1/export?from=1800&to=1801' });
    expect(res.statusCode).toBe(200);
    expect(exportRecords(res.body)).toBe('');
    expect(splitExport(res.body).trailer).toMatchObject({ records: 0 });
  });

  it('refuses bad filters with a problem', async () => {
    const res = await send(seeded, { url: '/v1/export?actor=actor:nobody' });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});

describeEngines('export of a generated dataset (10,000+ records, every field filled)', (engine) => {
  const SEED = 20_220_105;
  let generated: Json[];
  let file: string;
  let source: TestApp;
  let first: string;
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, work: () => Promise<T> | T): Promise<T> => {
    const started = performance.now();
    try {
      return await work();
    } finally {
      timings[name] = Math.round(performance.now() - started);
    }
  };

  beforeAll(async () => {
    generated = await timed('generate', () => generateDataset(SEED));
    file = ndjson(generated);
    source = await buildTestApp({ memory: true, engine });
    const report = await timed('import generated', () => importText(source, file));
    expect(report.errors).toEqual([]);
    expect(report).toMatchObject({ lines: generated.length, created: generated.length, refused: 0 });
    first = await timed('export', () => exportText(source));
  }, 120_000);
  afterAll(async () => {
    await source?.close();
    console.info(`generated dataset: ${generated?.length} records, ${Buffer.byteLength(file ?? '')} bytes; ms:`, timings);
  });

  it('is deterministic, large, bilingual and written references first', () => {
    expect(generated.length).toBeGreaterThanOrEqual(10_000);
    expect(file).toBe(ndjson(generateDataset(SEED)));
    expect(referencesNotBefore(generated)).toEqual([]);
    for (const kind of KIND_ORDER) expect(generated.some((r) => r.kind === kind)).toBe(true);
    expect(file).toMatch(/[\u0600-\u06FF]/);
    expect(file).toMatch(/[A-Za-z]{4}/);
    // every optional field is filled somewhere (in fact everywhere)
    for (const record of generated) {
      const filled = normalised(record);
      for (const [field, value] of Object.entries(filled)) {
        if (field === 'parent' && (record.kind === 'event' || (record.kind === 'place' && record.type === 'country'))) continue;
        if (field === 'affiliations' && record.key === 'actor:gen-0') continue;
        expect(value, `${record.key}.${field}`).not.toBeNull();
      }
    }
    expect(generated.filter((r) => r.kind === 'event' && r.parent !== null).length).toBeGreaterThan(1000);
  });

  it('exports every record with the data it was given', () => {
    const records = parseNdjson(exportRecords(first));
    expect(records).toHaveLength(generated.length);
    const byKey = new Map(records.map((r) => [r.key, r]));
    for (const record of generated) expect(byKey.get(record.key), record.key).toEqual(normalised(record));
  });

  it('puts every record after the records it refers to', () => {
    const records = parseNdjson(exportRecords(first));
    expect(referencesNotBefore(records)).toEqual([]);
    const ranks = records.map((r) => KIND_ORDER.indexOf(r.kind));
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
  });

  it('imports into an empty app and exports again to the same bytes', async () => {
    const copy = await timed('import export', () => importIntoEmpty(engine, exportRecords(first), generated.length));
    try {
      const second = await timed('export again', () => exportText(copy));
      expect(exportRecords(second).length).toBe(exportRecords(first).length);
      expect(withoutRevision(second) === withoutRevision(first)).toBe(true);
    } finally {
      await copy.close();
    }
  }, 120_000);

  it('a filtered export holds the selection and its references and imports cleanly', async () => {
    const text = await exportText(source, '?actor=actor:gen-3&actor=actor:gen-700&from=2000&to=2010');
    const part = parseNdjson(exportRecords(text));
    const selected = await selectedKeys(source, 'actor=actor:gen-3&actor=actor:gen-700&from=2000&to=2010');
    expect(selected.length).toBeGreaterThan(0);
    const full = new Map(parseNdjson(exportRecords(first)).map((r) => [r.key, r]));
    expect(new Set(part.map((r) => r.key))).toEqual(closure(selected, full));
    expect(referencesNotBefore(part)).toEqual([]);
    const copy = await importIntoEmpty(engine, exportRecords(text), part.length);
    try {
      expect(withoutRevision(await exportText(copy))).toBe(withoutRevision(text));
    } finally {
      await copy.close();
    }
  }, 60_000);
});

/* ------------------------------------------------------------------------------------------ */
/* Across engines: an export from one engine imports into the other and exports the same bytes */
/* ------------------------------------------------------------------------------------------ */

/** `send` a write with the test key, expecting `status`. */
async function write(t: TestApp, method: 'POST' | 'PATCH' | 'DELETE', url: string, status: number, payload?: object) {
  const res = await send(t, { method, url, headers: AUTH, ...(payload === undefined ? {} : { payload }) });
  expect(res.statusCode, `${method} ${url}: ${res.body.slice(0, 300)}`).toBe(status);
}

/**
 * Writes through the API over the seed: records of every kind with the values serialisers get
 * wrong (astral characters, separators, floats, instants with offsets, open intervals,
 * qualifiers), then edits (renamed keys, cleared fields, moved parents, reordered entries) and
 * deletes, so that the export holds rows that were changed and gaps where rows were removed.
 */
async function writeOverTheSeed(t: TestApp): Promise<void> {
  const text = 'نص المصدر 🌍 "quoted" \\ back\u2028slash\ttab — end';
  await write(t, 'POST', '/v1/sources', 201, { key: 'src:api', type: 'wire', title: { en: 'Wire 🌍', ar: 'برقية' }, lang: 'ar', published: '2022-01-06T09:15:00+06:00', retrieved: '2024-03', url: 'https://example.org/w?a=1&b=2', text });
  await write(t, 'POST', '/v1/sources', 201, { key: 'src:doomed', type: 'other', title: { en: 'To be deleted' } });
  await write(t, 'POST', '/v1/places', 201, { key: 'place:api-region', type: 'region', name: { en: 'Region', ar: 'منطقة' }, countryCode: 'KZ', parent: 'place:kz', lat: 0.1 + 0.2, lon: -1 / 3 });
  await write(t, 'POST', '/v1/places', 201, { key: 'place:api-town', type: 'city', name: { en: 'Town' }, parent: 'place:api-region', lat: -0.000001, lon: 179.99999999 });
  await write(t, 'POST', '/v1/actors', 201, { key: 'actor:api-person', type: 'person', name: { ar: 'شخص', en: 'A "person"' }, aliases: [{ en: 'P' }, { ru: 'Пётр', en: 'Pyotr' }], externalIds: { wikidata: 'Q1', viaf: '42' }, affiliations: [{ actor: 'actor:ots', role: 'envoy', date: '2021~/2022-01-05?' }, { actor: 'actor:kz', role: 'citizen' }] });
  await write(t, 'POST', '/v1/actors', 201, { key: 'actor:api-doomed', type: 'group', name: { en: 'Gone' } });
  await write(t, 'POST', '/v1/events', 201, { key: 'event:api-instant', type: 'protest', date: '2022-01-06T02:00:00+06:00', title: { en: 'Night protest', ar: 'احتجاج ليلي' }, description: { en: 'line\nbreak' }, places: ['place:api-town', 'place:almaty'], actors: [{ actor: 'actor:api-person', role: 'organizer' }, { actor: 'actor:kz-people', role: 'participant' }], tags: ['night', 'ليل'], parent: 'event:kz-unrest-2022', sources: [{ source: 'src:api', excerpt: 'نص المصدر', start: 0, end: 9 }, { source: 'src:api' }] });
  await write(t, 'POST', '/v1/events', 201, { key: 'event:api-open', type: 'unrest', date: '2022-01-05%/..', title: { en: 'Open-ended' }, places: ['place:api-region'] });
  await write(t, 'POST', '/v1/events', 201, { key: 'event:api-doomed', type: 'other', date: '../2021', title: { en: 'Gone' } });
  await write(t, 'POST', '/v1/statements', 201, { key: 'stmt:api', type: 'quote', date: '2022-01-11?', speaker: 'actor:api-person', text: { ar: 'قال 🌍', en: 'Said' }, originalLang: 'ar', context: 'event:api-instant', about: { actors: ['actor:kz', 'actor:ots'], places: ['place:api-town'], events: ['event:api-open'] }, sources: [{ source: 'src:api', excerpt: '"quoted"', start: 12, end: 20 }] });
  await write(t, 'POST', '/v1/statements', 201, { key: 'stmt:api-doomed', type: 'written', date: '2022-01', speaker: 'actor:amreyev', text: { en: 'Gone' } });
  await write(t, 'POST', '/v1/timelines', 201, { key: 'timeline:api', slug: 'api-story', title: { en: 'Story', ar: 'قصة' }, description: { en: 'tab\tand | pipe' }, entries: ['stmt:api', 'event:api-instant', 'event:kz-protests-2022-01-02', 'stmt:api-doomed'] });

  await write(t, 'PATCH', '/v1/sources/src:api', 200, { url: null, outlet: 'Outlet, Inc.' });
  await write(t, 'PATCH', '/v1/places/place:api-town', 200, { parent: 'place:kz', lat: 43.25, lon: 76.95, key: 'place:api-city' });
  await write(t, 'PATCH', '/v1/actors/actor:api-person', 200, { key: 'actor:api-renamed', aliases: [], affiliations: [{ actor: 'actor:ots', role: 'envoy', date: '2021~/2022-01-05?' }] });
  await write(t, 'PATCH', '/v1/actors/actor:amreyev', 200, { name: { ar: 'بغداد أمرييف', en: 'Baghdad Amreyev', tr: 'Bağdat Amreyev' } });
  await write(t, 'PATCH', '/v1/events/event:api-instant', 200, { description: null, tags: ['ليل'], date: '2022-01-06T02:00:00-05:30' });
  await write(t, 'PATCH', '/v1/events/event:kz-protests-2022-01-02', 200, { tags: ['fuel-prices', 'api-edit'] });
  await write(t, 'PATCH', '/v1/statements/stmt:api', 200, { context: null, about: { actors: ['actor:ots'], places: [], events: ['event:api-open', 'event:api-instant'] } });
  await write(t, 'PATCH', '/v1/timelines/api-story', 200, { slug: 'api-story-2', entries: ['event:kz-protests-2022-01-02', 'stmt:api', 'event:api-instant'] });

  await write(t, 'DELETE', '/v1/statements/stmt:api-doomed', 204);
  await write(t, 'DELETE', '/v1/events/event:api-doomed', 204);
  await write(t, 'DELETE', '/v1/actors/actor:api-doomed', 204);
  await write(t, 'DELETE', '/v1/sources/src:doomed', 204);
}

describePg('export across engines', () => {
  const apps: TestApp[] = [];
  /** The seeded app on `engine` with the API's writes over it, and its export. */
  const written = async (engine: Engine) => {
    const t = await buildTestApp({ seed: true, memory: true, engine });
    apps.push(t);
    await writeOverTheSeed(t);
    return { t, text: await exportText(t) };
  };
  afterAll(async () => {
    await Promise.all(apps.map((t) => t.close()));
  });

  let onPostgres: { t: TestApp; text: string };
  let onSqlite: { t: TestApp; text: string };
  beforeAll(async () => {
    onPostgres = await written('postgres');
    onSqlite = await written('sqlite');
  }, 120_000);

  it('the same writes on both engines export the same bytes', () => {
    const records = parseNdjson(exportRecords(onPostgres.text));
    expect(records.some((r) => r.key === 'actor:api-renamed')).toBe(true);
    expect(records.some((r) => r.key === 'src:doomed')).toBe(false);
    expect(withoutRevision(onPostgres.text)).toBe(withoutRevision(onSqlite.text));
  });

  it('an export from PostgreSQL imported into SQLite exports the same bytes', async () => {
    const records = exportRecords(onPostgres.text);
    const copy = await importIntoEmpty('sqlite', records, parseNdjson(records).length);
    apps.push(copy);
    expect(withoutRevision(await exportText(copy))).toBe(withoutRevision(onPostgres.text));
  });

  it('an export from SQLite imported into PostgreSQL exports the same bytes', async () => {
    const records = exportRecords(onSqlite.text);
    const copy = await importIntoEmpty('postgres', records, parseNdjson(records).length);
    apps.push(copy);
    expect(withoutRevision(await exportText(copy))).toBe(withoutRevision(onSqlite.text));
  });

  it('filtered exports agree across engines', async () => {
    for (const query of ['?actor=actor:api-renamed', '?place=place:kz&kind=event', '?from=2022-01-06&to=2022-01-11']) {
      const [pgText, sqliteText] = await Promise.all([exportText(onPostgres.t, query), exportText(onSqlite.t, query)]);
      expect(exportRecords(pgText).length, query).toBeGreaterThan(0);
      expect(withoutRevision(pgText), query).toBe(withoutRevision(sqliteText));
    }
  });
});
