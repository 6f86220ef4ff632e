// Resilience of the real server process (`node --import tsx src/server.ts`) over loopback HTTP:
// kill -9 in the middle of large imports, writers and readers together, graceful shutdown with
// slow requests in flight, and an online backup under write load (plus, in process, that the
// backup copies one snapshot). Every test bounds its own time and SIGKILLs whatever server it
// left running in `afterEach`.
//
// The first three run on both engines: on PostgreSQL each server gets a fresh database
// (ANNALS_DB a URL), checked with SQL afterwards; the backup is SQLite's online backup of
// the file, and stays SQLite-only. PostgreSQL has its own failure modes instead of the file's:
// a server it cannot reach at start-up, and connections it ends under a running server.
//
// Knobs (environment):
//   RESILIENCE_SEED          seed of the PRNG that picks the kill moments (printed)
//   RESILIENCE_KILL_ROUNDS   kill -9 rounds (default 20; 8 on PostgreSQL)
//   RESILIENCE_IMPORT_LINES  lines of the large import file (default 20000; 2500 on PostgreSQL)
//   RESILIENCE_LOAD_SECONDS  duration of the writers-and-readers run (default 30)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, createReadStream } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import pg from 'pg';
import { backupDatabase } from '../src/storage/sqlite/backup.js';
import { openDatabase } from '../src/storage/sqlite/client.js';
import { runMigrations } from '../src/storage/sqlite/migrate.js';
import { BATCH_RECORDS as POSTGRES_BATCH_RECORDS } from '../src/storage/postgres/import.js';
import {
  REPO,
  SERVER_AUTH,
  checkDatabase,
  committedBatches,
  mulberry32,
  openForCheck,
  sleep,
  snapshotDatabase,
  startServer,
  stopAllServers,
  type LogLine,
  type ServerProcess,
} from './support/server.js';
import { describeEngines, describePg, freshPgDatabase, type Engine, type PgDatabase } from './support/pg.js';

type Json = Record<string, any>;

/** Records per import transaction (src/import/ndjson.ts; PostgreSQL's own: BATCH_RECORDS). */
const batchOf = (engine: Engine) => (engine === 'postgres' ? POSTGRES_BATCH_RECORDS : 500);
const envNumber = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'annals-resilience-'));
  dirs.push(dir);
  return dir;
};

const pgDatabases: PgDatabase[] = [];

afterEach(async () => {
  await stopAllServers();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  await Promise.all(pgDatabases.splice(0).map((database) => database.drop()));
});

/** ANNALS_DB for a server on a fresh database of `engine`: a file in a temp folder, or a new PostgreSQL database. */
async function serverDatabase(engine: Engine): Promise<string> {
  if (engine === 'sqlite') return path.join(tempDir(), 'annals.db');
  const database = await freshPgDatabase();
  pgDatabases.push(database);
  return database.url;
}

/** One query on a PostgreSQL database, over a connection of its own. */
async function pgQuery<Row>(url: string, text: string, values: unknown[] = []): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as Row[];
  } finally {
    await client.end();
  }
}

/**
 * Waits until no other connection is open to the database: the backends of a killed server
 * have noticed and ended, so that whatever they were committing is settled before a check.
 */
async function pgSettled(url: string): Promise<void> {
  const by = Date.now() + 20_000;
  for (;;) {
    const [row] = await pgQuery<{ n: number }>(
      url,
      `SELECT count(*)::integer AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    if (row!.n === 0) return;
    if (Date.now() > by) throw new Error(`${row!.n} connections still open to the database`);
    await sleep(50);
  }
}

/** Keys of the places whose key is LIKE `pattern`, on either engine. */
async function placeKeysLike(engine: Engine, database: string, pattern: string): Promise<string[]> {
  if (engine === 'postgres') {
    return (await pgQuery<{ key: string }>(database, `SELECT key FROM places WHERE key LIKE $1`, [pattern])).map((row) => row.key);
  }
  const db = openForCheck(database);
  try {
    return db.prepare(`SELECT key FROM places WHERE key LIKE ?`).pluck().all(pattern) as string[];
  } finally {
    db.close();
  }
}

/** The SQLite file passes its integrity, foreign-key and search-index checks (PostgreSQL's server keeps its own). */
function expectIntactFile(databasePath: string): void {
  const db = openForCheck(databasePath);
  try {
    expect(checkDatabase(db)).toEqual({ integrity: 'ok', foreignKeyViolations: 0, searchIndex: 'ok' });
  } finally {
    db.close();
  }
}

const ndjson = (records: object[]) => records.map((r) => `${JSON.stringify(r)}\n`).join('');

/** Log lines at error level or above (pino: 50 error, 60 fatal). */
const errorLogs = (logs: LogLine[]) => logs.filter((line) => (line.level ?? 0) >= 50);

interface HttpOutcome {
  status?: number;
  body?: string;
  /** Network error code (ECONNREFUSED, ECONNRESET, ...) when there was no complete response. */
  error?: string;
}

/** POSTs an import over its own connection; `write` feeds the request body. */
function importRequest(url: string, write: (request: http.ClientRequest) => void): Promise<HttpOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: HttpOutcome) => {
      if (!settled) {
        settled = true;
        resolve(outcome);
      }
    };
    const request = http.request(`${url}/v1/import`, {
      method: 'POST',
      agent: false,
      headers: { ...SERVER_AUTH, 'content-type': 'application/x-ndjson' },
    });
    request.on('error', (error: NodeJS.ErrnoException) => settle({ error: error.code ?? error.message }));
    request.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('error', (error: NodeJS.ErrnoException) => settle({ error: error.code ?? error.message }));
      response.on('close', () =>
        settle(response.complete ? { status: response.statusCode!, body } : { error: 'incomplete response' }),
      );
    });
    write(request);
  });
}

/** A plain request over a new connection (never a pooled one), with a time limit. */
function freshRequest(url: string, method: string, urlPath: string, body?: string, timeoutMs = 5000): Promise<HttpOutcome> {
  return new Promise((resolve) => {
    const request = http.request(`${url}${urlPath}`, {
      method,
      agent: false,
      timeout: timeoutMs,
      headers: { ...SERVER_AUTH, ...(body === undefined ? {} : { 'content-type': 'application/x-ndjson' }) },
    });
    request.on('timeout', () => request.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    request.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    request.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body: text }));
      response.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    });
    request.end(body);
  });
}

// ---------------------------------------------------------------------------------------------
// 1. kill -9 during a large import
// ---------------------------------------------------------------------------------------------

/**
 * The large file of one round: independent records whose key encodes round and line
 * (`place:r07-l000123`). Every 25th line is an event with two tags (and a search document),
 * so that "a record is whole" can be checked on records with child rows; the rest are places,
 * which import fast. No record refers to another, so every record is stored in the batch of
 * its own line.
 */
function largeImportFile(round: number, lines: number): string {
  const r = `r${String(round).padStart(2, '0')}`;
  const out: string[] = [];
  for (let line = 1; line <= lines; line++) {
    const id = `${r}-l${String(line).padStart(6, '0')}`;
    out.push(
      JSON.stringify(
        line % 25 === 0
          ? { kind: 'event', key: `event:${id}`, type: 'test', date: '2022-01-02', title: { en: `Event of line ${line}` }, tags: ['resilience', r] }
          : { kind: 'place', key: `place:${id}`, type: 'site', name: { en: `Place of line ${line}` } },
      ),
    );
  }
  return `${out.join('\n')}\n`;
}

interface RoundCheck {
  /** SQLite's checks of the file (null on PostgreSQL, which checks its constraints on every write and recovers from its own log). */
  file: ReturnType<typeof checkDatabase> | null;
  /** Line numbers stored for this round, ascending. */
  stored: number[];
  /** Events of this round that lack a tag or their search document. */
  brokenEvents: string[];
  /** Records stored per round prefix, over the whole database. */
  perRound: Map<string, number>;
}

/** What a round stored, from the database `databasePath` names after the kill. */
async function checkRound(engine: Engine, databasePath: string, round: number): Promise<RoundCheck> {
  if (engine === 'postgres') return checkRoundPg(databasePath, round);
  const snapshot = `${databasePath}.check-${round}`;
  snapshotDatabase(databasePath, snapshot);
  try {
    return checkRoundFile(snapshot, round);
  } finally {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${snapshot}${suffix}`, { force: true });
  }
}

