import { z } from 'zod';
import { Event, EventInput, EventList, EventPatch } from '../schemas/entries.js';
import { timelineFilters } from '../schemas/timeline.js';
import { resolveTimelineQuery } from '../storage/timeline-query.js';
import { crudRoutes } from './crud.js';

const { kind: _kind, ...filters } = timelineFilters;

export const eventRoutes = crudRoutes({
  name: 'Event',
  plural: 'Events',
  tag: 'Events',
  kind: 'event',
  input: EventInput,
  patch: EventPatch,
  output: Event,
  list: EventList,
  filters: z.object({ ...filters, order: z.enum(['asc', 'desc']).default('asc') }),
  page: async (storage, params, after, limit) =>
    storage.timelinePage({ ...(await resolveTimelineQuery(storage, params)), kinds: ['event'] }, after, limit),
  example: 'event:kz-protests-2022-01-02',
});
