// The entry documents PostgreSQL stores are shared by every server on the database: a document
// one server writes in a write transaction is what another serves, never an older one.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AUTH, buildTestApp, type TestApp } from './helpers.js';
import { expectDocumentsCurrent, pgDb, pgProbe } from './support/documents.js';
import { describePg } from './support/pg.js';

type Json = Record<string, any>;

describePg('entry documents shared by two servers', () => {
  let first: TestApp;
  let second: TestApp;
  beforeAll(async () => {
    first = await buildTestApp({ engine: 'postgres', seed: true });
    second = await buildTestApp({ sameDatabaseAs: first });
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  it('serves, through the second, the documents the first wrote after a rename of an actor they name', async () => {
    const page = async (app: TestApp) => (await app.app.inject('/v1/timeline?limit=200&lang=ar')).json<{ data: Json[] }>().data;
    const before = await page(second);
    const named = before.find((entry) => entry.kind === 'event' && (entry.actors as Json[]).length > 0);
    expect(named, 'an event naming an actor').toBeDefined();
    const actor = (named!.actors as Json[])[0]!.actor as Json;
    const renamed = { ar: 'اسم جديد من الخادم الأول', en: 'Renamed through the first server' };
    const res = await first.app.inject({ method: 'PATCH', url: `/v1/actors/${actor.key}`, headers: AUTH, payload: { name: renamed } });
    expect(res.statusCode, res.body).toBe(200);

    const db = pgDb(second.app);
    const probe = pgProbe(db);
    // written by the first server's write transaction, for every entry naming the actor
    await expectDocumentsCurrent(probe, 'after the rename');
    expect(await probe.containing(renamed.en)).toBeGreaterThan(0);
    const after = await page(second);
    const served = after.find((entry) => entry.id === named!.id)!;
    expect((served.actors as Json[]).find((a) => a.actor.key === actor.key)?.actor.name).toEqual({ ar: renamed.ar });
    // the page is the documents, byte for byte what rendering from the rows gives
    const ids = after.map((entry) => entry.id as number);
    expect(after.map((entry) => JSON.stringify(entry))).toEqual(await probe.oracle(ids, 'ar'));
  });
});
