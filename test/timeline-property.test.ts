// Property tests of the timeline and its histogram against a brute-force oracle written from
// the spec: random datasets (every date precision, open ends, qualifiers, instants whose offset
// puts them on another day in UTC; actors with roles, a place hierarchy, tags, types, words),
// imported into a fresh app per run on each engine, and random queries whose every page is walked.
// The order is chronological by position, then id: an instant at its moment in UTC, a year,
// month or day from 00:00 UTC of its first day to the end of its last (the route's rule).
//
// The seed is fixed (printed below); TIMELINE_SEED, TIMELINE_RUNS (a factor) and
// TIMELINE_NO_SHRINK=1 are for exploring.
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { OPEN_END_MS, OPEN_START_MS, chronoPosition, parseEdtf } from '../src/dates/edtf.js';
import { AUTH, buildTestApp, ndjson } from './helpers.js';
import { describeEngines, type Engine } from './support/pg.js';

const SEED = Number(process.env.TIMELINE_SEED ?? 20220105);
const RUNS = Number(process.env.TIMELINE_RUNS ?? 1);
console.log(`timeline-property: fast-check seed ${SEED} (override with TIMELINE_SEED), runs x${RUNS}`);
/**
 * Each run builds an app on a fresh database: on PostgreSQL a new database and its migrations
 * take seconds where SQLite's in-memory one takes a fraction, so the full count there would run
 * for minutes. PostgreSQL runs a quarter of the runs (the same seed, so the first datasets
 * SQLite checks); TIMELINE_RUNS scales both.
 */
const runs = (engine: Engine, n: number) => Math.max(1, Math.round(n * RUNS * (engine === 'postgres' ? 0.25 : 1)));
/** TIMELINE_NO_SHRINK=1 reports the first counterexample as found (faster when exploring). */
const NO_SHRINK = process.env.TIMELINE_NO_SHRINK === '1';
/** Room for shrinking a counterexample (each run builds an app); a green run takes seconds. */
const PROPERTY_TIMEOUT = 300_000;

/* ------------------------------------------------------------------------------------------ */
/* Calendar (independent of src/dates)                                                          */
/* ------------------------------------------------------------------------------------------ */

const DAY_MS = 86_400_000;
const pad = (n: number, width = 2) => String(n).padStart(width, '0');
const dayOf = (y: number, m: number, d: number) => Date.UTC(y, m - 1, d) / DAY_MS;
const isoOf = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);
const ymdOf = (day: number) => isoOf(day).split('-').map(Number) as [number, number, number];
const daysIn = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate();
const dayOfIso = (iso: string) => {
  const [y, m, d] = iso.split('-').map(Number) as [number, number, number];
  return dayOf(y, m, d);
};

/** A window bound (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`) as a day: `from` its first day, `to` its last. */
function boundDay(value: string, side: 'from' | 'to'): number {
  const [y, m, d] = value.split('-').map(Number) as [number, number | undefined, number | undefined];
  if (m === undefined) return side === 'from' ? dayOf(y, 1, 1) : dayOf(y, 12, 31);
  if (d === undefined) return side === 'from' ? dayOf(y, m, 1) : dayOf(y, m, daysIn(y, m));
  return dayOf(y, m, d);
}

/* ------------------------------------------------------------------------------------------ */
/* Generated data                                                                              */
/* ------------------------------------------------------------------------------------------ */

/** One side of a date: its text and inclusive bounds (days); `ms` for instants (UTC). */
interface Point {
  text: string;
  precision: 'year' | 'month' | 'day' | 'instant';
  earliest: number;
  latest: number;
  ms?: number;
}

/**
 * A date: EDTF text and bounds (days), with -Infinity / Infinity for open ends, and its
 * position in time (milliseconds, UTC): where it starts and where it ends.
 */
interface GenDate {
  edtf: string;
  earliest: number;
  latest: number;
  start: number;
  end: number;
}

/** Where a point starts and ends in time: an instant at its moment, other dates as whole UTC days. */
const pointStart = (p: Point) => p.ms ?? p.earliest * DAY_MS;
const pointEnd = (p: Point) => p.ms ?? (p.latest + 1) * DAY_MS - 1;

const HOT_FROM = dayOf(2021, 12, 1);
const HOT_TO = dayOf(2022, 2, 28);
const WIDE_FROM = dayOf(2020, 1, 1);
const WIDE_TO = dayOf(2024, 12, 31);

/** The first or last day of a month or year near the turn of 2021/2022: where span classes end. */
const edgeDayArb = fc
  .record({ month: fc.integer({ min: 0, max: 5 }), last: fc.boolean(), year: fc.boolean() })
  .map(({ month, last, year }) => {
    const y = month === 0 ? 2021 : 2022;
    const m = month === 0 ? 12 : month;
    if (year) return last ? dayOf(y, 12, 31) : dayOf(y, 1, 1);
    return last ? dayOf(y, m, daysIn(y, m)) : dayOf(y, m, 1);
  });

/** A day, mostly around the turn of 2021/2022 so that entries and windows meet. */
const dayArb = fc.oneof(
  { weight: 2, arbitrary: fc.integer({ min: dayOf(2022, 1, 1), max: dayOf(2022, 1, 8) }) },
  { weight: 3, arbitrary: fc.integer({ min: HOT_FROM, max: HOT_TO }) },
  { weight: 1, arbitrary: edgeDayArb },
  { weight: 1, arbitrary: fc.integer({ min: WIDE_FROM, max: WIDE_TO }) },
);

const OFFSETS = ['Z', '+00:00', '+05:00', '+06:00', '-05:00', '+14:00', '-12:00', '+05:45', '-03:30', '-10:00'];

const instantArb = fc
  .record({
    day: dayArb,
    hour: fc.constantFrom(0, 1, 2, 12, 21, 22, 23),
    minute: fc.constantFrom(0, 30, 59),
    seconds: fc.constantFrom('', ':00', ':59', ':07.5', ':07.123'),
    offset: fc.constantFrom(...OFFSETS),
  })
  .map(({ day, hour, minute, seconds, offset }): Point => {
    const local = isoOf(day);
    const sign = offset.startsWith('-') ? -1 : 1;
    const offsetMinutes = offset === 'Z' ? 0 : sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
    const secs = seconds === '' ? 0 : Number(seconds.slice(1));
    const ms = (day * 1440 + hour * 60 + minute - offsetMinutes) * 60_000 + Math.round(secs * 1000);
    // the calendar date of an instant is the one written, in its own offset
    return { text: `${local}T${pad(hour)}:${pad(minute)}${seconds}${offset}`, precision: 'instant', earliest: day, latest: day, ms };
  });

