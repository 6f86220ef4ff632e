import { z } from 'zod';
import { Statement, StatementInput, StatementList, StatementPatch } from '../schemas/entries.js';
import { timelineFilters } from '../schemas/timeline.js';
import { resolveTimelineQuery } from '../storage/timeline-query.js';
import { crudRoutes } from './crud.js';

const { kind: _kind, tag: _tag, ...filters } = timelineFilters;

export const statementRoutes = crudRoutes({
  name: 'Statement',
  plural: 'Statements',
  tag: 'Statements',
  kind: 'statement',
  input: StatementInput,
  patch: StatementPatch,
  output: Statement,
  list: StatementList,
  filters: z.object({ ...filters, order: z.enum(['asc', 'desc']).default('asc') }),
  page: async (storage, params, after, limit) =>
    storage.timelinePage({ ...(await resolveTimelineQuery(storage, params)), kinds: ['statement'] }, after, limit),
  example: 'stmt:amreyev-quote-motherland-of-all-turks',
});