function checkRoundFile(file: string, round: number): RoundCheck {
  const r = `r${String(round).padStart(2, '0')}`;
  const db = openForCheck(file);
  try {
    const integrity = checkDatabase(db);
    const keys = db
      .prepare(`SELECT key FROM places WHERE key LIKE ? UNION ALL SELECT key FROM entries WHERE key LIKE ?`)
      .pluck()
      .all(`place:${r}-l%`, `event:${r}-l%`) as string[];
    const stored = keys.map((key) => Number(key.slice(key.lastIndexOf('-l') + 2))).sort((a, b) => a - b);
    const events = db
      .prepare(
        `SELECT e.key,
           (SELECT count(*) FROM entry_tags t WHERE t.entry_id = e.id) AS tags,
           (SELECT count(*) FROM search_index s WHERE s.rowid = e.id) AS docs
         FROM entries e WHERE e.key LIKE ?`,
      )
      .all(`event:${r}-l%`) as { key: string; tags: number; docs: number }[];
    const brokenEvents = events.filter((e) => e.tags !== 2 || e.docs !== 1).map((e) => e.key);
    const perRound = new Map(
      (
        db
          .prepare(
            `SELECT substr(key, instr(key, ':') + 1, 3) AS round, count(*) AS n
             FROM (SELECT key FROM places UNION ALL SELECT key FROM entries)
             WHERE key GLOB '*:r[0-9][0-9]-l*' GROUP BY round`,
          )
          .all() as { round: string; n: number }[]
      ).map((row) => [row.round, row.n]),
    );
    return { file: integrity, stored, brokenEvents, perRound };
  } finally {
    db.close();
  }
}

async function checkRoundPg(url: string, round: number): Promise<RoundCheck> {
  const r = `r${String(round).padStart(2, '0')}`;
  await pgSettled(url);
  const keys = await pgQuery<{ key: string }>(
    url,
    `SELECT key FROM places WHERE key LIKE $1 UNION ALL SELECT key FROM entries WHERE key LIKE $2`,
    [`place:${r}-l%`, `event:${r}-l%`],
  );
  const stored = keys.map(({ key }) => Number(key.slice(key.lastIndexOf('-l') + 2))).sort((a, b) => a - b);
  const events = await pgQuery<{ key: string; tags: number; docs: number }>(
    url,
    `SELECT e.key,
       (SELECT count(*)::integer FROM entry_tags t WHERE t.entry_id = e.id) AS tags,
       (SELECT count(*)::integer FROM search_index s WHERE s.entry_id = e.id) AS docs
     FROM entries e WHERE e.key LIKE $1`,
    [`event:${r}-l%`],
  );
  const brokenEvents = events.filter((e) => e.tags !== 2 || e.docs !== 1).map((e) => e.key);
  const rounds = await pgQuery<{ round: string; n: number }>(
    url,
    `SELECT substr(key, strpos(key, ':') + 1, 3) AS round, count(*)::integer AS n
     FROM (SELECT key FROM places UNION ALL SELECT key FROM entries) AS stored
     WHERE key ~ ':r[0-9]{2}-l' GROUP BY round`,
  );
  return { file: null, stored, brokenEvents, perRound: new Map(rounds.map((row) => [row.round, row.n])) };
}

