import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Storage } from '../src/storage/port.js';
import { PostgresStorage } from '../src/storage/postgres/index.js';
import { SqliteStorage } from '../src/storage/sqlite/index.js';
import type { TimelineQuery } from '../src/storage/types.js';
import { buildTestApp } from './helpers.js';
import { describePg, freshPgDatabase, pgUrl, type PgDatabase } from './support/pg.js';
import { exportText, importText, splitTrailer } from './support/roundtrip.js';

/**
 * The timeline and the histogram's inputs on PostgreSQL against SQLite's, on one generated
 * dataset loaded into both through the port: every query paged to its end gives the same ids
 * in the same order, and the same counts.
 */

let sqlite: Storage;
let postgres: Storage;
let database: PgDatabase;
let dir: string;
const ids = { actors: [] as number[], places: [] as number[] };

const DATES = [
  '2022-01-05', '2022-01-06', '2022-01', '2022', '2021-12-31', '1969-12-31', '1800',
  '2022-01-02/2022-01-11', '2022-01-05/..', '../2022-01-03', '2022-01-05?', '2021~', '2022-01-04/2022-02',
  '2022-01-05T10:00+06:00', '2022-01-05T02:00-05:00', '2022-01-05T23:30Z', '2019/2023',
];

beforeAll(async () => {
  if (pgUrl === '') return;
  dir = mkdtempSync(join(tmpdir(), 'annals-timeline-'));
  database = await freshPgDatabase();
  const base = { seedWhenEmpty: false, logLevel: 'silent' as const };
  sqlite = await SqliteStorage.open({ ...base, databasePath: join(dir, 'annals.db'), optimizeIntervalMs: 0 });
  postgres = await PostgresStorage.open({ ...base, databasePath: '', postgres: { url: database.url, poolSize: 4 } });
  const random = fc.sample(fc.integer({ min: 0, max: 2 ** 30 }), { seed: 15, numRuns: 2000 });
  let next = 0;
  const pick = <T>(items: readonly T[]) => items[random[next++ % random.length]! % items.length]!;
  for (const storage of [sqlite, postgres]) {
    next = 0;
    ids.actors = [];
    ids.places = [];
    for (let i = 0; i < 5; i++) {
      // affiliations to actors created later than the one affiliated, so that the export's post-order matters
      const affiliations = i >= 2 ? [{ actor: `actor:${i - 2}`, role: 'member', date: i === 3 ? '2020' : undefined }] : [];
      ids.actors.push((await storage.createRecord('actor', { key: `actor:${i}`, type: 'person', name: { en: `A${i}`, ar: 'أمرييف' }, aliases: [{ en: `Alias ${i}` }], affiliations }, null)).record.id);
    }
    await storage.patchRecord('actor', 'actor:0', { affiliations: [{ actor: 'actor:1', role: 'advisor' }] });
    await storage.createRecord('source', { key: 'src:report', type: 'news_article', lang: 'ar', text: 'أعلن الرئيس حالة الطوارئ في ألماتي', title: { ar: 'تقرير', en: 'Report' } }, null);
    for (let i = 0; i < 5; i++) {
      const parent = i === 0 ? undefined : `place:${Math.floor((i - 1) / 2)}`;
      ids.places.push((await storage.createRecord('place', { key: `place:${i}`, type: 'city', name: { en: `P${i}` }, parent }, null)).record.id);
    }
    for (let i = 0; i < 120; i++) {
      const actors = [...new Set([pick([0, 1, 2, 3, 4]), pick([0, 1, 2])])].map((a) => ({ actor: `actor:${a}`, role: pick(['host', 'participant']) }));
      if (i % 4 === 3) {
        await storage.createRecord(
          'statement',
          {
            key: `stmt:${i}`,
            type: 'quote',
            date: pick(DATES),
            speaker: `actor:${pick([0, 1, 2, 3, 4])}`,
            text: { en: pick(['emergency declared', 'airport seized', 'talks']), ar: 'نص' },
            originalLang: 'ar',
            context: 'event:0',
            about: { actors: [`actor:${pick([0, 4])}`], places: [`place:${pick([1, 2, 3, 4])}`], events: [`event:${i - 1}`] },
          },
          null,
        );
      } else {
        await storage.createRecord(
          'event',
          {
            key: `event:${i}`,
            type: pick(['protest', 'meeting']),
            date: pick(DATES),
            title: { en: pick(['emergency in Almaty', 'airport seized', 'talks held']), ar: 'احتجاجات' },
            actors,
            places: [`place:${pick([0, 1, 2, 3, 4])}`],
            tags: [pick(['fuel', 'unrest', 'politics'])],
            parent: i > 10 && i % 8 === 0 ? `event:${i - 4}` : undefined,
            sources: i % 3 === 0 ? [{ source: 'src:report', excerpt: 'حالة الطوارئ', start: 12, end: 24 }] : [],
          },
          null,
        );
      }
    }
    await storage.createRecord('timeline', { key: 'timeline:kz', slug: 'kz', title: { en: 'Kazakhstan' }, entries: ['event:2', 'stmt:3', 'event:0'] }, null);
  }
}, 120_000);

