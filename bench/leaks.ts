/**
 * What a server keeps after requests that should leave nothing behind: its resident memory and
 * open descriptors before and after 20,000 requests with a unique 8 KB Accept header each and
 * 1,000 HEADs of every streaming endpoint (the export and each streaming format of the
 * timeline), on a fresh database with the seed loaded.
 *
 *   npx tsx bench/leaks.ts
 *
 * The server is the real one (`node --import tsx src/server.ts`) on a loopback port; every
 * loop is bounded, and the temporary database goes when it ends.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const ACCEPT_REQUESTS = Number(process.env.LEAKS_ACCEPT_REQUESTS ?? 20_000);
const HEADS_PER_ENDPOINT = Number(process.env.LEAKS_HEADS ?? 1_000);
const CONCURRENCY = 16;
const STREAMING = [
  '/v1/export',
  '/v1/timeline?format=ndjson',
  '/v1/timeline?format=csv',
  '/v1/timeline?format=ics',
  '/v1/timeline?format=timelinejs',
  '/v1/timeline?format=geojson',
];

interface Sample {
  rssKib: number;
  fds: number;
  walBytes: number;
}

function sample(pid: number, databasePath: string): Sample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
  let walBytes = 0;
  try {
    walBytes = statSync(`${databasePath}-wal`).size;
  } catch {
    // no WAL file (yet)
  }
  return { rssKib: rss ? Number(rss[1]) : Number.NaN, fds: readdirSync(`/proc/${pid}/fd`).length, walBytes };
}

/** Keep-alive connections of the current phase, closed before each sample so that they are not counted. */
let agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

/** One request; the body is read and dropped. Resolves with the status (0 for a failed request). */
function request(port: number, method: string, path: string, headers: http.OutgoingHttpHeaders = {}): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Runs `total` requests made by `make(i)`, CONCURRENCY at a time; counts answers by status. */
async function run(total: number, make: (i: number) => Promise<number>): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < total) {
        const status = await make(next++);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  return statuses;
}

/** An Accept header of some 8 KB that no other request sends. */
function uniqueAccept(i: number): string {
  const types = ['application/json'];
  for (let n = 0; types.join(', ').length < 8 * 1024 - 64; n++) types.push(`application/x-annals-${i}-${n};q=0.1`);
  return types.join(', ');
}

/** Closes the phase's connections and gives the server a moment to finish what they started. */
async function settle() {
  agent.destroy();
  agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  await new Promise((resolve) => setTimeout(resolve, 1500));
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'annals-leaks-'));
  const databasePath = join(dir, 'annals.db');
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS;
  Object.assign(env, { PORT: '0', HOST: '127.0.0.1', ANNALS_DB: databasePath, ANNALS_SEED: 'auto', ANNALS_RATE_LIMIT: '0', LOG_LEVEL: 'info' });
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`the server did not listen within 60 s: ${stderr.slice(-1000)}`)), 60_000);
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
        const match = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
        if (out.length > 1_000_000) out = out.slice(-10_000);
      });
      child.once('exit', (code) => reject(new Error(`the server exited (${code}): ${stderr.slice(-1000)}`)));
    });
    const pid = child.pid!;
    // a first request of each kind, so that what is set up once is in the baseline
    await request(port, 'GET', '/v1/timeline?limit=1');
    for (const path of STREAMING) await request(port, 'HEAD', path);
    await settle();

    const rows: [string, Sample, string][] = [['start', sample(pid, databasePath), '']];
    const accepts = await run(ACCEPT_REQUESTS, (i) => request(port, 'GET', '/v1/timeline?limit=1', { accept: uniqueAccept(i) }));
    await settle();
    rows.push([`after ${ACCEPT_REQUESTS} unique 8 KB Accept headers`, sample(pid, databasePath), statusText(accepts)]);
    for (const path of STREAMING) {
      const heads = await run(HEADS_PER_ENDPOINT, () => request(port, 'HEAD', path));
      await settle();
      rows.push([`after ${HEADS_PER_ENDPOINT} HEAD ${path}`, sample(pid, databasePath), statusText(heads)]);
    }

    const first = rows[0]![1];
    console.log('| step | RSS (MiB) | Δ RSS (MiB) | descriptors | Δ descriptors | WAL (KiB) | answers |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const [step, s, answers] of rows) {
      console.log(
        `| ${step} | ${(s.rssKib / 1024).toFixed(1)} | ${((s.rssKib - first.rssKib) / 1024).toFixed(1)} | ${s.fds} | ${s.fds - first.fds} | ${(s.walBytes / 1024).toFixed(0)} | ${answers} |`,
      );
    }
  } finally {
    agent.destroy();
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await once(child, 'exit');
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

const statusText = (statuses: Map<number, number>) =>
  [...statuses].sort((a, b) => a[0] - b[0]).map(([status, n]) => `${n}× ${status || 'failed'}`).join(', ');

await main();