describeEngines('kill -9 during a large import', (engine) => {
  // One database for every round, the server restarted on it each time: each start after a
  // kill does the WAL crash recovery itself, and earlier rounds' records must survive every
  // later kill. Keys carry the round, so each round's batches are checked on their own (every
  // round's records are new, never updates). Each round is checked on a copy of the files
  // taken after the kill (main file + WAL), so that the original stays exactly as the crash
  // left it for the next start. Kill moments are uniform over [0, 0.95 × the calibrated import
  // time]. 20k lines with mostly places take ~4 s to import; with ~2 s of start-up per round, the
  // 20 rounds plus the calibration run take about 1.5 minutes (a fresh database per round would
  // save little: start-up is the same, and checks of the grown file cost well under a second).
  // PostgreSQL imports batch by batch several times slower (a round trip per statement): a
  // smaller file and fewer rounds keep its half as long as SQLite's, and still kill mid-import
  const rounds = envNumber('RESILIENCE_KILL_ROUNDS', engine === 'sqlite' ? 20 : 8);
  const lines = envNumber('RESILIENCE_IMPORT_LINES', engine === 'sqlite' ? 20_000 : 2_500);
  const seed = envNumber('RESILIENCE_SEED', 0x5eed_a11);
  const BATCH = batchOf(engine);

  it(
    `keeps every acknowledged batch, and only whole batches (${rounds} kills)`,
    async () => {
      expect(lines % BATCH, 'the file is whole batches').toBe(0);
      const random = mulberry32(seed);
      console.log(`[kill -9] seed ${seed} (RESILIENCE_SEED), ${rounds} rounds of ${lines} lines`);
      const dir = tempDir();
      const databasePath = await serverDatabase(engine);
      const expectedPerRound = new Map<string, number>();

      // Round 0 calibrates: an import that runs to its end, which also checks that a whole
      // import logs every batch and stores every line. Its duration bounds the kill moments.
      const calibrationFile = path.join(dir, 'round-00.ndjson');
      writeFileSync(calibrationFile, largeImportFile(0, lines));
      let server: ServerProcess = await startServer({ databasePath });
      const started = Date.now();
      const fullImport = importRequest(server.url, (request) => pipeline(createReadStream(calibrationFile), request, () => {}));
      // Other requests are served while the import runs: it lets the event loop turn between
      // batches (were it to hold the loop for the whole import, they would wait for its end,
      // and under-pressure would then answer 503 for a while).
      const probes: HttpOutcome[] = [];
      let importDone = false;
      void fullImport.then(() => (importDone = true));
      while (!importDone) {
        await sleep(250);
        if (!importDone) probes.push(await freshRequest(server.url, 'GET', '/healthz'));
      }
      const full = await fullImport;
      const importMs = Date.now() - started;
      expect(
        probes.filter((p) => p.status !== 200),
        'health checks during the import',
      ).toEqual([]);
      expect(full.status, full.body ?? full.error).toBe(200);
      expect(JSON.parse(full.body!)).toMatchObject({ lines, created: lines, refused: 0 });
      // the log reaches the pipe on its own schedule: the response can come before its last lines
      await server.waitForLog((l) => l.msg === 'request completed', 10_000);
      expect(committedBatches(server.logs).map((b) => b.records)).toEqual(Array(lines / BATCH).fill(BATCH));
      expect((await server.stop()).code).toBe(0);
      expectedPerRound.set('r00', lines);
      console.log(
        `[kill -9] calibration: a whole import of ${lines} lines took ${importMs} ms; ${probes.length} health checks during it, all 200`,
      );

      const summary: string[] = [];
      for (let round = 1; round <= rounds; round++) {
        const r = `r${String(round).padStart(2, '0')}`;
        const file = path.join(dir, `round-${round}.ndjson`);
        writeFileSync(file, largeImportFile(round, lines));
        // the server starts on the database the previous kill left (hot WAL and all)
        server = await startServer({ databasePath });
        const delay = Math.round(random() * 0.95 * importMs);
        const outcome = importRequest(server.url, (request) => pipeline(createReadStream(file), request, () => {}));
        await Promise.race([sleep(delay), outcome]);
        const exit = await server.kill();
        const response = await outcome;
        rmSync(file, { force: true });
        expect(exit.signal, 'the server died of the SIGKILL').toBe('SIGKILL');

        const acked = committedBatches(server.logs);
        const check = await checkRound(engine, databasePath, round);

        const context = `round ${round} (seed ${seed}, kill at ${delay} ms)`;
        if (check.file) expect(check.file, context).toEqual({ integrity: 'ok', foreignKeyViolations: 0, searchIndex: 'ok' });
        expect(check.brokenEvents, `${context}: events stored in part`).toEqual([]);
        // acknowledged batches: consecutive, whole, in order
        acked.forEach((batch, i) => {
          expect(batch, `${context}: acknowledged batch ${i + 1}`).toMatchObject({
            firstLine: i * BATCH + 1,
            lastLine: (i + 1) * BATCH,
            records: BATCH,
          });
        });
        // what is stored: lines 1..n with no gap, n a whole number of batches (no batch in part)
        const n = check.stored.length;
        expect(check.stored, `${context}: stored lines are a gapless prefix`).toEqual(
          Array.from({ length: n }, (_, i) => i + 1),
        );
        expect(n % BATCH, `${context}: ${n} lines stored, not whole batches`).toBe(0);
        // every acknowledged batch is there
        expect(n, `${context}: acknowledged lines missing`).toBeGreaterThanOrEqual(acked.length * BATCH);
        // earlier rounds lost nothing
        for (const [earlier, count] of expectedPerRound) {
          expect(check.perRound.get(earlier) ?? 0, `${context}: records of ${earlier}`).toBe(count);
        }
        expectedPerRound.set(r, n);

        const unlogged = n / BATCH - acked.length;
        const how = response.status === 200 ? 'import had completed' : `client saw ${response.error ?? response.status}`;
        summary.push(
          `round ${String(round).padStart(2)}: kill at ${String(delay).padStart(5)} ms, ${String(acked.length).padStart(2)} batches acknowledged, ` +
            `${String(n / BATCH).padStart(2)} stored${unlogged > 0 ? ` (${unlogged} committed, not yet logged)` : ''}; ${how}`,
        );
      }
      console.log(`[kill -9] seed ${seed}\n${summary.join('\n')}`);

      // the database as the last kill left it, recovered by a last clean start and stop
      server = await startServer({ databasePath });
      expect((await server.stop()).code).toBe(0);
      if (engine === 'sqlite') expectIntactFile(databasePath);
    },
    400_000,
  );
});

// ---------------------------------------------------------------------------------------------
// 2. writers and readers together
// ---------------------------------------------------------------------------------------------

interface Call {
  status: number;
  text: string;
  json?: any;
}

class Traffic {
  readonly counts = new Map<string, number>();
  /** Milliseconds spent per label (for the report, not asserted). */
  readonly millis = new Map<string, number>();
  readonly statuses = new Map<number, number>();
  readonly anomalies: string[] = [];
  constructor(private readonly base: string) {}

