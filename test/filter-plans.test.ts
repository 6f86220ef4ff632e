// The actor and place filters drive a timeline page when their links are fewer than the
// window's entries: EXPLAIN QUERY PLAN of the statement chosen for a rare actor (or a small
// place subtree) over decades, which starts from the filter's index and looks entries up by
// id, and for a popular actor (or a large subtree) over a week, which range-scans
// entries_chrono_idx; and every page the same whichever shape is forced.
import { sql, type SQL } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dayNumber } from '../src/dates/edtf.js';
import {
  DRIVER_LINK_LIMIT,
  chooseDriver,
  timelinePage,
  timelinePageSql,
  type TimelineDriver,
  type TimelinePosition,
  type TimelineQuery,
} from '../src/storage/sqlite/timeline.js';
import { prng } from '../bench/generate.js';
import { AUTH, buildTestApp, ndjson, type TestApp } from './helpers.js';
import { sqliteDb } from './support/sqlite.js';


const FIRST_DAY = dayNumber('1995-01-01');
const DAYS = 30 * 365;
const iso = (day: number) => new Date(day * 86_400_000).toISOString().slice(0, 10);
const ENTRIES = DRIVER_LINK_LIMIT + 500;

let t: TestApp;
const ids = { popular: 0, rare: 0, region: 0, town: 0, actors: [] as number[], places: [] as number[] };

beforeAll(async () => {
  t = await buildTestApp({ memory: true });
  const random = prng(14_3);
  const dateOf = (i: number) => {
    const day = FIRST_DAY + Math.floor(random() * DAYS);
    switch (i % 9) {
      case 0:
        return iso(day).slice(0, 7);
      case 1:
        return iso(day).slice(0, 4);
      case 2:
        return `${iso(day)}/${iso(day + Math.floor(random() * 400))}`;
      case 3:
        return `../${iso(day)}`;
      case 4:
        return `${iso(day)}/..`;
      case 5:
        return `${iso(day)}T${String(Math.floor(random() * 24)).padStart(2, '0')}:30:00+09:00`;
      default:
        return iso(day);
    }
  };
  const records: object[] = [
    { kind: 'place', key: 'place:region', type: 'region', name: { en: 'Region' } },
    ...Array.from({ length: 20 }, (_, i) => ({ kind: 'place', key: `place:city-${i}`, type: 'city', name: { en: `City ${i}` }, parent: 'place:region' })),
    { kind: 'place', key: 'place:town', type: 'city', name: { en: 'Town' } },
    { kind: 'actor', key: 'actor:popular', type: 'person', name: { en: 'Popular' }, aliases: [] },
    { kind: 'actor', key: 'actor:rare', type: 'person', name: { en: 'Rare' }, aliases: [] },
    ...Array.from({ length: 10 }, (_, i) => ({ kind: 'actor', key: `actor:a${i}`, type: 'person', name: { en: `A${i}` }, aliases: [] })),
  ];
  // a handful of entries share each position, so that the id decides between them
  for (let i = 0; i < ENTRIES; i++) {
    const date = i % 50 === 7 ? '2010-03-03' : dateOf(i);
    const other = `actor:a${Math.floor(random() * 10)}`;
    if (i % 4 === 3) {
      records.push({
        kind: 'statement',
        key: `statement:${i}`,
        type: 'quote',
        date,
        speaker: i % 300 === 3 ? 'actor:rare' : other,
        text: { en: `Statement ${i}` },
        about: { actors: i % 8 === 7 ? ['actor:popular'] : [], places: i % 300 === 7 ? ['place:town'] : [`place:city-${i % 20}`] },
      });
    } else {
      records.push({
        kind: 'event',
        key: `event:${i}`,
        type: i % 2 ? 'protest' : 'meeting',
        date,
        title: { en: `Event ${i}` },
        places: i % 250 === 0 ? ['place:town'] : [`place:city-${i % 20}`],
        actors: [
          { actor: 'actor:popular', role: i % 3 ? 'participant' : 'organizer' },
          ...(i % 250 === 1 ? [{ actor: 'actor:rare', role: 'participant' }] : []),
          { actor: other, role: 'target' },
        ],
        tags: i % 5 ? [] : ['x'],
      });
    }
  }
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/import',
    headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
    payload: ndjson(records),
  });
  expect(res.statusCode).toBe(200);
  const report = res.json<{ errors: unknown[] }>();
  expect(report, JSON.stringify(report.errors.slice(0, 3))).toMatchObject({ refused: 0, created: records.length });
  const idOf = (table: 'actors' | 'places', key: string) =>
    sqliteDb(t.app).all<{ id: number }>(sql`SELECT id FROM ${sql.identifier(table)} WHERE key = ${key}`)[0]!.id;
  ids.popular = idOf('actors', 'actor:popular');
  ids.rare = idOf('actors', 'actor:rare');
  ids.region = idOf('places', 'place:region');
  ids.town = idOf('places', 'place:town');
  ids.actors = [ids.popular, ids.rare, ...Array.from({ length: 10 }, (_, i) => idOf('actors', `actor:a${i}`))];
  ids.places = [ids.region, ids.town, ...Array.from({ length: 20 }, (_, i) => idOf('places', `place:city-${i}`))];
}, 60_000);
afterAll(() => t.close());