const pointArb: fc.Arbitrary<Point> = fc.oneof(
  dayArb.map((day): Point => {
    const [y] = ymdOf(day);
    return { text: pad(y, 4), precision: 'year', earliest: dayOf(y, 1, 1), latest: dayOf(y, 12, 31) };
  }),
  dayArb.map((day): Point => {
    const [y, m] = ymdOf(day);
    return { text: `${pad(y, 4)}-${pad(m)}`, precision: 'month', earliest: dayOf(y, m, 1), latest: dayOf(y, m, daysIn(y, m)) };
  }),
  { weight: 2, arbitrary: dayArb.map((day): Point => ({ text: isoOf(day), precision: 'day', earliest: day, latest: day })) },
  instantArb,
);

const qualifierArb = fc.constantFrom('', '', '', '?', '~', '%');

const intervalArb: fc.Arbitrary<GenDate> = fc
  .record({
    a: pointArb,
    b: pointArb,
    qa: qualifierArb,
    qb: qualifierArb,
    open: fc.constantFrom('none', 'none', 'start', 'end'),
  })
  .map(({ a, b, qa, qb, open }) => {
    if (a.earliest > b.latest) [a, b] = [b, a];
    if (a.ms !== undefined && b.ms !== undefined && a.ms > b.ms) {
      // same order by calendar date, reverse order in time: end on the day instead
      b = { text: isoOf(b.earliest), precision: 'day', earliest: b.earliest, latest: b.latest };
    }
    if (open === 'start') return { edtf: `../${b.text}${qb}`, earliest: -Infinity, latest: b.latest, start: -Infinity, end: pointEnd(b) };
    if (open === 'end') return { edtf: `${a.text}${qa}/..`, earliest: a.earliest, latest: Infinity, start: pointStart(a), end: Infinity };
    // an instant ending on a day it falls after in UTC (in another offset): it ends where it starts
    const end = Math.max(pointStart(a), pointEnd(b));
    return { edtf: `${a.text}${qa}/${b.text}${qb}`, earliest: a.earliest, latest: b.latest, start: pointStart(a), end };
  });

const dateArb: fc.Arbitrary<GenDate> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .tuple(pointArb, qualifierArb)
      .map(([p, q]) => ({ edtf: p.text + q, earliest: p.earliest, latest: p.latest, start: pointStart(p), end: pointEnd(p) })),
  },
  { weight: 2, arbitrary: intervalArb },
);

const PLACES = 5;
const ACTORS = 4;
const TAGS = ['t1', 't2', 't3'];
const EVENT_TYPES = ['protest', 'meeting', 'clash'];
const STATEMENT_TYPES = ['quote', 'paraphrase', 'written'];
const ROLES = ['participant', 'organizer', 'target'];
/** Words of titles and texts; `delta` and `charlie` are also in an actor's and a place's name. */
const WORDS = ['alpha', 'bravo', 'charlie', 'delta'];
const actorKey = (i: number) => `actor:a${i}`;
const placeKey = (i: number) => `place:p${i}`;
const actorName = (i: number) => (i === 3 ? 'Delta Group' : `Actor A${i}`);
const placeName = (i: number) => (i === 4 ? 'Charlie Town' : `Place P${i}`);

interface GenEntry {
  key: string;
  kind: 'event' | 'statement';
  type: string;
  date: GenDate;
  tags: string[];
  /** events: actors with roles */
  actors: { actor: number; role: string }[];
  /** statements: the speaker and the actors the statement is about */
  speaker: number;
  about: number[];
  /** events: their places; statements: the places they are about */
  places: number[];
  words: string[];
}

interface Dataset {
  /** parent index of each place (null for a root) */
  parents: (number | null)[];
  entries: GenEntry[];
}

const eventArb = fc.record({
  type: fc.constantFrom(...EVENT_TYPES),
  date: dateArb,
  tags: fc.subarray(TAGS),
  // an actor may take part in several roles, but each (actor, role) once: the API refuses a pair listed twice
  actors: fc.uniqueArray(fc.record({ actor: fc.nat({ max: ACTORS - 1 }), role: fc.constantFrom(...ROLES) }), {
    maxLength: 3,
    selector: (link) => `${link.actor}\0${link.role}`,
  }),
  places: fc.uniqueArray(fc.nat({ max: PLACES - 1 }), { maxLength: 2 }),
  words: fc.subarray(WORDS),
});

const statementArb = fc.record({
  type: fc.constantFrom(...STATEMENT_TYPES),
  date: dateArb,
  speaker: fc.nat({ max: ACTORS - 1 }),
  about: fc.uniqueArray(fc.nat({ max: ACTORS - 1 }), { maxLength: 2 }),
  places: fc.uniqueArray(fc.nat({ max: PLACES - 1 }), { maxLength: 2 }),
  words: fc.subarray(WORDS),
});

const datasetArb = (maxEntries: number): fc.Arbitrary<Dataset> =>
  fc
    .record({
      // each place's parent is an earlier place, or none
      parents: fc
        .array(fc.option(fc.nat(), { nil: null }), { minLength: PLACES, maxLength: PLACES })
        .map((ps) => ps.map((p, i) => (i === 0 || p === null ? null : p % i))),
      // events and statements interleaved, so that ids do not follow kinds
      entries: fc.array(
        fc.oneof(
          { weight: 2, arbitrary: eventArb.map((e) => ({ kind: 'event' as const, speaker: -1, about: [], ...e })) },
          { weight: 1, arbitrary: statementArb.map((s) => ({ kind: 'statement' as const, tags: [], actors: [], ...s })) },
        ),
        { maxLength: maxEntries },
      ),
      // a few dates many entries share, so that events and statements tie on [earliest, latest]
      shared: fc.array(dateArb, { minLength: 1, maxLength: 3 }),
      share: fc.array(fc.option(fc.nat(), { nil: null, freq: 2 }), { minLength: maxEntries, maxLength: maxEntries }),
    })
    .map(({ parents, entries, shared, share }) => ({
      parents,
      entries: entries.map(
        (e, i): GenEntry => ({
          ...e,
          key: e.kind === 'event' ? `event:e${i}` : `stmt:s${i}`,
          date: share[i] === null ? e.date : shared[share[i]! % shared.length]!,
        }),
      ),
    }));

