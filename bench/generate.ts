/**
 * A deterministic, realistic dataset in interchange NDJSON for the benchmark.
 *
 *   tsx bench/generate.ts [--events N] [--statements N] [--actors N] [--places N] [--seed S] [--out FILE]
 *
 * Defaults: 1,000,000 events, 200,000 statements, 20,000 actors with Zipf-like popularity
 * (s = 1: actor:0 is the most linked, actor:1 next, and so on), 2,000 places in a country / region / city hierarchy, 30 years of dates (mostly days, some
 * instants, months, years and intervals), tags, and texts in English and Arabic.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { once } from 'node:events';

export interface DatasetSize {
  events: number;
  statements: number;
  actors: number;
  places: number;
  sources: number;
  seed: number;
}

export const FULL_SIZE: DatasetSize = {
  events: 1_000_000,
  statements: 200_000,
  actors: 20_000,
  places: 2_000,
  sources: 5_000,
  seed: 20220102,
};

/**
 * Changes whenever the same size and seed would give other records: the benchmark names its
 * cached dataset files with it, so that a file of an older generator is not taken for this one's.
 */
export const DATASET_VERSION = 2;

/** mulberry32: small, fast, and the same sequence everywhere for a seed (the tests use it too). */
export function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Zipf-like sampler over 0..n-1 (rank r drawn in proportion to 1 / (r + 1)^s): a few are very popular, most are rare. */
function zipf(n: number, random: () => number, s: number) {
  const cumulative = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    total += 1 / Math.pow(i + 1, s);
    cumulative[i] = total;
  }
  return () => {
    const target = random() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

const EN_WORDS = 'protest strike meeting talks ceasefire election vote parliament minister president army police border trade fuel prices wages workers students court ruling summit crisis agreement sanctions statement capital city region unrest march rally clash negotiations reform'.split(' ');
const AR_WORDS = 'احتجاج إضراب اجتماع محادثات هدنة انتخابات تصويت البرلمان وزير الرئيس الجيش الشرطة الحدود التجارة الوقود الأسعار الأجور العمال الطلاب المحكمة حكم قمة أزمة اتفاق عقوبات بيان العاصمة المدينة المنطقة اضطرابات مسيرة اشتباك مفاوضات إصلاح'.split(' ');
const EVENT_TYPES = ['protest', 'strike', 'meeting', 'armed_clash', 'election', 'government_resignation', 'state_of_emergency', 'agreement', 'arrest', 'court_ruling', 'summit', 'riot', 'sanction', 'visit', 'announcement'];
const ROLES = ['participant', 'organizer', 'target', 'announcer', 'host', 'subject'];
const TAGS = Array.from({ length: 200 }, (_, i) => `tag-${i}`);
const ACTOR_TYPES = ['person', 'person', 'person', 'organization', 'organization', 'group', 'state', 'other'] as const;

/** The dataset's dates: 30 years from 1995 (day numbers). */
export const FIRST_DAY = Date.UTC(1995, 0, 1) / 86_400_000;
export const DAYS = 30 * 365;
const pad = (n: number, width = 2) => String(n).padStart(width, '0');
export const isoDay = (day: number) => new Date(day * 86_400_000).toISOString().slice(0, 10);

/** Writes the dataset; returns the number of records. */
export async function generateDataset(size: DatasetSize, out: string): Promise<number> {
  await mkdir(dirname(out), { recursive: true });
  const file = createWriteStream(out);
  const random = prng(size.seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const int = (n: number) => Math.floor(random() * n);
  let records = 0;
  let buffer = '';
  const write = async (record: object) => {
    buffer += `${JSON.stringify(record)}\n`;
    records += 1;
    if (buffer.length > 1 << 20) {
      if (!file.write(buffer)) await once(file, 'drain');
      buffer = '';
    }
  };
  const sentence = (words: string[], n: number) => Array.from({ length: n }, () => pick(words)).join(' ');

  for (let i = 0; i < size.sources; i++) {
    await write({
      kind: 'source',
      key: `src:${i}`,
      type: 'news_article',
      title: { en: `Report ${i}: ${sentence(EN_WORDS, 5)}`, ar: `تقرير ${i}: ${sentence(AR_WORDS, 5)}` },
      outlet: `Outlet ${i % 97}`,
      url: `https://news.example/${i}`,
      lang: i % 3 === 0 ? 'ar' : 'en',
      published: isoDay(FIRST_DAY + int(DAYS)),
    });
  }

  // places: countries, regions under them, cities under regions
  const countries = Math.max(1, Math.round(size.places * 0.025));
  const regions = Math.max(1, Math.round(size.places * 0.175));
  const cities = Math.max(0, size.places - countries - regions);
  for (let c = 0; c < countries; c++) {
    await write({ kind: 'place', key: `place:c${c}`, type: 'country', name: { en: `Country ${c}`, ar: `دولة ${c}` }, countryCode: `${String.fromCharCode(65 + (c % 26))}${String.fromCharCode(65 + Math.floor(c / 26) % 26)}`, lat: -60 + random() * 130, lon: -180 + random() * 360 });
  }
  for (let r = 0; r < regions; r++) {
    await write({ kind: 'place', key: `place:r${r}`, type: 'region', name: { en: `Region ${r}`, ar: `منطقة ${r}` }, parent: `place:c${r % countries}`, lat: -60 + random() * 130, lon: -180 + random() * 360 });
  }
  for (let t = 0; t < cities; t++) {
    await write({ kind: 'place', key: `place:t${t}`, type: 'city', name: { en: `City ${t}`, ar: `مدينة ${t}` }, parent: `place:r${t % regions}`, lat: -60 + random() * 130, lon: -180 + random() * 360 });
  }
  const placeKeys = [
    ...Array.from({ length: cities }, (_, t) => `place:t${t}`),
    ...Array.from({ length: regions }, (_, r) => `place:r${r}`),
    ...Array.from({ length: countries }, (_, c) => `place:c${c}`),
  ];

  // actors; the first few hundred organisations are what people are affiliated to
  const organisations = Math.min(size.actors, 500);
  for (let a = 0; a < size.actors; a++) {
    const type = a < organisations ? 'organization' : pick(ACTOR_TYPES);
    const affiliations =
      a >= organisations && type === 'person' && random() < 0.5
        ? [{ actor: `actor:${int(organisations)}`, role: pick(['member', 'spokesperson', 'leader', 'minister']), date: `${1995 + int(25)}/..` }]
        : [];
    await write({ kind: 'actor', key: `actor:${a}`, type, name: { en: `Actor ${a}`, ar: `فاعل ${a}` }, aliases: [], affiliations });
  }

  // actors as the benchmark's popular-actor scenario assumes them (s = 1); places a little steeper
  const actorOf = zipf(size.actors, random, 1);
  const placeOf = zipf(placeKeys.length, random, 1.1);
  const date = () => {
    const day = FIRST_DAY + int(DAYS);
    const roll = random();
    if (roll < 0.8) return isoDay(day);
    if (roll < 0.88) {
      const offset = pick(['Z', '+03:00', '-05:00', '+06:00']);
      return `${isoDay(day)}T${pad(int(24))}:${pad(int(60))}:00${offset}`;
    }
    if (roll < 0.94) return isoDay(day).slice(0, 7);
    if (roll < 0.97) return isoDay(day).slice(0, 4);
    if (roll < 0.99) return `${isoDay(day)}/${isoDay(day + 1 + int(60))}`;
    return `${isoDay(day)}/..`;
  };
  const distinct = <T>(n: number, next: () => T) => [...new Set(Array.from({ length: n }, next))];

  for (let e = 0; e < size.events; e++) {
    await write({
      kind: 'event',
      key: `event:${e}`,
      type: pick(EVENT_TYPES),
      date: date(),
      title: { en: sentence(EN_WORDS, 4 + int(5)), ar: sentence(AR_WORDS, 4 + int(5)) },
      description: random() < 0.3 ? { en: sentence(EN_WORDS, 12), ar: sentence(AR_WORDS, 12) } : null,
      places: distinct(1 + int(2), () => placeKeys[placeOf()]!),
      actors: distinct(1 + int(3), () => actorOf()).map((a, i) => ({ actor: `actor:${a}`, role: i === 0 ? 'participant' : pick(ROLES) })),
      tags: distinct(int(4), () => pick(TAGS)),
      sources: [{ source: `src:${int(size.sources)}`, excerpt: null }],
    });
  }

  for (let s = 0; s < size.statements; s++) {
    await write({
      kind: 'statement',
      key: `stmt:${s}`,
      type: pick(['quote', 'paraphrase', 'written']),
      date: date(),
      speaker: `actor:${actorOf()}`,
      text: { ar: sentence(AR_WORDS, 10 + int(10)), en: sentence(EN_WORDS, 10 + int(10)) },
      originalLang: 'ar',
      about: {
        actors: distinct(int(3), () => `actor:${actorOf()}`),
        places: distinct(int(2), () => placeKeys[placeOf()]!),
        events: random() < 0.2 ? [`event:${int(size.events)}`] : [],
      },
      sources: [{ source: `src:${int(size.sources)}`, excerpt: null }],
    });
  }

  file.write(buffer);
  file.end();
  await once(file, 'finish');
  return records;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      events: { type: 'string' },
      statements: { type: 'string' },
      actors: { type: 'string' },
      places: { type: 'string' },
      sources: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const size = {
    ...FULL_SIZE,
    ...Object.fromEntries(Object.entries(values).filter(([k, v]) => k !== 'out' && v !== undefined).map(([k, v]) => [k, Number(v)])),
  };
  const out = values.out ?? `bench/data/dataset-${size.events}.ndjson`;
  const started = Date.now();
  const records = await generateDataset(size, out);
  process.stderr.write(`wrote ${records} records to ${out} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
