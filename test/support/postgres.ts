/**
 * vitest globalSetup: the PostgreSQL server the PostgreSQL half of the suite runs against.
 *
 * ANNALS_TEST_PG_URL names one (a role that may create databases); without it a throwaway
 * cluster is started: `initdb` into a temporary folder (as the `postgres` user when the
 * suite runs as root, since PostgreSQL refuses to run as root), `pg_ctl` on a free loopback
 * port with its socket in that folder, stopped and removed when the run ends. Without
 * PostgreSQL on the machine the PostgreSQL tests are skipped, and the run's last lines say so
 * (test/support/engines-reporter.ts); ANNALS_TEST_PG=off skips them on purpose. The unit tier
 * (pure modules) starts no server.
 *
 * Tests read the URL with `inject('pgUrl')` ('' when there is none) through
 * test/support/pg.ts, which gives each test a database of its own.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL URL whose role may create databases; '' when the PostgreSQL half cannot run. */
    pgUrl: string;
    /** Why there is no PostgreSQL ('' when there is one). */
    pgMissing: string;
  }
}

interface Cluster {
  url: string;
  missing: string;
  stop(): void;
}

/**
 * vitest runs the global setup of each project (unit, api, process) in this one process: they
 * share one cluster, started by the first and stopped by the last to finish.
 */
interface Shared {
  cluster: Promise<Cluster>;
  users: number;
}
const SHARED = Symbol.for('annals.test.postgres');
const MISSING = Symbol.for('annals.test.postgres.missing');
const registry = globalThis as typeof globalThis & { [SHARED]?: Shared; [MISSING]?: string };

/** Why this run has no PostgreSQL ('' when it has one, or before the setup ran), for the engines reporter. */
export const missingReason = (): string => registry[MISSING] ?? '';

export default async function setup(project: TestProject): Promise<() => void> {
  // the unit tier tests pure modules and must answer in seconds: no server for it
  if (project.name === 'unit') {
    project.provide('pgUrl', '');
    project.provide('pgMissing', 'the unit tier runs without PostgreSQL');
    return () => {};
  }
  const shared = (registry[SHARED] ??= { cluster: startCluster(), users: 0 });
  shared.users += 1;
  const cluster = await shared.cluster;
  project.provide('pgUrl', cluster.url);
  project.provide('pgMissing', cluster.missing);
  registry[MISSING] = cluster.missing;
  return () => {
    shared.users -= 1;
    if (shared.users === 0) {
      cluster.stop();
      delete registry[SHARED];
    }
  };
}

/** Where Debian keeps the server's programs (not on PATH), newest version first, then PATH. */
export function findPostgresBin(): string | null {
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => /^\d+$/.test(v) && existsSync(join(debian, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(debian, versions[0], 'bin');
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  const path = which.stdout.trim();
  return which.status === 0 && path !== '' ? join(path, '..') : null;
}

async function startCluster(): Promise<Cluster> {
  const given = process.env.ANNALS_TEST_PG_URL;
  if (given) return { url: given, missing: '', stop() {} };
  if (process.env.ANNALS_TEST_PG === 'off') return { url: '', missing: 'ANNALS_TEST_PG=off', stop() {} };
  const bin = findPostgresBin();
  if (bin === null) {
    return {
      url: '',
      missing: 'initdb was not found (install PostgreSQL, e.g. Debian\'s postgresql package, or set ANNALS_TEST_PG_URL)',
      stop() {},
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'annals-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  // PostgreSQL will not run as root: the cluster belongs to the postgres user then
  if (asRoot) chownSync(dir, uidOf('postgres'), gidOf('postgres'));
  const run = (program: string, args: string[]) => {
    const file = join(bin, program);
    if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', file, ...args], { stdio: 'pipe' });
    else execFileSync(file, args, { stdio: 'pipe' });
  };
  const port = await freePort();
  try {
    // C locale and UTF-8: the schema's COLLATE "C" columns order by code point either way
    run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync']);
    // a throwaway cluster: durability is not wanted, speed is; connections for several test
    // files at once, each app with a pool of its own
    run('pg_ctl', [
      '-D',
      data,
      '-l',
      join(dir, 'server.log'),
      '-w',
      '-t',
      '60',
      '-o',
      [
        `-p ${port}`,
        '-c listen_addresses=127.0.0.1',
        `-c unix_socket_directories=${dir}`,
        '-c fsync=off',
        '-c synchronous_commit=off',
        '-c full_page_writes=off',
        '-c max_connections=300',
        '-c shared_buffers=64MB',
      ].join(' '),
      'start',
    ]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const output = (error as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
    throw new Error(`could not start a PostgreSQL cluster for the tests: ${output || String(error)}`);
  }
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  // a run that is interrupted still stops its server
  process.once('exit', stop);
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, missing: '', stop };
}

const idOf = (flag: '-u' | '-g', user: string) => Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
const uidOf = (user: string) => idOf('-u', user);
const gidOf = (user: string) => idOf('-g', user);

/** A loopback port nothing listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