afterAll(async () => {
  await sqlite?.close();
  await postgres?.close();
  await database?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Every page of a query, to its end. */
async function allPages(storage: Storage, q: TimelineQuery, limit: number): Promise<number[]> {
  const out: number[] = [];
  let after: unknown;
  for (let guard = 0; guard < 1000; guard++) {
    const page = await storage.timelinePage(q, after, limit);
    out.push(...page.ids);
    if (page.next === null) return out;
    after = page.next;
  }
  throw new Error('paging did not end');
}

const day = (iso: string) => Math.floor(Date.parse(`${iso}T00:00:00Z`) / 86_400_000);

/** A filter that is usually absent: with every filter at once, most pages would be empty. */
const rare = <T>(arbitrary: fc.Arbitrary<T>) => fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary, weight: 1 });

const queries = fc.record({
  from: fc.option(fc.constantFrom('1969-12-01', '2021-12-31', '2022-01-01', '2022-01-05', '2022-01-06'), { nil: undefined }),
  to: fc.option(fc.constantFrom('2022-01-05', '2022-01-10', '2022-03-01', '2030-01-01'), { nil: undefined }),
  match: fc.constantFrom('overlaps' as const, 'within' as const),
  kinds: rare(fc.subarray(['event', 'statement'] as ('event' | 'statement')[], { minLength: 1 })),
  types: rare(fc.subarray(['protest', 'meeting', 'quote'], { minLength: 1 })),
  tags: rare(fc.subarray(['fuel', 'unrest'], { minLength: 1 })),
  actors: rare(fc.subarray([0, 1, 2, 3, 4], { minLength: 1, maxLength: 2 })),
  role: rare(fc.constantFrom('host', 'speaker', 'about')),
  places: rare(fc.subarray([0, 1, 2, 3, 4], { minLength: 1, maxLength: 2 })),
  text: rare(fc.constantFrom('emergency', 'airport', 'talk')),
  order: fc.constantFrom('asc' as const, 'desc' as const),
  limit: fc.constantFrom(1, 3, 50),
});

