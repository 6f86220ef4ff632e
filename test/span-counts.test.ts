// entry_span_counts (the histogram's per-date counts) must equal a GROUP BY of `entries` after
// any sequence of writes, and after the migration that creates it on a populated database.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng } from '../bench/generate.js';
import { migrationsFolder, runMigrations } from '../src/db/migrate.js';
import * as schema from '../src/db/schema.js';
import { AUTH, buildTestApp, ndjson, type TestApp } from './helpers.js';

type Client = Database.Database;

const counted = (client: Client) =>
  client.prepare('SELECT span_class, earliest, latest, kind, n FROM entry_span_counts ORDER BY 1, 2, 3, 4').all();
const grouped = (client: Client) =>
  client
    .prepare('SELECT span_class, earliest, latest, kind, count(*) AS n FROM entries GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4')
    .all();

const DATES = ['2022-01-05', '2022-01-06', '2022-01', '2022', '2021-12-31/2022-01-02', '2022-01-05/..', '../2022-01-05', '2020/2023', '2022-01-05T23:30:00-05:00', '2022-01-05?'];

describe('entry_span_counts', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ seed: true, memory: true });
  });
  afterAll(() => t.close());

  it('exists with its triggers after the migrations (a migration that rebuilds entries must create them again)', () => {
    const triggers = t.app.db.$client
      .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'entries' ORDER BY name")
      .all()
      .map((r) => (r as { name: string }).name);
    expect(triggers).toEqual(['entries_search_index_delete', 'entries_span_counts_delete', 'entries_span_counts_insert', 'entries_span_counts_update']);
    expect(counted(t.app.db.$client).length).toBeGreaterThan(0);
    expect(counted(t.app.db.$client)).toEqual(grouped(t.app.db.$client));
  });

  it('equals the GROUP BY of entries after API creates, date changes, deletes and imports', async () => {
    const client = t.app.db.$client;
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
    const client = t.app.db.$client;
    client.pragma('foreign_keys = OFF');
    try {
      client.prepare("UPDATE entries SET kind = CASE kind WHEN 'event' THEN 'statement' ELSE 'event' END WHERE id % 3 = 0").run();
      expect(counted(client)).toEqual(grouped(client));
      client.prepare('DELETE FROM entries').run();
      expect(counted(client)).toEqual([]);
    } finally {
      client.pragma('foreign_keys = ON');
    }
  });
});

describe('migration 0003 on a populated database', () => {
  it('backfills entry_span_counts from the entries already there', () => {
    const dir = mkdtempSync(join(tmpdir(), 'annals-span-counts-'));
    try {
      // the migrations before 0003, then entries written without the triggers, then the rest
      const earlier = join(dir, 'migrations');
      mkdirSync(join(earlier, 'meta'), { recursive: true });
      const journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] };
      const before = journal.entries.slice(0, journal.entries.findIndex((e) => e.tag === '0003_span_counts'));
      writeFileSync(join(earlier, 'meta', '_journal.json'), JSON.stringify({ ...journal, entries: before }));
      for (const { tag } of before) copyFileSync(join(migrationsFolder, `${tag}.sql`), join(earlier, `${tag}.sql`));
      const client = new Database(join(dir, 'annals.db'));
      const db = drizzle({ client, schema });
      migrate(db, { migrationsFolder: earlier });
      const insert = client.prepare(
        `INSERT INTO entries (key, kind, type, date, precision, earliest, latest, span_class, created_at, updated_at)
         VALUES (?, ?, 'protest', 'x', 'day', ?, ?, ?, '', '')`,
      );
      const random = prng(3);
      // spans of each class: one day, up to 31 days, up to 366 days, longer
      const spans = [0, 0, 0, 20, 300, 1000];
      const classes = [0, 0, 0, 1, 2, 3];
      for (let i = 0; i < 500; i++) {
        const earliest = 19000 + Math.floor(random() * 40);
        const k = Math.floor(random() * spans.length);
        insert.run(`k${i}`, random() < 0.7 ? 'event' : 'statement', earliest, earliest + spans[k]!, classes[k]);
      }
      runMigrations(db);
      expect(counted(client).length).toBeGreaterThan(10);
      expect(counted(client)).toEqual(grouped(client));
      client.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
