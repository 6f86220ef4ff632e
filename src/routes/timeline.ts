import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound } from '../errors.js';
import { loadEntries } from '../repositories/entries.js';
import { findId } from '../repositories/support.js';
import { timelinePage, type TimelinePosition, type TimelineQuery as RepoQuery } from '../repositories/timeline.js';
import { IdOrKeyParam, problemResponses } from '../schemas/common.js';
import { EntryList } from '../schemas/entries.js';
import { ActorTimelineQuery, PlaceTimelineQuery, TimelineQuery } from '../schemas/timeline.js';
import { resolveTimelineQuery, timelineFilterParams, type TimelineParams } from '../timeline.js';
import { filterScope, linkNext } from './crud.js';

/** Answers one page of a timeline query: entries, the next cursor and its Link header. */
export function timelineResponse(
  request: FastifyRequest,
  reply: FastifyReply,
  params: Partial<TimelineParams>,
  query: RepoQuery,
  scopePath: string,
) {
  const app = request.server;
  const scope = filterScope(scopePath, timelineFilterParams(params));
  const limit = params.limit ?? 50;
  const after = params.cursor === undefined ? undefined : app.cursors.decode<TimelinePosition>(scope, params.cursor);
  const page = timelinePage(app.db, query, after, limit);
  const nextCursor = page.next === null ? null : app.cursors.encode(scope, page.next);
  const link = linkNext(request, nextCursor);
  if (link) reply.header('link', link);
  return { data: loadEntries(app.db, page.ids, params.lang), page: { nextCursor, limit } };
}

export async function timelineRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  app.get(
    '/timeline',
    {
      schema: {
        operationId: 'getTimeline',
        tags: ['Timeline'],
        summary: 'Events and statements merged in chronological order',
        description:
          'Entries whose date overlaps (or lies within) the window, filtered by actor, place, type, tag and kind, ' +
          'ordered by earliest day, latest day, kind and id. Pages are keyset cursors that stay correct while data changes.',
        querystring: TimelineQuery,
        response: { 200: EntryList, ...problemResponses(400) },
      },
    },
    async (request, reply) =>
      timelineResponse(request, reply, request.query, resolveTimelineQuery(app.db, request.query), 'timeline'),
  );

  const scoped = (table: 'actor' | 'place') => async (request: FastifyRequest, reply: FastifyReply) => {
    const { id } = request.params as { id: string };
    const params = request.query as Partial<TimelineParams>;
    const scopeId = findId(app.db, table, id);
    if (scopeId === null) throw notFound(`no ${table} with id or key ${JSON.stringify(id)}`);
    const query = resolveTimelineQuery(app.db, params, { [table]: scopeId });
    return timelineResponse(request, reply, params, query, `${table}/${scopeId}/timeline`);
  };

  app.get(
    '/actors/:id/timeline',
    {
      schema: {
        operationId: 'getActorTimeline',
        tags: ['Timeline'],
        summary: "An actor's timeline: the events they took part in and the statements they made",
        params: z.object({ id: IdOrKeyParam.meta({ example: 'actor:amreyev' }) }),
        querystring: ActorTimelineQuery,
        response: { 200: EntryList, ...problemResponses(400, 404) },
      },
    },
    scoped('actor'),
  );

  app.get(
    '/places/:id/timeline',
    {
      schema: {
        operationId: 'getPlaceTimeline',
        tags: ['Timeline'],
        summary: 'What happened at a place and every place under it, and what was said about them',
        params: z.object({ id: IdOrKeyParam.meta({ example: 'place:kz' }) }),
        querystring: PlaceTimelineQuery,
        response: { 200: EntryList, ...problemResponses(400, 404) },
      },
    },
    scoped('place'),
  );
}