  async call(label: string, method: string, urlPath: string, body?: unknown, expectStatus?: number[]): Promise<Call | null> {
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
    let response: Response;
    let text: string;
    const started = performance.now();
    try {
      response = await fetch(`${this.base}${urlPath}`, {
        method,
        headers: {
          ...SERVER_AUTH,
          ...(body === undefined
            ? {}
            : { 'content-type': typeof body === 'string' ? 'application/x-ndjson' : 'application/json' }),
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
      text = await response.text();
    } catch (error) {
      this.note(`${label} ${method} ${urlPath}: network error ${(error as Error).message}`);
      return null;
    } finally {
      this.millis.set(label, (this.millis.get(label) ?? 0) + performance.now() - started);
    }
    this.statuses.set(response.status, (this.statuses.get(response.status) ?? 0) + 1);
    if (response.status >= 500) this.note(`${label} ${method} ${urlPath}: ${response.status} ${text.slice(0, 300)}`);
    else if (expectStatus && !expectStatus.includes(response.status)) {
      this.note(`${label} ${method} ${urlPath}: unexpected ${response.status} ${text.slice(0, 300)}`);
    }
    if (/SQLITE_BUSY|database is locked/i.test(text)) this.note(`${label} ${method} ${urlPath}: SQLITE_BUSY in the body`);
    const type = response.headers.get('content-type') ?? '';
    let json: any;
    if (type.includes('json') && !type.includes('ndjson')) {
      try {
        json = JSON.parse(text);
      } catch {
        this.note(`${label} ${method} ${urlPath}: unparsable JSON body`);
      }
    }
    return { status: response.status, text, json };
  }

  note(anomaly: string) {
    this.anomalies.push(anomaly);
  }

  get total() {
    return [...this.counts.values()].reduce((a, b) => a + b, 0);
  }
}

/** The same list request, at the page the cursor names. */
function withCursor(urlPath: string, cursor: string): string {
  const url = new URL(urlPath, 'http://localhost');
  url.searchParams.set('cursor', cursor);
  return `${url.pathname}${url.search}`;
}

interface ExpectedEntry {
  kind: 'event' | 'statement' | 'place';
  key: string;
  /** title (events), text (statements) or name (places), in English */
  label: string;
  tags?: string[];
  deleted: boolean;
}

describeEngines('writers and readers together', (engine) => {
  const seconds = envNumber('RESILIENCE_LOAD_SECONDS', 30);

  it(
    `answers every request for ${seconds} s without a 5xx, and keeps every acknowledged write`,
    async () => {
      const server = await startServer({ databasePath: await serverDatabase(engine) });
      const traffic = new Traffic(server.url);
      const random = mulberry32(envNumber('RESILIENCE_SEED', 0x5eed_a11) + 2);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
      const day = () => `2022-01-${String(1 + Math.floor(random() * 28)).padStart(2, '0')}`;

      const placeKeys = Array.from({ length: 6 }, (_, i) => `place:mix-p${i}`);
      const actorKeys = Array.from({ length: 3 }, (_, i) => `actor:mix-a${i}`);
      const setup = await traffic.call(
        'setup',
        'POST',
        '/v1/import',
        ndjson([
          ...placeKeys.map((key, i) => ({ kind: 'place', key, type: 'city', name: { en: `Mixtown ${i}` } })),
          ...actorKeys.map((key, i) => ({ kind: 'actor', key, type: 'person', name: { en: `Speaker ${i}` } })),
        ]),
        [200],
      );
      expect(setup?.json).toMatchObject({ created: placeKeys.length + actorKeys.length, refused: 0 });

      const expected = new Map<string, ExpectedEntry>();
      const deadline = Date.now() + seconds * 1000;
      const live = (prefix: string) =>
        [...expected.values()].filter((e) => !e.deleted && e.key.startsWith(prefix)).map((e) => e.key);

      const eventWriter = async (w: number) => {
        for (let i = 0; Date.now() < deadline; i++) {
          const key = `event:mix-w${w}-${i}`;
          const title = `Writer ${w} event ${i}`;
          const tags = ['mix', `w${w}`];
          const created = await traffic.call(
            'POST /v1/events',
            'POST',
            '/v1/events',
            { key, type: 'test', date: day(), title: { en: title }, tags, places: [pick(placeKeys)] },
            [201],
          );
          if (created?.status === 201) expected.set(key, { kind: 'event', key, label: title, tags, deleted: false });
          const mine = live(`event:mix-w${w}-`);
          if (i % 3 === 2 && mine.length > 0) {
            const target = pick(mine);
            const newTitle = `${expected.get(target)!.label} (changed ${i})`;
            const newTags = ['mix', `w${w}`, `changed${i % 5}`];
            const patched = await traffic.call(
              'PATCH /v1/events/:id',
              'PATCH',
              `/v1/events/${encodeURIComponent(target)}`,
              { title: { en: newTitle }, tags: newTags },
              [200],
            );
            if (patched?.status === 200) Object.assign(expected.get(target)!, { label: newTitle, tags: newTags });
          }
          if (i % 7 === 6 && mine.length > 1) {
            const target = pick(mine);
            const deleted = await traffic.call('DELETE /v1/events/:id', 'DELETE', `/v1/events/${encodeURIComponent(target)}`, undefined, [204]);
            if (deleted?.status === 204) expected.get(target)!.deleted = true;
          }
        }
      };

      const statementWriter = async (w: number) => {
        for (let i = 0; Date.now() < deadline; i++) {
          const key = `stmt:mix-s${w}-${i}`;
          const text = `Speaker says ${w}/${i}`;
          const created = await traffic.call(
            'POST /v1/statements',
            'POST',
            '/v1/statements',
            { key, type: 'quote', date: day(), speaker: pick(actorKeys), text: { en: text }, about: { places: [pick(placeKeys)] } },
            [201],
          );
          if (created?.status === 201) expected.set(key, { kind: 'statement', key, label: text, deleted: false });
          const mine = live(`stmt:mix-s${w}-`);
          if (i % 3 === 1 && mine.length > 0) {
            const target = pick(mine);
            const newText = `${expected.get(target)!.label} (revised ${i})`;
            const patched = await traffic.call(
              'PATCH /v1/statements/:id',
              'PATCH',
              `/v1/statements/${encodeURIComponent(target)}`,
              { text: { en: newText } },
              [200],
            );
            if (patched?.status === 200) expected.get(target)!.label = newText;
          }
          if (i % 5 === 4 && mine.length > 1) {
            const target = pick(mine);
            const deleted = await traffic.call(
              'DELETE /v1/statements/:id',
              'DELETE',
              `/v1/statements/${encodeURIComponent(target)}`,
              undefined,
              [204],
            );
            if (deleted?.status === 204) expected.get(target)!.deleted = true;
          }
        }
      };

      /** Small imports: events first, referring to places that come later in the same file. */
      const importer = async () => {
        const files: string[] = [];
        for (let j = 0; Date.now() < deadline; j++) {
          if (j % 5 === 4) {
            // the same file again changes nothing
            const again = await traffic.call('POST /v1/import (again)', 'POST', '/v1/import', pick(files), [200]);
            if (again?.json && (again.json.created !== 0 || again.json.unchanged !== 20)) {
              traffic.note(`re-import changed something: ${again.text}`);
            }
            continue;
          }
          const records = Array.from({ length: 10 }, (_, k) => ({
            kind: 'event',
            key: `event:mix-imp${j}-${k}`,
            type: 'imported',
            date: day(),
            title: { en: `Imported ${j}/${k}` },
            places: [`place:mix-imp${j}-${k}`],
            tags: ['mix', 'imp'],
          }));
          const places = Array.from({ length: 10 }, (_, k) => ({
            kind: 'place',
            key: `place:mix-imp${j}-${k}`,
            type: 'site',
            name: { en: `Imported place ${j}/${k}` },
          }));
          const body = ndjson([...records, ...places]);
          const result = await traffic.call('POST /v1/import', 'POST', '/v1/import', body, [200]);
          if (result?.status !== 200) continue;
          if (result.json?.created !== 20 || result.json?.refused !== 0) traffic.note(`import ${j}: ${result.text}`);
          files.push(body);
          for (const r of records) expected.set(r.key, { kind: 'event', key: r.key, label: r.title.en, tags: r.tags, deleted: false });
          for (const p of places) expected.set(p.key, { kind: 'place', key: p.key, label: p.name.en, deleted: false });
        }
      };

      const reads: Array<() => string> = [
        () => `/v1/timeline?from=2022-01-01&to=2022-01-31&tag=mix&limit=50`,
        () => `/v1/timeline?from=${day()}&to=2022-01-31&match=within&order=desc&limit=20`,
        () => `/v1/timeline?place=${pick(placeKeys)}&kind=event&limit=30`,
        () => `/v1/timeline?actor=${pick(actorKeys)}&role=speaker&limit=30`,
        () => `/v1/timeline?q=Writer&limit=20`,
        () => `/v1/timeline?q=Imported&sort=relevance&highlight=true&limit=10`,
        () => `/v1/timeline?type=imported&format=csv`,
        () => `/v1/timeline/histogram?interval=day&tag=mix`,
        () => `/v1/events?tag=w${Math.floor(random() * 3)}&limit=50`,
        () => `/v1/statements?limit=50&order=desc`,
        () => `/v1/places?limit=100`,
        () => `/v1/actors`,
        () => `/v1/export`,
        () => `/v1/export?tag=imp`,
      ];
      const reader = async () => {
        while (Date.now() < deadline) {
          let urlPath: string | null = pick(reads)();
          const label = `GET ${urlPath.split('?')[0]}`;
          // follow a list's cursor for a few pages
          for (let page = 0; urlPath !== null && page < 3; page++) {
            const result = await traffic.call(label, 'GET', urlPath, undefined, [200]);
            const next: string | null | undefined = result?.json?.page?.nextCursor;
            urlPath = next ? withCursor(urlPath, next) : null;
            if (result && label.startsWith('GET /v1/export')) {
              for (const line of result.text.split('\n').filter(Boolean)) {
                try {
                  JSON.parse(line);
                } catch {
                  traffic.note(`${label}: a line of the export is not JSON`);
                  break;
                }
              }
            }
          }
        }
      };

      const started = Date.now();
      await Promise.all([
        eventWriter(0),
        eventWriter(1),
        eventWriter(2),
        statementWriter(0),
        statementWriter(1),
        importer(),
        reader(),
        reader(),
        reader(),
        reader(),
      ]);
      const elapsed = (Date.now() - started) / 1000;
      const duringLoad = traffic.total;

      // Afterwards: every acknowledged write reads back, from the export and one by one.
      const exported = await traffic.call('verify GET /v1/export', 'GET', '/v1/export', undefined, [200]);
      const byKey = new Map<string, Json>(
        (exported?.text ?? '')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as Json)
          .map((record) => [record.key as string, record]),
      );
      const missing: string[] = [];
      for (const entry of expected.values()) {
        const record = byKey.get(entry.key);
        if (entry.deleted) {
          if (record) missing.push(`${entry.key}: deleted, but exported`);
          continue;
        }
        if (!record) {
          missing.push(`${entry.key}: not in the export`);
          continue;
        }
        const label = entry.kind === 'event' ? record.title?.en : entry.kind === 'statement' ? record.text?.en : record.name?.en;
        if (label !== entry.label) missing.push(`${entry.key}: ${JSON.stringify(label)}, expected ${JSON.stringify(entry.label)}`);
        if (entry.tags && JSON.stringify(record.tags) !== JSON.stringify(entry.tags)) {
          missing.push(`${entry.key}: tags ${JSON.stringify(record.tags)}, expected ${JSON.stringify(entry.tags)}`);
        }
      }
      const resource = { event: 'events', statement: 'statements', place: 'places' } as const;
      const all = [...expected.values()];
      const queue = all.filter((_, i) => i % Math.max(1, Math.floor(all.length / 600)) === 0);
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let entry = queue.pop(); entry; entry = queue.pop()) {
            const result = await traffic.call(
              `verify GET /v1/${resource[entry.kind]}/:id`,
              'GET',
              `/v1/${resource[entry.kind]}/${encodeURIComponent(entry.key)}`,
              undefined,
              [entry.deleted ? 404 : 200],
            );
            if (!entry.deleted && result?.status === 200) {
              const label = entry.kind === 'event' ? result.json?.title?.en : entry.kind === 'statement' ? result.json?.text?.en : result.json?.name?.en;
              if (label !== entry.label) missing.push(`GET ${entry.key}: ${JSON.stringify(label)}, expected ${JSON.stringify(entry.label)}`);
            }
          }
        }),
      );

      const errors = errorLogs(server.logs);
      const busyLogs = server.logs.filter((line) => /SQLITE_BUSY|database is locked/i.test(JSON.stringify(line)));
      const stop = await server.stop();
      const counts = [...traffic.counts.entries()]
        .sort()
        .map(([label, n]) => `  ${label}: ${n} (mean ${((traffic.millis.get(label) ?? 0) / n).toFixed(0)} ms)`);
      const statuses = [...traffic.statuses.entries()].sort().map(([status, n]) => `${status}×${n}`);
      const kinds = (kind: string, deleted: boolean) => all.filter((e) => e.kind === kind && e.deleted === deleted).length;
      console.log(
        `[writers+readers] ${duringLoad} requests in ${elapsed.toFixed(1)} s (${(duringLoad / elapsed).toFixed(0)}/s), ` +
          `${traffic.total} with the verification; statuses ${statuses.join(' ')}\n${counts.join('\n')}\n` +
          `  acknowledged, checked afterwards: ${kinds('event', false)} events, ${kinds('statement', false)} statements, ` +
          `${kinds('place', false)} places live; ${kinds('event', true)} events and ${kinds('statement', true)} statements deleted`,
      );
      expect(traffic.anomalies.slice(0, 20), `${traffic.anomalies.length} anomalies`).toEqual([]);
      expect([...traffic.statuses.keys()].filter((s) => s >= 500)).toEqual([]);
      expect(busyLogs.length, 'SQLITE_BUSY in the server log').toBe(0);
      expect(errors.slice(0, 5), 'error log lines').toEqual([]);
      expect(missing.slice(0, 20), `${missing.length} acknowledged writes not read back`).toEqual([]);
      expect(stop.code).toBe(0);
    },
    (seconds + 150) * 1000,
  );
});

