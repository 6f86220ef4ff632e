// POST /v1/import, importNdjson and the import CLI, each test on its own fresh database, on
// both engines (the rows behind the API read with SQL on either). The bulk load of the CLI is
// SQLite's: it checks the file's journal, triggers and WAL.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { Db } from '../src/storage/sqlite/client.js';
import { importNdjson } from '../src/import/ndjson.js';
import { BULK_BATCH_RECORDS, beginSqliteImport } from '../src/storage/sqlite/import.js';
import { parseFileInWorker } from '../src/import/parallel.js';
import { PostgresStorage } from '../src/storage/postgres/index.js';
import { AUTH, buildTestApp, ndjson, recordImportModes, type TestApp } from './helpers.js';
import { describeEngines, freshPgDatabase, type Engine, type PgDatabase } from './support/pg.js';

type Json = Record<string, any>;

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const seedFile = path.join(repo, 'data/seed/kazakhstan-january-2022.ndjson');
const seedText = readFileSync(seedFile, 'utf8');
const seedRecords: Json[] = seedText
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as Json);

/** Every table that holds a part of a record. */
const RECORD_TABLES = [
  'sources',
  'places',
  'actors',
  'actor_affiliations',
  'entries',
  'entry_actors',
  'entry_places',
  'entry_events',
  'entry_tags',
  'citations',
  'timelines',
  'timeline_entries',
] as const;

