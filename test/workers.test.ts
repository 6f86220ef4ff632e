// ANNALS_WORKERS: several processes (node:cluster) serving one port and one database file,
// over real HTTP. Each worker reads the entry documents stored in the file, so a write through one
// must show on the next read through any other.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REPO, SERVER_AUTH, startServer, stopAllServers, type ServerProcess } from './support/server.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/** Starts the server with two workers and waits until both listen; returns their pids. */
async function startWorkers(databasePath: string): Promise<{ server: ServerProcess; workers: number[] }> {
  const server = await startServer({ databasePath, env: { ANNALS_WORKERS: '2' }, timeoutMs: 60_000 });
  const listening = (line: { msg?: string }) => typeof line.msg === 'string' && line.msg.startsWith('Server listening at');
  expect(await until(() => server.logs.filter(listening).length >= 2, 30_000), 'both workers listen').toBe(true);
  const lines = server.logs.filter(listening);
  const workers = [...new Set(lines.map((line) => line.pid as number))];
  expect(workers).toHaveLength(2);
  expect(workers).not.toContain(server.pid);
  // the same port for both: the primary shares one listening socket
  expect(new Set(lines.map((line) => /:(\d+)$/.exec(line.msg!)![1]))).toEqual(new Set([String(server.port)]));
  return { server, workers };
}

describe('ANNALS_WORKERS=2', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'annals-workers-'));
  });
  afterEach(() => stopAllServers());
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves from both workers, shows a write on every read after it, and stops on SIGTERM', async () => {
    const { server, workers } = await startWorkers(path.join(dir, 'serve.db'));
    const timeline = `${server.url}/v1/timeline?from=2022-01-20&to=2022-01-20`;
    const keys = async () => ((await (await fetch(timeline)).json()) as { data: { key: string }[] }).data.map((e) => e.key);

    // fill both workers' caches with the page as it is before the write
    for (let i = 0; i < 20; i++) expect(await keys()).toEqual([]);
    const created = await fetch(`${server.url}/v1/events`, {
      method: 'POST',
      headers: { ...SERVER_AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'event:workers-probe', type: 'meeting', date: '2022-01-20', title: { en: 'Probe' } }),
    });
    expect(created.status).toBe(201);
    for (let i = 0; i < 20; i++) expect(await keys()).toEqual(['event:workers-probe']);

    const served = new Set(server.logs.filter((line) => line.msg === 'request completed').map((line) => line.pid));
    expect(served).toEqual(new Set(workers));

    const exit = await server.stop();
    expect(exit.code).toBe(0);
    for (const pid of workers) expect(alive(pid), `worker ${pid} gone`).toBe(false);
  }, 120_000);

  it('exits 1, without restarting workers forever, when they cannot listen', async () => {
    const taken = createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const { port } = taken.address() as AddressInfo;
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, ANNALS_DB: path.join(dir, 'taken.db'), PORT: String(port), HOST: '127.0.0.1', ANNALS_WORKERS: '2', ANNALS_SEED: 'off', LOG_LEVEL: 'silent' };
      delete env.NODE_OPTIONS;
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { cwd: REPO, env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const [code] = (await once(child, 'exit')) as [number | null];
      clearTimeout(timer);
      expect(code, stderr).toBe(1);
      expect(stderr).toMatch(/before listening; stopping/);
      expect(stderr).not.toMatch(/starting another/);
    } finally {
      taken.close();
    }
  }, 60_000);

  it('stops its workers when the primary is killed', async () => {
    const { server, workers } = await startWorkers(path.join(dir, 'kill.db'));
    await server.kill();
    expect(await until(() => workers.every((pid) => !alive(pid)), 15_000), 'workers exit without their primary').toBe(true);
  }, 120_000);
});
