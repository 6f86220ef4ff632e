// Acceptance of the foundation: the shipped seed dataset, loaded at start-up, answers the
// timeline questions of the January 2022 report.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { buildTestApp, TEST_KEY, type TestApp } from './helpers.js';
import { describeEngines, describePg, freshPgDatabase } from './support/pg.js';

type Json = Record<string, any>;

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const seedRecords: Json[] = readFileSync(path.join(repo, 'data/seed/kazakhstan-january-2022.ndjson'), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as Json);

const MEETING = 'event:ots-cfm-extraordinary-2022-01-11';
const PROTESTS = 'event:kz-protests-2022-01-02';
const RESIGNATION = 'event:kz-government-resignation-2022-01-05';
const EMERGENCY = 'event:kz-state-of-emergency-2022-01-05';

const seedStatements = seedRecords.filter((r) => r.kind === 'statement');
const amreyevAtMeeting = seedStatements.filter((r) => r.speaker === 'actor:amreyev' && r.context === MEETING);

/** Compares two entries as the timeline orders them: earliest, latest (open = last), kind, id. */
function timelineOrder(a: Json, b: Json): number {
  const earliest = (e: Json) => e.date.earliest ?? '0000-00-00';
  const latest = (e: Json) => e.date.latest ?? '9999-99-99';
  return (
    earliest(a).localeCompare(earliest(b)) ||
    latest(a).localeCompare(latest(b)) ||
    a.kind.localeCompare(b.kind) ||
    a.id - b.id
  );
}

/** Every language map in a response: the values of text fields that are objects. */
function languageMaps(value: unknown, where = '', found: [string, Json][] = []): [string, Json][] {
  if (Array.isArray(value)) value.forEach((item, i) => languageMaps(item, `${where}/${i}`, found));
  else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (['title', 'description', 'text', 'name'].includes(key) && child !== null && typeof child === 'object') {
        found.push([`${where}/${key}`, child as Json]);
      } else languageMaps(child, `${where}/${key}`, found);
    }
  }
  return found;
}

