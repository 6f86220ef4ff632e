// entry_span_counts (the histogram's per-date counts) must equal a GROUP BY of `entries` after
// any sequence of writes, and after the migration that creates it on a populated database.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng } from '../bench/generate.js';
import { runMigrations } from '../src/storage/sqlite/migrate.js';
import { AUTH, buildTestApp, ndjson, type TestApp } from './helpers.js';
import { databaseBefore } from './support/migrations.js';
import { dayNumber } from '../src/dates/edtf.js';
import { sqliteDb } from './support/sqlite.js';

type Client = ReturnType<typeof databaseBefore>['client'];

// both count tables: entry_span_counts and entry_date_counts (migration 0004)
const counted = (client: Client) => ({
  spans: client.prepare('SELECT span_class, earliest, latest, kind, n FROM entry_span_counts ORDER BY 1, 2, 3, 4').all(),
  dates: client.prepare('SELECT grain, kind, unit, starts, ends FROM entry_date_counts ORDER BY 1, 2, 3').all(),
});
/** The oracle, from the entries themselves: blocks of 512 days computed here, not in SQL. */
const grouped = (client: Client) => {
  const dates = new Map<string, { grain: number; kind: string; unit: number; starts: number; ends: number }>();
  const add = (grain: number, kind: string, unit: number, field: 'starts' | 'ends') => {
    const key = `${grain} ${kind} ${unit}`;
    const row = dates.get(key) ?? { grain, kind, unit, starts: 0, ends: 0 };
    row[field]++;
    dates.set(key, row);
  };
  for (const e of client.prepare('SELECT kind, earliest, latest FROM entries').all() as { kind: string; earliest: number; latest: number }[]) {
    add(0, e.kind, e.earliest, 'starts');
    add(0, e.kind, e.latest, 'ends');
    add(9, e.kind, Math.floor(e.earliest / 512), 'starts');
    add(9, e.kind, Math.floor(e.latest / 512), 'ends');
  }
  return {
    spans: client
      .prepare('SELECT span_class, earliest, latest, kind, count(*) AS n FROM entries GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4')
      .all(),
    dates: [...dates.values()].sort((a, b) => a.grain - b.grain || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0) || a.unit - b.unit),
  };
};

const DATES = ['2022-01-05', '2022-01-06', '2022-01', '2022', '2021-12-31/2022-01-02', '2022-01-05/..', '../2022-01-05', '2020/2023', '2022-01-05T23:30:00-05:00', '2022-01-05?'];