/** Reads the test database file directly (read-only), beside the app's own connection. */
function withDb<T>(file: string, read: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/** The database a test reads its rows from: an SQLite file or a PostgreSQL URL (ANNALS_DB), or the app's. */
type Rows = string | TestApp;

/** `?` placeholders as PostgreSQL numbers them. */
const numbered = (query: string) => {
  let n = 0;
  return query.replace(/\?/g, () => `$${++n}`);
};

/** The rows of a query (`?` placeholders) on the app's database, or on the database ANNALS_DB would name. */
async function queryRows<Row>(from: Rows, query: string, params: unknown[] = []): Promise<Row[]> {
  if (typeof from === 'string' && /^postgres(ql)?:\/\//.test(from)) {
    const client = new pg.Client({ connectionString: from });
    await client.connect();
    try {
      return (await client.query(numbered(query), params)).rows as Row[];
    } finally {
      await client.end();
    }
  }
  if (typeof from === 'string') return withDb(from, (db) => db.prepare(query).all(...params) as Row[]);
  if (from.app.storage instanceof PostgresStorage) return (await from.app.storage.db.$client.query(numbered(query), params)).rows as Row[];
  return queryRows(from.databasePath, query, params);
}

const rowCounts = async (from: Rows): Promise<Record<(typeof RECORD_TABLES)[number], number>> =>
  Object.fromEntries(
    await Promise.all(
      RECORD_TABLES.map(async (table) => [table, Number((await queryRows<{ n: number }>(from, `SELECT count(*) AS n FROM ${table}`))[0]!.n)]),
    ),
  ) as Record<(typeof RECORD_TABLES)[number], number>;

/** `key -> updated_at` of every stored record. */
const updatedAts = async (from: Rows): Promise<Record<string, string>> =>
  Object.fromEntries(
    (
      await Promise.all(
        ['sources', 'places', 'actors', 'entries', 'timelines'].map((table) =>
          queryRows<{ key: string; u: string }>(from, `SELECT key, updated_at AS u FROM ${table}`),
        ),
      )
    )
      .flat()
      .map((r) => [r.key, r.u]),
  );

const entryRowsFor = async (from: Rows, key: string): Promise<Record<string, number>> => {
  const [entry] = await queryRows<{ id: number }>(from, 'SELECT id FROM entries WHERE key = ?', [key]);
  const counts: Record<string, number> = { entries: entry ? 1 : 0 };
  if (entry) {
    for (const table of ['entry_actors', 'entry_places', 'entry_events', 'entry_tags', 'citations']) {
      counts[table] = (await queryRows<{ n: number }>(from, `SELECT count(*) AS n FROM ${table} WHERE entry_id = ?`, [entry.id]))[0]!.n;
    }
  }
  return counts;
};


let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function fresh(engine: Engine): Promise<TestApp> {
  t = await buildTestApp({ engine });
  return t;
}

async function postImport(app: TestApp, body: string | Buffer, query = '') {
  const res = await app.app.inject({
    method: 'POST',
    url: `/v1/import${query}`,
    headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
    payload: body,
  });
  return res;
}

async function importOk(app: TestApp, body: string | Buffer, query = ''): Promise<Json> {
  const res = await postImport(app, body, query);
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

async function getJson(app: TestApp, url: string): Promise<{ status: number; body: Json }> {
  const res = await app.app.inject({ url });
  return { status: res.statusCode, body: res.json() };
}

// A small dataset of our own: a source with text whose offsets the citations point into.
const SOURCE_TEXT = 'قال أمرييف إن الاستقرار مهم. The secretary general spoke in Istanbul.';
const source = {
  kind: 'source',
  key: 'src:test',
  type: 'news_article',
  outlet: 'Test Outlet',
  title: { en: 'A test source' },
  lang: 'ar',
  published: '2022-01-11',
  text: SOURCE_TEXT,
};
const excerptAt = (start: number, end: number) => ({
  source: 'src:test',
  excerpt: Array.from(SOURCE_TEXT).slice(start, end).join(''),
  start,
  end,
});
const placeKz = { kind: 'place', key: 'place:kz', type: 'country', name: { en: 'Kazakhstan', ar: 'كازاخستان' }, countryCode: 'KZ' };
const actorOts = { kind: 'actor', key: 'actor:ots', type: 'organization', name: { en: 'Organization of Turkic States' } };
const actorAmreyev = {
  kind: 'actor',
  key: 'actor:amreyev',
  type: 'person',
  name: { en: 'Baghdad Amreyev', ar: 'بغداد أمرييف' },
  affiliations: [{ actor: 'actor:ots', role: 'secretary_general', date: '2018-09-03/..' }],
};
const umbrella = {
  kind: 'event',
  key: 'event:unrest',
  type: 'unrest',
  date: '2022-01-02/..',
  title: { en: '2022 Kazakh unrest' },
  places: ['place:kz'],
};
const protest = {
  kind: 'event',
  key: 'event:protest',
  type: 'protest',
  date: '2022-01-02',
  title: { en: 'Protests break out', ar: 'اندلاع احتجاجات' },
  places: ['place:kz'],
  tags: ['fuel-prices'],
  parent: 'event:unrest',
};
const meeting = {
  kind: 'event',
  key: 'event:meeting',
  type: 'meeting',
  date: '2022-01-11',
  title: { en: 'Extraordinary meeting' },
  actors: [{ actor: 'actor:ots', role: 'organizer' }],
  sources: [excerptAt(0, 10)],
};
const statement = {
  kind: 'statement',
  key: 'stmt:stability',
  type: 'paraphrase',
  date: '2022-01-11',
  speaker: 'actor:amreyev',
  text: { ar: 'الاستقرار مهم', en: 'Stability matters' },
  originalLang: 'ar',
  context: 'event:meeting',
  about: { actors: [], places: ['place:kz'], events: ['event:protest'] },
  sources: [excerptAt(14, 27)],
};

describeEngines('POST /v1/import with the seed file', (engine) => {
  it('creates every record, then leaves them unchanged, then updates only the changed line', async () => {
    const app = await fresh(engine);
    const first = await importOk(app, seedText);
    expect(first).toMatchObject({
      lines: seedRecords.length,
      created: seedRecords.length,
      updated: 0,
      unchanged: 0,
      refused: 0,
      dryRun: false,
      stopped: false,
      errors: [],
    });
    const counted = await rowCounts(app);
    expect(counted.sources + counted.places + counted.actors + counted.entries + counted.timelines).toBe(seedRecords.length);
    const before = await updatedAts(app);
    expect(Object.keys(before)).toHaveLength(seedRecords.length);
    const statementBefore = await getJson(app, '/v1/statements/stmt:amreyev-quote-motherland-of-all-turks');
    expect(statementBefore.status).toBe(200);

    const again = await importOk(app, seedText);
    expect(again).toMatchObject({
      lines: seedRecords.length,
      created: 0,
      updated: 0,
      unchanged: seedRecords.length,
      refused: 0,
      errors: [],
    });
    expect(await updatedAts(app)).toEqual(before);
    expect(await rowCounts(app)).toEqual(counted);
    const statementAfter = await getJson(app, '/v1/statements/stmt:amreyev-quote-motherland-of-all-turks');
    expect(statementAfter.body).toEqual(statementBefore.body);

    // one changed line: only that record is updated
    const changedKey = 'event:kz-protests-2022-01-02';
    const changed = seedText
      .split('\n')
      .map((line) => {
        if (!line.includes(`"key":"${changedKey}"`)) return line;
        const record = JSON.parse(line) as Json;
        record.title.en = 'Protests erupt in Kazakhstan over gas prices';
        return JSON.stringify(record);
      })
      .join('\n');
    const third = await importOk(app, changed);
    expect(third).toMatchObject({ created: 0, updated: 1, unchanged: seedRecords.length - 1, refused: 0 });
    const event = await getJson(app, `/v1/events/${changedKey}`);
    expect(event.body.title.en).toBe('Protests erupt in Kazakhstan over gas prices');
    const after = await updatedAts(app);
    for (const [key, value] of Object.entries(before)) {
      if (key !== changedKey) expect(after[key], key).toBe(value);
    }
    expect(await rowCounts(app)).toEqual(counted);
  });
});

describeEngines('references', (engine) => {
  it('resolves keys forward and backward within a file, and against records already stored', async () => {
    const app = await fresh(engine);
    // the statement comes before its speaker, its context and the events it is about;
    // the protest comes before its parent; the meeting after the actor it names
    const report = await importOk(
      app,
      ndjson([statement, source, placeKz, protest, actorAmreyev, actorOts, umbrella, meeting]),
    );
    expect(report).toMatchObject({ lines: 8, created: 8, updated: 0, unchanged: 0, refused: 0, errors: [] });

    const stmt = await getJson(app, '/v1/statements/stmt:stability');
    expect(stmt.status).toBe(200);
    expect(stmt.body.speaker.key).toBe('actor:amreyev');
    expect(stmt.body.context.key).toBe('event:meeting');
    expect(stmt.body.about.events.map((e: Json) => e.key)).toEqual(['event:protest']);
    expect(stmt.body.about.places.map((p: Json) => p.key)).toEqual(['place:kz']);
    expect(stmt.body.sources[0]).toMatchObject({ excerpt: excerptAt(14, 27).excerpt, start: 14, end: 27 });
    const child = await getJson(app, '/v1/events/event:protest');
    expect(child.body.parent.key).toBe('event:unrest');
    expect(child.body.tags).toEqual(['fuel-prices']);
    const amreyev = await getJson(app, '/v1/actors/actor:amreyev');
    expect(amreyev.body.affiliations[0].actor.key).toBe('actor:ots');

    // a second import refers to keys of the first
    const later = {
      kind: 'statement',
      key: 'stmt:later',
      type: 'quote',
      date: '2022-01-12',
      speaker: 'actor:amreyev',
      text: { en: 'We stand by Kazakhstan' },
      context: 'event:meeting',
      about: { actors: ['actor:ots'], places: ['place:kz'], events: ['event:unrest', 'event:protest'] },
      sources: [excerptAt(29, 55)],
    };
    const riot = { kind: 'event', key: 'event:riot', type: 'riot', date: '2022-01-05', title: { en: 'Riots' }, parent: 'event:unrest' };
    const second = await importOk(app, ndjson([later, riot]));
    expect(second).toMatchObject({ lines: 2, created: 2, refused: 0 });
    const laterStored = await getJson(app, '/v1/statements/stmt:later');
    expect(laterStored.body.speaker.key).toBe('actor:amreyev');
    expect(laterStored.body.about.events.map((e: Json) => e.key)).toEqual(['event:unrest', 'event:protest']);
    expect((await getJson(app, '/v1/events/event:riot')).body.parent.key).toBe('event:unrest');
  });
});

describeEngines('refused lines', (engine) => {
  it('reports each bad line with its 1-based number and reason and stores the good lines', async () => {
    const app = await fresh(engine);
    const lines = [
      JSON.stringify(source), // 1
      '{"kind":"place","key":"place:broken",', // 2: not JSON
      '', // 3: blank
      JSON.stringify({ kind: 'person', key: 'person:x', name: { en: 'X' } }), // 4: unknown kind
      JSON.stringify({ kind: 'event', key: 'event:untitled', type: 'protest', date: '2022-01-02' }), // 5: no title
      JSON.stringify({ ...umbrella, key: 'event:feb-30', date: '2022-02-30' }), // 6: bad date
      '   ', // 7: blank (whitespace)
      JSON.stringify({ ...umbrella, key: 'event:nowhere', places: ['place:nowhere'] }), // 8: unknown reference
      JSON.stringify({ ...placeKz, key: 'src:test' }), // 9: key of the source
      JSON.stringify(placeKz), // 10
      JSON.stringify({ kind: 'actor', key: 'actor:ots', type: 'robot', name: { en: 'OTS' } }), // 11: bad enum
      JSON.stringify(actorOts), // 12
    ];
    const report = await importOk(app, `${lines.join('\n')}\n`);
    expect(report).toMatchObject({ lines: 12, created: 3, updated: 0, unchanged: 0, refused: 7, stopped: false });
    const byLine = new Map<number, Json>(report.errors.map((e: Json) => [e.line, e]));
    expect([...byLine.keys()].sort((a, b) => a - b)).toEqual([2, 4, 5, 6, 8, 9, 11]);
    expect(byLine.get(2)!.reason).toMatch(/not valid JSON/);
    expect(byLine.get(4)!.reason).toMatch(/unknown kind "person"/);
    expect(byLine.get(4)!.key).toBe('person:x');
    expect(byLine.get(5)).toMatchObject({ key: 'event:untitled', kind: 'event' });
    expect(byLine.get(5)!.reason).toMatch(/\/title/);
    expect(byLine.get(6)).toMatchObject({ key: 'event:feb-30', kind: 'event' });
    expect(byLine.get(6)!.reason).toMatch(/\/date/);
    expect(byLine.get(6)!.reason).toMatch(/2022-02-30/);
    expect(byLine.get(6)!.reason).toMatch(/February/);
    expect(byLine.get(8)).toMatchObject({ key: 'event:nowhere', kind: 'event' });
    expect(byLine.get(8)!.reason).toMatch(/\/places\/0/);
    expect(byLine.get(8)!.reason).toMatch(/place:nowhere/);
    expect(byLine.get(9)).toMatchObject({ key: 'src:test', kind: 'place' });
    expect(byLine.get(9)!.reason).toMatch(/already used by a source/);
    expect(byLine.get(11)!.reason).toMatch(/\/type/);

    expect((await getJson(app, '/v1/sources/src:test')).status).toBe(200);
    expect((await getJson(app, '/v1/places/place:kz')).status).toBe(200);
    expect((await getJson(app, '/v1/actors/actor:ots')).status).toBe(200);
    for (const key of ['event:untitled', 'event:feb-30', 'event:nowhere']) {
      expect((await getJson(app, `/v1/events/${key}`)).status, key).toBe(404);
    }
    expect(await rowCounts(app)).toMatchObject({ sources: 1, places: 1, actors: 1, entries: 0 });
    // the source kept its own record: the place with its key did not replace it
    expect((await getJson(app, '/v1/sources/src:test')).body.outlet).toBe('Test Outlet');
  });

  it('counts lines after CRLF endings and a missing final newline', async () => {
    const app = await fresh(engine);
    const body = `${JSON.stringify(source)}\r\n\r\n{oops}\r\n${JSON.stringify(placeKz)}`;
    const report = await importOk(app, body);
    expect(report).toMatchObject({ lines: 4, created: 2, refused: 1 });
    expect(report.errors).toEqual([expect.objectContaining({ line: 3, reason: expect.stringMatching(/not valid JSON/) })]);
  });

  it('refuses a reference to a record of the wrong kind', async () => {
    const app = await fresh(engine);
    const report = await importOk(app, ndjson([placeKz, actorOts, { ...umbrella, parent: 'actor:ots' }]));
    expect(report.refused).toBe(1);
    expect(report.errors[0]).toMatchObject({ line: 3, key: 'event:unrest' });
    expect(report.errors[0].reason).toMatch(/\/parent/);
  });
});

describeEngines('no record is half-written', (engine) => {
  it('stores nothing of an event whose citation does not match its source text', async () => {
    const app = await fresh(engine);
    const bad = {
      ...meeting,
      key: 'event:bad-citation',
      places: ['place:kz'],
      tags: ['meeting'],
      sources: [excerptAt(0, 10), { source: 'src:test', excerpt: 'not in the text', start: 0, end: 15 }],
    };
    const report = await importOk(app, ndjson([source, placeKz, actorOts, bad, meeting]));
    expect(report).toMatchObject({ created: 4, refused: 1 });
    expect(report.errors[0]).toMatchObject({ line: 4, key: 'event:bad-citation', kind: 'event' });
    expect(report.errors[0].reason).toMatch(/\/sources\/1\/excerpt/);
    expect((await getJson(app, '/v1/events/event:bad-citation')).status).toBe(404);
    expect(await entryRowsFor(app, 'event:bad-citation')).toEqual({ entries: 0 });
    // only the good meeting's rows exist
    expect(await rowCounts(app)).toMatchObject({
      entries: 1,
      citations: 1,
      entry_actors: 1,
      entry_places: 0,
      entry_tags: 0,
    });
  });

  it('stores nothing of an event with an unknown reference, even after its known references resolved', async () => {
    const app = await fresh(engine);
    const bad = {
      ...protest,
      key: 'event:unknown-actor',
      parent: null,
      actors: [
        { actor: 'actor:ots', role: 'participant' },
        { actor: 'actor:nobody', role: 'participant' },
      ],
      sources: [excerptAt(0, 10)],
    };
    const report = await importOk(app, ndjson([bad, source, placeKz, actorOts]));
    expect(report).toMatchObject({ created: 3, refused: 1 });
    expect(report.errors[0]).toMatchObject({ line: 1, key: 'event:unknown-actor' });
    expect(report.errors[0].reason).toMatch(/actor:nobody/);
    expect((await getJson(app, '/v1/events/event:unknown-actor')).status).toBe(404);
    expect(await rowCounts(app)).toMatchObject({
      entries: 0,
      entry_actors: 0,
      entry_places: 0,
      entry_tags: 0,
      citations: 0,
    });
  });

  it('leaves a stored record whole when its update is refused', async () => {
    const app = await fresh(engine);
    await importOk(app, ndjson([source, placeKz, actorOts, meeting]));
    const before = await getJson(app, '/v1/events/event:meeting');
    const rowsBefore = await entryRowsFor(app, 'event:meeting');
    const broken = {
      ...meeting,
      title: { en: 'Changed title' },
      places: ['place:kz'],
      tags: ['changed'],
      sources: [{ source: 'src:test', excerpt: 'wrong', start: 0, end: 5 }],
    };
    const report = await importOk(app, ndjson([broken]));
    expect(report).toMatchObject({ created: 0, updated: 0, unchanged: 0, refused: 1 });
    expect((await getJson(app, '/v1/events/event:meeting')).body).toEqual(before.body);
    expect(await entryRowsFor(app, 'event:meeting')).toEqual(rowsBefore);
  });
});

describeEngines('?stopOnError=true', (engine) => {
  it('stops at an unreadable line and keeps the lines before it', async () => {
    const app = await fresh(engine);
    const body = `${[JSON.stringify(source), JSON.stringify(placeKz), 'not json', JSON.stringify(actorOts)].join('\n')}\n`;
    const report = await importOk(app, body, '?stopOnError=true');
    expect(report).toMatchObject({ stopped: true, refused: 1, created: 2 });
    expect(report.errors).toEqual([expect.objectContaining({ line: 3 })]);
    expect((await getJson(app, '/v1/sources/src:test')).status).toBe(200);
    expect((await getJson(app, '/v1/places/place:kz')).status).toBe(200);
    expect((await getJson(app, '/v1/actors/actor:ots')).status).toBe(404);
  });

  it('stops at a line refused while storing and keeps the lines before it', async () => {
    const app = await fresh(engine);
    const bad = { ...meeting, key: 'event:bad', sources: [{ source: 'src:test', excerpt: 'wrong', start: 0, end: 5 }] };
    const report = await importOk(app, ndjson([source, actorOts, bad, placeKz]), '?stopOnError=true');
    expect(report).toMatchObject({ stopped: true, refused: 1, created: 2 });
    expect(report.errors).toEqual([expect.objectContaining({ line: 3, key: 'event:bad' })]);
    expect((await getJson(app, '/v1/sources/src:test')).status).toBe(200);
    expect((await getJson(app, '/v1/actors/actor:ots')).status).toBe(200);
    expect((await getJson(app, '/v1/events/event:bad')).status).toBe(404);
    expect((await getJson(app, '/v1/places/place:kz')).status).toBe(404);
    expect(await rowCounts(app)).toMatchObject({ sources: 1, actors: 1, entries: 0, places: 0, citations: 0 });
  });

  it('still stores the records before the stop that referred forward to keys before it', async () => {
    const app = await fresh(engine);
    // line 1 waits for lines 2 and 3; line 4 stops the import; line 5 is never read
    const body = `${[
      JSON.stringify({ ...statement, context: null, about: undefined, sources: [] }),
      JSON.stringify(actorOts),
      JSON.stringify(actorAmreyev),
      JSON.stringify({ ...placeKz, countryCode: 'kz!' }),
      JSON.stringify(placeKz),
    ].join('\n')}\n`;
    const report = await importOk(app, body, '?stopOnError=true');
    expect(report).toMatchObject({ stopped: true, created: 3, refused: 1, lines: 4 });
    expect(report.errors).toEqual([expect.objectContaining({ line: 4, key: 'place:kz' })]);
    expect((await getJson(app, '/v1/statements/stmt:stability')).body.speaker.key).toBe('actor:amreyev');
    expect(await rowCounts(app)).toMatchObject({ actors: 2, entries: 1, places: 0 });
  });

  it('without the flag, goes on past the refused line', async () => {
    const app = await fresh(engine);
    const body = `${[JSON.stringify(source), 'not json', JSON.stringify(placeKz)].join('\n')}\n`;
    const report = await importOk(app, body, '?stopOnError=false');
    expect(report).toMatchObject({ stopped: false, refused: 1, created: 2 });
  });
});

describeEngines('the same key twice', (engine) => {
  for (const batchSize of [500, 1]) {
    it(`lets the later line win over an earlier one still waiting for its keys (batches of ${batchSize})`, async () => {
      const app = await fresh(engine);
      const input = ndjson([
        { ...protest, title: { en: 'first version' } }, // waits for event:unrest
        { ...protest, parent: null, title: { en: 'second version' } },
        umbrella,
        placeKz,
      ]);
      const report = await importNdjson(await app.app.storage.beginImport(), Readable.from([Buffer.from(input)]), { batchSize });
      expect(report.errors).toEqual([
        expect.objectContaining({ line: 1, key: 'event:protest', reason: expect.stringMatching(/superseded by line 2/) }),
      ]);
      expect(report).toMatchObject({ created: 3, updated: 0, refused: 1 });
      const stored = await getJson(app, '/v1/events/event:protest');
      expect(stored.body.title).toEqual({ en: 'second version' });
      expect(stored.body.parent).toBeNull();
    });
  }
});

describeEngines('import session', (engine) => {
  // SQLite's batch runs on the one connection every request uses: work that awaits inside it
  // would let other requests into its transaction. A PostgreSQL batch has a connection of its own.
  it.skipIf(engine !== 'sqlite')('fails a batch whose work lets the event loop turn, storing nothing of it, and takes the next one', async () => {
    const app = await fresh(engine);
    const session = await app.app.storage.beginImport();
    expect(session.mode).toBe('batches');
    await expect(
      session.batch(async (writer) => {
        await writer.upsert('place', placeKz);
        // another request could run here, inside the batch's transaction
        await new Promise((resolve) => setImmediate(resolve));
      }),
    ).rejects.toThrow(/event loop turned/);
    expect((await rowCounts(app)).places).toBe(0);
    await session.batch(async (writer) => {
      expect(await writer.upsert('place', placeKz)).toEqual({ outcome: 'created' });
      expect(await writer.upsert('place', placeKz)).toEqual({ outcome: 'unchanged' });
    });
    await session.finish();
    expect((await rowCounts(app)).places).toBe(1);
  });

  it('is a bulk load only when asked for one on an empty database', async () => {
    const app = await fresh(engine);
    const empty = await app.app.storage.beginImport({ bulkLoad: 'when-empty' });
    expect(empty.mode).toBe('bulk');
    await empty.abort();
    expect(await importOk(app, ndjson([placeKz]))).toMatchObject({ created: 1 });
    const filled = await app.app.storage.beginImport({ bulkLoad: 'when-empty' });
    expect(filled.mode).toBe('batches');
    await filled.finish();
  });
});

describeEngines('dry run', (engine) => {
  it('reports what it would store, stores nothing, and leaves the database usable', async () => {
    const app = await fresh(engine);
    const input = () => Readable.from([Buffer.from(ndjson([statement, source, placeKz, actorOts, actorAmreyev, meeting, protest, umbrella]))]);
    const dry = await importNdjson(await app.app.storage.beginImport({ dryRun: true }), input(), { batchSize: 3 });
    expect(dry).toMatchObject({ dryRun: true, created: 8, refused: 0 });
    for (const [table, n] of Object.entries(await rowCounts(app))) expect(n, table).toBe(0);
    const stopped = await importNdjson(await app.app.storage.beginImport({ dryRun: true }), Readable.from([Buffer.from(`${JSON.stringify(source)}\n{bad\n`)]), {
      stopOnError: true,
    });
    expect(stopped).toMatchObject({ dryRun: true, stopped: true, created: 1, refused: 1 });
    expect((await rowCounts(app)).sources).toBe(0);
    expect(await importOk(app, ndjson([source]))).toMatchObject({ created: 1 });
  });
});

describeEngines('line length limit', (engine) => {
  it('refuses a line longer than the limit without crashing, and reads on', async () => {
    const app = await fresh(engine);
    const long = JSON.stringify({ ...placeKz, key: 'place:long', name: { en: 'x'.repeat(500) } });
    const bytes = Buffer.from(`${JSON.stringify(actorOts)}\n${long}\n${JSON.stringify(placeKz)}\n`);
    // chunks of 37 bytes: the long line spans many of them
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 37) chunks.push(bytes.subarray(i, i + 37));
    const report = await importNdjson(await app.app.storage.beginImport(), Readable.from(chunks), { maxLineBytes: 200 });
    expect(report).toMatchObject({ lines: 3, created: 2, refused: 1, stopped: false });
    expect(report.errors).toEqual([{ line: 2, key: null, kind: null, reason: expect.stringMatching(/longer than the limit/) }]);
    expect((await getJson(app, '/v1/places/place:kz')).status).toBe(200);
    expect((await getJson(app, '/v1/places/place:long')).status).toBe(404);

    // a too-long last line without a newline, and one arriving in a single chunk
    const tail = await importNdjson(await app.app.storage.beginImport(), Readable.from([Buffer.from(`${long}\n${JSON.stringify(placeKz)}\n${long}`)]), {
      maxLineBytes: 200,
    });
    expect(tail).toMatchObject({ lines: 3, unchanged: 1, refused: 2 });
    expect(tail.errors.map((e) => e.line)).toEqual([1, 3]);
  });
});

describeEngines('HTTP', (engine) => {
  it('needs an API key', async () => {
    const app = await fresh(engine);
    const res = await app.app.inject({
      method: 'POST',
      url: '/v1/import',
      headers: { 'content-type': 'application/x-ndjson' },
      payload: ndjson([placeKz]),
    });
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await rowCounts(app)).places).toBe(0);
  });

  it('answers 415 to a body that is not NDJSON', async () => {
    const app = await fresh(engine);
    for (const [type, payload] of [
      ['application/json', JSON.stringify(placeKz)],
      ['text/plain', ndjson([placeKz])],
    ] as const) {
      const res = await app.app.inject({
        method: 'POST',
        url: '/v1/import',
        headers: { ...AUTH, 'content-type': type },
        payload,
      });
      expect(res.statusCode, type).toBe(415);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ status: 415, type: expect.stringContaining('unsupported-media-type') });
    }
    expect((await rowCounts(app)).places).toBe(0);
  });

  it('reads a streamed body whose chunks split lines and UTF-8 characters', async () => {
    const app = await fresh(engine);
    await app.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.app.server.address() as AddressInfo;
    const arabicTitle = 'اندلاع احتجاجات في كازاخستان بسبب زيادة أسعار الغاز';
    const records = [
      source,
      placeKz,
      actorOts,
      actorAmreyev,
      { ...protest, parent: null, title: { ar: arabicTitle, en: 'Protests' } },
      meeting,
      statement,
    ];
    const bytes = Buffer.from(ndjson(records));
    // 5-byte chunks: Arabic letters are 2 bytes, so many chunks end inside a character
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += 5) chunks.push(new Uint8Array(bytes.subarray(i, i + 5)));
    const splitsCharacter = chunks.some((c, i) => i > 0 && (c[0]! & 0xc0) === 0x80);
    expect(splitsCharacter).toBe(true);
    let next = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (next < chunks.length) controller.enqueue(chunks[next++]);
        else controller.close();
        await new Promise((resolve) => setImmediate(resolve));
      },
    });
    const res = await fetch(`http://127.0.0.1:${port}/v1/import`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(200);
    const report = (await res.json()) as Json;
    expect(report).toMatchObject({ lines: records.length, created: records.length, refused: 0 });

    const event = (await (await fetch(`http://127.0.0.1:${port}/v1/events/event:protest`)).json()) as Json;
    expect(event.title.ar).toBe(arabicTitle);
    const stmt = (await (await fetch(`http://127.0.0.1:${port}/v1/statements/stmt:stability`)).json()) as Json;
    expect(stmt.text).toEqual(statement.text);
    expect(stmt.sources[0].excerpt).toBe(excerptAt(14, 27).excerpt);
    const src = (await (await fetch(`http://127.0.0.1:${port}/v1/sources/src:test`)).json()) as Json;
    expect(src.text).toBe(SOURCE_TEXT);
    const amreyev = (await (await fetch(`http://127.0.0.1:${port}/v1/actors/actor:amreyev`)).json()) as Json;
    expect(amreyev.name.ar).toBe('بغداد أمرييف');
  });

  it('answers with the report when stopOnError stops while the body is still streaming', async () => {
    const app = await fresh(engine);
    await app.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.app.server.address() as AddressInfo;
    const encoder = new TextEncoder();
    const filler = `${JSON.stringify(placeKz)}\n`.repeat(200);
    let sent = 0;
    // the bad line comes first; the rest of the body keeps coming after the server has stopped reading
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === 0) controller.enqueue(encoder.encode(`${JSON.stringify(source)}\n{bad\n`));
        else if (sent <= 50) controller.enqueue(encoder.encode(filler));
        else controller.close();
        sent += 1;
        await new Promise((resolve) => setTimeout(resolve, 2));
      },
    });
    const res = await fetch(`http://127.0.0.1:${port}/v1/import?stopOnError=true`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(200);
    const report = (await res.json()) as Json;
    expect(report).toMatchObject({ stopped: true, created: 1, refused: 1 });
    expect(report.errors).toEqual([expect.objectContaining({ line: 2 })]);
    expect(await rowCounts(app)).toMatchObject({ sources: 1, places: 0 });
    // the server still answers afterwards
    expect((await fetch(`http://127.0.0.1:${port}/v1/sources/src:test`)).status).toBe(200);
  });
});

