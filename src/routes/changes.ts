import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { publicSecurity } from '../plugins/auth.js';
import { ChangePage, ChangesQuery, LastEventIdHeader, TIMELINE_FILTER_PARAMS } from '../schemas/changes.js';
import { resolveTimelineQuery } from '../storage/timeline-query.js';
import { filtersChanged, previousPassed, withoutFilters } from '../storage/filter-departures.js';
import type { TimelineQuery } from '../storage/types.js';
import { sendStreamed } from '../plugins/streaming.js';
import { problemResponses } from '../schemas/common.js';
import { changesPruned } from '../schemas/problems.js';
import type { Storage } from '../storage/port.js';
import type { Change, RecordKind } from '../storage/types.js';
import { z } from 'zod';

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

type Query = z.output<typeof ChangesQuery>;

/** The timeline query of the feed's parameters, or null when none is given. */
async function feedTimelineQuery(storage: Storage, query: Query): Promise<TimelineQuery | null> {
  if (!TIMELINE_FILTER_PARAMS.some((name) => query[name] !== undefined)) return null;
  const entryKinds = query.kind?.filter((k): k is 'event' | 'statement' => k === 'event' || k === 'statement');
  return resolveTimelineQuery(storage, {
    from: query.from,
    to: query.to,
    match: query.match,
    actor: query.actor,
    place: query.place,
    type: query.type,
    kind: entryKinds === undefined || entryKinds.length === 0 ? undefined : entryKinds,
  });
}

/**
 * The changes a feed passes on. With a timeline query: only entries, those it selects as they
 * are now, the updates that moved an entry out of it (src/storage/filter-departures.ts), and
 * every entry's delete (the client knows which keys it holds; the deleted entry's dates are gone).
 */
async function touching(storage: Storage, changes: Change[], timeline: TimelineQuery | null): Promise<Change[]> {
  if (timeline === null) return changes;
  const entries = changes.filter((c) => c.kind === 'event' || c.kind === 'statement');
  const live = entries.filter((c) => c.operation !== 'delete').map((c) => c.id);
  const matching = new Set(await storage.entriesMatching(timeline, [...new Set(live)]));
  const departed = new Set<number>();
  for (const change of entries) {
    if (change.operation !== 'update' || matching.has(change.id)) continue;
    if (await leftQuery(storage, timeline, change)) departed.add(change.sequence);
  }
  return entries.filter((c) => c.operation === 'delete' || matching.has(c.id) || departed.has(c.sequence));
}

/** Whether the entry of an update the query does not select now was selected before it. */
async function leftQuery(storage: Storage, timeline: TimelineQuery, change: Change): Promise<boolean> {
  const kind = change.kind === 'statement' ? 'statement' : 'event';
  const changed = filtersChanged(timeline, change.fields ?? []);
  if (changed.length === 0) return false;
  const unchanged = withoutFilters(timeline, changed);
  if ((await storage.entriesMatching(unchanged, [change.id])).length === 0) return false;
  const previous = await storage.changePrevious(change.sequence);
  return previous == null || previousPassed(timeline, changed, kind, previous);
}

const wantsEventStream = (accept: string | undefined) => accept !== undefined && /(^|,)\s*text\/event-stream\s*(;|,|$)/i.test(accept);

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
        headers: LastEventIdHeader,
        response: {
          200: {
            description:
              'A page of changes, oldest first (JSON); or, with `Accept: text/event-stream`, the changes as Server-Sent Events ' +
              'from `since` (or `Last-Event-ID`) on, live: each event is `event: change`, its `id:` the sequence and its data a ' +
              'Change; comment lines (`: heartbeat`) come every 15 seconds while there is nothing to send. A timeline query ' +
              '(`from`, `to`, `actor`, `place`, `type`, with `kind`) keeps only the entries it selects as they are now, the ' +
              'updates that moved an entry out of it (so that a client drops the entry), and the deletes of entries.',
            content: {
              'application/json': { schema: ChangePage },
              'text/event-stream': {
                schema: z.string().meta({ description: 'Server-Sent Events (text/event-stream), one per change.' }),
                example:
                  'retry: 1000\n: after 41\n\nid: 42\nevent: change\ndata: {"sequence":42,"operation":"update","kind":"actor","id":6,' +
                  '"key":"actor:amreyev","at":"2026-12-03T12:00:00.000Z","author":"bootstrap","fields":["aliases"],"record":{"id":6,' +
                  '"key":"actor:amreyev","type":"person","name":{"ar":"بغداد أمرييف","en":"Baghdad Amreyev"},"aliases":[],' +
                  '"externalIds":{},"affiliations":[],"createdAt":"2026-12-03T11:00:00.000Z","updatedAt":"2026-12-03T12:00:00.000Z"}}\n\n' +
                  'id: 43\nevent: change\ndata: {"sequence":43,"operation":"delete","kind":"event","id":24,"key":"event:almaty-airport",' +
                  '"at":"2026-12-03T12:00:05.000Z","author":"bootstrap","fields":null}\n\n: heartbeat\n\n',
              },
            },
          },
          ...problemResponses(400, 410),
        },
      },
    },
    async (request, reply) => {
      const query = request.query;
      const { limit, kind } = query;
      const lastEventId = request.headers['last-event-id'];
      const since = lastEventId === undefined ? query.since : Number(lastEventId);
      const extent = await assertRetained(app.storage, since);
      const timeline = await feedTimelineQuery(app.storage, query);
      if (wantsEventStream(request.headers.accept)) {
        // no ETag nor caching of a stream that goes on; no buffering by proxies either
        request.etag = undefined;
        reply
          .type('text/event-stream; charset=utf-8')
          .header('cache-control', 'no-store')
          .header('x-accel-buffering', 'no');
        return sendStreamed(request, reply, () =>
          app.liveFeeds.open(since, {
            filter: { kinds: kind },
            select: async (changes) => {
              const passed = await touching(app.storage, changes, timeline);
              const data = await withRecords(app.storage, passed);
              return passed.map((change, i) => ({ change, data: data[i] }));
            },
          }),
        );
      }
      const changes = await app.storage.changesAfter({ kinds: kind }, since, limit + 1);
      const more = changes.length > limit;
      const page = changes.slice(0, limit);
      const next = page.length > 0 ? page[page.length - 1]!.sequence : since;
      if (more) {
        const url = new URL(request.url, `${request.protocol}://${request.host}`);
        url.searchParams.set('since', String(next));
        reply.header('link', `<${url.pathname}${url.search}>; rel="next"`);
      }
      const passed = await touching(app.storage, page, timeline);
      return { data: await withRecords(app.storage, passed), page: { limit, since: next, more, latest: Math.max(extent.latest, next) } };
    },
  );
};