describeEngines('the seeded app', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ seed: true, engine });
  });
  afterAll(() => t.close());

  const get = async (url: string) => {
    const res = await t.app.inject({ url });
    expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
    return res.json<Json>();
  };
  const keysOf = (body: Json) => (body.data as Json[]).map((e) => e.key);

  it('lists January 2022 in chronological order: protests, resignation and emergency, the meeting and the statements', async () => {
    const body = await get('/v1/timeline?from=2022-01-01&to=2022-01-31&limit=500');
    const entries = body.data as Json[];
    expect(body.page.nextCursor).toBeNull();
    expect([...entries].sort(timelineOrder).map((e) => e.key)).toEqual(entries.map((e) => e.key));

    // what lies in January 2022 (or overlaps it), and nothing else
    const inJanuary = seedRecords
      .filter((r) => r.kind === 'event' || r.kind === 'statement')
      .filter((r) => !String(r.date).startsWith('1992'))
      .map((r) => r.key);
    expect(new Set(keysOf(body))).toEqual(new Set(inJanuary));

    expect(entries[0]).toMatchObject({ key: PROTESTS, kind: 'event', type: 'protest' });
    expect(entries[0]!.date).toMatchObject({ earliest: '2022-01-02', latest: '2022-01-02', precision: 'day' });

    const at = (key: string) => keysOf(body).indexOf(key);
    const resignation = entries[at(RESIGNATION)]!;
    const emergency = entries[at(EMERGENCY)]!;
    expect(resignation.date).toMatchObject({ earliest: '2022-01-05', latest: '2022-01-05' });
    // the imposition of the state of emergency is what happened that day: one day, its day inferred
    expect(emergency.date).toMatchObject({ edtf: '2022-01-05?', earliest: '2022-01-05', latest: '2022-01-05', precision: 'day', uncertain: true });
    // same day: the resignation, then the state of emergency that followed it (as the file lists them)
    expect(at(RESIGNATION)).toBeLessThan(at(EMERGENCY));
    expect(at(PROTESTS)).toBeLessThan(at(RESIGNATION));

    // then 11 January: the meeting (events before statements on the same day), then the statements
    const meetingAt = at(MEETING);
    expect(meetingAt).toBeGreaterThan(at(EMERGENCY));
    expect(entries[meetingAt]!.date).toMatchObject({ earliest: '2022-01-11', latest: '2022-01-11' });
    const after = entries.slice(meetingAt + 1);
    expect(after.map((e) => e.kind)).toEqual(after.map(() => 'statement'));
    expect(after.map((e) => e.key)).toEqual(seedStatements.map((r) => r.key));
    for (const statement of after) expect(statement.date.earliest).toBe('2022-01-11');

    // descending order is the exact reverse
    const desc = await get('/v1/timeline?from=2022-01-01&to=2022-01-31&limit=500&order=desc');
    expect(keysOf(desc)).toEqual([...keysOf(body)].reverse());
  });

  it('pages through the same order with cursors', async () => {
    const whole = keysOf(await get('/v1/timeline?from=2022-01-01&to=2022-01-31&limit=500'));
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/v1/timeline?from=2022-01-01&to=2022-01-31&limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await get(url);
      paged.push(...keysOf(page));
      cursor = page.page.nextCursor;
    } while (cursor !== null && paged.length <= whole.length);
    expect(paged).toEqual(whole);
  });

  it('with lang=ar, gives every text in Arabic only', async () => {
    const body = await get('/v1/timeline?from=2022-01-01&to=2022-01-31&limit=500&lang=ar');
    const maps = languageMaps(body.data);
    expect(maps.length).toBeGreaterThan(body.data.length);
    for (const [where, map] of maps) expect(Object.keys(map), where).toEqual(['ar']);
    const protests = (body.data as Json[]).find((e) => e.key === PROTESTS)!;
    expect(protests.title.ar).toBe(seedRecords.find((r) => r.key === PROTESTS)!.title.ar);
    const statement = (body.data as Json[]).find((e) => e.kind === 'statement')!;
    expect(statement.text.ar).toBe(seedStatements[0]!.text.ar);
  });

  it('has at least 8 statements by Amreyev made at the extraordinary meeting, as Secretary General of the OTS', async () => {
    expect(amreyevAtMeeting.length).toBeGreaterThanOrEqual(8);
    const body = await get('/v1/actors/actor:amreyev/timeline?kind=statement&role=speaker&limit=500');
    const statements = body.data as Json[];
    const atMeeting = statements.filter((s) => s.context?.key === MEETING);
    expect(atMeeting.length).toBeGreaterThanOrEqual(8);
    expect(new Set(atMeeting.map((s) => s.key))).toEqual(new Set(amreyevAtMeeting.map((r) => r.key)));
    for (const statement of atMeeting) {
      expect(statement.kind).toBe('statement');
      expect(statement.speaker.key).toBe('actor:amreyev');
      expect(statement.date.earliest).toBe('2022-01-11');
      expect(statement.speaker.roles).toContainEqual(
        expect.objectContaining({
          role: 'secretary_general',
          of: expect.objectContaining({ key: 'actor:ots' }),
          // the report gives no term: the affiliation is undated, not dated by an invented range
          date: null,
        }),
      );
    }
    // the same through the merged timeline's actor filter
    const merged = await get('/v1/timeline?actor=actor:amreyev&role=speaker&kind=statement&limit=500');
    expect(keysOf(merged)).toEqual(keysOf(body));
    const one = await get(`/v1/statements/${amreyevAtMeeting[0]!.key}`);
    expect(one.context.key).toBe(MEETING);
    expect(one.speaker.roles.map((r: Json) => `${r.role}@${r.of.key}`)).toContain('secretary_general@actor:ots');
  });

  it('returns the curated timeline with every entry in the curator’s order', async () => {
    const curated = seedRecords.find((r) => r.kind === 'timeline')!;
    expect(curated.slug).toBe('kazakhstan-january-2022');
    const body = await get('/v1/timelines/kazakhstan-january-2022');
    expect(body).toMatchObject({ key: curated.key, slug: curated.slug, entryCount: curated.entries.length });
    expect(body.title).toEqual(curated.title);
    expect((body.entries as Json[]).map((e) => e.key)).toEqual(curated.entries);
    // addressed by its key too
    const byKey = await get(`/v1/timelines/${encodeURIComponent(curated.key)}`);
    expect((byKey.entries as Json[]).map((e) => e.key)).toEqual(curated.entries);
  });

  it('answers what happened on 5 January: the resignation and the imposition of the state of emergency', async () => {
    const within = await get('/v1/timeline?from=2022-01-05&to=2022-01-05&match=within');
    expect(keysOf(within)).toEqual([RESIGNATION, EMERGENCY]);
    const [resignation, emergency] = within.data as Json[];
    expect(resignation).toMatchObject({ type: 'government_resignation', date: { edtf: '2022-01-05', precision: 'day' } });
    expect(emergency).toMatchObject({
      type: 'state_of_emergency',
      title: { en: 'State of emergency imposed in Kazakhstan' },
      date: { edtf: '2022-01-05?', precision: 'day', earliest: '2022-01-05', latest: '2022-01-05', uncertain: true, approximate: false },
    });
    // by overlap, the spans that may include that day are there too (the unrest, and what the
    // report dates only as between 2 and 11 January)
    const overlaps = keysOf(await get('/v1/timeline?from=2022-01-05&to=2022-01-05'));
    expect(new Set(overlaps)).toEqual(
      new Set([RESIGNATION, EMERGENCY, 'event:kz-unrest-2022', 'event:almaty-riots-2022-01', 'event:ots-secretariat-statement-2022-01']),
    );
  });

  it('matches the open-ended unrest by overlap, not within, in a window in 2023', async () => {
    const overlaps = keysOf(await get('/v1/timeline?from=2023-03-01&to=2023-03-31&match=overlaps&limit=500'));
    expect(overlaps).toEqual(['event:kz-unrest-2022']);
    // the state of emergency was imposed on a day: nothing in the data puts it in force in 2023
    expect(overlaps).not.toContain(EMERGENCY);
    expect(overlaps).not.toContain(RESIGNATION);
    const byDefault = keysOf(await get('/v1/timeline?from=2023-03-01&to=2023-03-31&limit=500'));
    expect(byDefault).toEqual(overlaps);
    const within = keysOf(await get('/v1/timeline?from=2023-03-01&to=2023-03-31&match=within&limit=500'));
    expect(within).toEqual([]);

    // within January 2022: the one-day events are in, the open-ended ones are not
    const january = keysOf(await get('/v1/timeline?from=2022-01-01&to=2022-01-31&match=within&limit=500'));
    expect(january).toContain(PROTESTS);
    expect(january).toContain(RESIGNATION);
    expect(january).toContain(MEETING);
    expect(january).toContain(EMERGENCY);
    expect(january).not.toContain('event:kz-unrest-2022');
  });

  it('finds the approximate 1992 events in the year 1992', async () => {
    const body = await get('/v1/timeline?from=1992&to=1992&limit=500');
    expect(keysOf(body).sort()).toEqual(['event:kz-independence', 'event:soviet-union-collapse']);
    for (const event of body.data as Json[]) {
      expect(event.date).toMatchObject({
        edtf: '1992~',
        precision: 'year',
        approximate: true,
        earliest: '1992-01-01',
        latest: '1992-12-31',
      });
    }
    const within = await get('/v1/timeline?from=1992&to=1992&match=within&limit=500');
    expect(keysOf(within)).toEqual(keysOf(body));
    // a year-precise date is never turned into a day: a window of one day in 1992 only overlaps it
    expect(keysOf(await get('/v1/timeline?from=1992-06-01&to=1992-06-01&match=within'))).toEqual([]);
    expect(keysOf(await get('/v1/timeline?from=1992-06-01&to=1992-06-01')).sort()).toEqual(keysOf(body).sort());
  });
});