// ---------------------------------------------------------------------------------------------
// 3. graceful shutdown with 50 slow requests in flight
// ---------------------------------------------------------------------------------------------

describeEngines('graceful shutdown', (engine) => {
  it(
    'finishes 50 slow imports in flight, refuses new requests, exits 0 with every record stored',
    async () => {
      const CLIENTS = 50;
      const LINES = 20;
      const INTERVAL = 100; // ms between lines: each upload lasts ~2 s
      const databasePath = await serverDatabase(engine);
      const server = await startServer({ databasePath });

      const sent = new Array<number>(CLIENTS).fill(0);
      const finished = new Array<boolean>(CLIENTS).fill(false);
      const line = (c: number, l: number) =>
        `${JSON.stringify({ kind: 'place', key: `place:slow-c${c}-l${l}`, type: 'site', name: { en: `Slow ${c}/${l}` } })}\n`;
      const uploads = Array.from({ length: CLIENTS }, (_, c) =>
        importRequest(server.url, (request) => {
          const next = () => {
            if (request.destroyed) return;
            sent[c]! += 1;
            if (sent[c]! < LINES) {
              request.write(line(c, sent[c]!));
              setTimeout(next, INTERVAL);
            } else request.end(line(c, sent[c]!));
          };
          request.flushHeaders();
          setTimeout(next, INTERVAL);
        }).then((outcome) => {
          finished[c] = true;
          return outcome;
        }),
      );

      // every request has reached its handler and is part-way through its body
      const arrived = () => server.logs.filter((l) => l.msg === 'incoming request' && (l.req as Json)?.url === '/v1/import').length;
      const readyBy = Date.now() + 10_000;
      while ((arrived() < CLIENTS || Math.min(...sent) < 3) && Date.now() < readyBy) await sleep(10);
      expect(arrived(), 'imports arrived').toBe(CLIENTS);
      const sentAtSignal = [...sent];
      server.child.kill('SIGTERM');
      expect(finished.filter(Boolean).length, 'uploads already done at the signal').toBe(0);
      expect(Math.max(...sentAtSignal), 'lines sent at the signal').toBeLessThan(LINES);
      await server.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('shutting down'), 5000);

      // New requests after the signal are refused: no connection, or a 503. A connection that
      // the kernel queued just before the listening socket closed is reset instead (it never
      // reaches the server): the probes go on until a clean refusal, and none may be served.
      const refused = (o: HttpOutcome) => o.error === 'ECONNREFUSED' || o.status === 503;
      const probes: HttpOutcome[] = [];
      for (let attempt = 0; attempt < 100; attempt++) {
        const probe = await freshRequest(server.url, 'GET', '/healthz');
        const probeImport = await freshRequest(server.url, 'POST', '/v1/import', line(999, attempt + 1));
        probes.push(probe, probeImport);
        if (refused(probe) && refused(probeImport)) break;
        await sleep(20);
      }
      const served = probes.filter((o) => !(refused(o) || o.error === 'ECONNRESET'));
      expect(served, 'requests after SIGTERM that were not refused').toEqual([]);
      expect(probes.slice(-2).every(refused), `last probes: ${JSON.stringify(probes.slice(-2))}`).toBe(true);
      const probeSummary = [...new Set(probes.map((o) => o.error ?? String(o.status)))].join(', ');

      const outcomes = await Promise.all(uploads);
      const exit = await Promise.race([server.exited, sleep(15_000).then(() => null)]);
      const shutdownLog = server.logs.slice(-3).map((l) => l.msg);
      console.log(
        `[graceful shutdown] SIGTERM with ${CLIENTS} uploads in flight (lines sent ${Math.min(...sentAtSignal)}..${Math.max(...sentAtSignal)} of ${LINES}); ` +
          `${probes.length} new requests after it: ${probeSummary}; exit ${JSON.stringify(exit)}`,
      );
      outcomes.forEach((outcome, c) => {
        expect(outcome.status, `upload ${c}: ${outcome.error ?? outcome.body}`).toBe(200);
        expect(JSON.parse(outcome.body!), `upload ${c}`).toMatchObject({ lines: LINES, created: LINES, refused: 0, errors: [] });
      });
      expect(exit, `the process exits (last log lines: ${JSON.stringify(shutdownLog)})`).toEqual({ code: 0, signal: null });
      expect(errorLogs(server.logs)).toEqual([]);

      if (engine === 'sqlite') expectIntactFile(databasePath);
      const keys = new Set(await placeKeysLike(engine, databasePath, 'place:slow-%'));
      const want = Array.from({ length: CLIENTS }, (_, c) => Array.from({ length: LINES }, (_, l) => `place:slow-c${c}-l${l + 1}`)).flat();
      expect(want.filter((key) => !keys.has(key))).toEqual([]);
      expect(keys.size).toBe(CLIENTS * LINES);
      expect([...keys].filter((key) => key.startsWith('place:slow-c999-')), 'imports after SIGTERM').toEqual([]);
    },
    60_000,
  );
});

