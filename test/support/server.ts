// Runs the real server as a child process (`node --import tsx src/server.ts`) on a loopback
// port it picks itself, and reads its pino log lines from stdout. Every process started here
// is remembered until it has exited, so that `stopAllServers()` in an `afterEach` can SIGKILL
// whatever a failed test left running.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The bootstrap key of every server started here (all scopes). */
export const SERVER_KEY = 'resilience-bootstrap-key-0123456789';
export const SERVER_AUTH = { authorization: `Bearer ${SERVER_KEY}` };

/** One pino line (or, for a line that is not JSON, `{ msg: <the text> }`). */
export interface LogLine {
  level?: number;
  msg?: string;
  reqId?: string;
  [field: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly databasePath: string;
  /** Every log line printed so far, in order. */
  readonly logs: LogLine[];
  /** Resolves when the process has exited and its stdout and stderr are fully read. */
  readonly exited: Promise<Exit>;
  hasExited(): boolean;
  stderr(): string;
  /** The first log line (printed so far or later) that matches; rejects on timeout or exit. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs: number): Promise<LogLine>;
  /** SIGKILL, then wait until the process is gone and its output read. */
  kill(): Promise<Exit>;
  /** SIGTERM, then wait for the exit; after `timeoutMs` SIGKILL and reject. */
  stop(timeoutMs?: number): Promise<Exit>;
}

const running = new Set<ServerProcess>();

export interface StartOptions {
  databasePath: string;
  /** Extra or overriding environment variables. */
  env?: Record<string, string>;
  /** How long the server may take to print its listening line. */
  timeoutMs?: number;
}

/** Starts the server and resolves once it listens, with the port parsed from its log. */
export async function startServer(options: StartOptions): Promise<ServerProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // the test runner's own loader options must not leak into the server
  delete env.NODE_OPTIONS;
  Object.assign(env, {
    PORT: '0',
    HOST: '127.0.0.1',
    ANNALS_DB: options.databasePath,
    ANNALS_SEED: 'off',
    ANNALS_BOOTSTRAP_KEY: SERVER_KEY,
    ANNALS_RATE_LIMIT: '0',
    LOG_LEVEL: 'info',
    ...options.env,
  });
  // `--import tsx` is resolved from the working directory: the repository
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: REPO,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  const logs: LogLine[] = [];
  const watchers = new Set<() => void>();
  let stderr = '';
  let pending = '';
  let done = false;
  const notify = () => {
    for (const watcher of [...watchers]) watcher();
  };
  const take = (text: string) => {
    if (text.trim() === '') return;
    try {
      logs.push(JSON.parse(text) as LogLine);
    } catch {
      logs.push({ msg: text });
    }
  };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    pending += chunk;
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      take(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
    notify();
  });
  child.stdout.on('end', () => {
    take(pending);
    pending = '';
    notify();
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });

  // 'close' comes after 'exit' once stdout and stderr are drained: no log line is missed
  const exited = new Promise<Exit>((resolve) => {
    child.on('close', (code, signal) => {
      done = true;
      resolve({ code, signal });
      notify();
    });
    child.on('error', (error) => {
      stderr += `\nspawn error: ${error.message}`;
    });
  });

  const waitForLog = (match: (line: LogLine) => boolean, timeoutMs: number) =>
    new Promise<LogLine>((resolve, reject) => {
      let seen = 0;
      const check = () => {
        for (; seen < logs.length; seen++) {
          if (match(logs[seen]!)) {
            finish();
            resolve(logs[seen]!);
            return;
          }
        }
        if (done) {
          finish();
          reject(new Error(`server exited before the awaited log line; stderr:\n${stderr.slice(-2000)}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`no such log line within ${timeoutMs} ms; stderr:\n${stderr.slice(-2000)}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        watchers.delete(check);
      };
      watchers.add(check);
      check();
    });

  const kill = async () => {
    if (!done) child.kill('SIGKILL');
    return exited;
  };

  const server: ServerProcess = {
    child,
    pid: child.pid ?? -1,
    port: 0,
    url: '',
    databasePath: options.databasePath,
    logs,
    exited,
    hasExited: () => done,
    stderr: () => stderr,
    waitForLog,
    kill,
    async stop(timeoutMs = 15_000) {
      if (done) return exited;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`server ${child.pid} did not exit within ${timeoutMs} ms of SIGTERM`));
        }, timeoutMs);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
  running.add(server);
  void exited.then(() => running.delete(server));

  try {
    const listening = await waitForLog(
      (line) => typeof line.msg === 'string' && /^Server listening at http:\/\/127\.0\.0\.1:\d+$/.test(line.msg),
      options.timeoutMs ?? 30_000,
    );
    const port = Number(/:(\d+)$/.exec(listening.msg!)![1]);
    return Object.assign(server, { port, url: `http://127.0.0.1:${port}` });
  } catch (error) {
    await kill();
    throw error;
  }
}

/** SIGKILLs every server still running (for `afterEach`): a failed test leaves none behind. */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((server) => server.kill()));
}

/** Log lines of committed import batches, in order. */
export interface CommittedBatch {
  reqId: string | undefined;
  firstLine: number;
  lastLine: number;
  records: number;
}

export function committedBatches(logs: LogLine[]): CommittedBatch[] {
  return logs
    .filter((line) => line.msg === 'import batch committed')
    .map((line) => ({
      reqId: line.reqId,
      firstLine: line.firstLine as number,
      lastLine: line.lastLine as number,
      records: line.records as number,
    }));
}

/**
 * Copies a database that no process holds open (the main file and its WAL, not the shared
 * memory index, which SQLite rebuilds) so that it can be checked without recovering the
 * original: the next server start then does the crash recovery itself.
 */
export function snapshotDatabase(source: string, target: string): void {
  copyFileSync(source, target);
  if (existsSync(`${source}-wal`)) copyFileSync(`${source}-wal`, `${target}-wal`);
}

/** `PRAGMA integrity_check`, `foreign_key_check` and the search index's own check, in one line each. */
export function checkDatabase(db: Database.Database): { integrity: string; foreignKeyViolations: number; searchIndex: string } {
  const integrity = (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
  const foreignKeyViolations = (db.pragma('foreign_key_check') as unknown[]).length;
  let searchIndex = 'ok';
  if (!db.readonly) {
    try {
      db.exec(`INSERT INTO search_index(search_index) VALUES ('integrity-check')`);
    } catch (error) {
      searchIndex = (error as Error).message;
    }
  }
  return { integrity, foreignKeyViolations, searchIndex };
}

/** Opens a database file for a check (read-write: a copy after a crash needs WAL recovery). */
export function openForCheck(file: string, readonly = false): Database.Database {
  return new Database(file, { fileMustExist: true, readonly });
}

/** A small seeded PRNG (mulberry32): the same seed gives the same moments. */
export { prng as mulberry32 } from '../../bench/generate.js';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