describeEngines('import CLI', (engine) => {
  const dirs: string[] = [];
  const databases: PgDatabase[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    await Promise.all(databases.splice(0).map((database) => database.drop()));
  });
  const tempDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'annals-cli-'));
    dirs.push(dir);
    return dir;
  };
  /** ANNALS_DB for the command: a file `name` in `dir`, or a new PostgreSQL database. */
  const newDatabase = async (dir: string, name: string) => {
    if (engine === 'sqlite') return path.join(dir, name);
    const database = await freshPgDatabase();
    databases.push(database);
    return database.url;
  };
  const runCli = (databasePath: string, args: string[]) => {
    const result = spawnSync('npx', ['tsx', 'scripts/import.ts', ...args], {
      cwd: repo,
      env: { ...process.env, ANNALS_DB: databasePath, ANNALS_BOOTSTRAP_KEY: '', ANNALS_SEED: 'off' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, report: JSON.parse(result.stdout) as Json };
  };

  it('imports a file, reporting JSON on stdout and progress on stderr', async () => {
    const db = await newDatabase(tempDir(), 'annals.db');
    const run = runCli(db, [seedFile]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.report).toMatchObject({ lines: seedRecords.length, created: seedRecords.length, refused: 0, dryRun: false });
    expect(run.stderr).toMatch(new RegExp(`${seedRecords.length} lines read, ${seedRecords.length} records \\(${seedRecords.length} created`));
    const counts = await rowCounts(db);
    expect(counts.sources + counts.places + counts.actors + counts.entries + counts.timelines).toBe(seedRecords.length);
  });

  it('--dry-run validates and stores nothing', async () => {
    const db = await newDatabase(tempDir(), 'annals.db');
    const run = runCli(db, [seedFile, '--dry-run']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.report).toMatchObject({ created: seedRecords.length, refused: 0, dryRun: true });
    expect(run.stderr).toMatch(/dry run: nothing stored/);
    for (const [table, n] of Object.entries(await rowCounts(db))) expect(n, table).toBe(0);
  });

  it('exits 1 on refused lines, and --stop-on-error stops at the first', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.ndjson');
    writeFileSync(file, `${[JSON.stringify(source), '{bad', JSON.stringify(placeKz), JSON.stringify(actorOts)].join('\n')}\n`);

    const all = await newDatabase(dir, 'all.db');
    const run = runCli(all, [file]);
    expect(run.status).toBe(1);
    expect(run.report).toMatchObject({ lines: 4, created: 3, refused: 1, stopped: false });
    expect(run.stderr).toMatch(/line 2: not valid JSON/);
    expect(await rowCounts(all)).toMatchObject({ sources: 1, places: 1, actors: 1 });

    const stopped = await newDatabase(dir, 'stopped.db');
    const stop = runCli(stopped, [file, '--stop-on-error']);
    expect(stop.status).toBe(1);
    expect(stop.report).toMatchObject({ created: 1, refused: 1, stopped: true });
    expect(await rowCounts(stopped)).toMatchObject({ sources: 1, places: 0, actors: 0 });
  });
});