// ---------------------------------------------------------------------------------------------
// 4. backup under write load
// ---------------------------------------------------------------------------------------------

// SQLite only: the online backup API copies the file; PostgreSQL is backed up with its own tools.
describe('backup under write load', () => {
  it(
    'copies one snapshot: writes by another connection during the copy neither restart it nor get in',
    async () => {
      const dir = tempDir();
      const file = path.join(dir, 'annals.db');
      const source = openDatabase(file);
      const writer = new Database(file);
      try {
        runMigrations(source);
        const insert = source.$client.prepare(
          `INSERT INTO places (key, type, name, created_at, updated_at) VALUES (?, 'site', ?, '2022-01-01T00:00:00.000Z', '2022-01-01T00:00:00.000Z')`,
        );
        // ~2000 pages: eight steps of 256
        source.$client.transaction(() => {
          for (let i = 0; i < 50_000; i++) insert.run(`place:fill-${i}`, JSON.stringify({ en: `Filler place number ${i}` }));
        })();
        const before = source.$client.prepare('SELECT count(*) FROM places').pluck().get() as number;

        // another connection writes between every two steps of the copy (both turn on setImmediate)
        writer.pragma('busy_timeout = 5000');
        const write = writer.prepare(
          `INSERT INTO places (key, type, name, created_at, updated_at) VALUES (?, 'site', '{"en":"during"}', '2022-01-01T00:00:00.000Z', '2022-01-01T00:00:00.000Z')`,
        );
        let done = false;
        const copy = backupDatabase(source, path.join(dir, 'copy.db')).finally(() => (done = true));
        let writes = 0;
        // bounded: a copy that restarts on every write would otherwise never end
        while (!done && writes < 5000) {
          write.run(`place:during-${writes++}`);
          await new Promise((resolve) => setImmediate(resolve));
        }
        const { pages, integrity } = await copy;
        const copied = openForCheck(path.join(dir, 'copy.db'), true);
        try {
          const count = copied.prepare('SELECT count(*) FROM places').pluck().get();
          console.log(`[backup snapshot] ${pages} pages copied while another connection wrote ${String(writes)} times; the copy holds ${String(count)} places, ${String(before)} before the copy`);
          expect(integrity).toBe('ok');
          expect(writes, 'writes during the copy').toBeGreaterThan(0);
          expect(count, 'the copy is the database as of its start').toBe(before);
        } finally {
          copied.close();
        }
      } finally {
        writer.close();
        source.$client.close();
      }
    },
    60_000,
  );

  it(
    'copies a consistent database while writers write',
    async () => {
      const TAGS = 3;
      const PLACES = 2;
      const dir = tempDir();
      const databasePath = path.join(dir, 'annals.db');
      const target = path.join(dir, 'backup.db');
      // Enough data that the copy takes many steps of 256 pages (~4000 pages, 16 MB), so that
      // writes land between them. The filler goes in directly, before the server starts: through
      // the API it would take a while.
      const fill = 100_000;
      const placeKeys = Array.from({ length: 10 }, (_, i) => `place:bk-p${i}`);
      const setup = openDatabase(databasePath);
      try {
        runMigrations(setup);
        const insert = setup.$client.prepare(
          `INSERT INTO places (key, type, name, created_at, updated_at) VALUES (?, 'site', ?, '2022-01-01T00:00:00.000Z', '2022-01-01T00:00:00.000Z')`,
        );
        setup.$client.transaction(() => {
          placeKeys.forEach((key, i) => insert.run(key, JSON.stringify({ en: `Backup town ${i}` })));
          for (let i = 0; i < fill; i++) insert.run(`place:bk-fill-${i}`, JSON.stringify({ en: `Filler place number ${i}` }));
        })();
      } finally {
        setup.$client.close();
      }
      const server = await startServer({ databasePath });
      const traffic = new Traffic(server.url);
      const random = mulberry32(envNumber('RESILIENCE_SEED', 0x5eed_a11) + 4);

      const twoPlaces = () => {
        const first = Math.floor(random() * placeKeys.length);
        return [placeKeys[first]!, placeKeys[(first + 1 + Math.floor(random() * (placeKeys.length - 1))) % placeKeys.length]!];
      };
      const acknowledged: string[] = [];
      let stopWriters = false;
      const writer = async (w: number) => {
        for (let i = 0; !stopWriters; i++) {
          const key = `event:bk-w${w}-${i}`;
          const created = await traffic.call(
            'POST /v1/events',
            'POST',
            '/v1/events',
            {
              key,
              type: 'test',
              date: '2022-01-05',
              title: { en: `Backup writer ${w} event ${i}` },
              tags: Array.from({ length: TAGS }, (_, t) => `w${w}-${i}-${t}`),
              places: twoPlaces(),
            },
            [201],
          );
          if (created?.status === 201) acknowledged.push(key);
          if (i % 2 === 1 && acknowledged.length > 0) {
            // replace the child rows of an earlier event: a copy must never see half of that
            const target = acknowledged[Math.floor(random() * acknowledged.length)]!;
            await traffic.call(
              'PATCH /v1/events/:id',
              'PATCH',
              `/v1/events/${encodeURIComponent(target)}`,
              { tags: Array.from({ length: TAGS }, (_, t) => `patched-${i}-${t}`), places: twoPlaces() },
              [200],
            );
          }
        }
      };
      const countEvents = () => {
        const db = openForCheck(databasePath, true);
        try {
          return db.prepare(`SELECT count(*) FROM entries WHERE key LIKE 'event:bk-%'`).pluck().get() as number;
        } finally {
          db.close();
        }
      };

      const writers = Promise.all([writer(0), writer(1), writer(2)]);
      let backup: { code: number | null; stderr: string; ms: number };
      let before: number;
      let after: number;
      let ackedBefore: string[];
      let backupProcess: ChildProcess | undefined;
      try {
        await sleep(1500);
        ackedBefore = [...acknowledged];
        before = countEvents();
        const writesBefore = traffic.total;
        const started = Date.now();
        backup = await new Promise((resolve, reject) => {
          const env: NodeJS.ProcessEnv = { ...process.env, ANNALS_DB: databasePath };
          delete env.NODE_OPTIONS;
          // what `npm run backup -- PATH` runs, as one process that can be stopped by its id
          const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/backup.ts', target], {
            cwd: REPO,
            env,
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          backupProcess = child;
          let stderr = '';
          child.stdout.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
          child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`the backup did not finish within 60 s under write load:\n${stderr}`));
          }, 60_000);
          child.on('error', reject);
          child.on('close', (code) => {
            clearTimeout(timer);
            resolve({ code, stderr, ms: Date.now() - started });
          });
        });
        after = countEvents();
        console.log(
          `[backup] ${backup.ms} ms (process included), ${traffic.total - writesBefore} writes during it; ` +
            `events: ${before} before, ${after} after; ${backup.stderr.trim()}`,
        );
        await sleep(500);
      } finally {
        if (backupProcess && backupProcess.exitCode === null && backupProcess.signalCode === null) backupProcess.kill('SIGKILL');
        stopWriters = true;
        await writers;
      }

      expect(backup.code, backup.stderr).toBe(0);
      expect(backup.stderr).toMatch(/integrity_check: ok/);
      const copy = openForCheck(target);
      try {
        expect(checkDatabase(copy)).toEqual({ integrity: 'ok', foreignKeyViolations: 0, searchIndex: 'ok' });
        const events = copy
          .prepare(
            `SELECT e.key,
               (SELECT count(*) FROM entry_tags t WHERE t.entry_id = e.id) AS tags,
               (SELECT count(*) FROM entry_places p WHERE p.entry_id = e.id) AS places,
               (SELECT count(*) FROM search_index s WHERE s.rowid = e.id) AS docs
             FROM entries e WHERE e.key LIKE 'event:bk-%'`,
          )
          .all() as { key: string; tags: number; places: number; docs: number }[];
        const partial = events.filter((e) => e.tags !== TAGS || e.places !== PLACES || e.docs !== 1);
        expect(partial.slice(0, 10), `${partial.length} copied events without all their rows`).toEqual([]);
        expect(events.length).toBeGreaterThanOrEqual(before);
        expect(events.length).toBeLessThanOrEqual(after);
        const copied = new Set(events.map((e) => e.key));
        expect(ackedBefore.filter((key) => !copied.has(key)), 'acknowledged before the backup began').toEqual([]);
        expect(copy.prepare(`SELECT count(*) FROM places WHERE key LIKE 'place:bk-%'`).pluck().get()).toBe(fill + placeKeys.length);
        console.log(
          `[backup] copy holds ${events.length} writer events (${before}..${after}), each with ${TAGS} tags and ${PLACES} places; ` +
            `${traffic.total} requests in all: ${[...traffic.counts.entries()].map(([l, n]) => `${l} ${n}`).join(', ')}`,
        );
      } finally {
        copy.close();
      }
      expect(traffic.anomalies.slice(0, 20)).toEqual([]);
      expect(errorLogs(server.logs)).toEqual([]);
      expect((await server.stop()).code).toBe(0);
    },
    120_000,
  );
});

