import { z } from 'zod';
import { loadEntries } from '../repositories/entries.js';
import { getRecord } from '../repositories/records.js';
import { listTimelineIds, timelineEntryIds, timelineSpec } from '../repositories/timelines.js';
import {
  CuratedTimeline,
  CuratedTimelineList,
  CuratedTimelineWithEntries,
  TimelineInput,
  TimelinePatch,
} from '../schemas/timelines.js';
import { crudRoutes, idPage } from './crud.js';

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
    output: CuratedTimelineWithEntries,
    load: (db, ref, lang) => {
      const timeline = getRecord(db, timelineSpec, ref, lang);
      return { ...timeline, entries: loadEntries(db, timelineEntryIds(db, timeline.id), lang) };
    },
  },
});
