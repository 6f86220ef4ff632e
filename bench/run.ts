/**
 * The Annals benchmark: a million events, the timeline next to the bare stack.
 *
 *   npm run bench              1,000,000 events + 200,000 statements, and the same at 100,000
 *   npm run bench -- --quick   a small dataset and one-second runs (seconds; run by the tests)
 *   npm run bench -- --profile CPU profiles (node --cpu-prof) of the import and of every
 *                              scenario, each on a server of its own, summarised at the end and
 *                              kept in bench/profiles/ (flame graphs in Chrome DevTools or
 *                              speedscope); their figures are not written to bench/results/
 *
 * For each size: generate the dataset (seeded), load it through the real import path (the
 * import command: records per second, peak RSS), start the real server as `npm start` runs
 * it and a reference server (bare Fastify + one prepared statement) on the same database,
 * run every scenario under autocannon on loopback, and print EXPLAIN QUERY PLAN of every
 * statement each scenario's request runs, traced from the app itself (bench/plans.ts). A
 * table goes to stdout and to bench/results/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { DAYS, FIRST_DAY, FULL_SIZE, generateDataset, isoDay, prng, type DatasetSize } from './generate.js';
import { explainRequests, formatRequestPlans } from './plans.js';
import { formatSummary, summarizeProfiles } from './profile.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    connections: { type: 'string', default: '32' },
    'keep-data': { type: 'boolean', default: false },
    // reuse the databases of an earlier run (bench/data) instead of importing again
    'reuse-db': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
  },
});

const quick = args.quick!;
const profiling = args.profile!;
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
    ];

interface Row {
  size: string;
  scenario: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  ratio?: number;
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
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${command.join(' ')} exited with ${code}: ${output.slice(-2000)}`)));
  });
  return { child, port };
}

async function stop(child: ChildProcess) {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
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

async function json(url: string) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return response.json() as Promise<any>;
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

async function runSize(label: string, size: DatasetSize, rows: Row[], plans: string[]) {
  const file = join(dataDir, `dataset-${label}.ndjson`);
  const dbPath = join(dataDir, `annals-${label}.db`);
  if (!existsSync(file)) {
    log(`[${label}] generating ${size.events} events, ${size.statements} statements ...`);
    await generateDataset(size, file);
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
    importer.stderr!.on('data', (chunk: Buffer) => {
      importLog += chunk.toString();
      importLog = importLog.slice(-4000);
    });
    const [code] = (await once(importer, 'exit')) as [number];
    const seconds = (Date.now() - started) / 1000;
    if (code !== 0) throw new Error(`import failed (${code}): ${importLog}`);
    collectProfiles(`${label} import`);
    const records = size.sources + size.places + size.actors + size.events + size.statements;
    const peak = Number(/peak RSS (\d+) MB/.exec(importLog)?.[1] ?? 0);
    rows.push({ size: label, scenario: 'import (records/s)', rps: Math.round(records / seconds), p50: 0, p99: 0, errors: 0, note: `${records} records in ${seconds.toFixed(1)} s, peak RSS ${peak} MB` });
  }

  // a week in the middle of the 30 years, a popular actor, a country with regions and cities
  const week = { from: '2010-06-07', to: '2010-06-13' };
  const startServer = (nodeArgs: string[] = [], env: Record<string, string> = {}) =>
    startProcess([...nodeArgs, '--import', 'tsx', 'src/server.ts'], {
      ANNALS_DB: dbPath,
      PORT: '0',
      ANNALS_SEED: 'off',
      ANNALS_RATE_LIMIT: '0',
      LOG_LEVEL: 'info',
      ...env,
    }, /Server listening at http:\/\/127\.0\.0\.1:(\d+)/);
  let planRequests: { name: string; url: string }[] = [];
  const server = await startServer();
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
    // Annals keeps rendered entries between requests (src/rendered.ts): a repeated request is
    // served from memory, so the same scenario over a different week each time shows the
    // cost of rendering, next to the reference asked for the same weeks
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
    // the same requests, for their query plans once the servers have stopped (the scenario of
    // different weeks by the first of its weeks, from a generator of its own)
    planRequests = [
      ...scenarios.map(([name, url, options]) => ({ name, url: options?.paths ? randomWeeks('/v1/timeline')() : url.replace(base, '') })),
      { name: FULL_EXPORT, url: '/v1/export' },
    ];
    const refUrl = `http://127.0.0.1:${reference.port}/v1/timeline?from=${week.from}&to=${week.to}`;
    const runs: { name: string; url: string; options?: LoadOptions; reference?: true }[] = [
      { name: REFERENCE, url: refUrl, reference: true },
      { name: REFERENCE_RANDOM, url: refUrl, options: { paths: randomWeeks('/v1/timeline') }, reference: true },
      ...scenarios.map(([name, url, options]) => ({ name, url, ...(options ? { options } : {}) })),
    ];
    const results = new Map<string, LoadResult[]>();
    const entriesOf = new Map<string, number | undefined>();
    for (let round = 1; round <= rounds; round++) {
      for (const run of runs) {
        // a counted run is already the mean of its requests, each served whole: one round
        if (round > 1 && run.options?.amount !== undefined) continue;
        // profiled, a scenario has a server of its own, whose profile is written when it exits
        const profiled = profiling && !run.reference ? await startServer(profileArgs(`${label} ${run.name}`)) : undefined;
        const target = run.reference ? reference : (profiled ?? server);
        const url = run.reference ? run.url : run.url.replace(base, `http://127.0.0.1:${target.port}`);
        // each run starts on an idle machine: the previous run's queued requests are done (the
        // reference answers only its one route: the Annals server's health says it for both)
        await settle(run.reference ? base : `http://127.0.0.1:${target.port}`);
        if (round === 1 && !run.reference) {
          entriesOf.set(run.name, run.options?.paths ? undefined : await entriesIn(url));
          await settle(`http://127.0.0.1:${target.port}`);
        }
        log(`[${label}] ${run.name}${rounds > 1 ? `, round ${round} of ${rounds}` : ''} ...`);
        const result = await loadOn(target.child.pid!, url, run.options);
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
      // the week scenarios next to the reference's answer to the same requests
      const baseline = run.name === 'week window, first page of 50' ? summary.get(REFERENCE) : run.name.startsWith('week window') ? summary.get(REFERENCE_RANDOM) : undefined;
      const ratio = run.reference ? 1 : baseline ? result.rps / baseline.rps : undefined;
      const entries = entriesOf.get(run.name);
      const notes = [...(entries === undefined ? [] : [`${entries} entries a response`]), ...(result.spread ? [result.spread] : [])];
      rows.push({
        size: label,
        scenario: run.name,
        rps: result.rps,
        p50: result.p50,
        p99: result.p99,
        errors: result.errors,
        ...(result.cpu === undefined ? {} : { cpu: result.cpu }),
        ...(ratio === undefined ? {} : { ratio }),
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

    // The week-window scenarios again on other configurations of the same server: a worker
    // process per core (ANNALS_WORKERS), sharing the machine with the load generator as
    // before; and without the rendered-entry cache, so that every page is rendered afresh
    const cores = cpus().length;
    const variants: { label: string; env: Record<string, string> }[] = [
      ...(cores > 1 ? [{ label: `ANNALS_WORKERS=${cores}`, env: { ANNALS_WORKERS: String(cores) } }] : []),
      { label: 'ANNALS_ENTRY_CACHE_MB=0', env: { ANNALS_ENTRY_CACHE_MB: '0' } },
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

  // EXPLAIN QUERY PLAN of every statement each scenario's request runs, on the same database
  log(`[${label}] query plans ...`);
  const explained = await explainRequests(dbPath, planRequests);
  for (const request of explained) plans.push(formatRequestPlans(label, request, shownPlans, request.name === FULL_EXPORT));
  if (!args['keep-data'] && quick) for (const suffix of ['', '-wal', '-shm']) rmSync(`${dbPath}${suffix}`, { force: true });
}

const rows: Row[] = [];
const plans: string[] = [];
mkdirSync(dataDir, { recursive: true });
for (const { label, size } of sizes) await runSize(label, size, rows, plans);

const machine = `${type()} ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node.js ${process.version}`;
const header = '| size | scenario | req/s | p50 ms | p99 ms | errors | ratio to reference | server CPU ms/req | note |\n|---|---|---:|---:|---:|---:|---:|---:|---|';
const table = [
  header,
  ...rows.map((r) =>
    `| ${r.size} | ${r.scenario} | ${r.rps ? (r.rps < 10 ? r.rps.toFixed(1) : Math.round(r.rps)) : ''} | ${r.p50 || ''} | ${r.p99 || ''} | ${r.errors} | ${r.ratio === undefined ? '' : `${Math.round(r.ratio * 100)}%`} | ${r.cpu === undefined ? '' : r.cpu.toFixed(2)} | ${r.note ?? ''} |`,
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
if (!quick && !profiling) {
  const resultsDir = join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, `${new Date().toISOString().slice(0, 10)}.md`), report);
}
