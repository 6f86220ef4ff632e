// The live change feed in one process over real HTTP: heartbeats while quiet, a write answered
// here reaches subscribers at once (the log's polling is turned off), the kind filter, and the
// 410 before any stream when `since` is older than the log.
import { get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { AUTH, buildTestApp, type TestApp } from './helpers.js';
import { describeEngines } from './support/pg.js';

function open(base: string, path: string, headers: Record<string, string> = {}) {
  let text = '';
  const waiters = new Set<() => void>();
  let res: IncomingMessage | undefined;
  const req = get(`${base}${path}`, { headers: { accept: 'text/event-stream', ...headers } }, (r) => {
    res = r;
    r.setEncoding('utf8');
    r.on('data', (chunk: string) => {
      text += chunk;
      for (const w of [...waiters]) w();
    });
  });
  return {
    get text() {
      return text;
    },
    get res() {
      return res;
    },
    until(match: (text: string) => boolean, timeoutMs: number) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (match(text)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => reject(new Error(`not within ${timeoutMs} ms: ${text}`)), timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => req.destroy(),
  };
}

describeEngines('live changes', (engine) => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await buildTestApp({ memory: true, engine, config: { changesHeartbeatMs: 100, changesPollMs: 600_000 } });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await t.close();
  });

  test('heartbeats while quiet; a local write at once; only the kinds asked for', async () => {
    const actorsOnly = open(base, '/v1/changes?kind=actor');
    const all = open(base, '/v1/changes');
    await actorsOnly.until((text) => text.includes(': heartbeat'), 1000);
    expect(actorsOnly.res!.statusCode).toBe(200);
    const post = (url: string, payload: object) => fetch(`${base}${url}`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify(payload) });
    expect((await post('/v1/places', { key: 'place:l', type: 'city', name: { en: 'L' } })).status).toBe(201);
    const started = Date.now();
    expect((await post('/v1/actors', { key: 'actor:l', type: 'person', name: { en: 'L' } })).status).toBe(201);
    await actorsOnly.until((text) => text.includes('"key":"actor:l"'), 500);
    expect(Date.now() - started).toBeLessThan(500);
    await all.until((text) => text.includes('"key":"actor:l"'), 500);
    expect(actorsOnly.text).not.toContain('place:l');
    expect(all.text).toMatch(/id: 1\nevent: change\ndata: \{"sequence":1,"operation":"create","kind":"place"/);
    actorsOnly.close();
    all.close();
  });

  test('a since older than the log is a 410 problem, not a stream', async () => {
    await t.app.storage.pruneChanges(new Date(Date.now() + 1000).toISOString());
    const res = await fetch(`${base}/v1/changes?since=0`, { headers: { accept: 'text/event-stream' } });
    expect(res.status).toBe(410);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await res.json()).resyncFrom).toBeGreaterThan(0);
  });
});
