// A feed filtered by a timeline query passes on the updates that move an entry out of it (the
// subscriber must drop it), and not those of entries that were never in it.
import { afterEach, expect, test } from 'vitest';
import { AUTH, buildTestApp, type TestApp } from './helpers.js';
import { describeEngines } from './support/pg.js';

type Json = any;

describeEngines('a filtered change feed', (engine) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function setUp() {
    t = await buildTestApp({ memory: true, engine });
    const a = t.app;
    const send = async (method: 'POST' | 'PATCH', url: string, payload: object) => {
      const res = await a.inject({ method, url, headers: AUTH, payload });
      expect(res.statusCode, res.body).toBeLessThan(300);
      return res.json();
    };
    await send('POST', '/v1/actors', { key: 'actor:a', type: 'person', name: { en: 'A' } });
    await send('POST', '/v1/actors', { key: 'actor:b', type: 'person', name: { en: 'B' } });
    const latest = (await a.inject({ url: '/v1/changes?since=0&limit=1000' })).json().page.latest as number;
    const feed = async (query: string): Promise<string[]> => {
      const res = await a.inject({ url: `/v1/changes?since=${latest}&limit=1000&${query}` });
      expect(res.statusCode, res.body).toBe(200);
      return res.json().data.map((c: Json) => `${c.operation} ${c.key} ${(c.fields ?? []).join(',')}`.trim());
    };
    return { send, feed };
  }

  test('an entry moved out of the window is heard with the update that moved it; one moved between two dates outside it is not', async () => {
    const { send, feed } = await setUp();
    await send('POST', '/v1/events', { key: 'event:in', type: 'protest', date: '2022-01-05', title: { en: 'In' } });
    await send('POST', '/v1/events', { key: 'event:out', type: 'protest', date: '2023-03-01', title: { en: 'Out' } });
    await send('PATCH', '/v1/events/event:in', { date: '2022-02-10' });
    await send('PATCH', '/v1/events/event:in', { date: '2022-02-11' });
    await send('PATCH', '/v1/events/event:out', { date: '2023-04-01' });
    await send('PATCH', '/v1/events/event:out', { title: { en: 'Still out' } });
    // the creates are not heard: the entries are not in the window now, which the update says
    expect(await feed('from=2022-01-05&to=2022-01-06')).toEqual(['update event:in date']);
    // within: an entry that grew past the window's end left it
    await send('PATCH', '/v1/events/event:out', { date: '2022-01-05' });
    await send('PATCH', '/v1/events/event:out', { date: '2022-01-05/2022-01-09' });
    expect(await feed('from=2022-01-05&to=2022-01-06&match=within')).toEqual(['update event:in date', 'update event:out date']);
    // overlapping the window now, every change of event:out is heard
    expect(await feed('from=2022-01-05&to=2022-01-06')).toEqual([
      'create event:out',
      'update event:in date',
      'update event:out date',
      'update event:out title',
      'update event:out date',
      'update event:out date',
    ]);
  });

  test('by actor and type: an entry that lost the actor or changed type is heard; one that never had them is not', async () => {
    const { send, feed } = await setUp();
    await send('POST', '/v1/events', { key: 'event:x', type: 'protest', date: '2022-01-05', title: { en: 'X' }, actors: [{ actor: 'actor:a', role: 'participant' }] });
    await send('POST', '/v1/events', { key: 'event:y', type: 'protest', date: '2022-01-05', title: { en: 'Y' }, actors: [{ actor: 'actor:b', role: 'participant' }] });
    await send('PATCH', '/v1/events/event:x', { actors: [{ actor: 'actor:b', role: 'participant' }] });
    await send('PATCH', '/v1/events/event:y', { actors: [{ actor: 'actor:b', role: 'organizer' }] });
    expect(await feed('actor=actor:a')).toEqual(['update event:x actors']);
    await send('PATCH', '/v1/events/event:x', { type: 'strike' });
    await send('PATCH', '/v1/events/event:y', { title: { en: 'Y2' } });
    expect(await feed('type=protest')).toEqual(['create event:y', 'update event:y actors', 'update event:x type', 'update event:y title']);
  });
});