describePg('the timeline on PostgreSQL', () => {
  it('pages every query as SQLite does, and counts its spans and dates alike', async () => {
    let nonEmpty = 0;
    await fc.assert(
      fc.asyncProperty(queries, async (g) => {
        const q: TimelineQuery = {
          from: g.from === undefined ? undefined : day(g.from),
          to: g.to === undefined ? undefined : day(g.to),
          match: g.match,
          kinds: g.kinds,
          types: g.types,
          tags: g.tags,
          actors: g.actors?.map((i) => ids.actors[i]!),
          role: g.actors ? g.role : undefined,
          places: g.places?.map((i) => ids.places[i]!),
          text: g.text,
          order: g.order,
        };
        const expected = await allPages(sqlite, q, g.limit);
        expect(await allPages(postgres, q, g.limit)).toEqual(expected);
        if (expected.length > 0) nonEmpty += 1;
        const spans = async (s: Storage) => (await s.spanCounts(q)).map((r) => [r.earliest, r.latest, r.n]).sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
        expect(await spans(postgres)).toEqual(await spans(sqlite));
        expect(await postgres.countsByDate(q)).toBe(await sqlite.countsByDate(q));
        if (q.from !== undefined && q.to !== undefined && (await sqlite.countsByDate(q))) {
          const counts = async (s: Storage) => {
            const c = await s.dateCounts(q, q.from!, q.to!, 40);
            return { ...c, within: c.within.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]), days: c.days.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]) };
          };
          expect(await counts(postgres)).toEqual(await counts(sqlite));
        }
      }),
      { numRuns: 60, seed: 15 },
    );
    expect(nonEmpty).toBeGreaterThan(20);
  }, 120_000);

  it('exports the same bytes as SQLite, whole and filtered, and the export imports into SQLite to the same bytes', async () => {
    const exported = async (storage: Storage, query: TimelineQuery | null) => {
      const chunks: Buffer[] = [];
      for await (const chunk of storage.exportStream(query)) chunks.push(chunk as Buffer);
      return splitTrailer(Buffer.concat(chunks).toString('utf8'));
    };
    const whole = await exported(postgres, null);
    expect(whole).toEqual({ ...(await exported(sqlite, null)), trailer: { ...whole.trailer, revision: expect.any(String) } });
    expect(whole.trailer!.counts).toEqual({ source: 1, place: 5, actor: 5, event: 90, statement: 30, timeline: 1 });
    for (const query of [
      { match: 'overlaps' as const, order: 'asc' as const, from: day('2022-01-05'), to: day('2022-01-05') },
      { match: 'within' as const, order: 'asc' as const, actors: [ids.actors[3]!], places: [ids.places[1]!] },
      { match: 'overlaps' as const, order: 'asc' as const, text: 'airport' },
    ]) {
      const filtered = await exported(postgres, query);
      expect(filtered.records).toBe((await exported(sqlite, query)).records);
      expect(filtered.trailer!.records).toBeGreaterThan(0);
    }
    const target = await buildTestApp();
    try {
      await importText(target.app, `${whole.records}${JSON.stringify(whole.trailer)}\n`);
      expect(splitTrailer(await exportText(target.app)).records).toBe(whole.records);
    } finally {
      await target.close();
    }
  });

  it('ranks full-text matches as the BM25 of SQLite does, and pages them alike', async () => {
    let compared = 0;
    for (const text of ['emergency', 'airport seized', 'talks', 'احتجاجات', 'الاحتجاجات', 'أمرييف', 'a1', 'alias 3', 'p2 emergency', 'نص']) {
      for (const filters of [{}, { kinds: ['event' as const] }, { from: day('2022-01-01'), to: day('2022-01-31') }, { actors: [ids.actors[1]!] }]) {
        const q = { match: 'overlaps' as const, order: 'asc' as const, text, ...filters };
        const expected = await sqlite.relevanceIds(q);
        expect(await postgres.relevanceIds(q), `${text} ${JSON.stringify(filters)}`).toEqual(expected);
        const pages = async (storage: Storage) => {
          const out: number[][] = [];
          let after: Parameters<Storage['relevancePage']>[1];
          for (;;) {
            const page = await storage.relevancePage(q, after, 7);
            out.push(page.ids);
            if (page.next === null) return { out, last: after };
            after = page.next;
          }
        };
        const [onSqlite, onPostgres] = [await pages(sqlite), await pages(postgres)];
        expect(onPostgres.out).toEqual(onSqlite.out);
        // ranks are the same numbers, not only the same order
        if (onSqlite.last !== undefined) expect(onPostgres.last![5]).toBeCloseTo(onSqlite.last[5], 9);
        if (expected.length > 7) compared += 1;
      }
    }
    expect(compared).toBeGreaterThan(10);
  });

  it('refuses a cursor of another shape', async () => {
    await expect(postgres.timelinePage({ match: 'overlaps', order: 'asc' }, [1, 2], 10)).rejects.toMatchObject({ status: 400 });
  });
});