function plan(query: SQL): string[] {
  return sqliteDb(t.app).all<{ detail: string }>(sql`EXPLAIN QUERY PLAN ${query}`).map((row) => row.detail);
}

const years30: TimelineQuery = { from: FIRST_DAY, to: FIRST_DAY + DAYS, match: 'overlaps', order: 'asc' };
const week: TimelineQuery = { from: dayNumber('2010-03-01'), to: dayNumber('2010-03-07'), match: 'overlaps', order: 'asc' };

/** The plan of the statement timelinePage runs for `q` (the driver it chooses). */
function chosen(q: TimelineQuery): { driver: TimelineDriver; lines: string[] } {
  const driver = chooseDriver(sqliteDb(t.app), q, undefined);
  return { driver, lines: plan(timelinePageSql(q, undefined, 51, driver)) };
}

/** Started from a filter's links: entries only by id, never a range of entries_chrono_idx. */
function expectDrivenBy(lines: string[], index: RegExp) {
  expect(lines.filter((l) => /^(SCAN|SEARCH) e\b/.test(l))).toEqual(['SEARCH e USING INTEGER PRIMARY KEY (rowid=?)']);
  expect(lines.some((l) => index.test(l))).toBe(true);
  expect(lines.some((l) => l.includes('entries_chrono_idx'))).toBe(false);
}