function importRecords(ds: Dataset): object[] {
  const records: object[] = [];
  ds.parents.forEach((parent, i) =>
    records.push({
      kind: 'place',
      key: placeKey(i),
      type: 'region',
      name: { en: placeName(i) },
      ...(parent === null ? {} : { parent: placeKey(parent) }),
    }),
  );
  for (let i = 0; i < ACTORS; i++) {
    records.push({ kind: 'actor', key: actorKey(i), type: 'person', name: { en: actorName(i) }, aliases: [] });
  }
  for (const e of ds.entries) {
    const words = e.words.join(' ');
    if (e.kind === 'event') {
      records.push({
        kind: 'event',
        key: e.key,
        type: e.type,
        date: e.date.edtf,
        title: { en: `Event ${e.key.slice(6)} ${words}`.trim() },
        places: e.places.map(placeKey),
        actors: e.actors.map((a) => ({ actor: actorKey(a.actor), role: a.role })),
        tags: e.tags,
      });
    } else {
      records.push({
        kind: 'statement',
        key: e.key,
        type: e.type,
        date: e.date.edtf,
        speaker: actorKey(e.speaker),
        text: { en: `Statement ${e.key.slice(5)} ${words}`.trim() },
        about: { actors: e.about.map(actorKey), places: e.places.map(placeKey) },
      });
    }
  }
  return records;
}

/* ------------------------------------------------------------------------------------------ */
/* Queries and the oracle                                                                      */
/* ------------------------------------------------------------------------------------------ */

interface Query {
  from?: string | undefined;
  to?: string | undefined;
  match?: 'overlaps' | 'within' | undefined;
  kind?: ('event' | 'statement')[] | undefined;
  type?: string[] | undefined;
  tag?: string[] | undefined;
  actor?: number[] | undefined;
  role?: string | undefined;
  place?: number[] | undefined;
  q?: string[] | undefined;
  order?: 'asc' | 'desc' | undefined;
}

