// A record named by more entries than a write renders (an actor in thousands of entries): its
// rename removes their documents and leaves them to the pass over missing documents, instead of
// holding the write lock (and, on SQLite, every request) while it renders them all. Readers must
// not see the difference: every entry is served current at once, and the pass renders them all.
import { expect, it } from 'vitest';
import { REACHED_RENDER_LIMIT } from '../src/storage/documents.js';
import { AUTH, buildTestApp, ndjson, type TestApp } from './helpers.js';
import { documentsProbe, documentsWritten, expectDocumentsCurrent, expectStoredDocumentsCurrent } from './support/documents.js';
import { describeEngines } from './support/pg.js';

type Json = Record<string, any>;

const NAMED = REACHED_RENDER_LIMIT + 25;

/** The popular actor, another, and the events: all but the last name the popular one. */
function records(): Json[] {
  const events = Array.from({ length: NAMED + 1 }, (_, i) => ({
    kind: 'event',
    key: `event:e${i}`,
    type: 'meeting',
    date: new Date(Date.UTC(2020, 0, 1) + i * 86_400_000).toISOString().slice(0, 10),
    title: { en: `Meeting ${i}`, ar: `اجتماع ${i}` },
    actors: [{ actor: i < NAMED ? 'actor:popular' : 'actor:other', role: 'host' }],
  }));
  return [
    { kind: 'actor', key: 'actor:popular', type: 'organization', name: { en: 'Popular', ar: 'شعبي' }, aliases: [] },
    { kind: 'actor', key: 'actor:other', type: 'person', name: { en: 'Other' }, aliases: [] },
    ...events,
  ];
}

/** Every entry of the timeline in `lang`, through the API. */
async function timeline(t: TestApp, lang: string): Promise<Json[]> {
  const entries: Json[] = [];
  let url: string | null = `/v1/timeline?limit=500&lang=${lang}`;
  while (url !== null) {
    const res: { statusCode: number; body: string; json: () => unknown } = await t.app.inject(url);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { data: Json[]; page: { nextCursor: string | null } };
    entries.push(...body.data);
    url = body.page.nextCursor === null ? null : `/v1/timeline?limit=500&lang=${lang}&cursor=${encodeURIComponent(body.page.nextCursor)}`;
  }
  return entries;
}

describeEngines('a rename that reaches more entries than a write renders', (engine) => {
  it('serves every entry that names it renamed at once, and the pass renders their documents after', async () => {
    const t = await buildTestApp({ engine });
    try {
      const imported = await t.app.inject({
        method: 'POST',
        url: '/v1/import',
        headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
        payload: ndjson(records()),
      });
      expect(imported.statusCode, imported.body).toBe(200);
      expect(imported.json<Json>().refused).toBe(0);
      const probe = documentsProbe(t.app);
      await documentsWritten(t.app);
      await expectDocumentsCurrent(probe, 'after the import');

      const renamed = await t.app.inject({
        method: 'PATCH',
        url: '/v1/actors/actor:popular',
        headers: AUTH,
        payload: { name: { en: 'Renamed popular', ar: 'شعبي جديد' } },
      });
      expect(renamed.statusCode, renamed.body).toBe(200);

      // the write removed the documents it reached through the actor rather than rendering them
      // (the pass renders them a page at a time from the next turn on: not all of them yet)
      expect((await probe.documentedIds()).length).toBeLessThan(NAMED);
      // at once, whatever the pass has rendered by now: no document is stale, and every
      // entry that names the actor is served with its new name
      await expectStoredDocumentsCurrent(probe, 'right after the rename');
      expect(await probe.containing('"Popular"')).toBe(0);
      for (const lang of ['en', 'ar']) {
        const served = await timeline(t, lang);
        expect(served).toHaveLength(NAMED + 1);
        const names = served.map((entry) => (entry.actors as Json[])[0]!.actor.name as Json);
        expect(names.filter((name) => JSON.stringify(name) === JSON.stringify(lang === 'en' ? { en: 'Renamed popular' } : { ar: 'شعبي جديد' })))
          .toHaveLength(NAMED);
      }

      // the other entry's document was left alone, and a write meanwhile is served at once
      const written = await t.app.inject({
        method: 'POST',
        url: '/v1/events',
        headers: AUTH,
        payload: { key: 'event:later', type: 'meeting', date: '2030-01-01', title: { en: 'Later' }, actors: [{ actor: 'actor:popular', role: 'host' }] },
      });
      expect(written.statusCode, written.body).toBe(201);

      await documentsWritten(t.app);
      await expectDocumentsCurrent(probe, 'after the pass');
      expect(await probe.containing('Renamed popular')).toBe(NAMED + 1);
    } finally {
      await t.close();
    }
  });
});
