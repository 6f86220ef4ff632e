import { z } from 'zod';
import {
  CuratedTimeline,
  CuratedTimelineList,
  CuratedTimelineWithEntries,
  TimelineInput,
  TimelinePatch,
} from '../schemas/timelines.js';
import { chooseFormat, contentType, formatParams, formattedResponse, renderStream, type Format } from '../formats/index.js';
import { oneLanguage } from '../formats/text.js';
import { LangParam } from '../schemas/common.js';
import { entriesByIds } from '../storage/timeline-query.js';
import { crudRoutes, idPage, recordAfter } from './crud.js';
import { sendStreamed } from '../plugins/streaming.js';

export const timelinesRoutes = crudRoutes({
  name: 'CuratedTimeline',
  plural: 'CuratedTimelines',
  tag: 'Curated timelines',
  kind: 'timeline',
  input: TimelineInput,
  patch: TimelinePatch,
  output: CuratedTimeline,
  list: CuratedTimelineList,
  filters: z.object({}),
  page: async (storage, _filters, after, limit) => idPage(await storage.listTimelineIds(recordAfter(after), limit + 1), limit),
  example: 'kazakhstan-january-2022',
  getOne: {
    description:
      'It comes with its entries in the curator\'s order (JSON), or as those entries alone in another format ' +
      '(`format=` or `Accept`), streamed.',
    query: z.object({ lang: LangParam, ...formatParams }),
    response: {
      ...formattedResponse('The curated timeline with its entries in the curator\'s order (JSON), or its entries in another format.'),
      content: {
        ...formattedResponse('').content,
        'application/json': { schema: CuratedTimelineWithEntries },
      },
    },
    statuses: [400, 404, 406],
    handle: async (request, reply, ref, query) => {
      const storage = request.server.storage;
      const { lang, format: formatParam, bom, group } = query as { lang?: string; format?: Format; bom?: string; group?: 'kind' | 'type' };
      const format = chooseFormat(formatParam, request.headers.accept);
      const timeline = await storage.getRecord('timeline', ref, lang);
      const ids = await storage.timelineEntryIds(timeline.id);
      if (format === 'json') return { ...timeline, entries: await storage.loadEntries(ids, lang) };
      return sendStreamed(request, reply.type(contentType(format)), () =>
        renderStream(format, entriesByIds(storage, ids, lang), {
          lang,
          bom: bom === 'true',
          group: group ?? 'kind',
          title: { headline: oneLanguage(timeline.title, lang), text: oneLanguage(timeline.description, lang) },
          coordinates: (placeIds) => storage.placeCoordinates(placeIds),
        }),
      );
    },
  },
});