describe('entry_span_counts', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ seed: true, memory: true });
  });
  afterAll(() => t.close());

  it('exists with its triggers after the migrations (a migration that rebuilds entries must create them again)', () => {
    const triggers = sqliteDb(t.app).$client
      .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'entries' ORDER BY name")
      .all()
      .map((r) => (r as { name: string }).name);
    expect(triggers).toEqual([
      'entries_date_counts_delete',
      'entries_date_counts_insert',
      'entries_date_counts_update',
      'entries_search_index_delete',
      'entries_span_counts_delete',
      'entries_span_counts_insert',
      'entries_span_counts_update',
    ]);
    expect(counted(sqliteDb(t.app).$client).spans.length).toBeGreaterThan(0);
    expect(counted(sqliteDb(t.app).$client).dates.length).toBeGreaterThan(0);
    expect(counted(sqliteDb(t.app).$client)).toEqual(grouped(sqliteDb(t.app).$client));
  });

  it('equals the GROUP BY of entries after API creates, date changes, deletes and imports', async () => {
    const client = sqliteDb(t.app).$client;
    const random = prng(6);
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
    const live: { key: string; kind: 'event' | 'statement' }[] = [];
    const path = (e: { key: string; kind: string }) => `/v1/${e.kind === 'event' ? 'events' : 'statements'}/${e.key}`;
    for (let i = 0; i < 120; i++) {
      const op = random();
      if (op < 0.35 || live.length === 0) {
        const kind = random() < 0.7 ? 'event' : 'statement';
        const key = `${kind === 'event' ? 'event' : 'stmt'}:sc${i}`;
        const payload =
          kind === 'event'
            ? { key, type: 'protest', date: pick(DATES), title: { en: key } }
            : { key, type: 'quote', date: pick(DATES), speaker: 'actor:amreyev', text: { en: key } };
        const res = await t.app.inject({ method: 'POST', url: `/v1/${kind === 'event' ? 'events' : 'statements'}`, headers: AUTH, payload });
        expect(res.statusCode, res.body).toBe(201);
        live.push({ key, kind });
      } else if (op < 0.6) {
        // a new date, or the same one (an update that moves no count)
        const res = await t.app.inject({ method: 'PATCH', url: path(pick(live)), headers: AUTH, payload: { date: pick(DATES) } });
        expect(res.statusCode, res.body).toBe(200);
      } else if (op < 0.7) {
        // a change that leaves the date alone
        const entry = pick(live);
        const payload = entry.kind === 'event' ? { type: 'other' } : { type: 'paraphrase' };
        const res = await t.app.inject({ method: 'PATCH', url: path(entry), headers: AUTH, payload });
        expect(res.statusCode, res.body).toBe(200);
      } else if (op < 0.85) {
        const [victim] = live.splice(Math.floor(random() * live.length), 1);
        const res = await t.app.inject({ method: 'DELETE', url: path(victim!), headers: AUTH });
        expect(res.statusCode, res.body).toBe(204);
      } else {
        // an import creates some events and changes the dates of others
        const events = live.filter((e) => e.kind === 'event').slice(0, 3);
        const records = [
          ...events.map((e) => ({ kind: 'event', key: e.key, type: 'protest', date: pick(DATES), title: { en: e.key } })),
          ...[0, 1].map((j) => ({ kind: 'event', key: `event:sc${i}-${j}`, type: 'protest', date: pick(DATES), title: { en: 'imported' } })),
        ];
        const res = await t.app.inject({ method: 'POST', url: '/v1/import', headers: { ...AUTH, 'content-type': 'application/x-ndjson' }, payload: ndjson(records) });
        expect(res.json()).toMatchObject({ refused: 0 });
        live.push(...[0, 1].map((j) => ({ key: `event:sc${i}-${j}`, kind: 'event' as const })));
      }
      if (i % 20 === 19) expect(counted(client), `after operation ${i}`).toEqual(grouped(client));
    }
    expect(counted(client)).toEqual(grouped(client));
  });

  it('follows a change of kind, and a delete of every entry leaves it empty', () => {
    // the API cannot turn an event into a statement; the trigger covers any UPDATE of entries
    const client = sqliteDb(t.app).$client;
    client.pragma('foreign_keys = OFF');
    try {
      client.prepare("UPDATE entries SET kind = CASE kind WHEN 'event' THEN 'statement' ELSE 'event' END WHERE id % 3 = 0").run();
      expect(counted(client)).toEqual(grouped(client));
      client.prepare('DELETE FROM entries').run();
      expect(counted(client)).toEqual({ spans: [], dates: [] });
    } finally {
      client.pragma('foreign_keys = ON');
    }
  });
});

