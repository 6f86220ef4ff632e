/**
 * The Annals benchmark: a million events, the timeline next to the bare stack.
 *
 *   npm run bench              1,000,000 events + 200,000 statements, and the same at 100,000
 *   npm run bench -- --quick   a small dataset and one-second runs (seconds; run by the tests)
 *   npm run bench -- --profile CPU profiles (node --cpu-prof) of the import and of every
 *                              scenario, each on a server of its own, summarised at the end and
 *                              kept in bench/profiles/ (flame graphs in Chrome DevTools or
 *                              speedscope); their figures are not written to bench/results/
 *   npm run bench -- --size 100k --import-only
 *                              one size only, and only its import through POST /v1/import
 *                              (with --profile: that import profiled); not written to bench/results/;
 *                              with ANNALS_BENCH_PG_URL, the same import into PostgreSQL after it
 *   ANNALS_BENCH_PG_URL=postgres://user@host:port/db npm run bench
 *                              the PostgreSQL engine too, on a database the benchmark creates on
 *                              that server (and drops after): the dataset through POST /v1/import
 *                              (COPY), the cold-window scenarios beside the SQLite engine's, and
 *                              EXPLAIN ANALYZE of their statements
 *
 * For each size: generate the dataset (seeded), load it through the real import path (the
 * import command: records per second, peak RSS), start the real server as `npm start` runs
 * it and a reference server (bare Fastify + one prepared statement) on the same database,
 * run every scenario under autocannon on loopback, load the dataset again through
 * `POST /v1/import` into an empty database, and print EXPLAIN QUERY PLAN of every statement
 * each scenario's request runs, traced from the app itself (bench/plans.ts), and of the
 * reference's. A table goes to stdout and to bench/results/; the rows the project has a
 * target for print it next to their ratio.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { cpus, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import pg from 'pg';
import { DATASET_VERSION, DAYS, FIRST_DAY, FULL_SIZE, generateDataset, isoDay, prng, type DatasetSize } from './generate.js';
import { explainRequests, explainStatements, formatRequestPlans, type PlanRequest, type RequestPlans } from './plans.js';
import { explainPgRequests } from './pg-plans.js';
import { formatSummary, summarizeProfiles } from './profile.js';
import { ACTOR_PAGE_SQL, OVERLAP_PAGE_SQL, WITHIN_PAGE_SQL, windowParameters } from './reference.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    connections: { type: 'string', default: '32' },
    'keep-data': { type: 'boolean', default: false },
    // reuse the databases of an earlier run (bench/data) instead of importing again
    'reuse-db': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    // one size only (100k, 1M; the quick run has its own)
    size: { type: 'string' },
    // only the import through POST /v1/import, to measure it alone quickly
    'import-only': { type: 'boolean', default: false },
  },
});
const importOnly = args['import-only'];

const quick = args.quick;
const profiling = args.profile;
/** Seconds of one round of a scenario. */
const duration = Number(args.duration ?? (quick ? 1 : 5));
/**
 * Rounds of each scenario, each round taking every scenario in turn; a scenario's row is the
 * median of its rounds. This shared VM's speed drifts over minutes and dips for seconds at
 * a time (the same 1M import took 67.5 to 101 s in one morning; one 10 s run of the week
 * scenario gave 1,825 req/s where the runs before and after gave 2,318-2,336): spread over
 * the whole phase, a dip costs one round of a scenario, not its figure. Profiled, a scenario
 * has a server of its own and runs once.
 */
const rounds = quick || profiling ? 1 : 3;
const connections = Number(args.connections);
const root = new URL('..', import.meta.url).pathname;
const dataDir = join(root, 'bench', 'data');
const profilesDir = join(root, 'bench', 'profiles', new Date().toISOString().replaceAll(':', '-').slice(0, 19));
/** What each profiled process's busiest threads spent their time on, for the report. */
const profileSummaries: string[] = [];

const profileDir = (name: string) => join(profilesDir, name.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, ''));

/** Node's options to profile a process into `bench/profiles/<run>/<name>`, when profiling. */
const profileArgs = (name: string): string[] => (profiling ? ['--cpu-prof', `--cpu-prof-dir=${profileDir(name)}`] : []);

/** Summarises the profiles a profiled process wrote (once it has exited). */
function collectProfiles(name: string): void {
  if (!profiling) return;
  const dir = profileDir(name);
  const summaries = existsSync(dir) ? summarizeProfiles(dir, 10) : [];
  profileSummaries.push(`### ${name}\n\n${summaries.length === 0 ? 'no profile written' : summaries.map(formatSummary).join('\n\n')}`);
}

const sizes: { label: string; size: DatasetSize }[] = quick
  ? [{ label: 'quick', size: { events: 2_000, statements: 400, actors: 200, places: 100, sources: 50, seed: 7 } }]
  : [
      { label: '100k', size: { ...FULL_SIZE, events: 100_000, statements: 20_000, actors: 2_000, places: 2_000, sources: 1_000 } },
      { label: '1M', size: FULL_SIZE },
    ].filter((s) => args.size === undefined || s.label === args.size);
if (sizes.length === 0) throw new Error(`--size ${args.size}: no such size (100k, 1M)`);

/** A row's target (the project's, at the largest size) and whether its figures meet it. */
interface Target {
  text: string;
  met: boolean;
}

interface Row {
  size: string;
  scenario: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  ratio?: number;
  /** What `ratio` is of, when not of the reference ("of read-only"). */
  ratioOf?: string;
  target?: Target;
  /** More of the ratio cell: another ratio of the same row. */
  alsoRatio?: string;
  /** The server's CPU time per request (ms): unlike req/s, not shared with the load generator. */
  cpu?: number;
  /** Entries in one response, for the scenarios that return entries. */
  entries?: number;
  note?: string;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Peak and current RSS of a process, from /proc (MB). */
function rssOf(pid: number): { peak: number; current: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { peak: Math.round(kb('VmHWM') / 1024), current: Math.round(kb('VmRSS') / 1024) };
  } catch {
    return { peak: 0, current: 0 };
  }
}

