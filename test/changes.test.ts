// The change log and GET /v1/changes: what every kind of write logs, pages, tombstones, the
// export's sequence, and the 410 past the retained log.
import { afterEach, expect, test } from 'vitest';
import { AUTH, buildTestApp, expectProblem, ndjson, type TestApp } from './helpers.js';
import { describeEngines, type Engine } from './support/pg.js';

let open: TestApp[] = [];
afterEach(async () => {
  await Promise.all(open.map((t) => t.close()));
  open = [];
});

async function app(engine: Engine, config: Parameters<typeof buildTestApp>[0] = {}) {
  const t = await buildTestApp({ memory: true, engine, ...config });
  open.push(t);
  return t.app;
}

type Json = any;

async function feed(a: Awaited<ReturnType<typeof app>>, query: string): Promise<Json> {
  const res = await a.inject({ url: `/v1/changes?${query}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

describeEngines('change log', (engine) => {
  test('creates, updates with their fields, deletes as tombstones, imports, with the key name and in order', async () => {
    const a = await app(engine);
    const post = (url: string, payload: object) => a.inject({ method: 'POST', url, headers: AUTH, payload });
    expect((await post('/v1/places', { key: 'place:x', type: 'city', name: { en: 'X' } })).statusCode).toBe(201);
    expect((await post('/v1/actors', { key: 'actor:a', type: 'person', name: { en: 'A' } })).statusCode).toBe(201);
    const ev = await post('/v1/events', { key: 'event:e', type: 'protest', date: '2022-01-05', title: { en: 'E' }, places: ['place:x'] });
    expect(ev.statusCode, ev.body).toBe(201);
    const tl = await post('/v1/timelines', { key: 'timeline:t', slug: 't', title: { en: 'T' }, entries: ['event:e'] });
    expect(tl.statusCode, tl.body).toBe(201);
    const patched = await a.inject({ method: 'PATCH', url: '/v1/actors/actor:a', headers: AUTH, payload: { name: { en: 'A2' } } });
    expect(patched.statusCode).toBe(200);
    // a patch that changes nothing logs nothing
    await a.inject({ method: 'PATCH', url: '/v1/actors/actor:a', headers: AUTH, payload: { name: { en: 'A2' } } });
    const imported = await a.inject({
      method: 'POST',
      url: '/v1/import',
      headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
      payload: ndjson([
        { kind: 'actor', key: 'actor:b', type: 'group', name: { en: 'B' } },
        { kind: 'actor', key: 'actor:a', type: 'person', name: { en: 'A3' } },
      ]),
    });
    expect(imported.statusCode, imported.body).toBe(200);
    // a curated timeline edit, then the delete its entry no longer refuses
    expect((await a.inject({ method: 'PATCH', url: '/v1/timelines/timeline:t', headers: AUTH, payload: { entries: [] } })).statusCode).toBe(200);
    expect((await a.inject({ method: 'DELETE', url: '/v1/events/event:e', headers: AUTH })).statusCode).toBe(204);

    const body = await feed(a, 'since=0');
    const summary = body.data.map((c: Json) => [c.sequence, c.operation, c.kind, c.key, c.fields]);
    expect(summary).toEqual([
      [1, 'create', 'place', 'place:x', null],
      [2, 'create', 'actor', 'actor:a', null],
      [3, 'create', 'event', 'event:e', null],
      [4, 'create', 'timeline', 'timeline:t', null],
      [5, 'update', 'actor', 'actor:a', ['name']],
      [6, 'create', 'actor', 'actor:b', null],
      [7, 'update', 'actor', 'actor:a', ['name']],
      [8, 'update', 'timeline', 'timeline:t', ['entryIds']],
      [9, 'delete', 'event', 'event:e', null],
    ]);
    expect(body.data.every((c: Json) => c.author === 'bootstrap')).toBe(true);
    expect(JSON.stringify(body)).not.toContain('test-bootstrap-key');
    // records as they are now: the actor's first change shows its latest name, the deleted event's create shows null
    expect(body.data[1].record.name).toEqual({ en: 'A3' });
    expect(body.data[2].record).toBeNull();
    expect('record' in body.data[8]).toBe(false);
    expect(body.data[7].record.entryCount).toBe(0);
    expect(body.page).toEqual({ limit: 100, since: 9, more: false, latest: 9 });

    // keyset pages with a next link, and the kind filter
    const first = await a.inject({ url: '/v1/changes?since=0&limit=4' });
    expect(first.json().data.map((c: Json) => c.sequence)).toEqual([1, 2, 3, 4]);
    expect(first.headers.link).toBe('</v1/changes?since=4&limit=4>; rel="next"');
    expect((await feed(a, 'since=4&limit=4')).data.map((c: Json) => c.sequence)).toEqual([5, 6, 7, 8]);
    const last = await feed(a, 'since=8&limit=4');
    expect(last.page).toEqual({ limit: 4, since: 9, more: false, latest: 9 });
    expect((await feed(a, 'since=0&kind=actor')).data.map((c: Json) => c.sequence)).toEqual([2, 5, 6, 7]);

    // the export's trailer carries the sequence it was read at
    const exported = (await a.inject({ url: '/v1/export' })).body.trimEnd().split('\n');
    expect(JSON.parse(exported[exported.length - 1]!).sequence).toBe(9);
  });

  test('a bulk load logs every record, in line order', async () => {
    const t = await buildTestApp({ memory: true, engine });
    open.push(t);
    const lines = Array.from({ length: 2500 }, (_, i) => ({ kind: 'actor', key: `actor:n${i}`, type: 'person', name: { en: `N${i}` } }));
    const session = await t.app.storage.beginImport({ bulkLoad: 'always', author: 'loader' });
    const { importNdjson } = await import('../src/import/ndjson.js');
    const { Readable } = await import('node:stream');
    const report = await importNdjson(session, Readable.from([Buffer.from(ndjson(lines))]), { batchSize: 1000 });
    expect(report.refused).toBe(0);
    const changes = await t.app.storage.changesAfter({}, 0, 5000);
    expect(changes.map((c) => c.key)).toEqual(lines.map((l) => l.key));
    expect(changes.map((c) => c.sequence)).toEqual(lines.map((_, i) => i + 1));
    expect(new Set(changes.map((c) => c.author))).toEqual(new Set(['loader']));
  });

  test('retention: a since older than the retained log is a 410 with the sequence to resync from', async () => {
    const a = await app(engine);
    for (const i of [1, 2, 3]) {
      const res = await a.inject({ method: 'POST', url: '/v1/actors', headers: AUTH, payload: { key: `actor:r${i}`, type: 'person', name: { en: `R${i}` } } });
      expect(res.statusCode).toBe(201);
    }
    // everything written before now is past a retention that ends now
    expect(await a.storage.pruneChanges(new Date(Date.now() + 1000).toISOString())).toBe(3);
    const gone = await a.inject({ url: '/v1/changes?since=1' });
    const problem = expectProblem(gone, 410);
    expect(problem.type).toBe('/problems/changes-pruned');
    expect(problem.resyncFrom).toBe(3);
    // the export says where to resync from, and from there the feed answers
    const exported = (await a.inject({ url: '/v1/export' })).body.trimEnd().split('\n');
    const sequence = JSON.parse(exported[exported.length - 1]!).sequence;
    expect(sequence).toBe(3);
    expect((await feed(a, `since=${sequence}`)).data).toEqual([]);
    await a.inject({ method: 'POST', url: '/v1/actors', headers: AUTH, payload: { key: 'actor:r4', type: 'person', name: { en: 'R4' } } });
    expect((await feed(a, `since=${sequence}`)).data.map((c: Json) => c.key)).toEqual(['actor:r4']);
    // pruning keeps what is younger than the retention
    expect(await a.storage.pruneChanges(new Date(Date.now() - 60_000).toISOString())).toBe(0);
    expectProblem(await a.inject({ url: '/v1/changes?since=2' }), 410);
  });

  test('the prune timer prunes at intervals with the configured retention', async () => {
    const a = await app(engine, { config: { changesRetentionMs: 1, changesPruneIntervalMs: 20 } });
    await a.inject({ method: 'POST', url: '/v1/actors', headers: AUTH, payload: { key: 'actor:p', type: 'person', name: { en: 'P' } } });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await a.storage.changeLogExtent()).toEqual({ floor: 1, latest: 1 });
  });

  test('a record\'s revisions: when, by whom, which fields, and what they were', async () => {
    const a = await app(engine);
    await a.inject({ method: 'POST', url: '/v1/places', headers: AUTH, payload: { key: 'place:p', type: 'city', name: { en: 'P' } } });
    await a.inject({ method: 'POST', url: '/v1/actors', headers: AUTH, payload: { key: 'actor:v', type: 'person', name: { en: 'V1' } } });
    await a.inject({ method: 'PATCH', url: '/v1/actors/actor:v', headers: AUTH, payload: { name: { en: 'V2' }, aliases: [{ en: 'Vee' }] } });
    await a.inject({ method: 'PATCH', url: '/v1/actors/actor:v', headers: AUTH, payload: { type: 'group' } });
    const res = await a.inject({ url: '/v1/actors/actor:v/revisions' });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.retainedAfter).toBe(0);
    expect(body.data.map((r: Json) => [r.sequence, r.operation, r.author, r.fields, r.previous])).toEqual([
      [2, 'create', 'bootstrap', null, null],
      [3, 'update', 'bootstrap', ['aliases', 'name'], { aliases: [], name: { en: 'V1' } }],
      [4, 'update', 'bootstrap', ['type'], { type: 'person' }],
    ]);
    expectProblem(await a.inject({ url: '/v1/actors/actor:none/revisions' }), 404);
    // a delete keeps the whole record in the log
    await a.inject({ method: 'DELETE', url: '/v1/places/place:p', headers: AUTH });
    const [tombstone] = await a.storage.changesAfter({ kinds: ['place'] }, 1, 10);
    expect(tombstone!.operation).toBe('delete');
    const revisions = await a.storage.changesAfter({}, 0, 10);
    expect(revisions.map((c) => c.operation)).toEqual(['create', 'create', 'update', 'update', 'delete']);
  });

  test('?as_of= answers a record as it was then; ids are never reused', async () => {
    const a = await app(engine);
    const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
    const send = async (method: 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) => {
      const res = await a.inject({ method, url, headers: AUTH, ...(payload ? { payload } : {}) });
      expect(res.statusCode, res.body).toBeLessThan(300);
      await pause();
    };
    const before = new Date().toISOString();
    await pause();
    await send('POST', '/v1/places', { key: 'place:one', type: 'city', name: { en: 'One' } });
    await send('POST', '/v1/places', { key: 'place:two', type: 'city', name: { en: 'Two' } });
    await send('POST', '/v1/events', { key: 'event:h', type: 'protest', date: '2022-01-05', title: { en: 'First' }, places: ['place:one'] });
    const first = new Date().toISOString();
    await pause();
    await send('PATCH', '/v1/events/event:h', { title: { en: 'Second' }, date: '2022-01-06', places: ['place:two'] });
    const second = new Date().toISOString();
    await pause();
    await send('PATCH', '/v1/events/event:h', { title: { en: 'Third' } });

    const asOf = async (at: string) => a.inject({ url: `/v1/events/event:h?as_of=${encodeURIComponent(at)}` });
    const now = (await a.inject({ url: '/v1/events/event:h' })).json();
    const then = (await asOf(first)).json();
    expect(then.title).toEqual({ en: 'First' });
    expect(then.date.edtf).toBe('2022-01-05');
    expect(then.places.map((p: Json) => p.key)).toEqual(['place:one']);
    expect(then.createdAt).toBe(now.createdAt);
    expect((await asOf(second)).json().title).toEqual({ en: 'Second' });
    expect((await asOf(new Date().toISOString())).json()).toEqual(now);
    // the same instant written with an offset
    const shifted = new Date(Date.parse(first) + 3600_000).toISOString().replace('Z', '+01:00');
    expect((await asOf(shifted)).json().title).toEqual({ en: 'First' });
    expectProblem(await asOf(before), 404);
    // the render left nothing behind: the record reads as it is now
    expect((await a.inject({ url: '/v1/events/event:h' })).json()).toEqual(now);
    expect((await a.inject({ url: '/v1/timeline?from=2022-01-05&to=2022-01-05' })).json().data).toEqual([]);

    // ids are never reused (AUTOINCREMENT), so a record's revisions and the feed's records are its own
    await send('POST', '/v1/places', { key: 'place:three', type: 'city', name: { en: 'Three' } });
    const three = (await a.inject({ url: '/v1/places/place:three' })).json().id;
    await send('DELETE', '/v1/places/place:three');
    const four = await a.inject({ method: 'POST', url: '/v1/places', headers: AUTH, payload: { key: 'place:four', type: 'city', name: { en: 'Four' } } });
    expect(four.json().id).toBeGreaterThan(three);
  });
});