/** Mostly absent. */
const sometimes = <T>(arb: fc.Arbitrary<T>, absent = 2) =>
  fc.oneof({ weight: absent, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

const boundArb = fc.oneof(
  { weight: 2, arbitrary: dayArb.map((d) => isoOf(d)) },
  { weight: 1, arbitrary: edgeDayArb.map((d) => isoOf(d)) },
  { weight: 1, arbitrary: dayArb.map((d) => isoOf(d).slice(0, 7)) },
  { weight: 1, arbitrary: dayArb.map((d) => isoOf(d).slice(0, 4)) },
);

const filtersArb = fc.record({
  kind: sometimes(fc.subarray(['event', 'statement'] as ('event' | 'statement')[], { minLength: 1 })),
  type: sometimes(fc.subarray([...EVENT_TYPES, ...STATEMENT_TYPES], { minLength: 1, maxLength: 2 })),
  tag: sometimes(fc.subarray(TAGS, { minLength: 1, maxLength: 2 })),
  actor: sometimes(fc.uniqueArray(fc.nat({ max: ACTORS - 1 }), { minLength: 1, maxLength: 2 }), 1),
  role: fc.constantFrom(undefined, undefined, 'participant', 'organizer', 'target', 'speaker', 'about'),
  place: sometimes(fc.uniqueArray(fc.nat({ max: PLACES - 1 }), { minLength: 1, maxLength: 2 })),
  q: sometimes(fc.subarray(WORDS, { minLength: 1, maxLength: 2 }), 3),
});

const queryArb = fc
  .record({
    from: sometimes(boundArb, 1),
    to: sometimes(boundArb, 1),
    match: fc.constantFrom(undefined, 'overlaps', 'within'),
    order: fc.constantFrom(undefined, 'asc', 'desc'),
    filters: filtersArb,
    limit: fc.integer({ min: 1, max: 5 }),
    scoped: fc.boolean(),
    upper: fc.boolean(),
  })
  .map(({ filters, limit, scoped, upper, ...window }) => {
    const query: Query = { ...window, ...filters };
    if (query.actor === undefined) query.role = undefined; // `role` goes with `actor`
    if (query.q && upper) query.q = query.q.map((w) => w.toUpperCase());
    return { query, limit, scoped };
  });

function subtree(parents: (number | null)[], roots: number[]): Set<number> {
  const out = new Set(roots);
  let grew = true;
  while (grew) {
    grew = false;
    parents.forEach((parent, i) => {
      if (parent !== null && out.has(parent) && !out.has(i)) {
        out.add(i);
        grew = true;
      }
    });
  }
  return out;
}

/** Words of an entry's search document: its own text and the names of its actors and places. */
function documentWords(e: GenEntry): Set<string> {
  const names = [
    ...(e.kind === 'event' ? e.actors.map((a) => actorName(a.actor)) : [actorName(e.speaker), ...e.about.map(actorName)]),
    ...e.places.map(placeName),
  ];
  return new Set([...e.words, ...names.join(' ').toLowerCase().split(' ')]);
}

function window(q: Pick<Query, 'from' | 'to'>) {
  return {
    from: q.from === undefined ? undefined : boundDay(q.from, 'from'),
    to: q.to === undefined ? undefined : boundDay(q.to, 'to'),
  };
}

function inWindow(e: GenEntry, from: number | undefined, to: number | undefined, match: 'overlaps' | 'within'): boolean {
  if (match === 'within') {
    return (from === undefined || e.date.earliest >= from) && (to === undefined || e.date.latest <= to);
  }
  return (to === undefined || e.date.earliest <= to) && (from === undefined || e.date.latest >= from);
}

function matches(ds: Dataset, q: Query, e: GenEntry): boolean {
  const { from, to } = window(q);
  if (!inWindow(e, from, to, q.match ?? 'overlaps')) return false;
  if (q.kind && !q.kind.includes(e.kind)) return false;
  if (q.type && !q.type.includes(e.type)) return false;
  if (q.tag && !e.tags.some((t) => q.tag!.includes(t))) return false;
  if (q.actor) {
    const wanted = new Set(q.actor);
    const ok =
      e.kind === 'event'
        ? e.actors.some((a) => wanted.has(a.actor) && (q.role === undefined || a.role === q.role))
        : q.role === undefined || q.role === 'speaker'
          ? wanted.has(e.speaker)
          : q.role === 'about'
            ? e.about.some((a) => wanted.has(a))
            : false;
    if (!ok) return false;
  }
  if (q.place) {
    const places = subtree(ds.parents, q.place);
    if (!e.places.some((p) => places.has(p))) return false;
  }
  if (q.q) {
    const words = documentWords(e);
    if (!q.q.every((w) => words.has(w.toLowerCase()))) return false;
  }
  return true;
}

const cmp = (a: number, b: number) => (a < b ? -1 : a > b ? 1 : 0);

/** Chronological order: where an entry starts in time (UTC), where it ends, then its id. */
function chrono(ids: Map<string, number>) {
  return (a: GenEntry, b: GenEntry) =>
    cmp(a.date.start, b.date.start) || cmp(a.date.end, b.date.end) || cmp(ids.get(a.key)!, ids.get(b.key)!);
}

function oracle(ds: Dataset, ids: Map<string, number>, q: Query): string[] {
  const sorted = ds.entries.filter((e) => matches(ds, q, e)).sort(chrono(ids));
  if (q.order === 'desc') sorted.reverse();
  return sorted.map((e) => e.key);
}

/* ------------------------------------------------------------------------------------------ */
/* HTTP                                                                                        */
/* ------------------------------------------------------------------------------------------ */

type Params = [string, string][];

function queryParams(q: Query, omit: { actor?: boolean; place?: boolean } = {}): Params {
  const p: Params = [];
  if (q.from !== undefined) p.push(['from', q.from]);
  if (q.to !== undefined) p.push(['to', q.to]);
  if (q.match !== undefined) p.push(['match', q.match]);
  for (const k of q.kind ?? []) p.push(['kind', k]);
  for (const t of q.type ?? []) p.push(['type', t]);
  for (const t of q.tag ?? []) p.push(['tag', t]);
  if (!omit.actor) for (const a of q.actor ?? []) p.push(['actor', actorKey(a)]);
  if (q.role !== undefined) p.push(['role', q.role]);
  if (!omit.place) for (const pl of q.place ?? []) p.push(['place', placeKey(pl)]);
  if (q.q !== undefined) p.push(['q', q.q.join(' ')]);
  if (q.order !== undefined) p.push(['order', q.order]);
  return p;
}

const url = (path: string, params: Params) => `${path}?${new URLSearchParams(params).toString()}`;

interface WalkedEntry {
  key: string;
  id: number;
  kind: 'event' | 'statement';
  date: { edtf: string; earliest: string | null; latest: string | null };
}

/** Every page of a timeline query, following `page.nextCursor` to the end. */
async function walk(
  app: FastifyInstance,
  path: string,
  params: Params,
  limit: number,
  between?: (pageNumber: number, soFar: WalkedEntry[]) => Promise<void>,
): Promise<{ entries: WalkedEntry[]; pages: number }> {
  const entries: WalkedEntry[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page: Params = [...params, ['limit', String(limit)]];
    if (cursor !== null) page.push(['cursor', cursor]);
    const res = await app.inject({ url: url(path, page) });
    if (res.statusCode !== 200) throw new Error(`${url(path, page)}: ${res.statusCode} ${res.body}`);
    const body = res.json<{ data: WalkedEntry[]; page: { nextCursor: string | null; limit: number } }>();
    expect(body.page.limit).toBe(limit);
    expect(body.data.length).toBeLessThanOrEqual(limit);
    entries.push(...body.data);
    cursor = body.page.nextCursor;
    pages++;
    if (pages > 1000) throw new Error('more than 1000 pages');
    if (cursor !== null && between) await between(pages, entries);
  } while (cursor !== null);
  return { entries, pages };
}

async function importDataset(app: FastifyInstance, ds: Dataset): Promise<Map<string, number>> {
  const records = importRecords(ds);
  const res = await app.inject({
    method: 'POST',
    url: '/v1/import',
    headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
    payload: ndjson(records),
  });
  expect(res.statusCode).toBe(200);
  const report = res.json();
  if (report.refused !== 0) throw new Error(`import refused lines: ${JSON.stringify(report.errors)}`);
  expect(report.created).toBe(records.length);

  // ids are the service's; the oracle only uses them as the last tie-break
  const { entries } = await walk(app, '/v1/timeline', [], 500);
  const ids = new Map(entries.map((e) => [e.key, e.id]));
  expect([...ids.keys()].sort()).toEqual(ds.entries.map((e) => e.key).sort());
  // the bounds the service stores are the ones the spec gives for each date
  const byKey = new Map(ds.entries.map((e) => [e.key, e]));
  for (const e of entries) {
    const gen = byKey.get(e.key)!;
    const iso = (day: number) => (Number.isFinite(day) ? isoOf(day) : null);
    expect({ key: e.key, earliest: e.date.earliest, latest: e.date.latest }).toEqual({
      key: e.key,
      earliest: iso(gen.date.earliest),
      latest: iso(gen.date.latest),
    });
  }
  return ids;
}

async function withApp<T>(engine: Engine, work: (app: FastifyInstance) => Promise<T>): Promise<T> {
  const t = await buildTestApp({ memory: true, engine });
  try {
    return await work(t.app);
  } finally {
    await t.close();
  }
}

const describeQuery = (path: string, params: Params, limit: number) => url(path, [...params, ['limit', String(limit)]]);

/* ------------------------------------------------------------------------------------------ */
/* 1. Timeline pages against the oracle                                                        */
/* ------------------------------------------------------------------------------------------ */

// the generator against src/dates alone: no database, so on no engine in particular
describe('timeline property: the generator', () => {
  it('the generator makes dates the service accepts with the bounds the spec gives', () => {
    fc.assert(
      fc.property(dateArb, (date) => {
        const parsed = parseEdtf(date.edtf);
        expect(parsed.earliest === null ? -Infinity : dayOfIso(parsed.earliest)).toBe(date.earliest);
        expect(parsed.latest === null ? Infinity : dayOfIso(parsed.latest)).toBe(date.latest);
        // and the position the service orders by is the one the oracle gives
        const { start, end } = chronoPosition(parsed);
        expect(start === OPEN_START_MS ? -Infinity : start, date.edtf).toBe(date.start);
        expect(end === OPEN_END_MS ? Infinity : end, date.edtf).toBe(date.end);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });
});

describeEngines('timeline property: every page of every query agrees with the oracle', (engine) => {
  it('random datasets and queries, all pages walked', { timeout: PROPERTY_TIMEOUT }, async () => {
    let queries = 0;
    let nonEmpty = 0;
    await fc.assert(
      fc.asyncProperty(datasetArb(30), fc.array(queryArb, { minLength: 1, maxLength: 12 }), async (ds, cases) =>
        withApp(engine, async (app) => {
          const ids = await importDataset(app, ds);
          for (const { query, limit, scoped } of cases) {
            // a scoped timeline's path names the one actor or place
            let path = '/v1/timeline';
            let omit = {};
            if (scoped && query.actor?.length === 1) {
              path = `/v1/actors/${actorKey(query.actor[0]!)}/timeline`;
              omit = { actor: true };
            } else if (scoped && query.place?.length === 1) {
              path = `/v1/places/${placeKey(query.place[0]!)}/timeline`;
              omit = { place: true };
            }
            const params = queryParams(query, omit);
            const { from, to } = window(query);
            if (from !== undefined && to !== undefined && from > to) {
              const res = await app.inject({ url: url(path, params) });
              expect(res.statusCode, describeQuery(path, params, limit)).toBe(400);
              expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
              continue;
            }
            const expected = oracle(ds, ids, query);
            const { entries, pages } = await walk(app, path, params, limit);
            expect(entries.map((e) => e.key), describeQuery(path, params, limit)).toEqual(expected);
            // every page but the last is full (the cursor only appears when more follows)
            expect(pages).toBe(Math.max(1, Math.ceil(expected.length / limit)));
            queries++;
            if (expected.length > 0) nonEmpty++;
          }
        }),
      ),
      { seed: SEED, endOnFailure: NO_SHRINK, numRuns: runs(engine, 80) },
    );
    console.log(`timeline-property: ${queries} queries checked, ${nonEmpty} with a non-empty answer`);
    expect(nonEmpty).toBeGreaterThan(queries / 5);
  });

  it('a window from after to is a 400 problem', async () => {
    await withApp(engine, async (app) => {
      for (const [from, to] of [
        ['2022-01-02', '2022-01-01'],
        ['2022-02', '2022-01-31'],
        ['2023', '2022-12'],
      ]) {
        const res = await app.inject({ url: `/v1/timeline?from=${from}&to=${to}` });
        expect(res.statusCode).toBe(400);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(res.json()).toMatchObject({ status: 400 });
      }
      // the same month on both sides is one whole month, not an empty window
      expect((await app.inject({ url: '/v1/timeline?from=2022-01&to=2022-01' })).statusCode).toBe(200);
    });
  });
});

/* ------------------------------------------------------------------------------------------ */
/* 2. Cursors while entries are inserted and deleted between pages                             */
/* ------------------------------------------------------------------------------------------ */

/** Few dates, so that many entries tie on their position and the id decides. */
const POOL = [
  '2022-01-05',
  '2022-01-05',
  '2022-01-05T23:30:00-05:00',
  '2022-01-06T01:00:00+06:00',
  '2022-01-06T04:30:00Z',
  '2022-01-05?',
  '2022-01-06',
  '2022-01',
  '2022-01-05/2022-01-07',
  '2021-12-31',
  '2022',
  '../2022-01-05',
  '2022-01-05/..',
];

/** Where one side of a date of the pool starts or ends in time, read here rather than by src/dates. */
function sideMs(text: string, side: 'from' | 'to'): number {
  const bare = text.replace(/[?~%]$/, '');
  if (bare === '..') return side === 'from' ? -Infinity : Infinity;
  if (bare.includes('T')) return Date.parse(bare);
  return side === 'from' ? boundDay(bare, 'from') * DAY_MS : (boundDay(bare, 'to') + 1) * DAY_MS - 1;
}

const bounds = (edtf: string): GenDate => {
  const p = parseEdtf(edtf);
  const [a, b = a] = edtf.split('/') as [string, string?];
  const start = sideMs(a, 'from');
  return {
    edtf,
    earliest: p.earliest === null ? -Infinity : dayOfIso(p.earliest),
    latest: p.latest === null ? Infinity : dayOfIso(p.latest),
    start,
    end: Math.max(start, sideMs(b, 'to')),
  };
};

interface Live {
  key: string;
  kind: 'event' | 'statement';
  date: GenDate;
  id: number;
}

const position = (e: Live) => [e.date.start, e.date.end, e.id] as const;
const comparePositions = (a: Live, b: Live) => {
  const pa = position(a);
  const pb = position(b);
  for (let i = 0; i < pa.length; i++) if (pa[i] !== pb[i]) return pa[i]! < pb[i]! ? -1 : 1;
  return 0;
};

describeEngines('cursors stay correct while entries are inserted and deleted between pages', (engine) => {
  it('no entry repeats, none that existed throughout is skipped, and pages stay in order', { timeout: PROPERTY_TIMEOUT }, async () => {
    let inserted = 0;
    let deleted = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          events: fc.array(fc.nat({ max: POOL.length - 1 }), { minLength: 3, maxLength: 18 }),
          statements: fc.array(fc.nat({ max: POOL.length - 1 }), { maxLength: 5 }),
          order: fc.constantFrom<'asc' | 'desc'>('asc', 'desc'),
          limit: fc.integer({ min: 1, max: 3 }),
          window: fc.constantFrom<[string | undefined, string | undefined, 'overlaps' | 'within']>(
            [undefined, undefined, 'overlaps'],
            ['2022-01-05', '2022-01-05', 'overlaps'],
            ['2022-01', '2022-01', 'within'],
            ['2022-01-06', undefined, 'overlaps'],
          ),
          // what happens after each page: new events, and deletions (by index into the live ones)
          steps: fc.array(
            fc.record({
              insert: fc.array(fc.nat({ max: POOL.length - 1 }), { maxLength: 3 }),
              remove: fc.array(fc.nat(), { maxLength: 2 }),
            }),
            { maxLength: 30 },
          ),
        }),
        async ({ events, statements, order, limit, window: [from, to, match], steps }) =>
          withApp(engine, async (app) => {
            const records: object[] = [
              { kind: 'actor', key: 'actor:speaker', type: 'person', name: { en: 'Speaker' }, aliases: [] },
              ...events.map((d, i) => ({ kind: 'event', key: `event:i${i}`, type: 'protest', date: POOL[d], title: { en: `Initial ${i}` } })),
              ...statements.map((d, i) => ({
                kind: 'statement',
                key: `stmt:i${i}`,
                type: 'quote',
                date: POOL[d],
                speaker: 'actor:speaker',
                text: { en: `Said ${i}` },
              })),
            ];
            const res = await app.inject({
              method: 'POST',
              url: '/v1/import',
              headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
              payload: ndjson(records),
            });
            expect(res.json()).toMatchObject({ refused: 0 });

            const params: Params = [['order', order], ['match', match]];
            if (from) params.push(['from', from]);
            if (to) params.push(['to', to]);
            const fromDay = from === undefined ? undefined : boundDay(from, 'from');
            const toDay = to === undefined ? undefined : boundDay(to, 'to');
            const inQuery = (e: Live) =>
              match === 'within'
                ? (fromDay === undefined || e.date.earliest >= fromDay) && (toDay === undefined || e.date.latest <= toDay)
                : (toDay === undefined || e.date.earliest <= toDay) && (fromDay === undefined || e.date.latest >= fromDay);

            const live = new Map<string, Live>();
            const everDeleted = new Set<string>();
            const initial = (await walk(app, '/v1/timeline', [], 500)).entries;
            for (const e of initial) {
              const edtf = records.find((r) => (r as { key: string }).key === e.key) as { date: string };
              live.set(e.key, { key: e.key, kind: e.kind, id: e.id, date: bounds(edtf.date) });
            }
            const initialKeys = new Set(live.keys());
            /** Entries inserted after the page that ended at `after` (sorting after it) must be seen. */
            const mustAppear = new Set<string>();
            const mustNotAppear = new Set<string>();
            let last: Live | undefined;
            const toLive = (e: WalkedEntry): Live => ({
              key: e.key,
              kind: e.kind,
              id: e.id,
              date: {
                ...bounds(e.date.edtf),
                earliest: e.date.earliest === null ? -Infinity : dayOfIso(e.date.earliest),
                latest: e.date.latest === null ? Infinity : dayOfIso(e.date.latest),
              },
            });

            const between = async (page: number, soFar: WalkedEntry[]) => {
              last = soFar.length ? toLive(soFar[soFar.length - 1]!) : undefined;
              const step = steps[page - 1];
              if (!step) return;
              for (const d of step.insert) {
                const key = `event:n${page}-${inserted++}`;
                const r = await app.inject({
                  method: 'POST',
                  url: '/v1/events',
                  headers: AUTH,
                  payload: { key, type: 'protest', date: POOL[d], title: { en: `New ${key}` } },
                });
                expect(r.statusCode, r.body).toBe(201);
                const entry: Live = { key, kind: 'event', id: r.json().id, date: bounds(POOL[d]!) };
                live.set(key, entry);
                if (inQuery(entry)) {
                  const after = last === undefined || (order === 'asc' ? comparePositions(entry, last) > 0 : comparePositions(entry, last) < 0);
                  (after ? mustAppear : mustNotAppear).add(key);
                }
              }
              for (const n of step.remove) {
                const victims = [...live.values()].filter((e) => e.kind === 'event');
                if (victims.length === 0) break;
                const victim = victims[n % victims.length]!;
                const r = await app.inject({ method: 'DELETE', url: `/v1/events/${victim.key}`, headers: AUTH });
                expect(r.statusCode, r.body).toBe(204);
                live.delete(victim.key);
                everDeleted.add(victim.key);
                mustAppear.delete(victim.key);
                deleted++;
              }
            };

            const { entries } = await walk(app, '/v1/timeline', params, limit, between);
            const keys = entries.map((e) => e.key);
            expect(new Set(keys).size, `repeated: ${keys.join(' ')}`).toBe(keys.length);
            const byKey = new Map(entries.map((e) => [e.key, e]));
            const throughout = [...initialKeys].filter((k) => !everDeleted.has(k) && inQuery(live.get(k)!));
            expect(throughout.filter((k) => !byKey.has(k)), 'skipped').toEqual([]);
            expect([...mustAppear].filter((k) => !byKey.has(k)), 'inserted after the cursor but not returned').toEqual([]);
            expect([...mustNotAppear].filter((k) => byKey.has(k)), 'inserted before the cursor but returned').toEqual([]);
            // every returned entry is in the query and in order
            const returned = entries.map(toLive);
            for (const e of returned) expect(inQuery(e), e.key).toBe(true);
            for (let i = 1; i < returned.length; i++) {
              const c = comparePositions(returned[i - 1]!, returned[i]!);
              expect(order === 'asc' ? c < 0 : c > 0, `${returned[i - 1]!.key} then ${returned[i]!.key}`).toBe(true);
            }
          }),
      ),
      { seed: SEED, endOnFailure: NO_SHRINK, numRuns: runs(engine, 25) },
    );
    console.log(`timeline-property: cursors survived ${inserted} inserts and ${deleted} deletes between pages`);
  });

  it('a cursor is tamper-evident and bound to its query', async () => {
    await withApp(engine, async (app) => {
      const records = Array.from({ length: 5 }, (_, i) => ({ kind: 'event', key: `event:t${i}`, type: 'protest', date: '2022-01-05', title: { en: `T${i}` } }));
      await app.inject({ method: 'POST', url: '/v1/import', headers: { ...AUTH, 'content-type': 'application/x-ndjson' }, payload: ndjson(records) });
      const first = (await app.inject({ url: '/v1/timeline?limit=2' })).json();
      const cursor: string = first.page.nextCursor;
      expect(cursor).toEqual(expect.any(String));
      const [body, signature] = cursor.split('.') as [string, string];
      const position = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as unknown[];
      position[2] = 0; // start again from the beginning of the day: a forged position
      const forged = `${Buffer.from(JSON.stringify(position)).toString('base64url')}.${signature}`;
      for (const bad of [forged, `${body}.${signature.slice(1)}x`, `${body}x.${signature}`, 'garbage', `${cursor}.x`]) {
        const res = await app.inject({ url: `/v1/timeline?limit=2&cursor=${encodeURIComponent(bad)}` });
        expect(res.statusCode, bad).toBe(400);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
      // replayed against another query (other filters, order or endpoint)
      for (const other of ['/v1/timeline?limit=2&order=desc', '/v1/timeline?limit=2&kind=event', '/v1/timeline?limit=2&from=2022']) {
        const res = await app.inject({ url: `${other}&cursor=${encodeURIComponent(cursor)}` });
        expect(res.statusCode, other).toBe(400);
      }
      // a different page size is the same query
      expect((await app.inject({ url: `/v1/timeline?limit=3&cursor=${encodeURIComponent(cursor)}` })).statusCode).toBe(200);
    });
  });
});

/* ------------------------------------------------------------------------------------------ */
/* 3. Histogram against the timeline (and the oracle)                                          */
/* ------------------------------------------------------------------------------------------ */

type Interval = 'day' | 'week' | 'month' | 'year';

function bucketStartOf(day: number, interval: Interval): number {
  const [y, m] = ymdOf(day);
  switch (interval) {
    case 'day':
      return day;
    case 'week':
      return day - ((new Date(day * DAY_MS).getUTCDay() + 6) % 7); // back to Monday
    case 'month':
      return dayOf(y, m, 1);
    case 'year':
      return dayOf(y, 1, 1);
  }
}

function bucketEndOf(day: number, interval: Interval): number {
  const [y, m] = ymdOf(day);
  switch (interval) {
    case 'day':
      return day;
    case 'week':
      return bucketStartOf(day, 'week') + 6;
    case 'month':
      return dayOf(y, m, daysIn(y, m));
    case 'year':
      return dayOf(y, 12, 31);
  }
}

interface HistogramCase {
  interval: Interval;
  from?: string | undefined;
  to?: string | undefined;
  match?: 'overlaps' | 'within' | undefined;
  kind?: ('event' | 'statement')[] | undefined;
  tag?: string[] | undefined;
  place?: number[] | undefined;
}

/** Windows short enough that every bucket can be checked against the timeline. */
const histogramCaseArb: fc.Arbitrary<HistogramCase> = fc
  .record({
    interval: fc.constantFrom<Interval>('day', 'week', 'month', 'year'),
    start: fc.integer({ min: HOT_FROM - 20, max: HOT_TO }),
    length: fc.nat(),
    precision: fc.constantFrom('day', 'day', 'month', 'year'),
    open: fc.constantFrom('none', 'none', 'from', 'to', 'both'),
    match: fc.constantFrom<'overlaps' | 'within' | undefined>(undefined, undefined, 'overlaps', 'within'),
    kind: sometimes(fc.subarray(['event', 'statement'] as ('event' | 'statement')[], { minLength: 1 })),
    tag: sometimes(fc.subarray(TAGS, { minLength: 1, maxLength: 2 }), 3),
    place: sometimes(fc.uniqueArray(fc.nat({ max: PLACES - 1 }), { minLength: 1, maxLength: 2 }), 3),
  })
  .map(({ interval, start, length, precision, open, ...filters }): HistogramCase => {
    const maxLength = { day: 35, week: 120, month: 900, year: 1500 }[interval];
    const end = start + (length % (maxLength + 1));
    // a day histogram of a year-precise window has 365 buckets: keep days and weeks at day precision
    const cut = interval === 'day' || interval === 'week' ? 10 : { day: 10, month: 7, year: 4 }[precision];
    const bothOpenAllowed = interval === 'month' || interval === 'year';
    return {
      interval,
      from: (open === 'from' || open === 'both') && bothOpenAllowed ? undefined : isoOf(start).slice(0, cut),
      to: (open === 'to' || open === 'both') && bothOpenAllowed ? undefined : isoOf(end).slice(0, cut),
      ...filters,
    };
  });

interface Bucket {
  start: string;
  end: string;
  count: number;
  imprecise: number;
}

/**
 * Writes between histogram queries, through the API: the per-date counts that answer
 * histograms filtered only by window and kind (entry_span_counts) must follow every one.
 */
type Write =
  | { op: 'create'; kind: 'event' | 'statement'; date: GenDate }
  | { op: 'redate'; index: number; date: GenDate }
  | { op: 'delete'; index: number }
  | { op: 'import'; index: number; date: GenDate; added: GenDate };

const writeArb: fc.Arbitrary<Write> = fc.oneof(
  fc.record({ op: fc.constant('create' as const), kind: fc.constantFrom('event' as const, 'statement' as const), date: dateArb }),
  fc.record({ op: fc.constant('redate' as const), index: fc.nat(), date: dateArb }),
  fc.record({ op: fc.constant('delete' as const), index: fc.nat() }),
  fc.record({ op: fc.constant('import' as const), index: fc.nat(), date: dateArb, added: dateArb }),
);

/** Applies `write` through the API and to `ds`, the oracle's copy of the data. */
async function applyWrite(app: FastifyInstance, ds: Dataset, write: Write, serial: number): Promise<void> {
  const resource = (e: GenEntry) => `/v1/${e.kind === 'event' ? 'events' : 'statements'}/${e.key}`;
  const created = (kind: 'event' | 'statement', key: string, date: GenDate): GenEntry => ({
    key,
    kind,
    type: kind === 'event' ? 'protest' : 'quote',
    date,
    tags: [],
    actors: [],
    speaker: 0,
    about: [],
    places: [],
    words: [],
  });
  const target = ds.entries.length === 0 || write.op === 'create' ? undefined : ds.entries[write.index % ds.entries.length]!;
  if (write.op === 'create' || target === undefined) {
    const kind = write.op === 'create' ? write.kind : 'event';
    const date =
      'date' in write
        ? write.date
        : { edtf: '2022', earliest: dayOf(2022, 1, 1), latest: dayOf(2022, 12, 31), start: dayOf(2022, 1, 1) * DAY_MS, end: dayOf(2023, 1, 1) * DAY_MS - 1 };
    const key = kind === 'event' ? `event:w${serial}` : `stmt:w${serial}`;
    const payload =
      kind === 'event'
        ? { key, type: 'protest', date: date.edtf, title: { en: 'Written' } }
        : { key, type: 'quote', date: date.edtf, speaker: actorKey(0), text: { en: 'Written' } };
    const res = await app.inject({ method: 'POST', url: `/v1/${kind === 'event' ? 'events' : 'statements'}`, headers: AUTH, payload });
    expect(res.statusCode, res.body).toBe(201);
    ds.entries.push(created(kind, key, date));
  } else if (write.op === 'redate') {
    const res = await app.inject({ method: 'PATCH', url: resource(target), headers: AUTH, payload: { date: write.date.edtf } });
    expect(res.statusCode, res.body).toBe(200);
    target.date = write.date;
  } else if (write.op === 'delete') {
    const res = await app.inject({ method: 'DELETE', url: resource(target), headers: AUTH });
    expect(res.statusCode, res.body).toBe(204);
    ds.entries.splice(ds.entries.indexOf(target), 1);
  } else {
    // an import that changes an entry's date (keeping the rest of it) and adds an event
    const records = importRecords({ parents: ds.parents, entries: [{ ...target, date: write.date }] }).filter((r) => (r as { key: string }).key === target.key);
    const key = `event:w${serial}`;
    records.push({ kind: 'event', key, type: 'protest', date: write.added.edtf, title: { en: 'Imported' } });
    const res = await app.inject({ method: 'POST', url: '/v1/import', headers: { ...AUTH, 'content-type': 'application/x-ndjson' }, payload: ndjson(records) });
    expect(res.json(), res.body).toMatchObject({ refused: 0 });
    target.date = write.date;
    ds.entries.push(created('event', key, write.added));
  }
}

describeEngines('histogram property: buckets agree with the timeline', (engine) => {
  it('count = entries within the bucket, count + imprecise = entries overlapping it; buckets are whole and contiguous', { timeout: PROPERTY_TIMEOUT }, async () => {
    let buckets = 0;
    let counted = 0;
    let imprecise = 0;
    // histograms filtered by window and kind only read entry_span_counts; others read entries
    let fromCounts = 0;
    let fromEntries = 0;
    let writes = 0;
    await fc.assert(
      fc.asyncProperty(
        datasetArb(20),
        fc.array(fc.record({ h: histogramCaseArb, before: fc.array(writeArb, { maxLength: 3 }) }), { minLength: 1, maxLength: 3 }),
        async (generated, cases) =>
        withApp(engine, async (app) => {
          await importDataset(app, generated);
          // the oracle's copy, changed along with the service's data
          const ds: Dataset = { parents: generated.parents, entries: generated.entries.map((e) => ({ ...e })) };
          for (const { h, before } of cases) {
            for (const write of before) await applyWrite(app, ds, write, writes++);
            if (h.tag === undefined && h.place === undefined) fromCounts++;
            else fromEntries++;
            const filters: Query = { kind: h.kind, tag: h.tag, place: h.place };
            const params: Params = [['interval', h.interval], ...queryParams({ ...filters, from: h.from, to: h.to, match: h.match })];
            const res = await app.inject({ url: url('/v1/timeline/histogram', params) });
            const where = url('/v1/timeline/histogram', params);
            expect(res.statusCode, `${where}: ${res.body}`).toBe(200);
            const body = res.json<{ interval: Interval; from: string | null; to: string | null; buckets: Bucket[] }>();
            expect(body.interval).toBe(h.interval);
            const match = h.match ?? 'overlaps';
            const { from, to } = window(h);
            // the window widened to whole buckets: what the histogram counts over
            const wideFrom = from === undefined ? undefined : bucketStartOf(from, h.interval);
            const wideTo = to === undefined ? undefined : bucketEndOf(to, h.interval);
            const selected = ds.entries.filter(
              (e) => matches(ds, { ...filters }, e) && inWindow(e, wideFrom, wideTo, match),
            );

            // whole, contiguous buckets, aligned to the interval (weeks from Monday)
            for (const [i, b] of body.buckets.entries()) {
              const s = dayOfIso(b.start);
              expect(bucketStartOf(s, h.interval), `${where} ${b.start}`).toBe(s);
              expect(dayOfIso(b.end), where).toBe(bucketEndOf(s, h.interval));
              if (i > 0) expect(s, where).toBe(dayOfIso(body.buckets[i - 1]!.end) + 1);
            }
            if (body.buckets.length > 0) {
              expect(body.from).toBe(body.buckets[0]!.start);
              expect(body.to).toBe(body.buckets[body.buckets.length - 1]!.end);
            }
            if (wideFrom !== undefined && wideTo !== undefined) {
              // a closed window: every bucket from the one holding `from` to the one holding `to`, empty or not
              expect(body.buckets.length, where).toBeGreaterThan(0);
              expect(body.from, where).toBe(isoOf(wideFrom));
              expect(body.to, where).toBe(isoOf(wideTo));
            }
            // no dated entry is lost: every selected entry with finite bounds that fits in one bucket is counted
            const fits = selected.filter(
              (e) => Number.isFinite(e.date.earliest) && Number.isFinite(e.date.latest) && bucketStartOf(e.date.earliest, h.interval) === bucketStartOf(e.date.latest, h.interval),
            );
            expect(body.buckets.reduce((n, b) => n + b.count, 0), where).toBe(fits.length);

            for (const b of body.buckets) {
              const s = dayOfIso(b.start);
              const e = dayOfIso(b.end);
              const within = selected.filter((x) => inWindow(x, s, e, 'within')).length;
              const overlapping = selected.filter((x) => inWindow(x, s, e, 'overlaps')).length;
              expect({ bucket: b.start, count: b.count, imprecise: b.imprecise }, where).toEqual({
                bucket: b.start,
                count: within,
                imprecise: overlapping - within,
              });
              // and through the timeline itself, with the same filters, over the bucket
              const bucketParams = queryParams({ ...filters, from: b.start, to: b.end });
              const viaWithin = await walk(app, '/v1/timeline', [...bucketParams, ['match', 'within']], 500);
              expect(viaWithin.entries.length, `${where} within ${b.start}..${b.end}`).toBe(b.count);
              if (match === 'overlaps') {
                const viaOverlaps = await walk(app, '/v1/timeline', [...bucketParams, ['match', 'overlaps']], 500);
                expect(viaOverlaps.entries.length, `${where} overlaps ${b.start}..${b.end}`).toBe(b.count + b.imprecise);
              }
              buckets++;
              counted += b.count;
              imprecise += b.imprecise;
            }
          }
        }),
      ),
      { seed: SEED, endOnFailure: NO_SHRINK, numRuns: runs(engine, 25) },
    );
    console.log(
      `timeline-property: ${buckets} buckets checked (${counted} counted, ${imprecise} imprecise); ` +
        `${fromCounts} histograms from the per-date counts, ${fromEntries} from entries, ${writes} writes between them`,
    );
    expect(fromCounts).toBeGreaterThan(0);
    expect(fromEntries).toBeGreaterThan(0);
    expect(counted).toBeGreaterThan(0);
    expect(imprecise).toBeGreaterThan(0);
  });
});
