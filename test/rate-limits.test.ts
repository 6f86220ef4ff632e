// Rate limits counted through the storage port: on PostgreSQL in a table every server shares,
// so that a client reaching N servers on one database gets its budget once, not N times.
import { afterEach, expect, it } from 'vitest';
import { FAILURE_LIMIT } from '../src/plugins/limits.js';
import { runMigrations } from '../src/storage/postgres/migrate.js';
import { RequestCounter } from '../src/storage/postgres/request-counts.js';
import { AUTH, buildTestApp, expectProblem, type TestApp } from './helpers.js';
import { describeEngines, describePg, eachTestPgDatabase } from './support/pg.js';
import { sleep } from './support/server.js';

const opened: TestApp[] = [];
afterEach(async () => {
  // the apps sharing a database first: the one that made it drops it
  for (const t of opened.splice(0).reverse()) await t.close();
});

async function open(options: Parameters<typeof buildTestApp>[0]): Promise<TestApp> {
  const t = await buildTestApp(options);
  opened.push(t);
  return t;
}

describeEngines('request counting', (engine) => {
  it('counts a key in a fixed window, a new one once it has run out, and each key apart', async () => {
    const t = await open({ engine });
    const { storage } = t.app;
    const first = await storage.countRequest('ip:192.0.2.1', 1000);
    expect(first.current).toBe(1);
    expect(first.ttlMs).toBeGreaterThan(0);
    expect(first.ttlMs).toBeLessThanOrEqual(1000);
    expect((await storage.countRequest('ip:192.0.2.1', 1000)).current).toBe(2);
    expect((await storage.countRequest('ip:192.0.2.2', 1000)).current).toBe(1);
    const third = await storage.countRequest('ip:192.0.2.1', 1000);
    expect(third.current).toBe(3);
    expect(third.ttlMs).toBeLessThanOrEqual(first.ttlMs);
    await sleep(1100);
    expect((await storage.countRequest('ip:192.0.2.1', 1000)).current).toBe(1);
  });

  it('counts keys of any length (a forwarded address is what the client sent)', async () => {
    const t = await open({ engine });
    const long = `ip:${'f'.repeat(5000)}`;
    expect((await t.app.storage.countRequest(long, 60_000)).current).toBe(1);
    expect((await t.app.storage.countRequest(long, 60_000)).current).toBe(2);
    expect((await t.app.storage.countRequest(`${long}0`, 60_000)).current).toBe(1);
  });
});

describePg('rate limits shared by the servers of one database', () => {
  const statuses = async (apps: TestApp[], n: number, options: { url?: string; remoteAddress?: string; headers?: Record<string, string> } = {}) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const res = await apps[i % apps.length]!.app.inject({
        url: options.url ?? '/v1/places',
        headers: options.headers ?? {},
        remoteAddress: options.remoteAddress ?? '192.0.2.10',
      });
      out.push(res.statusCode);
    }
    return out;
  };

  it('gives a client its limit once across two servers, with Retry-After from the shared window', async () => {
    const first = await open({ engine: 'postgres', config: { rateLimit: 6 } });
    const second = await open({ sameDatabaseAs: first, config: { rateLimit: 6 } });
    const both = [first, second];
    // alternating between the two: each server alone would allow 6
    expect(await statuses(both, 9)).toEqual([200, 200, 200, 200, 200, 200, 429, 429, 429]);
    const limited = await second.app.inject({ url: '/v1/places', remoteAddress: '192.0.2.10' });
    expectProblem(limited, 429, 'the other server');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    // the remaining count each server reports is the shared one
    const fresh = await first.app.inject({ url: '/v1/places', remoteAddress: '192.0.2.11' });
    const next = await second.app.inject({ url: '/v1/places', remoteAddress: '192.0.2.11' });
    expect([fresh.headers['ratelimit-remaining'], next.headers['ratelimit-remaining']]).toEqual(['5', '4']);
    // an API key has its own budget, shared the same way
    expect(await statuses(both, 7, { headers: AUTH })).toEqual([200, 200, 200, 200, 200, 200, 429]);
  });

  it('shares the failure budget: unknown paths through either server count once', async () => {
    const first = await open({ engine: 'postgres', config: { rateLimit: 10_000 } });
    const second = await open({ sameDatabaseAs: first, config: { rateLimit: 10_000 } });
    const answers = await statuses([first, second], FAILURE_LIMIT + 2, { url: '/v1/no-such-route', remoteAddress: '192.0.2.20' });
    expect(answers.slice(0, FAILURE_LIMIT).every((s) => s === 404)).toBe(true);
    expect(answers.slice(FAILURE_LIMIT)).toEqual([429, 429]);
    // another address is not affected
    expect(await statuses([second], 1, { url: '/v1/no-such-route', remoteAddress: '192.0.2.21' })).toEqual([404]);
  });
});

describePg('request counts table', () => {
  const { pool } = eachTestPgDatabase();

  it('is pruned of windows that have run out', async () => {
    const db = pool();
    await runMigrations(db);
    await new RequestCounter(db).count('ip:192.0.2.30', 20);
    await new RequestCounter(db).count('ip:192.0.2.31', 60_000);
    await sleep(50);
    // a counter prunes before its first count, then at intervals
    await new RequestCounter(db).count('ip:192.0.2.32', 60_000);
    const { rows } = await db.query<{ key: string }>('SELECT key FROM request_counts ORDER BY key');
    expect(rows.map((r) => r.key)).toEqual(['ip:192.0.2.31', 'ip:192.0.2.32']);
    const unlogged = await db.query<{ relpersistence: string }>("SELECT relpersistence FROM pg_class WHERE relname = 'request_counts'");
    expect(unlogged.rows[0]?.relpersistence).toBe('u');
  });
});