/** Started from the window: one range scan of entries_chrono_idx per span class. */
function expectWindow(lines: string[]) {
  const searches = lines.filter((l) => /^(SCAN|SEARCH) e\b/.test(l));
  expect(searches).toHaveLength(4);
  for (const l of searches) expect(l).toMatch(/^SEARCH e USING (?:COVERING )?INDEX entries_chrono_idx \(span_class=\?/);
}

describe('EXPLAIN QUERY PLAN of the page statement chosen for an actor filter', () => {
  it('a rare actor over 30 years: down entry_actors_actor_idx by actor_id, then entries by primary key', () => {
    for (const q of [
      { ...years30, actors: [ids.rare] },
      { ...years30, actors: [ids.rare], role: 'participant' },
      { ...years30, actors: [ids.rare], role: 'speaker', order: 'desc' as const },
      { ...years30, actors: [ids.rare], to: undefined },
    ]) {
      const { driver, lines } = chosen(q);
      expect(driver, JSON.stringify(q)).toBe('actors');
      expectDrivenBy(lines, /^SEARCH a USING COVERING INDEX entry_actors_actor_idx \(actor_id=\?/);
    }
  });

  it('a popular actor over one week: entries_chrono_idx first, the actor checked per entry', () => {
    for (const q of [{ ...week, actors: [ids.popular] }, { ...week, actors: [ids.popular, ids.rare] }]) {
      const { driver, lines } = chosen(q);
      expect(driver).toBe('window');
      expectWindow(lines);
      expect(lines.filter((l) => l.includes('entry_actors')).every((l) => l.startsWith('SEARCH a EXISTS USING'))).toBe(true);
    }
  });

  it('a rare actor over a window holding fewer entries than its links: the window', () => {
    // one day with no entries at all
    expect(chooseDriver(sqliteDb(t.app), { from: FIRST_DAY - 400, to: FIRST_DAY - 400, match: 'within', order: 'asc', actors: [ids.rare] }, undefined)).toBe('window');
  });
});

describe('EXPLAIN QUERY PLAN of the page statement chosen for a place filter', () => {
  it('a small subtree over 30 years: down entry_places_place_idx by place_id, then entries by primary key', () => {
    const { driver, lines } = chosen({ ...years30, places: [ids.town] });
    expect(driver).toBe('places');
    expectDrivenBy(lines, /^SEARCH p USING COVERING INDEX entry_places_place_idx \(place_id=\?/);
  });

  it('a large subtree over one week: entries_chrono_idx first', () => {
    const { driver, lines } = chosen({ ...week, places: [ids.region] });
    expect(driver).toBe('window');
    expectWindow(lines);
  });

  it('an actor and a place: the fewer links drive', () => {
    expect(chooseDriver(sqliteDb(t.app), { ...years30, actors: [ids.popular], places: [ids.town] }, undefined)).toBe('places');
    expect(chooseDriver(sqliteDb(t.app), { ...years30, actors: [ids.rare], places: [ids.region] }, undefined)).toBe('actors');
    expect(chooseDriver(sqliteDb(t.app), { ...years30, actors: [ids.popular], places: [ids.region] }, undefined)).toBe('window');
  });
});

describe('every driver gives the same pages', () => {
  /** Every page of `q` with `driver` forced: the ids of each page and the cursor after it. */
  function walk(q: TimelineQuery, limit: number, driver: TimelineDriver | undefined) {
    const pages: { ids: number[]; next: TimelinePosition | null }[] = [];
    let after: TimelinePosition | undefined;
    do {
      const page = timelinePage(sqliteDb(t.app), q, after, limit, driver ? { driver } : {});
      pages.push(page);
      after = page.next ?? undefined;
      if (pages.length > 2000) throw new Error('too many pages');
    } while (after);
    return pages;
  }

  it('random queries, walked page by page with each driver forced and with the chosen one', () => {
    const random = prng(20_260_1203);
    const pick = <T>(values: readonly T[]) => values[Math.floor(random() * values.length)]!;
    const some = <T>(values: readonly T[]) => values.filter(() => random() < 0.3).slice(0, 3);
    let nonEmpty = 0;
    for (let run = 0; run < 60; run++) {
      const start = FIRST_DAY - 200 + Math.floor(random() * (DAYS + 400));
      const length = pick([0, 3, 7, 40, 400, 4000, DAYS]);
      const q: TimelineQuery = {
        from: random() < 0.15 ? undefined : start,
        to: random() < 0.15 ? undefined : start + length,
        match: pick(['overlaps', 'within'] as const),
        order: pick(['asc', 'desc'] as const),
        actors: random() < 0.8 ? [pick(ids.actors), ...some(ids.actors)] : undefined,
        role: pick([undefined, undefined, 'participant', 'organizer', 'target', 'speaker', 'about']),
        places: random() < 0.6 ? [pick(ids.places), ...some(ids.places)] : undefined,
        kinds: random() < 0.2 ? [pick(['event', 'statement'] as const)] : undefined,
        tags: random() < 0.1 ? ['x'] : undefined,
      };
      const limit = pick([1, 7, 50]);
      const byWindow = walk(q, limit, 'window');
      if (byWindow[0]!.ids.length) nonEmpty++;
      for (const driver of ['actors', 'places', undefined] as const) {
        expect(walk(q, limit, driver), `${JSON.stringify(q)} limit ${limit} driver ${driver}`).toEqual(byWindow);
      }
    }
    // the queries are not all empty ones
    expect(nonEmpty).toBeGreaterThan(20);
  }, 120_000);
});
