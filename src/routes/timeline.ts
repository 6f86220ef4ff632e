import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound } from '../schemas/problems.js';
import type { IdPage, TimelineQuery as RepoQuery } from '../storage/types.js';
import { badRequest } from '../schemas/problems.js';
import { invalidCursor, isRelevancePosition } from '../storage/cursor.js';
import {
  LONGEST_BUCKET_DAYS,
  MAX_BUCKETS,
  bucketEnd,
  bucketStart,
  bucketStarts,
  bucketsEnd,
  histogram,
  histogramFromDateCounts,
  histogramRange,
} from '../dates/histogram.js';
import { dayToIso } from '../dates/edtf.js';
import { highlightFields, queryTerms } from '../search/highlight.js';
import { publicSecurity } from '../plugins/auth.js';
import { IdOrKeyParam, jsonResponse, problemResponses } from '../schemas/common.js';
import { ActorTimelineQuery, Histogram, HistogramQuery, PlaceTimelineQuery, TimelineQuery } from '../schemas/timeline.js';
import { allEntries, resolveTimelineQuery, timelineFilterParams, type TimelineParams } from '../storage/timeline-query.js';
import { chooseFormat, contentType, formattedResponse, renderStream } from '../formats/index.js';
import { filterScope, linkNext } from './crud.js';
import { jsonWithArray } from '../formats/json.js';
import { sendStreamed } from '../plugins/streaming.js';