// reads the SQLite file itself, to see that no row was written again; PostgreSQL's sibling below
describe('seed loading at start-up', () => {
  it('loads the seed once: a second start on the same database changes nothing', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'annals-seed-'));
    const databasePath = path.join(dir, 'annals.db');
    const config = { databasePath, seedWhenEmpty: true, bootstrapKey: TEST_KEY, logLevel: 'silent' as const };
    const snapshot = () => {
      const db = new Database(databasePath, { readonly: true, fileMustExist: true });
      try {
        const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
        return {
          counts: Object.fromEntries(
            ['sources', 'places', 'actors', 'actor_affiliations', 'entries', 'citations', 'timelines', 'timeline_entries'].map(
              (table) => [table, count(table)],
            ),
          ),
          updated: db.prepare('SELECT key, updated_at FROM entries ORDER BY id').all(),
        };
      } finally {
        db.close();
      }
    };
    try {
      const first = await buildApp(config);
      const firstCount = (await first.inject({ url: '/v1/timeline?limit=500' })).json().data.length;
      await first.close();
      const before = snapshot();
      expect(before.counts.entries).toBe(seedRecords.filter((r) => r.kind === 'event' || r.kind === 'statement').length);
      expect(before.counts.sources).toBe(1);
      expect(before.counts.timelines).toBe(1);

      const second = await buildApp(config);
      try {
        expect((await second.inject({ url: '/v1/timeline?limit=500' })).json().data.length).toBe(firstCount);
      } finally {
        await second.close();
      }
      expect(snapshot()).toEqual(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describePg('seed loading at start-up', () => {
  it('loads the seed once: a second start on the same database changes nothing', async () => {
    const database = await freshPgDatabase();
    const config = { databasePath: '', postgres: { url: database.url, poolSize: 2 }, seedWhenEmpty: true, bootstrapKey: TEST_KEY, logLevel: 'silent' as const };
    // what a start could change, seen through the API: every record, its timestamps, the revision
    const snapshot = async (app: Awaited<ReturnType<typeof buildApp>>) => {
      const exported = await app.inject({ url: '/v1/export' });
      expect(exported.statusCode).toBe(200);
      const entries = (await app.inject({ url: '/v1/timeline?limit=500' })).json().data.map((e: Json) => [e.key, e.updatedAt]);
      const curated = (await app.inject({ url: '/v1/timelines' })).json().data.map((e: Json) => [e.key, e.updatedAt]);
      return { export: exported.body, entries, curated };
    };
    try {
      const first = await buildApp(config);
      const before = await snapshot(first).finally(() => first.close());
      expect(before.entries).toHaveLength(seedRecords.filter((r) => r.kind === 'event' || r.kind === 'statement').length);
      expect(before.curated).toHaveLength(1);

      const second = await buildApp(config);
      const after = await snapshot(second).finally(() => second.close());
      expect(after).toEqual(before);
    } finally {
      await database.drop();
    }
  });
});