/** CPU time a process has used (user + system), in ms, from /proc. */
function cpuOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are the 14th and 15th fields of stat, in clock ticks (100 a second)
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function startProcess(command: string[], env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, command, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let started = false;
  const port = await new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      // the server logs every request: once it is up, keep only a tail for error messages,
      // or the load generator's own process spends its time growing and searching a string
      output = (output + chunk.toString()).slice(started ? -4000 : -100_000);
      if (started) return;
      const match = ready.exec(output);
      if (match) {
        started = true;
        resolve(Number(match[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${command.join(' ')} exited with ${code}: ${output.slice(-2000)}`)));
  });
  return { child, port };
}

async function stop(child: ChildProcess) {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

/** One scenario's runs (one a round), on Annals or the reference. */
interface Run {
  name: string;
  url: string;
  options?: LoadOptions;
  reference?: true;
  /** Requests sent (and not measured) before each round of the run. */
  warm?: () => string[];
  /** Writes through the API while it runs (startWriter). */
  writer?: true;
  /** The run its ratio is of. */
  baseline?: string;
  /** A second run to give a ratio of. */
  alsoBaseline?: string;
  /** The least ratio the project wants, at the largest size. */
  target?: number;
  note?: string;
  pathsNote?: () => string | undefined;
}

interface LoadOptions {
  connections?: number;
  timeout?: number;
  /** A number of requests instead of a duration: each one runs to its end. */
  amount?: number;
  /** A new path for every request, instead of the url's. */
  paths?: () => string;
}

async function load(url: string, options: LoadOptions = {}) {
  const { paths } = options;
  const clients = options.connections ?? connections;
  const result = await autocannon({
    url,
    connections: clients,
    duration,
    ...(options.amount === undefined ? {} : { amount: options.amount }),
    timeout: options.timeout ?? 10,
    ...(paths ? { requests: [{ setupRequest: (request) => ({ ...request, path: paths() }) }] } : {}),
  });
  return {
    total: result.requests.total,
    // Completed requests over the run: a slow scenario's per-second average rounds to 0. A
    // run of a number of requests ends on autocannon's next one-second tick, after the last
    // one: each client's requests follow one another, so their mean latency is the measure.
    rps: options.amount === undefined ? result.requests.total / result.duration : (clients * 1000) / result.latency.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
  };
}

/** The process and its children (the workers of a cluster). */
function processTree(pid: number): number[] {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return [pid, ...(children ? children.split(' ').map(Number) : [])];
  } catch {
    return [pid];
  }
}

/** `load`, with the CPU time the serving process (and, for a cluster, its workers) spent per request. */
async function loadOn(pid: number, url: string, options: LoadOptions = {}, withChildren = false) {
  const pids = withChildren ? processTree(pid) : [pid];
  const cpu = () => pids.reduce((sum, p) => sum + cpuOf(p), 0);
  const before = cpu();
  const { total, ...result } = await load(url, options);
  return { ...result, cpu: total > 0 ? (cpu() - before) / total : undefined };
}

async function json(url: string): Promise<{ page: { nextCursor: string | null } }> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as { page: { nextCursor: string | null } };
}

/**
 * How many entries a response of `url` holds (a timeline page's `data`, an NDJSON stream's
 * lines), or undefined for other responses: the growth of a scenario whose answer grows with
 * the data is read per entry as well as per request.
 */
async function entriesIn(url: string): Promise<number | undefined> {
  const response = await fetch(url);
  const text = await response.text();
  if (!response.ok) throw new Error(`${url}: ${response.status} ${text.slice(0, 500)}`);
  if ((response.headers.get('content-type') ?? '').includes('ndjson')) return text.split('\n').filter((line) => line !== '').length;
  const body = JSON.parse(text) as { data?: unknown };
  return Array.isArray(body.data) ? body.data.length : undefined;
}

/** Waits until the server answers its health check quickly twice in a row. */
async function settle(base: string) {
  for (let calm = 0, tries = 0; calm < 2 && tries < 120; tries++) {
    const started = Date.now();
    const ok = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
    calm = ok && Date.now() - started < 50 ? calm + 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const FULL_EXPORT = 'full export (NDJSON)';
const REFERENCE = 'reference: bare Fastify + 1 prepared statement';
const REFERENCE_RANDOM = 'reference, a different week each request';
const WINDOWS = 'windows of 3-10 days, none asked twice (match=within, lang=en)';
const REFERENCE_WINDOWS = 'reference, windows of 3-10 days, none asked twice';
const ROTATING = 'the rotating week (100 weeks in turn)';
const REFERENCE_ROTATING = 'reference, the rotating week';
const ROTATING_ACTOR = 'the rotating week + one of the 30 most linked actors';
const REFERENCE_ACTOR = 'reference, the rotating week + one of the 30 most linked actors (a join through entry_actors)';
const WRITES_PER_SECOND = 5;
const ROTATING_WRITES = `the rotating week under ${WRITES_PER_SECOND} writes/s (POST /v1/events)`;
const API_IMPORT = 'import through POST /v1/import into an empty database (records/s)';
/** The size the project's targets are set at: there the table says whether each is met. */
const TARGET_SIZE = '1M';
/** The project's targets, met or not at TARGET_SIZE (issue #14). */
const TARGETS = { windows: 0.7, rotating: 1.0, actor: 1.0, underWrites: 0.8, importRecordsPerSecond: 15_000, importPeakRssMb: 300 };

/** A PostgreSQL server to run the PostgreSQL engine's rows on (an administrator's URL: the benchmark creates its database there). */
const PG_URL = process.env.ANNALS_BENCH_PG_URL;
/** The PostgreSQL engine's targets (issue #15): its cold-window page beside the SQLite engine's, and its import. */
const PG_TARGETS = { windows: 0.5, importRecordsPerSecond: 20_000 };
const onPostgres = (scenario: string) => `PostgreSQL: ${scenario}`;

/** The key of every server the benchmark starts (all scopes), for the scenarios that write. */
const BENCH_KEY = `bench-${randomBytes(16).toString('hex')}`;
const auth = { authorization: `Bearer ${BENCH_KEY}` };

/** A request path for every request of a run, and what a note should say about the run's paths. */
interface Paths {
  next: () => string;
  note?: () => string | undefined;
}

/**
 * Analysts' arbitrary ranges: a window of 3 to 10 days anywhere in the 30 years, entries
 * inside it (`match=within`) in English, every request a window not asked before by this
 * generator (seeded, so the reference is asked the same windows in the same order).
 */
function windowsNeverTwice(path: string): Paths {
  const random = prng(20100608);
  const asked = new Set<number>();
  const capacity = 8 * (DAYS - 10);
  let exhausted = 0;
  return {
    next: () => {
      // all of them asked (more requests than a run makes): start again, and say so
      if (asked.size >= capacity) {
        asked.clear();
        exhausted += 1;
      }
      let length: number;
      let start: number;
      do {
        length = 3 + Math.floor(random() * 8);
        start = FIRST_DAY + Math.floor(random() * (DAYS - 10));
      } while (asked.has(start * 16 + length));
      asked.add(start * 16 + length);
      return `${path}?from=${isoDay(start)}&to=${isoDay(start + length - 1)}&match=within&lang=en&limit=50`;
    },
    note: () => (exhausted > 0 ? `every one of the ${capacity} windows was asked; ${exhausted} more rounds of them asked again` : undefined),
  };
}

/** 100 one-week windows (seeded, distinct), asked in turn: the weeks a newsroom keeps reopening. */
const ROTATING_WEEKS = (() => {
  const random = prng(20240101);
  const starts = new Set<number>();
  while (starts.size < 100) starts.add(FIRST_DAY + Math.floor(random() * (DAYS - 7)));
  return [...starts];
})();

const weekPath = (path: string, start: number) => `${path}?from=${isoDay(start)}&to=${isoDay(start + 6)}&limit=50`;

/** The rotating weeks in turn, each with an actor of `actors` drawn at random (seeded) when given. */
function rotatingWeeks(path: string, actors?: readonly string[]): Paths {
  const random = prng(20240102);
  let asked = 0;
  return {
    next: () => {
      const week = weekPath(path, ROTATING_WEEKS[asked++ % ROTATING_WEEKS.length]!);
      return actors ? `${week}&actor=${encodeURIComponent(actors[Math.floor(random() * actors.length)]!)}` : week;
    },
  };
}

/**
 * Waits until the server has rendered the document of every entry (a bulk load leaves them to
 * be rendered after it, between requests): the read scenarios measure the served state, not
 * the rendering. Returns the seconds it took.
 */
async function documentsRendered(dbPath: string): Promise<number> {
  const started = Date.now();
  const db = new Database(dbPath, { readonly: true });
  try {
    const missing = db.prepare(
      'SELECT EXISTS (SELECT 1 FROM entries e WHERE NOT EXISTS (SELECT 1 FROM entry_documents d WHERE d.entry_id = e.id))',
    );
    while (missing.pluck().get() === 1) await new Promise((resolve) => setTimeout(resolve, 500));
  } finally {
    db.close();
  }
  return (Date.now() - started) / 1000;
}

/** As documentsRendered, on a PostgreSQL database: the pass of one of its servers renders them after a bulk load. */
async function pgDocumentsRendered(url: string): Promise<number> {
  const started = Date.now();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const missing = 'SELECT EXISTS (SELECT 1 FROM entries e WHERE NOT EXISTS (SELECT 1 FROM entry_documents d WHERE d.entry_id = e.id)) AS missing';
    while ((await client.query<{ missing: boolean }>(missing)).rows[0]?.missing) await new Promise((resolve) => setTimeout(resolve, 1000));
  } finally {
    await client.end();
  }
  return (Date.now() - started) / 1000;
}

/**
 * The actors linked to the most entries (in any role but `about`, as the `actor=` filter
 * reads them), with their counts: the generator's popularity is Zipf-like, so these are the
 * ones most asked for.
 */
function mostLinkedActors(dbPath: string, n: number): { key: string; links: number }[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db
      .prepare(
        `SELECT x.key, count(*) AS links FROM entry_actors a JOIN actors x ON x.id = a.actor_id
         WHERE a.role <> 'about' GROUP BY a.actor_id ORDER BY links DESC, a.actor_id LIMIT ?`,
      )
      .all(n) as { key: string; links: number }[];
  } finally {
    db.close();
  }
}

/** An event as an editor would add one: dated in one of the rotating weeks, where the readers are. */
const writtenEvent = (run: string, n: number) => ({
  key: `event:bench-write-${run}-${n}`,
  type: 'announcement',
  date: isoDay(ROTATING_WEEKS[n % ROTATING_WEEKS.length]! + (n % 7)),
  title: { en: `Benchmark write ${n}` },
  places: ['place:c0'],
  actors: [{ actor: 'actor:0', role: 'announcer' }],
  tags: ['bench-write'],
});

/**
 * Writes events through the API at `perSecond`, one a timer tick, until stopped: at most
 * `limit` in all and a few unanswered at a time (a tick that finds them unanswered is
 * skipped and counted), to loopback only.
 */
function startWriter(base: string, perSecond: number, limit: number) {
  if (new URL(base).hostname !== '127.0.0.1') throw new Error(`the writer writes to loopback only, not ${base}`);
  const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const counts = { sent: 0, acknowledged: 0, non2xx: 0, failed: 0, skipped: 0 };
  const pending = new Set<Promise<void>>();
  const started = Date.now();
  const timer = setInterval(() => {
    if (counts.sent >= limit) return;
    if (pending.size >= 4) {
      counts.skipped += 1;
      return;
    }
    const n = counts.sent++;
    const write = fetch(`${base}/v1/events`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(writtenEvent(run, n)),
    })
      .then(async (response) => {
        await response.arrayBuffer();
        if (response.ok) counts.acknowledged += 1;
        else counts.non2xx += 1;
      })
      .catch(() => {
        counts.failed += 1;
      })
      .finally(() => pending.delete(write));
    pending.add(write);
  }, 1000 / perSecond);
  return {
    async stop() {
      clearInterval(timer);
      const seconds = (Date.now() - started) / 1000;
      await Promise.all(pending);
      return { ...counts, seconds };
    },
  };
}

/** Writes timed one at a time: how long the write path takes, with the change log it writes. */
const WRITES_TIMED = 200;

/** Median and 99th percentile of latencies in ms. */
function percentiles(latencies: number[]) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: Math.round(at(0.5) * 10) / 10, p99: Math.round(at(0.99) * 10) / 10 };
}

/**
 * The cost of writes, one at a time on an otherwise idle server: creating an event (its row,
 * links, search text, document and change-log row in one transaction), the same with the
 * change log's inserts dropped by a trigger (`RAISE(IGNORE)`), so that the log's own share of
 * the write shows, and renaming one of the most linked actors, whose write removes the
 * documents of the entries that name it, left to be rendered again between requests.
 */
async function writeCosts(label: string, base: string, pid: number, dbPath: string, popular: { key: string; links: number }[], rows: Row[]) {
  const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  let n = 0;
  const timed = async (count: number, request: () => Promise<Response>) => {
    const latencies: number[] = [];
    let failed = 0;
    const cpuBefore = cpuOf(pid);
    const started = Date.now();
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      const response = await request();
      await response.arrayBuffer();
      latencies.push(performance.now() - t0);
      if (!response.ok) failed += 1;
    }
    const seconds = (Date.now() - started) / 1000;
    return { rps: count / seconds, ...percentiles(latencies), errors: failed, cpu: (cpuOf(pid) - cpuBefore) / count };
  };
  const createEvent = () =>
    fetch(`${base}/v1/events`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(writtenEvent(run, n++)),
    });
  log(`[${label}] writes one at a time ...`);
  const withLog = await timed(WRITES_TIMED, createEvent);
  rows.push({ size: label, scenario: 'write: POST /v1/events one at a time (change log on)', ...withLog, note: `${WRITES_TIMED} events` });
  const unlogged = new Database(dbPath);
  unlogged.exec("CREATE TRIGGER bench_no_change_log BEFORE INSERT ON changes BEGIN SELECT RAISE(IGNORE); END");
  try {
    const withoutLog = await timed(WRITES_TIMED, createEvent);
    rows.push({
      size: label,
      scenario: 'write: the same without the change log (its inserts dropped by a trigger)',
      ...withoutLog,
      ratio: withoutLog.cpu > 0 ? withLog.cpu / withoutLog.cpu : undefined,
      ratioOf: '(the logged write\'s CPU over this one\'s)',
      note: `${WRITES_TIMED} events`,
    });
  } finally {
    unlogged.exec('DROP TRIGGER IF EXISTS bench_no_change_log');
    unlogged.close();
  }
  const renamed = popular.at(-1);
  if (renamed !== undefined) {
    const rename = (i: number) =>
      fetch(`${base}/v1/actors/${encodeURIComponent(renamed.key)}`, {
        method: 'PATCH',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ name: { en: `Renamed ${run} ${i}` } }),
      });
    let i = 0;
    const renames = await timed(5, () => rename(i++));
    rows.push({
      size: label,
      scenario: 'write: rename one of the 30 most linked actors (PATCH /v1/actors/{id})',
      ...renames,
      note: `${renamed.links} entries name it (past a bound, the write removes their documents and the server renders them again between requests); 5 renames`,
    });
  }
}

/** POSTs a file to an import endpoint as it reads it (never held whole). */
function postFile(url: string, file: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { method: 'POST', headers: { ...auth, 'content-type': 'application/x-ndjson', 'content-length': String(statSync(file).size) } },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    pipeline(createReadStream(file), request).catch(reject);
  });
}

/**
 * A small import of the dataset, to trace the statements of `POST /v1/import` on an empty
 * database: the sources, places and actors (the first lines), then the first `entries`
 * events and statements. A statement about a later event is refused, which is traced too.
 */
async function importSample(file: string, entries: number): Promise<string> {
  const lines: string[] = [];
  const seen = { event: 0, statement: 0 };
  const input = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of input) {
    const kind = /^\{"kind":"(event|statement)"/.exec(line)?.[1] as 'event' | 'statement' | undefined;
    if (kind === undefined) lines.push(line);
    else if (seen[kind] < entries) {
      seen[kind] += 1;
      lines.push(line);
    } else if (kind === 'statement') break;
  }
  input.close();
  return `${lines.join('\n')}\n`;
}

/** The target, and whether it is met where it applies (TARGET_SIZE). */
const verdict = (target: Target, atTargetSize: boolean) => (atTargetSize ? `target ${target.text}: ${target.met ? 'met' : 'NOT met'}` : `target at ${TARGET_SIZE} ${target.text}`);

type LoadResult = Awaited<ReturnType<typeof loadOn>>;

/**
 * A scenario's figures over its rounds: the median of each (so one round in a dip of the
 * machine does not move it), errors summed, and the spread of req/s when there were rounds.
 */
function medianOf(results: LoadResult[]): LoadResult & { spread?: string } {
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  };
  const cpus = results.flatMap((r) => (r.cpu === undefined ? [] : [r.cpu]));
  const rps = results.map((r) => r.rps);
  const shown = (value: number) => (value < 10 ? value.toFixed(1) : String(Math.round(value)));
  return {
    rps: median(rps),
    p50: median(results.map((r) => r.p50)),
    p99: median(results.map((r) => r.p99)),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    cpu: cpus.length === 0 ? undefined : median(cpus),
    ...(results.length > 1 ? { spread: `req/s ${shown(Math.min(...rps))}-${shown(Math.max(...rps))} over ${results.length} rounds` } : {}),
  };
}
/** Statements whose plans the report has shown, by SQL and plan: where (see formatRequestPlans). */
const shownPlans = new Map<string, string>();

/** The database the import through the API fills, of its own. */
const importDbOf = (label: string) => join(dataDir, `annals-${label}-v${DATASET_VERSION}-api-import.db`);
const removeDatabase = (file: string) => {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${file}${suffix}`, { force: true });
};

/** The dataset through the API into an empty database of its own: records/s and the server's peak RSS. */
async function apiImport(label: string, size: DatasetSize, file: string, rows: Row[]) {
  const records = size.sources + size.places + size.actors + size.events + size.statements;
  // The same dataset through the API, beside the import command's figure: the real server on
  // an empty database of its own, the file streamed as the body of one request. Its peak RSS
  // is the server process's high-water mark, start-up included.
  const importDb = importDbOf(label);
  const removeImportDb = () => removeDatabase(importDb);
  removeImportDb();
  log(`[${label}] importing through POST /v1/import ...`);
  const bodyLimitMb = Math.max(1024, Math.ceil(statSync(file).size / 2 ** 20) + 1);
  const apiImporter = await startProcess([...profileArgs(`${label} ${API_IMPORT}`), '--import', 'tsx', 'src/server.ts'], {
    ANNALS_DB: importDb,
    PORT: '0',
    ANNALS_SEED: 'off',
    ANNALS_RATE_LIMIT: '0',
    ANNALS_BOOTSTRAP_KEY: BENCH_KEY,
    LOG_LEVEL: 'info',
    ANNALS_IMPORT_LIMIT_MB: String(bodyLimitMb),
  }, /Server listening at http:\/\/127\.0\.0\.1:(\d+)/);
  try {
    await settle(`http://127.0.0.1:${apiImporter.port}`);
    const started = Date.now();
    const answer = await postFile(`http://127.0.0.1:${apiImporter.port}/v1/import`, file).catch((error: Error) => ({ status: 0, body: error.message }));
    const seconds = (Date.now() - started) / 1000;
    const peak = rssOf(apiImporter.child.pid!).peak;
    const documentSeconds = answer.status === 200 ? await documentsRendered(importDb) : 0;
    const peakWithDocuments = rssOf(apiImporter.child.pid!).peak;
    const report = answer.status === 200 ? (JSON.parse(answer.body) as { created: number; updated: number; unchanged: number; refused: number }) : undefined;
    const stored = report ? report.created + report.updated + report.unchanged : 0;
    const perSecond = Math.round(stored / seconds);
    rows.push({
      size: label,
      scenario: API_IMPORT,
      rps: perSecond,
      p50: 0,
      p99: 0,
      errors: report ? report.refused + (stored === records ? 0 : 1) : 1,
      target: {
        text: `≥ ${TARGETS.importRecordsPerSecond} records/s, peak RSS < ${TARGETS.importPeakRssMb} MB`,
        met: report !== undefined && perSecond >= TARGETS.importRecordsPerSecond && peak < TARGETS.importPeakRssMb,
      },
      note: report
        ? `${stored} of ${records} records stored in ${seconds.toFixed(1)} s, ${report.refused} refused; peak RSS of the server ${peak} MB; entry documents rendered between requests in ${documentSeconds.toFixed(1)} s after (peak RSS by then ${peakWithDocuments} MB)`
        : `answered ${answer.status} after ${seconds.toFixed(1)} s: ${answer.body.replace(/\s+/g, ' ').replaceAll('|', '/').slice(0, 300)}`,
    });
  } finally {
    await stop(apiImporter.child);
    collectProfiles(`${label} ${API_IMPORT}`);
    removeImportDb();
  }

}

async function runSize(label: string, size: DatasetSize, rows: Row[], plans: string[]) {
  // named by the generator's version: the file of an older generator is another dataset
  const file = join(dataDir, `dataset-${label}-v${DATASET_VERSION}.ndjson`);
  const dbPath = join(dataDir, `annals-${label}-v${DATASET_VERSION}.db`);
  const records = size.sources + size.places + size.actors + size.events + size.statements;
  if (!existsSync(file)) {
    log(`[${label}] generating ${size.events} events, ${size.statements} statements ...`);
    await generateDataset(size, file);
  }
  if (importOnly) {
    await apiImport(label, size, file, rows);
    if (PG_URL) await postgresRows(PG_URL, label, size, file, [], rows, plans, { importOnly: true });
    return;
  }
  if (args['reuse-db'] && existsSync(dbPath)) {
    rows.push({ size: label, scenario: 'import (records/s)', rps: 0, p50: 0, p99: 0, errors: 0, note: 'database of an earlier run reused (--reuse-db)' });
  } else {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${dbPath}${suffix}`, { force: true });

    // the real import path: the import command on the dataset file
    log(`[${label}] importing through the import command ...`);
    const started = Date.now();
    const importer = spawn(process.execPath, [...profileArgs(`${label} import`), '--import', 'tsx', 'scripts/import.ts', file], {
      cwd: root,
      env: { ...process.env, ANNALS_DB: dbPath },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let importLog = '';
    importer.stderr.on('data', (chunk: Buffer) => {
      importLog += chunk.toString();
      importLog = importLog.slice(-4000);
    });
    const [code] = (await once(importer, 'exit')) as [number];
    const seconds = (Date.now() - started) / 1000;
    if (code !== 0) throw new Error(`import failed (${code}): ${importLog}`);
    collectProfiles(`${label} import`);
    const peak = Number(/peak RSS (\d+) MB/.exec(importLog)?.[1] ?? 0);
    rows.push({ size: label, scenario: 'import (records/s)', rps: Math.round(records / seconds), p50: 0, p99: 0, errors: 0, note: `${records} records in ${seconds.toFixed(1)} s, peak RSS ${peak} MB` });
  }

  // a week in the middle of the 30 years, a popular actor, a country with regions and cities
  const week = { from: '2010-06-07', to: '2010-06-13' };
  const popular = mostLinkedActors(dbPath, 30);
  const popularKeys = popular.map((a) => a.key);
  const popularNote = `the ${popular.length} most linked actors: ${popular[0]?.links ?? 0} to ${popular.at(-1)?.links ?? 0} entries each`;
  const startServer = (nodeArgs: string[] = [], env: Record<string, string> = {}) =>
    startProcess([...nodeArgs, '--import', 'tsx', 'src/server.ts'], {
      ANNALS_DB: dbPath,
      PORT: '0',
      ANNALS_SEED: 'off',
      ANNALS_RATE_LIMIT: '0',
      ANNALS_BOOTSTRAP_KEY: BENCH_KEY,
      LOG_LEVEL: 'info',
      ...env,
    }, /Server listening at http:\/\/127\.0\.0\.1:(\d+)/);
  let planRequests: PlanRequest[] = [];
  const server = await startServer();
  const documentSeconds = await documentsRendered(dbPath);
  log(`[${label}] entry documents rendered by the server ${documentSeconds.toFixed(1)} s after it started`);
  const importRow = [...rows].reverse().find((row) => row.size === label && row.scenario === 'import (records/s)');
  if (importRow) importRow.note += `; the server rendered the entry documents in ${documentSeconds.toFixed(1)} s after start`;
  const reference = await startProcess(['--import', 'tsx', 'bench/reference.ts'], { ANNALS_DB: dbPath, PORT: '0' }, /listening (\d+)/);
  const base = `http://127.0.0.1:${server.port}`;
  try {
    const first = `${base}/v1/timeline?from=${week.from}&to=${week.to}&limit=50`;
    // the 200th page: walk 199 pages to find its cursor
    let cursorUrl = `${base}/v1/timeline?from=2005&limit=50`;
    for (let page = 1; page < 200; page++) {
      const body = await json(cursorUrl);
      if (!body.page.nextCursor) break;
      cursorUrl = `${base}/v1/timeline?from=2005&limit=50&cursor=${encodeURIComponent(body.page.nextCursor)}`;
    }
    // the same scenario over a different week each time: pages that no earlier request read
    // (SQLite's page cache aside), next to the reference asked for the same weeks
    const randomWeeks = (path: string) => {
      const random = prng(20100607);
      return () => {
        const start = FIRST_DAY + Math.floor(random() * (DAYS - 7));
        return `${path}?from=${isoDay(start)}&to=${isoDay(start + 6)}&limit=50`;
      };
    };
    const scenarios: [string, string, LoadOptions?][] = [
      ['week window, first page of 50', first],
      ['week window, a different week each request', first, { paths: randomWeeks('/v1/timeline') }],
      ['+ actor', `${first}&actor=actor:0`],
      ['+ place with children', `${first}&place=place:c0`],
      ['day histogram over a year', `${base}/v1/timeline/histogram?interval=day&from=2010&to=2010`],
      // a selective search (one actor's name among 20,000), as most searches are
      ['q= text search', `${base}/v1/timeline?q=${encodeURIComponent('Actor 937')}&from=2010&to=2010`],
      ['deep cursor (page 200)', cursorUrl],
      // A year is tens of thousands of entries, seconds a request at 1M. A run bounded by a
      // duration ends with requests half served, whose server time was then counted against
      // the few that finished (4 connections for 30 s at 1M: 3 to 9 finished, CPU per request
      // 4 to 8 s from run to run). So a count of requests, one at a time, each served whole.
      ['NDJSON export of a year', `${base}/v1/timeline?format=ndjson&from=2010&to=2010`, { connections: 1, timeout: 120, amount: quick ? 2 : 8 }],
    ];
    // the same requests, for their query plans once the servers have stopped (a scenario of
    // requests that differ by the first of them, from a generator of its own)
    planRequests = [
      ...scenarios.map(([name, url, options]) => ({ name, url: options?.paths ? randomWeeks('/v1/timeline')() : url.replace(base, '') })),
      { name: FULL_EXPORT, url: '/v1/export' },
      { name: WINDOWS, url: windowsNeverTwice('/v1/timeline').next() },
      { name: ROTATING, url: rotatingWeeks('/v1/timeline').next() },
      { name: ROTATING_ACTOR, url: rotatingWeeks('/v1/timeline', popularKeys).next() },
      {
        name: `${ROTATING_WRITES}: a write (its reads are the rotating week's)`,
        url: '/v1/events',
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(writtenEvent(`plan-${randomBytes(4).toString('hex')}`, 0)),
      },
    ];
    const refUrl = `http://127.0.0.1:${reference.port}/v1/timeline?from=${week.from}&to=${week.to}`;
    // A generator of requests belongs to one run, over all its rounds, so that no window of
    // "none asked twice" is asked again in a later round; the reference and Annals each have
    // their own, with the same seed, and so are asked the same requests in the same order.
    const annalsWindows = windowsNeverTwice('/v1/timeline');
    const referenceWindows = windowsNeverTwice('/v1/timeline');
    // the rotating weeks once over before each run, as a server that has been serving them
    const weeksOnce = () => ROTATING_WEEKS.map((start) => weekPath('/v1/timeline', start));
    const weeksWithActorsOnce = () => {
      const paths = rotatingWeeks('/v1/timeline', popularKeys);
      return ROTATING_WEEKS.map(() => paths.next());
    };
    const pct = (ratio: number) => `${Math.round(ratio * 100)}%`;
    const runs: Run[] = [
      { name: REFERENCE, url: refUrl, reference: true },
      { name: REFERENCE_RANDOM, url: refUrl, options: { paths: randomWeeks('/v1/timeline') }, reference: true },
      { name: REFERENCE_WINDOWS, url: refUrl, options: { paths: referenceWindows.next }, pathsNote: referenceWindows.note, reference: true },
      { name: REFERENCE_ROTATING, url: refUrl, options: { paths: rotatingWeeks('/v1/timeline').next }, warm: weeksOnce, reference: true },
      { name: REFERENCE_ACTOR, url: refUrl, options: { paths: rotatingWeeks('/v1/timeline', popularKeys).next }, warm: weeksWithActorsOnce, reference: true, note: popularNote },
      ...scenarios.map(([name, url, options]): Run => ({
        name,
        url,
        ...(options ? { options } : {}),
        // the week scenarios next to the reference's answer to the same requests
        ...(name === 'week window, first page of 50' ? { baseline: REFERENCE } : name.startsWith('week window') ? { baseline: REFERENCE_RANDOM } : {}),
      })),
      { name: WINDOWS, url: first, options: { paths: annalsWindows.next }, pathsNote: annalsWindows.note, baseline: REFERENCE_WINDOWS, target: TARGETS.windows },
      { name: ROTATING, url: first, options: { paths: rotatingWeeks('/v1/timeline').next }, warm: weeksOnce, baseline: REFERENCE_ROTATING, target: TARGETS.rotating },
      { name: ROTATING_ACTOR, url: first, options: { paths: rotatingWeeks('/v1/timeline', popularKeys).next }, warm: weeksWithActorsOnce, baseline: REFERENCE_ACTOR, target: TARGETS.actor, note: popularNote },
      // last of a round: the runs after it would otherwise read the data it wrote
      { name: ROTATING_WRITES, url: first, options: { paths: rotatingWeeks('/v1/timeline').next }, warm: weeksOnce, writer: true, baseline: ROTATING, target: TARGETS.underWrites, alsoBaseline: REFERENCE_ROTATING },
    ];
    const results = new Map<string, LoadResult[]>();
    const entriesOf = new Map<string, number | undefined>();
    const writes = { sent: 0, acknowledged: 0, non2xx: 0, failed: 0, skipped: 0, seconds: 0 };
    for (let round = 1; round <= rounds; round++) {
      for (const run of runs) {
        // a counted run is already the mean of its requests, each served whole: one round
        if (round > 1 && run.options?.amount !== undefined) continue;
        // profiled, a scenario has a server of its own, whose profile is written when it exits
        const profiled = profiling && !run.reference ? await startServer(profileArgs(`${label} ${run.name}`)) : undefined;
        const target = run.reference ? reference : (profiled ?? server);
        const targetBase = `http://127.0.0.1:${target.port}`;
        const url = run.reference ? run.url : run.url.replace(base, targetBase);
        // each run starts on an idle machine: the previous run's queued requests are done (the
        // reference answers only its one route: the Annals server's health says it for both)
        await settle(run.reference ? base : targetBase);
        if (round === 1 && !run.reference) {
          entriesOf.set(run.name, run.options?.paths ? undefined : await entriesIn(url));
          await settle(targetBase);
        }
        if (run.warm) {
          for (const path of run.warm()) await entriesIn(`${targetBase}${path}`);
          await settle(run.reference ? base : targetBase);
        }
        log(`[${label}] ${run.name}${rounds > 1 ? `, round ${round} of ${rounds}` : ''} ...`);
        // bounded: a round's worth of writes, and a second's more for the timer's drift
        const writer = run.writer ? startWriter(targetBase, WRITES_PER_SECOND, Math.ceil((duration + 1) * WRITES_PER_SECOND)) : undefined;
        const result = await loadOn(target.child.pid!, url, run.options).finally(async () => {
          if (writer) for (const [name, count] of Object.entries(await writer.stop())) writes[name as keyof typeof writes] += count;
        });
        results.set(run.name, [...(results.get(run.name) ?? []), result]);
        if (profiled) {
          await stop(profiled.child);
          collectProfiles(`${label} ${run.name}`);
        }
      }
    }
    const summary = new Map(runs.map((run) => [run.name, medianOf(results.get(run.name)!)]));
    for (const run of runs) {
      const result = summary.get(run.name)!;
      const baseline = run.baseline === undefined ? undefined : summary.get(run.baseline);
      const ratio = run.reference ? 1 : baseline ? result.rps / baseline.rps : undefined;
      const entries = entriesOf.get(run.name);
      const pathsNote = run.pathsNote?.();
      const writesNote = run.writer
        ? `${writes.acknowledged} writes acknowledged in ${writes.seconds.toFixed(1)} s (${(writes.acknowledged / Math.max(writes.seconds, 0.001)).toFixed(1)}/s), ${writes.non2xx} non-2xx, ${writes.failed} failed, ${writes.skipped} ticks skipped with 4 writes unanswered`
        : undefined;
      const notes = [
        ...(entries === undefined ? [] : [`${entries} entries a response`]),
        ...[run.note, pathsNote, writesNote].filter((n): n is string => n !== undefined),
        ...(result.spread ? [result.spread] : []),
      ];
      const alsoBaseline = run.alsoBaseline === undefined ? undefined : summary.get(run.alsoBaseline);
      rows.push({
        size: label,
        scenario: run.name,
        rps: result.rps,
        p50: result.p50,
        p99: result.p99,
        // the writer's refusals count with the reads' errors
        errors: result.errors + (run.writer ? writes.non2xx + writes.failed : 0),
        ...(result.cpu === undefined ? {} : { cpu: result.cpu }),
        ...(ratio === undefined ? {} : { ratio }),
        ...(run.baseline !== undefined && !runs.find((r) => r.name === run.baseline)?.reference ? { ratioOf: 'of read-only' } : {}),
        ...(ratio !== undefined && run.target !== undefined ? { target: { text: `≥ ${pct(run.target)}`, met: ratio >= run.target } } : {}),
        ...(alsoBaseline ? { alsoRatio: `${pct(result.rps / alsoBaseline.rps)} of the reference` } : {}),
        ...(entries === undefined ? {} : { entries }),
        ...(notes.length === 0 ? {} : { note: notes.join('; ') }),
      });
    }

    // one full export: the server's RSS growth while it streams every record
    const before = rssOf(server.child.pid!);
    const exportStarted = Date.now();
    const response = await fetch(`${base}/v1/export`);
    let bytes = 0;
    let peakDuring = before.current;
    for await (const chunk of response.body!) {
      bytes += (chunk as Uint8Array).length;
      peakDuring = Math.max(peakDuring, rssOf(server.child.pid!).current);
    }
    const exportSeconds = (Date.now() - exportStarted) / 1000;
    rows.push({
      size: label,
      scenario: FULL_EXPORT,
      rps: 0,
      p50: 0,
      p99: 0,
      errors: response.ok ? 0 : 1,
      note: `${(bytes / 1e6).toFixed(0)} MB in ${exportSeconds.toFixed(1)} s; server RSS ${before.current} -> peak ${peakDuring} MB (+${peakDuring - before.current} MB)`,
    });

    await writeCosts(label, base, server.child.pid!, dbPath, popular, rows);

    // The week-window scenarios again on other configurations of the same server: a worker
    // process per core (ANNALS_WORKERS), sharing the machine with the load generator as before
    const cores = cpus().length;
    const variants: { label: string; env: Record<string, string> }[] = [
      ...(cores > 1 ? [{ label: `ANNALS_WORKERS=${cores}`, env: { ANNALS_WORKERS: String(cores) } }] : []),
    ];
    await stop(server.child);
    for (const variant of variants) {
      const other = await startServer([], variant.env);
      try {
        const otherBase = `http://127.0.0.1:${other.port}`;
        await settle(otherBase);
        // every worker answers a few times before the run, as the single server had
        for (let i = 0; i < cores * 4; i++) await json(`${otherBase}/v1/timeline?from=${week.from}&to=${week.to}&limit=50`);
        const variantRuns = [
          { name: 'week window, first page of 50', options: {}, reference: summary.get(REFERENCE)!, results: [] as LoadResult[] },
          { name: 'week window, a different week each request', options: { paths: randomWeeks('/v1/timeline') }, reference: summary.get(REFERENCE_RANDOM)!, results: [] as LoadResult[] },
        ];
        for (let round = 1; round <= rounds; round++) {
          for (const run of variantRuns) {
            log(`[${label}] ${run.name}, ${variant.label}${rounds > 1 ? `, round ${round} of ${rounds}` : ''} ...`);
            run.results.push(await loadOn(other.child.pid!, `${otherBase}/v1/timeline?from=${week.from}&to=${week.to}&limit=50`, run.options, true));
          }
        }
        for (const run of variantRuns) {
          const { spread, ...result } = medianOf(run.results);
          rows.push({
            size: label,
            scenario: `${run.name}, ${variant.label}`,
            ...result,
            ratio: result.rps / run.reference.rps,
            ...(spread ? { note: spread } : {}),
          });
        }
      } finally {
        await stop(other.child);
      }
    }
  } finally {
    await stop(server.child);
    await stop(reference.child);
  }

  await apiImport(label, size, file, rows);

  // EXPLAIN QUERY PLAN of every statement each scenario's request runs, on the same database
  log(`[${label}] query plans ...`);
  const explained = await explainRequests(dbPath, planRequests, { bootstrapKey: BENCH_KEY });
  for (const request of explained) plans.push(formatRequestPlans(label, request, shownPlans, request.name === FULL_EXPORT));
  // the reference's statements, with the first values each of its scenarios asks
  const windowOf = (path: string) => {
    const query = new URLSearchParams(path.slice(path.indexOf('?') + 1));
    const day = (name: string) => Math.floor(Date.parse(`${query.get(name)}T00:00:00Z`) / 86_400_000);
    return { from: day('from'), to: day('to'), actor: query.get('actor') };
  };
  const week1 = windowOf(`/v1/timeline?from=${week.from}&to=${week.to}`);
  const window1 = windowOf(windowsNeverTwice('/v1/timeline').next());
  const actorWeek1 = windowOf(rotatingWeeks('/v1/timeline', popularKeys).next());
  const referencePlans: RequestPlans[] = [
    explainStatements(dbPath, `${REFERENCE}, and its different and rotating weeks`, [{ sql: OVERLAP_PAGE_SQL, params: windowParameters(week1.from, week1.to) }]),
    explainStatements(dbPath, REFERENCE_WINDOWS, [{ sql: WITHIN_PAGE_SQL, params: windowParameters(window1.from, window1.to) }]),
    explainStatements(dbPath, REFERENCE_ACTOR, [{ sql: ACTOR_PAGE_SQL, params: { ...windowParameters(actorWeek1.from, actorWeek1.to), actor: actorWeek1.actor } }]),
  ];
  for (const request of referencePlans) plans.push(formatRequestPlans(label, request, shownPlans));
  // POST /v1/import as its scenario found the server, on an empty database: a sample of the file
  const [imported] = await explainRequests(
    importDbOf(label),
    [{ name: API_IMPORT, url: '/v1/import', method: 'POST', headers: { ...auth, 'content-type': 'application/x-ndjson' }, body: await importSample(file, 200) }],
    { bootstrapKey: BENCH_KEY },
  );
  plans.push(formatRequestPlans(label, imported!, shownPlans));
  removeDatabase(importDbOf(label));
  if (PG_URL) await postgresRows(PG_URL, label, size, file, mostLinkedActors(dbPath, 30).map((a) => a.key), rows, plans);
  if (!args['keep-data'] && quick) for (const suffix of ['', '-wal', '-shm']) rmSync(`${dbPath}${suffix}`, { force: true });
}

/**
 * The PostgreSQL engine on a database of its own on the server `adminUrl` names, created here
 * and dropped at the end: the dataset through `POST /v1/import` into it (a bulk load by COPY),
 * then the cold-window scenarios, each next to the SQLite engine's row of the same scenario
 * (run just before on the same machine), and the plans of their statements with EXPLAIN ANALYZE.
 */
async function postgresRows(
  adminUrl: string,
  label: string,
  size: DatasetSize,
  file: string,
  popularKeys: string[],
  rows: Row[],
  plans: string[],
  options: { importOnly?: boolean } = {},
) {
  const records = size.sources + size.places + size.actors + size.events + size.statements;
  const name = `annals_bench_${label.toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8'`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const profileName = `${label} PostgreSQL`;
  let server: { child: ChildProcess; port: number } | undefined;
  try {
    log(`[${label}] PostgreSQL: importing through POST /v1/import ...`);
    server = await startProcess([...profileArgs(profileName), '--import', 'tsx', 'src/server.ts'], {
      ANNALS_DB: url.toString(),
      PORT: '0',
      ANNALS_SEED: 'off',
      ANNALS_RATE_LIMIT: '0',
      ANNALS_BOOTSTRAP_KEY: BENCH_KEY,
      LOG_LEVEL: 'info',
      ANNALS_IMPORT_LIMIT_MB: String(Math.max(1024, Math.ceil(statSync(file).size / 2 ** 20) + 1)),
    }, /Server listening at http:\/\/127\.0\.0\.1:(\d+)/);
    const base = `http://127.0.0.1:${server.port}`;
    await settle(base);
    const started = Date.now();
    const answer = await postFile(`${base}/v1/import`, file).catch((error: Error) => ({ status: 0, body: error.message }));
    const seconds = (Date.now() - started) / 1000;
    const report = answer.status === 200 ? (JSON.parse(answer.body) as { created: number; updated: number; unchanged: number; refused: number }) : undefined;
    const stored = report ? report.created + report.updated + report.unchanged : 0;
    const perSecond = Math.round(stored / seconds);
    const sqliteImport = rows.find((r) => r.size === label && r.scenario === API_IMPORT);
    rows.push({
      size: label,
      scenario: onPostgres(API_IMPORT),
      rps: perSecond,
      p50: 0,
      p99: 0,
      errors: report ? report.refused + (stored === records ? 0 : 1) : 1,
      ...(sqliteImport?.rps ? { ratio: perSecond / sqliteImport.rps, ratioOf: 'of SQLite' } : {}),
      target: { text: `≥ ${PG_TARGETS.importRecordsPerSecond} records/s`, met: report !== undefined && perSecond >= PG_TARGETS.importRecordsPerSecond },
      note: report
        ? `${stored} of ${records} records stored in ${seconds.toFixed(1)} s (one bulk load by COPY, then VACUUM ANALYZE), ${report.refused} refused; peak RSS of the server ${rssOf(server.child.pid!).peak} MB`
        : `answered ${answer.status} after ${seconds.toFixed(1)} s: ${answer.body.replace(/\s+/g, ' ').replaceAll('|', '/').slice(0, 300)}`,
    });
    if (!report) return;
    if (!options.importOnly) {
      const documentSeconds = await pgDocumentsRendered(url.toString());
      log(`[${label}] PostgreSQL: entry documents rendered by the server ${documentSeconds.toFixed(1)} s after the load`);
      rows[rows.length - 1]!.note += `; entry documents rendered between requests in ${documentSeconds.toFixed(1)} s after (peak RSS by then ${rssOf(server.child.pid!).peak} MB)`;
    }
    if (options.importOnly) {
      await stop(server.child);
      server = undefined;
      collectProfiles(profileName);
      return;
    }

    const weeksOnce = () => ROTATING_WEEKS.map((start) => weekPath('/v1/timeline', start));
    const weeksWithActorsOnce = () => {
      const paths = rotatingWeeks('/v1/timeline', popularKeys);
      return ROTATING_WEEKS.map(() => paths.next());
    };
    const first = `${base}/v1/timeline`;
    const windows = windowsNeverTwice('/v1/timeline');
    const runs: (Run & { paths: Paths })[] = [
      { name: WINDOWS, url: first, paths: windows, target: PG_TARGETS.windows },
      { name: ROTATING, url: first, paths: rotatingWeeks('/v1/timeline'), warm: weeksOnce },
      { name: ROTATING_ACTOR, url: first, paths: rotatingWeeks('/v1/timeline', popularKeys), warm: weeksWithActorsOnce },
      { name: ROTATING_WRITES, url: first, paths: rotatingWeeks('/v1/timeline'), warm: weeksOnce, writer: true },
    ];
    const results = new Map<string, LoadResult[]>();
    const writes = { sent: 0, acknowledged: 0, non2xx: 0, failed: 0, skipped: 0, seconds: 0 };
    for (let round = 1; round <= rounds; round++) {
      for (const run of runs) {
        await settle(base);
        if (run.warm) {
          for (const path of run.warm()) await entriesIn(`${base}${path}`);
          await settle(base);
        }
        log(`[${label}] PostgreSQL: ${run.name}${rounds > 1 ? `, round ${round} of ${rounds}` : ''} ...`);
        const writer = run.writer ? startWriter(base, WRITES_PER_SECOND, Math.ceil((duration + 1) * WRITES_PER_SECOND)) : undefined;
        const result = await loadOn(server.child.pid!, run.url, { paths: run.paths.next }).finally(async () => {
          if (writer) for (const [key, count] of Object.entries(await writer.stop())) writes[key as keyof typeof writes] += count;
        });
        results.set(run.name, [...(results.get(run.name) ?? []), result]);
      }
    }
    const pct = (ratio: number) => `${Math.round(ratio * 100)}%`;
    for (const run of runs) {
      const result = medianOf(results.get(run.name)!);
      const sqlite = rows.find((r) => r.size === label && r.scenario === run.name);
      const ratio = sqlite?.rps ? result.rps / sqlite.rps : undefined;
      const writesNote = run.writer
        ? `${writes.acknowledged} writes acknowledged in ${writes.seconds.toFixed(1)} s, ${writes.non2xx} non-2xx, ${writes.failed} failed, ${writes.skipped} ticks skipped with 4 writes unanswered`
        : undefined;
      const notes = [writesNote, run.paths.note?.(), result.spread].filter((n): n is string => n !== undefined);
      rows.push({
        size: label,
        scenario: onPostgres(run.name),
        rps: result.rps,
        p50: result.p50,
        p99: result.p99,
        errors: result.errors + (run.writer ? writes.non2xx + writes.failed : 0),
        ...(result.cpu === undefined ? {} : { cpu: result.cpu }),
        ...(ratio === undefined ? {} : { ratio, ratioOf: 'of SQLite' }),
        ...(ratio !== undefined && run.target !== undefined ? { target: { text: `≥ ${pct(run.target)} of SQLite`, met: ratio >= run.target } } : {}),
        ...(notes.length === 0 ? {} : { note: notes.join('; ') }),
      });
    }
    await stop(server.child);
    server = undefined;
    collectProfiles(profileName);

    // where a request's time goes inside PostgreSQL: each statement, its answer time, and its plan as run
    log(`[${label}] PostgreSQL: query plans (EXPLAIN ANALYZE) ...`);
    const planned = await explainPgRequests(
      url.toString(),
      [
        { name: onPostgres(WINDOWS), url: windowsNeverTwice('/v1/timeline').next() },
        { name: onPostgres(ROTATING), url: rotatingWeeks('/v1/timeline').next() },
        { name: onPostgres(ROTATING_ACTOR), url: rotatingWeeks('/v1/timeline', popularKeys).next() },
      ],
      { bootstrapKey: BENCH_KEY },
    );
    for (const request of planned) plans.push(formatRequestPlans(label, request, shownPlans));
  } finally {
    if (server) await stop(server.child);
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
  }
}

const rows: Row[] = [];
const plans: string[] = [];
mkdirSync(dataDir, { recursive: true });
for (const { label, size } of sizes) await runSize(label, size, rows, plans);

const machine = `${type()} ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node.js ${process.version}`;
const header = '| size | scenario | req/s | p50 ms | p99 ms | errors | ratio to reference | server CPU ms/req | note |\n|---|---|---:|---:|---:|---:|---:|---:|---|';
/** The ratio, what it is of, the target beside it, and a second ratio: "84% of read-only (target ≥ 80%: met); 120% of the reference". */
const ratioCell = (r: Row) => {
  const ratio = r.ratio === undefined ? '' : `${Math.round(r.ratio * 100)}%${r.ratioOf ? ` ${r.ratioOf}` : ''}`;
  const target = r.target ? verdict(r.target, r.size === TARGET_SIZE) : '';
  const both = ratio && target ? `${ratio} (${target})` : ratio || target;
  return r.alsoRatio ? `${both}; ${r.alsoRatio}` : both;
};
const table = [
  header,
  ...rows.map((r) =>
    `| ${r.size} | ${r.scenario} | ${r.rps ? (r.rps < 10 ? r.rps.toFixed(1) : Math.round(r.rps)) : ''} | ${r.p50 || ''} | ${r.p99 || ''} | ${r.errors} | ${ratioCell(r)} | ${r.cpu === undefined ? '' : r.cpu.toFixed(2)} | ${r.note ?? ''} |`,
  ),
].join('\n');
// how each scenario's cost grows from the smaller dataset to the larger one
const [small, large] = sizes.map((s) => s.label);
const growth = rows
  .filter((r) => r.size === large && r.cpu !== undefined)
  .flatMap((r) => {
    const before = rows.find((b) => b.size === small && b.scenario === r.scenario);
    if (!before?.cpu || !r.cpu) return [];
    // per entry returned, where the answer itself grows with the data (a search, a year's export)
    const perEntry =
      r.entries && before.entries && r.entries !== before.entries
        ? `${(r.cpu / r.entries / (before.cpu / before.entries)).toFixed(2)} (${before.entries} -> ${r.entries} entries)`
        : '';
    return [`| ${r.scenario} | ${(r.cpu / before.cpu).toFixed(2)} | ${(r.p50 / Math.max(before.p50, 1)).toFixed(2)} | ${(before.rps / Math.max(r.rps, 0.01)).toFixed(2)} | ${perEntry} |`];
  });
const growthTable =
  growth.length === 0
    ? ''
    : `\n\n## Growth, ${large} over ${small}\n\n| scenario | server CPU per request | p50 | 1 / req/s | server CPU per entry returned |\n|---|---:|---:|---:|---:|\n${growth.join('\n')}`;
const profiles = profiling
  ? `\n## CPU profiles (profiled processes run slower: their figures above are not comparable)\n\nIn ${profilesDir}\n\n\`\`\`\n${profileSummaries.join('\n\n')}\n\`\`\`\n`
  : '';
const report = `# Annals benchmark${quick ? ' (quick)' : ''}${profiling ? ' (profiled)' : ''}\n\n${new Date().toISOString()}; ${machine}; ${connections} connections, ${rounds > 1 ? `${rounds} rounds of ${duration} s per scenario (each row the median of its rounds)` : `${duration} s per scenario`}, server and load generator on the same machine.\n\n${table}${growthTable}\n\n## EXPLAIN QUERY PLAN\n\n\`\`\`\n${plans.join('\n')}\n\`\`\`\n${profiles}`;
process.stdout.write(`${report}\n`);
if (!quick && !profiling && !importOnly && args.size === undefined) {
  const resultsDir = join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, `${new Date().toISOString().slice(0, 10)}.md`), report);
}
