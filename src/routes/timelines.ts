import { z } from 'zod';
import { loadEntries } from '../storage/sqlite/entries.js';
import { getRecord } from '../storage/sqlite/records.js';
import { listTimelineIds, timelineEntryIds, timelineSpec } from '../storage/sqlite/timelines.js';
import {
  CuratedTimeline,
  CuratedTimelineList,
  CuratedTimelineWithEntries,
  TimelineInput,
  TimelinePatch,
} from '../schemas/timelines.js';
import { chooseFormat, contentType, formatParams, formattedResponse, renderStream, type Format } from '../formats/index.js';
import { oneLanguage } from '../formats/text.js';
import { placeCoordinates } from '../storage/sqlite/places.js';
import { LangParam } from '../schemas/common.js';
import { entriesByIds } from '../storage/timeline-query.js';
import { crudRoutes, idPage } from './crud.js';
import { sendStreamed } from '../plugins/streaming.js';

export const timelinesRoutes = crudRoutes({
  name: 'CuratedTimeline',
  plural: 'CuratedTimelines',
  tag: 'Curated timelines',
  spec: timelineSpec,
  input: TimelineInput,
  patch: TimelinePatch,
  output: CuratedTimeline,
  list: CuratedTimelineList,
  filters: z.object({}),
  page: (db, _filters, after, limit) => idPage(listTimelineIds(db, after as number | undefined, limit + 1), limit),
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
    handle: (request, reply, ref, query) => {
      const db = request.server.db;
      const { lang, format: formatParam, bom, group } = query as { lang?: string; format?: Format; bom?: string; group?: 'kind' | 'type' };
      const format = chooseFormat(formatParam, request.headers.accept);
      const timeline = getRecord(db, timelineSpec, ref, lang);
      const ids = timelineEntryIds(db, timeline.id);
      if (format === 'json') return { ...timeline, entries: loadEntries(db, ids, lang) };
      return sendStreamed(request, reply.type(contentType(format)), () =>
        renderStream(format, entriesByIds(db, ids, lang), {
          lang,
          bom: bom === 'true',
          group: group ?? 'kind',
          title: { headline: oneLanguage(timeline.title, lang), text: oneLanguage(timeline.description, lang) },
          coordinates: (placeIds) => placeCoordinates(db, placeIds),
        }),
      );
    },
  },
});