describeEngines('bulk load through the API (a large body into an empty database)', (engine) => {
  /** An app whose imports into an empty database are bulk loads whatever their size, with the mode of each import session. */
  async function bulkApp(): Promise<{ app: TestApp; modes: string[] }> {
    const app = await buildTestApp({ engine, config: { bulkImportMinBytes: 0, bodyIdleTimeoutMs: 500 } });
    t = app;
    const modes = recordImportModes(app.app);
    return { app, modes };
  }

  /** The export's record lines without their timestamps, and its end line without the revision. */
  const exported = async (app: TestApp) => {
    const res = await app.app.inject({ url: '/v1/export' });
    expect(res.statusCode).toBe(200);
    return res.body
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        const { createdAt: _c, updatedAt: _u, revision: _r, ...rest } = JSON.parse(line) as Json;
        return rest;
      });
  };

  it('stores the same records and answers the same report as batch by batch, and the next import goes by batches', async () => {
    const redated = { ...seedRecords.find((r) => r.kind === 'event')!, date: '1991-12-26' };
    const input = `${JSON.stringify(statement)}\n{bad\n${seedText}\n${JSON.stringify({ ...protest, key: 'event:orphan', places: ['place:nowhere'] })}\n${JSON.stringify(redated)}\n`;
    const batches = await buildTestApp({ engine });
    let batchReport: Json;
    let batchExport: Json[];
    try {
      batchReport = await importOk(batches, input);
      batchExport = await exported(batches);
    } finally {
      await batches.close();
    }
    const { app, modes } = await bulkApp();
    const report = await importOk(app, input);
    expect(modes).toEqual(['bulk']);
    expect(report).toEqual(batchReport);
    expect(report.refused).toBeGreaterThan(0);
    expect(report.updated).toBeGreaterThan(0);
    expect(await exported(app)).toEqual(batchExport);
    expect(await importOk(app, ndjson([{ ...placeKz, key: 'place:after' }]))).toMatchObject({ created: 1 });
    expect(modes).toEqual(['bulk', 'batches']);
  });

  it('stores the whole lines of a body that stops arriving, and answers 408 with their report', async () => {
    const { app, modes } = await bulkApp();
    await app.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.app.server.address() as AddressInfo;
    const sent = `${ndjson([source, placeKz, actorOts])}{"kind":"place","key":"place:cut"`;
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpRequest(
        `http://127.0.0.1:${port}/v1/import`,
        // announces far more than it sends: the rest never comes
        { method: 'POST', headers: { ...AUTH, 'content-type': 'application/x-ndjson', 'content-length': String(sent.length * 10) } },
        (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (text: string) => (body += text));
          response.on('end', () => {
            resolve({ status: response.statusCode ?? 0, body });
            request.destroy();
          });
        },
      );
      request.on('error', reject);
      request.write(sent);
    });
    expect(res.status, res.body).toBe(408);
    expect(modes).toEqual(['bulk']);
    expect(JSON.parse(res.body).report).toMatchObject({ lines: 3, created: 3, refused: 0 });
    expect((await getJson(app, '/v1/actors/actor:ots')).status).toBe(200);
    expect((await getJson(app, '/v1/places/place:cut')).status).toBe(404);
  });
});