describe('migrations 0003 and 0004 on a populated database', () => {
  it('backfill entry_span_counts and entry_date_counts from the entries already there', () => {
    const dir = mkdtempSync(join(tmpdir(), 'annals-span-counts-'));
    try {
      // the migrations before 0003, then entries written without the triggers, then the rest
      const { client, db } = databaseBefore(dir, '0003_span_counts');
      const insert = client.prepare(
        `INSERT INTO entries (key, kind, type, date, precision, earliest, latest, span_class, created_at, updated_at)
         VALUES (?, ?, 'protest', '2022-01-05', 'day', ?, ?, ?, '', '')`,
      );
      const random = prng(3);
      // spans of each class: one day, up to 31 days, up to 366 days, longer
      const spans = [0, 0, 0, 20, 300, 1000];
      const classes = [0, 0, 0, 1, 2, 3];
      for (let i = 0; i < 500; i++) {
        // some before 1970, where a block is a negative number (>> rounds down, like Math.floor)
        const earliest = (random() < 0.2 ? -1000 : 19000) + Math.floor(random() * 40);
        const k = Math.floor(random() * spans.length);
        insert.run(`k${i}`, random() < 0.7 ? 'event' : 'statement', earliest, earliest + spans[k]!, classes[k]);
      }
      runMigrations(db);
      expect(counted(client).spans.length).toBeGreaterThan(10);
      expect(counted(client).dates.length).toBeGreaterThan(10);
      expect(counted(client)).toEqual(grouped(client));
      client.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('histogram from entry_date_counts, at the edges of buckets', () => {
  // Spans that fit a bucket exactly, overrun it by a day, begin a day early; coarse, long
  // and open dates. Each bucket is checked against the stored bounds of the entries.
  const DATES_AT_EDGES = [
    '2022-01-10', '2022-01-03/2022-01-09', '2022-01-03/2022-01-10', '2022-01-02/2022-01-08', '2022-01-09/2022-01-10',
    '2022-01-01/2022-01-31', '2022-01-01/2022-02-01', '2021-12-31/2022-01-30', '2022-01-31/2022-02-01',
    '2022-02-28/2022-03-01', '2022-01', '2022-02', '2022', '2021/2022', '2021-12', '2022-01-05/..', '../2022-01-05',
    '2022-01-05T23:30:00-05:00', '2021-12-31/2022-01-01', '2022-12-31/2023-01-01', '2023-01-01',
  ];
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ memory: true });
    const records = DATES_AT_EDGES.flatMap((date, i) =>
      ['event', 'statement'].map((kind) =>
        kind === 'event'
          ? { kind, key: `event:edge${i}`, type: 'protest', date, title: { en: date } }
          : { kind, key: `stmt:edge${i}`, type: 'quote', date, speaker: 'actor:edge', text: { en: date } },
      ),
    );
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/import',
      headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
      payload: ndjson([{ kind: 'actor', key: 'actor:edge', type: 'person', name: { en: 'Edge' } }, ...records]),
    });
    expect(res.json()).toMatchObject({ refused: 0 });
  });
  afterAll(() => t.close());

  it('more than 10,000 buckets is a 400 naming the interval, from the counts or from the spans', async () => {
    // closed (per-day counts) and open on one side (its bound taken from the spans)
    for (const window of ['from=1990-01-01&to=2023-12-31', 'from=1990-01-01', 'from=1990-01-01&to=2023-12-31&tag=x']) {
      const res = await t.app.inject({ url: `/v1/timeline/histogram?interval=day&${window}` });
      expect(res.statusCode, window).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(JSON.stringify(res.json())).toContain('/interval');
      const weeks = await t.app.inject({ url: `/v1/timeline/histogram?interval=week&${window}` });
      expect(weeks.statusCode, window).toBe(200);
    }
  });

  for (const interval of ['day', 'week', 'month', 'year'] as const) {
    for (const kind of [undefined, 'event', 'statement'] as const) {
      it(`${interval} buckets${kind ? ` of ${kind}s` : ''}: count fits inside, imprecise overlaps without fitting`, async () => {
        const url = `/v1/timeline/histogram?interval=${interval}&from=2021-12-20&to=2023-01-05${kind ? `&kind=${kind}` : ''}`;
        const res = await t.app.inject({ url });
        expect(res.statusCode, res.body).toBe(200);
        const stored = sqliteDb(t.app).$client
          .prepare(`SELECT earliest, latest FROM entries ${kind ? 'WHERE kind = ?' : ''}`)
          .all(...(kind ? [kind] : [])) as { earliest: number; latest: number }[];
        const buckets = res.json().buckets as { start: string; end: string; count: number; imprecise: number }[];
        expect(buckets.length).toBeGreaterThan(0);
        let counted = 0;
        for (const b of buckets) {
          const [start, end] = [dayNumber(b.start), dayNumber(b.end)];
          const inside = stored.filter((e) => e.earliest >= start && e.latest <= end).length;
          const overlapping = stored.filter((e) => e.earliest <= end && e.latest >= start).length;
          expect({ bucket: b.start, count: b.count, imprecise: b.imprecise }).toEqual({ bucket: b.start, count: inside, imprecise: overlapping - inside });
          counted += b.count;
        }
        expect(counted).toBeGreaterThan(0);
      });
    }
  }
});