/** Answers one page of a timeline query: entries, the next cursor and its Link header. */
export async function timelineResponse(
  request: FastifyRequest,
  reply: FastifyReply,
  params: Partial<TimelineParams>,
  query: RepoQuery,
  scopePath: string,
) {
  const app = request.server;
  const format = chooseFormat(params.format, request.headers.accept);
  if (format !== 'json') {
    return sendStreamed(request, reply.type(contentType(format)), () =>
      renderStream(format, allEntries(app.storage, query, { lang: params.lang, relevance: params.sort === 'relevance' }), {
        lang: params.lang,
        bom: params.bom === 'true',
        group: params.group ?? 'kind',
        coordinates: (ids) => app.storage.placeCoordinates(ids),
      }),
    );
  }
  const scope = filterScope(scopePath, timelineFilterParams(params));
  const limit = params.limit ?? 50;
  const after = params.cursor === undefined ? undefined : app.cursors.decode<unknown>(scope, params.cursor);
  const highlight = params.highlight === 'true' && params.q !== undefined;
  let page: IdPage;
  if (params.sort === 'relevance' && query.text !== undefined) {
    if (after !== undefined && !isRelevancePosition(after)) throw invalidCursor();
    page = await app.storage.relevancePage({ ...query, text: query.text }, after, limit);
  } else {
    page = await app.storage.timelinePage(query, after, limit);
  }
  const nextCursor = page.next === null ? null : app.cursors.encode(scope, page.next);
  const link = linkNext(request, nextCursor);
  if (link) reply.header('link', link);
  if (!highlight) {
    const rendered = await app.storage.renderEntries(page.ids, params.lang);
    return reply
      .type('application/json; charset=utf-8')
      .send(jsonWithArray('data', rendered, { page: { nextCursor, limit } }));
  }
  // highlights depend on the query, so these entries are rendered for this answer only
  const data = await app.storage.loadEntries(page.ids, params.lang);
  const terms = queryTerms(params.q ?? '');
  for (const entry of data) {
    entry.highlight =
      entry.kind === 'event'
        ? highlightFields({ title: entry.title, description: entry.description }, terms)
        : highlightFields({ text: entry.text }, terms);
  }
  return { data, page: { nextCursor, limit } };
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
          'Entries whose date overlaps (or lies within) the window, filtered by actor, place, type, tag and kind, in ' +
          'chronological order: by when an entry starts, then when it ends, then id. An instant takes its moment in UTC, ' +
          'whatever the offset it was written with (`2022-08-09T01:00+06:00` comes before `2022-08-08T23:30-05:00`); ' +
          'a year, month or day runs from 00:00 UTC of its first day to the end of its last, so a day comes before the ' +
          'instants within it. The window and `earliest`/`latest` are calendar days (an instant\'s in its own offset). ' +
          'Pages are keyset cursors that stay correct while data changes. ' +
          'With `sort=relevance` the pages never skip or repeat a match either: a cursor whose earlier pages no ' +
          'longer rank first after writes answers 410 `cursor-expired`, and the client starts again without it.',
        security: publicSecurity,
        querystring: TimelineQuery,
        response: { 200: formattedResponse('A page of entries (JSON), or every entry in another format.'), ...problemResponses(400, 406, 410) },
      },
    },
    async (request, reply) =>
      timelineResponse(request, reply, request.query, await resolveTimelineQuery(app.storage, request.query), 'timeline'),
  );

  app.get(
    '/timeline/histogram',
    {
      schema: {
        operationId: 'getTimelineHistogram',
        tags: ['Timeline'],
        summary: 'How many entries fall in each day, week, month or year',
        description:
          'Counts over the same filters as the timeline. `count` holds the entries that fit inside a bucket; ' +
          '`imprecise` those that overlap it without fitting (a month-precise entry in a day bucket), so coarse ' +
          'dates never inflate a single day. The window is widened to whole buckets; empty buckets are included. ' +
          'A side of the window left open is taken from the matching entries: the buckets run from the earliest ' +
          'known bound of any of them (start or end) to the latest, so that an open-ended entry (`2022-01-05/..`, ' +
          '`../2022`) always shows: it counts as `imprecise` in every bucket from its known bound to the edge of the ' +
          'range. Without a window and with no match there are no buckets (`from` and `to` are null). Buckets stay ' +
          'inside the calendar: the first week of year 0000 starts on Saturday 0000-01-01 and the last week of 9999 ' +
          'ends on Friday 9999-12-31.',
        security: publicSecurity,
        querystring: HistogramQuery,
        response: { 200: jsonResponse('The buckets, in order, with their counts.', Histogram), ...problemResponses(400) },
      },
    },
    async (request) => {
      const { interval, ...params } = request.query;
      const query = await resolveTimelineQuery(app.storage, params);
      // the window, widened to whole buckets, so that each bucket counts all its entries
      const widened = {
        ...query,
        from: query.from === undefined ? undefined : bucketStart(query.from, interval),
        to: query.to === undefined ? undefined : bucketEnd(query.to, interval),
      };
      // a closed window filtered only by kind is answered from per-day counts; anything else
      // from the spans, which also give an open window its bounds
      const byDate = await app.storage.countsByDate(widened);
      const spans = byDate ? [] : await app.storage.spanCounts(widened);
      const range = histogramRange(widened.from, widened.to, spans);
      if (range === null) return { interval, from: null, to: null, buckets: [] };
      const starts = bucketStarts(range.first, range.last, interval);
      if (starts === null) {
        throw badRequest(`more than ${MAX_BUCKETS} ${interval} buckets: narrow the window or take a longer interval`, [
          { in: 'query', path: '/interval', message: `more than ${MAX_BUCKETS} buckets` },
        ]);
      }
      const last = bucketsEnd(starts, interval);
      return {
        interval,
        from: dayToIso(starts[0]!),
        to: dayToIso(last),
        buckets: byDate
          ? histogramFromDateCounts(starts, interval, await app.storage.dateCounts(widened, starts[0]!, last, LONGEST_BUCKET_DAYS[interval]))
          : histogram(starts, interval, spans),
      };
    },
  );

  const scoped = (table: 'actor' | 'place') => async (request: FastifyRequest, reply: FastifyReply) => {
    const { id } = request.params as { id: string };
    const params = request.query as Partial<TimelineParams>;
    const scopeId = await app.storage.findId(table, id);
    if (scopeId === null) throw notFound(`no ${table} with id or key ${JSON.stringify(id)}`);
    const query = await resolveTimelineQuery(app.storage, params, { [table]: scopeId });
    return timelineResponse(request, reply, params, query, `${table}/${scopeId}/timeline`);
  };

  app.get(
    '/actors/:id/timeline',
    {
      schema: {
        operationId: 'getActorTimeline',
        tags: ['Timeline'],
        summary: "An actor's timeline: the events they took part in and the statements they made",
        description:
          'The timeline (same filters, order, pages and formats) limited to the entries of this actor: events ' +
          'they take part in (in `role`, if given) and statements they made (or, with `role=about`, are the ' +
          'subject of). A 404 when no actor has this id or key.',
        security: publicSecurity,
        params: z.object({ id: IdOrKeyParam.meta({ example: 'actor:amreyev' }) }),
        querystring: ActorTimelineQuery,
        response: { 200: formattedResponse('A page of entries (JSON), or every entry in another format.'), ...problemResponses(400, 404, 406, 410) },
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
        description:
          'The timeline (same filters, order, pages and formats) limited to events at this place or any place ' +
          'under it, and statements about them. A 404 when no place has this id or key.',
        security: publicSecurity,
        params: z.object({ id: IdOrKeyParam.meta({ example: 'place:kz' }) }),
        querystring: PlaceTimelineQuery,
        response: { 200: formattedResponse('A page of entries (JSON), or every entry in another format.'), ...problemResponses(400, 404, 406, 410) },
      },
    },
    scoped('place'),
  );
}