// SQLite only: the load's journal mode, triggers, indexes and WAL are the file's.
describe('bulk load (the CLI on an empty database)', () => {
  it('stores the same rows, search index and report as batch by batch', async () => {
    const { openDatabase } = await import('../src/storage/sqlite/client.js');
    const { runMigrations } = await import('../src/storage/sqlite/migrate.js');
    const dir = mkdtempSync(path.join(tmpdir(), 'annals-bulk-'));
    try {
      // the seed, refused lines, a record that comes before the keys it refers to, and an
      // entry stored again with another date (its span count moves)
      const redated = { ...seedRecords.find((r) => r.kind === 'event')!, date: '1991-12-26' };
      const input = `${JSON.stringify(statement)}\n{bad\n${seedText}\n${JSON.stringify({ ...protest, key: 'event:orphan', places: ['place:nowhere'] })}\n${JSON.stringify(redated)}\n`;
      const load = async (name: string, bulkLoad: boolean) => {
        const file = path.join(dir, name);
        const db = openDatabase(file);
        runMigrations(db);
        // the bulk load as the CLI runs it: the file read and parsed in a worker thread
        const source = path.join(dir, 'input.ndjson');
        writeFileSync(source, input);
        const session = await beginSqliteImport(db, file, bulkLoad ? { bulkLoad: 'always' } : {});
        expect(session.mode).toBe(bulkLoad ? 'bulk' : 'batches');
        const report = await importNdjson(
          session,
          bulkLoad ? { parsed: parseFileInWorker(source, { batchLines: 3 }) } : Readable.from([Buffer.from(input)]),
          { batchSize: 7 },
        );
        // a bulk load runs with a rollback journal and puts the WAL back (src/storage/sqlite/bulk.ts)
        expect(db.$client.pragma('journal_mode', { simple: true })).toBe('wal');
        db.$client.close();
        return { file, report };
      };
      const normal = await load('normal.db', false);
      const bulk = await load('bulk.db', true);
      expect(bulk.report).toEqual(normal.report);
      expect(normal.report.refused).toBeGreaterThan(0);
      expect(normal.report.updated).toBeGreaterThan(0);
      const contents = (file: string): Record<string, unknown[]> =>
        withDb(file, (db) => {
          db.exec("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, search_index, 'instance')");
          const rows = (sql: string) => db.prepare(sql).raw().all();
          return {
            schema: rows('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name'),
            // kept by triggers batch by batch, filled by one GROUP BY in a bulk load
            triggers: rows("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"),
            spanCounts: rows('SELECT span_class, earliest, latest, kind, n FROM entry_span_counts ORDER BY 1, 2, 3, 4'),
            dateCounts: rows('SELECT grain, kind, unit, starts, ends FROM entry_date_counts ORDER BY 1, 2, 3'),
            spanGroups: rows(
              'SELECT span_class, earliest, latest, kind, count(*) FROM entries GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4',
            ),
            settings: rows("SELECT name, value FROM settings WHERE name <> 'cursor_secret' ORDER BY name"),
            search: rows('SELECT term, doc, col, offset FROM temp.vocab ORDER BY doc, offset'),
            ...Object.fromEntries(
              RECORD_TABLES.map((table) => {
                const columns = (db.prepare(`SELECT name FROM pragma_table_info('${table}')`).pluck().all() as string[]).filter(
                  (c) => c !== 'created_at' && c !== 'updated_at',
                );
                return [table, rows(`SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM ${table} ORDER BY 1, 2`)];
              }),
            ),
          };
        });
      const stored = contents(normal.file);
      expect(stored.entries!.length).toBeGreaterThan(0);
      expect(stored.spanCounts).toEqual(stored.spanGroups);
      expect((stored.triggers as string[][]).map((t) => t[0])).toEqual(
        expect.arrayContaining(['entries_span_counts_insert', 'entries_span_counts_delete', 'entries_span_counts_update']),
      );
      expect(stored.search!.length).toBeGreaterThan(0);
      expect(contents(bulk.file)).toEqual(stored);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** A fresh, migrated database file in a directory of its own, removed after `work`. */
  async function inMigratedDatabase(work: (dir: string, file: string, db: Db) => Promise<void>) {
    const { openDatabase } = await import('../src/storage/sqlite/client.js');
    const { runMigrations } = await import('../src/storage/sqlite/migrate.js');
    const dir = mkdtempSync(path.join(tmpdir(), 'annals-bulk-'));
    try {
      const file = path.join(dir, 'annals.db');
      const db = openDatabase(file);
      runMigrations(db);
      await work(dir, file, db);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** The schema (triggers and indexes included) and the rows of every table a load fills. */
  const snapshot = (file: string) =>
    withDb(file, (db) => ({
      schema: db.prepare('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name').raw().all(),
      rows: Object.fromEntries(
        [...RECORD_TABLES, 'entry_span_counts', 'entry_date_counts', 'search_index'].map((table) => [
          table,
          db.prepare(`SELECT count(*) FROM ${table}`).pluck().get(),
        ]),
      ),
    }));

  it('leaves the database as it was, triggers and indexes included, when the load fails', async () => {
    await inMigratedDatabase(async (_dir, file, db) => {
      const before = snapshot(file);
      // several batches are written inside the load's transaction before the input fails
      // eslint-disable-next-line @typescript-eslint/require-await -- the load reads an AsyncIterable, as it reads a request body
      async function* failing() {
        yield Buffer.from(seedText);
        throw new Error('input failed');
      }
      await expect(importNdjson(await beginSqliteImport(db, file, { bulkLoad: 'always' }), failing(), { batchSize: 7 })).rejects.toThrow('input failed');
      expect(db.$client.inTransaction).toBe(false);
      db.$client.close();
      expect(snapshot(file)).toEqual(before);
    });
  });

  it('is fed in batches of its own size, parsed in messages of that size, and leaves the sort threads as they were', async () => {
    await inMigratedDatabase(async (dir, file, db) => {
      const threads = db.$client.pragma('threads', { simple: true });
      const places = Array.from({ length: BULK_BATCH_RECORDS * 2 + 50 }, (_, i) => ({ ...placeKz, key: `place:p${i}` }));
      const source = path.join(dir, 'places.ndjson');
      writeFileSync(source, ndjson(places));
      const session = await beginSqliteImport(db, file, { bulkLoad: 'always' });
      expect(session.mode).toBe('bulk');
      expect(session.batchRecords).toBe(BULK_BATCH_RECORDS);
      const batches: number[] = [];
      const report = await importNdjson(session, { parsed: parseFileInWorker(source, { batchLines: session.batchRecords! }) }, {
        onBatchCommitted: (lines) => batches.push(lines.length),
      });
      expect(report).toMatchObject({ created: places.length, refused: 0 });
      expect(batches).toEqual([BULK_BATCH_RECORDS, BULK_BATCH_RECORDS, 50]);
      expect(db.$client.pragma('threads', { simple: true })).toBe(threads);
      // the secondary indexes the load dropped are back
      expect(db.$client.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'places_parent_idx'").pluck().get()).toBe(1);
      db.$client.close();
      expect(snapshot(file).rows).toMatchObject({ places: places.length });
    });
  });

  it('does not change the batch size of an import batch by batch', async () => {
    await inMigratedDatabase(async (_dir, file, db) => {
      const session = await beginSqliteImport(db, file);
      expect(session.mode).toBe('batches');
      expect(session.batchRecords).toBeUndefined();
      const batches: number[] = [];
      const places = Array.from({ length: 600 }, (_, i) => ({ ...placeKz, key: `place:p${i}` }));
      await importNdjson(session, Readable.from([Buffer.from(ndjson(places))]), { onBatchCommitted: (lines) => batches.push(lines.length) });
      expect(batches).toEqual([500, 100]);
      db.$client.close();
    });
  });

  it('ends the load with the reason when the parsing thread cannot read the file', async () => {
    await inMigratedDatabase(async (dir, file, db) => {
      const before = snapshot(file);
      const missing = path.join(dir, 'missing.ndjson');
      await expect(importNdjson(await beginSqliteImport(db, file, { bulkLoad: 'always' }), { parsed: parseFileInWorker(missing) })).rejects.toThrow(
        `cannot import ${missing}: ENOENT`,
      );
      expect(db.$client.inTransaction).toBe(false);
      db.$client.close();
      expect(snapshot(file)).toEqual(before);
    });
  });

  it('runs in the WAL, with the same result, when another connection has the database open', async () => {
    await inMigratedDatabase(async (_dir, file, db) => {
      const reader = new Database(file, { readonly: true });
      try {
        const session = await beginSqliteImport(db, file, { bulkLoad: 'when-empty' });
        expect(session.mode).toBe('bulk');
        const report = await importNdjson(session, Readable.from([Buffer.from(seedText)]), { batchSize: 7 });
        expect(report.created).toBe(seedRecords.length);
        expect(report.refused).toBe(0);
        expect(db.$client.pragma('journal_mode', { simple: true })).toBe('wal');
        expect(reader.prepare('SELECT count(*) FROM entries').pluck().get()).toBe(
          seedRecords.filter((r) => r.kind === 'event' || r.kind === 'statement').length,
        );
      } finally {
        reader.close();
      }
    });
  });

  it('keeps a server started during the load from opening the database, and says why', async () => {
    await inMigratedDatabase(async (_dir, file, db) => {
      const { beginBulkLoad } = await import('../src/storage/sqlite/bulk.js');
      const load = beginBulkLoad(db.$client, ['entries']);
      try {
        expect(db.$client.pragma('journal_mode', { simple: true })).toBe('delete');
        const server = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
          cwd: repo,
          env: { ...process.env, ANNALS_DB: file, PORT: '0', ANNALS_SEED: 'off', LOG_LEVEL: 'warn' },
          encoding: 'utf8',
          timeout: 60_000,
        });
        expect(server.status, server.stderr).toBe(1);
        expect(server.stderr).toContain('annals: failed to start: database is locked (another process is writing it');
      } finally {
        load.end(false);
      }
      expect(db.$client.pragma('journal_mode', { simple: true })).toBe('wal');
    });
  });

  it('ends the load even when a reader opened meanwhile keeps it from putting the WAL back', async () => {
    await inMigratedDatabase(async (_dir, file, db) => {
      const { beginBulkLoad } = await import('../src/storage/sqlite/bulk.js');
      const load = beginBulkLoad(db.$client, ['entries']);
      const reader = new Database(file, { readonly: true });
      try {
        reader.exec('BEGIN');
        expect(reader.prepare('SELECT count(*) FROM entries').pluck().get()).toBe(0);
        expect(() => load.end(false)).not.toThrow();
        expect(db.$client.inTransaction).toBe(false);
        expect(db.$client.pragma('journal_mode', { simple: true })).toBe('delete');
      } finally {
        reader.close();
      }
      // the next connection to open it puts the WAL back, as every one does
      db.$client.close();
      const { openDatabase } = await import('../src/storage/sqlite/client.js');
      const reopened = openDatabase(file);
      expect(reopened.$client.pragma('journal_mode', { simple: true })).toBe('wal');
      reopened.$client.close();
    });
  });

  it('leaves the database as it was when the process is killed during the load', async () => {
    await inMigratedDatabase(async (dir, file, db) => {
      db.$client.close();
      const before = snapshot(file);
      // Killed once the input is read and stored, before the load's transaction commits. A
      // page cache of 8 pages makes the load write to the database file before the kill, so
      // what is checked is the rollback of the hot journal it leaves (the load runs with a
      // rollback journal, src/storage/sqlite/bulk.ts), not only a transaction that never reached the file.
      const script = path.join(dir, 'kill.mts');
      writeFileSync(
        script,
        `import { openDatabase } from ${JSON.stringify(path.join(repo, 'src/storage/sqlite/client.ts'))};
import { importNdjson } from ${JSON.stringify(path.join(repo, 'src/import/ndjson.ts'))};
import { beginSqliteImport } from ${JSON.stringify(path.join(repo, 'src/storage/sqlite/import.ts'))};
const db = openDatabase(process.env.ANNALS_DB!);
db.$client.pragma('cache_size = 8');
async function* input() {
  yield Buffer.from(process.env.INPUT!);
  process.kill(process.pid, 'SIGKILL');
}
await importNdjson(await beginSqliteImport(db, process.env.ANNALS_DB!, { bulkLoad: 'always' }), input(), { batchSize: 7 });
`,
      );
      const run = spawnSync(process.execPath, ['--import', 'tsx', script], {
        cwd: repo,
        env: { ...process.env, ANNALS_DB: file, INPUT: seedText },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(run.signal, run.stderr).toBe('SIGKILL');
      expect(existsSync(`${file}-journal`)).toBe(true);
      // as the server or the next import opens it: the hot journal is rolled back
      const { openDatabase } = await import('../src/storage/sqlite/client.js');
      const reopened = openDatabase(file);
      expect(reopened.$client.pragma('journal_mode', { simple: true })).toBe('wal');
      reopened.$client.close();
      expect(existsSync(`${file}-journal`)).toBe(false);
      expect(snapshot(file)).toEqual(before);
    });
  });
});
