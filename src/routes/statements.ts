import { z } from 'zod';
import { statementSpec } from '../storage/sqlite/entries.js';
import { timelinePage } from '../storage/sqlite/timeline.js';
import { Statement, StatementInput, StatementList, StatementPatch } from '../schemas/entries.js';
import { timelineFilters } from '../schemas/timeline.js';
import { resolveTimelineQuery } from '../storage/timeline-query.js';
import { crudRoutes } from './crud.js';

const { kind: _kind, tag: _tag, ...filters } = timelineFilters;

export const statementRoutes = crudRoutes({
  name: 'Statement',
  plural: 'Statements',
  tag: 'Statements',
  spec: statementSpec,
  input: StatementInput,
  patch: StatementPatch,
  output: Statement,
  list: StatementList,
  filters: z.object({ ...filters, order: z.enum(['asc', 'desc']).default('asc') }),
  page: (db, params, after, limit) =>
    timelinePage(
      db,
      { ...resolveTimelineQuery(db, params), kinds: ['statement'] },
      after,
      limit,
    ),
  example: 'stmt:amreyev-quote-motherland-of-all-turks',
});
