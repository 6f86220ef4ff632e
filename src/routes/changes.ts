import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { publicSecurity } from '../plugins/auth.js';
import { ChangePage, ChangesQuery } from '../schemas/changes.js';
import { jsonResponse, problemResponses } from '../schemas/common.js';
import { changesPruned } from '../schemas/problems.js';
import type { Storage } from '../storage/port.js';
import type { Change, RecordKind } from '../storage/types.js';
import type { z } from 'zod';

type ChangeOut = z.output<typeof ChangePage>['data'][number];

/**
 * The changes with the records as they are now: one load per kind for the page. A record
 * changed again later comes as it is now at each of its changes; one deleted since comes as
 * null (its tombstone follows).
 */
export async function withRecords(storage: Storage, changes: Change[], lang?: string): Promise<ChangeOut[]> {
  const idsByKind = new Map<RecordKind, Set<number>>();
  for (const change of changes) {
    if (change.operation === 'delete') continue;
    let ids = idsByKind.get(change.kind);
    if (!ids) idsByKind.set(change.kind, (ids = new Set()));
    ids.add(change.id);
  }
  const records = new Map<string, unknown>();
  for (const [kind, ids] of idsByKind) {
    const loaded = kind === 'event' || kind === 'statement' ? await storage.loadEntries([...ids], lang) : await storage.loadRecords(kind, [...ids], lang);
    for (const record of loaded) {
      // an entry's kind is its own: an id logged as an event is that entry
      records.set(`${kind}:${record.id}`, record);
    }
  }
  return changes.map((change) => {
    const { sequence, operation, kind, id, key, at, author, fields } = change;
    const base = { sequence, operation, kind, id, key, at, author, fields };
    if (operation === 'delete') return base;
    return { ...base, record: (records.get(`${kind}:${id}`) ?? null) as ChangeOut['record'] };
  });
}

/** Throws the 410 when changes after `since` are no longer all in the log. */
export async function assertRetained(storage: Storage, since: number) {
  const extent = await storage.changeLogExtent();
  if (since < extent.floor) throw changesPruned(since, extent.floor);
  return extent;
}

export const changesRoutes: FastifyPluginAsyncZod = async function (app) {
  app.get(
    '/changes',
    {
      schema: {
        operationId: 'listChanges',
        tags: ['Changes'],
        summary: 'Follow the changes',
        description:
          'Every write (create, update, delete; by the API or an import) in the order it committed, after the sequence `since`. ' +
          'Each change carries the record as it is now; a delete is a tombstone with the key alone. Go on with the `page.since` ' +
          'of each page (or the `Link: rel="next"` header while `page.more`); a mirror that applies every change in order, after ' +
          'an export taken at the trailer\'s `sequence`, holds the same data. Changes are kept for a retention period (30 days ' +
          'unless configured): a `since` older than that is a 410 with the sequence to resync from.',
        security: publicSecurity,
        querystring: ChangesQuery,
        response: { 200: jsonResponse('A page of changes, oldest first.', ChangePage), ...problemResponses(400, 410) },
      },
    },
    async (request, reply) => {
      const { since, limit, kind } = request.query;
      const extent = await assertRetained(app.storage, since);
      const changes = await app.storage.changesAfter({ kinds: kind }, since, limit + 1);
      const more = changes.length > limit;
      const page = changes.slice(0, limit);
      const next = page.length > 0 ? page[page.length - 1]!.sequence : since;
      if (more) {
        const url = new URL(request.url, `${request.protocol}://${request.host}`);
        url.searchParams.set('since', String(next));
        reply.header('link', `<${url.pathname}${url.search}>; rel="next"`);
      }
      return { data: await withRecords(app.storage, page), page: { limit, since: next, more, latest: Math.max(extent.latest, next) } };
    },
  );
};
