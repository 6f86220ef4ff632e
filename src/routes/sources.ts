import { z } from 'zod';
import { listSourceIds, sourceSpec } from '../repositories/sources.js';
import { repeated } from '../schemas/common.js';
import { Source, SourceInput, SourceList, SourcePatch } from '../schemas/sources.js';
import { crudRoutes, idPage } from './crud.js';

export const sourceRoutes = crudRoutes({
  name: 'Source',
  plural: 'Sources',
  tag: 'Sources',
  spec: sourceSpec,
  input: SourceInput,
  patch: SourcePatch,
  output: Source,
  list: SourceList,
  filters: z.object({
    type: repeated(z.string().max(100)).optional().meta({ example: ['news_article'] }),
    lang: repeated(z.string().max(35)).optional().meta({ description: 'Language of the source.', example: ['ar'] }),
  }),
  page: (db, filters, after, limit) => idPage(listSourceIds(db, filters, after as number | undefined, limit + 1), limit),
  example: 'src:turkpress-2022-01-11-amreyev',
});