// ---------------------------------------------------------------------------------------------
// 5. PostgreSQL out of reach: at start-up, and connections it ends under a running server
// ---------------------------------------------------------------------------------------------

/** A loopback port nothing listens on (one the kernel just handed out and that was closed again). */
async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describePg('PostgreSQL out of reach', () => {
  it('a server that cannot reach PostgreSQL at start-up exits 1 with one line naming it, without the password', async () => {
    const port = await closedPort();
    const url = `postgres://annals:secret-password@127.0.0.1:${port}/annals`;
    const env: NodeJS.ProcessEnv = { ...process.env, ANNALS_DB: url, PORT: '0', ANNALS_SEED: 'off', LOG_LEVEL: 'warn' };
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.resume();
    const exit = await Promise.race([
      new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code))),
      sleep(30_000).then(() => {
        child.kill('SIGKILL');
        return 'still running after 30 s';
      }),
    ]);
    expect(exit, stderr).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines, stderr).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^annals: failed to start: .*PostgreSQL.*127\\.0\\.0\\.1:${port}`));
    expect(stderr).not.toContain('secret-password');
  });

  it('connections ended under requests in flight: a 503 problem for those requests, nothing stored in part, then served again', async () => {
    const database = await serverDatabase('postgres');
    const server = await startServer({ databasePath: database });
    const seeded = await freshRequest(server.url, 'POST', '/v1/import', ndjson([{ kind: 'place', key: 'place:reach-0', type: 'site', name: { en: 'Reach 0' } }]));
    expect(seeded.status, seeded.body ?? seeded.error).toBe(200);

    // the test's own connection holds the places table, so that the server's next read and
    // write of it wait on PostgreSQL, mid-request, until their connections are ended
    const holder = new pg.Client({ connectionString: database });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE places IN ACCESS EXCLUSIVE MODE');
      const read = fetch(`${server.url}/v1/places?limit=10`, { headers: SERVER_AUTH });
      const write = fetch(`${server.url}/v1/places`, {
        method: 'POST',
        headers: { ...SERVER_AUTH, 'content-type': 'application/json' },
        body: JSON.stringify({ key: 'place:reach-1', type: 'site', name: { en: 'Reach 1' } }),
      });
      // awaited below; a failed test leaves them to the server's kill
      for (const pending of [read, write]) pending.catch(() => {});
      // the holder's transaction sees one snapshot of pg_stat_activity: watched from connections of their own
      const waitingBy = Date.now() + 10_000;
      const waiting = async () =>
        (
          await pgQuery<{ n: number }>(
            database,
            `SELECT count(*)::integer AS n FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'annals' AND wait_event_type = 'Lock'`,
          )
        )[0]!.n;
      while ((await waiting()) < 2) {
        expect(Date.now(), 'both requests wait for the lock').toBeLessThan(waitingBy);
        await sleep(50);
      }
      const ended = await pgQuery<{ n: number }>(
        database,
        `SELECT count(*)::integer AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'annals') AS terminated`,
      );
      expect(ended[0]!.n).toBeGreaterThanOrEqual(2);
      for (const [what, response] of [['read', await read], ['write', await write]] as const) {
        const body = await response.text();
        expect(response.status, `${what}: ${body}`).toBe(503);
        expect(response.headers.get('content-type'), what).toMatch(/^application\/problem\+json/);
        expect(response.headers.get('retry-after'), what).toMatch(/^\d+$/);
        const problem = JSON.parse(body) as Json;
        expect(problem, what).toMatchObject({ status: 503, code: 'database-unavailable' });
        expect(problem.detail, what).not.toMatch(/postgres|terminat|administrator/i);
      }
      await holder.query('ROLLBACK');
    } finally {
      await holder.end();
    }

    // the server is still up, opens new connections and serves reads and writes again
    expect(server.hasExited(), server.stderr()).toBe(false);
    expect((await freshRequest(server.url, 'GET', '/readyz')).status).toBe(200);
    const places = await freshRequest(server.url, 'GET', '/v1/places?limit=10');
    expect(places.status, places.body).toBe(200);
    expect((JSON.parse(places.body!) as Json).data.map((p: Json) => p.key)).toEqual(['place:reach-0']);
    const retried = await fetch(`${server.url}/v1/places`, {
      method: 'POST',
      headers: { ...SERVER_AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'place:reach-1', type: 'site', name: { en: 'Reach 1' } }),
    });
    expect(retried.status, await retried.text()).toBe(201);
    expect(errorLogs(server.logs).filter((line) => (line.level ?? 0) >= 60), 'fatal log lines').toEqual([]);
    expect((await server.stop()).code).toBe(0);
  }, 60_000);
});
