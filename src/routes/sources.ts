import { z } from 'zod';
import { repeated } from '../schemas/common.js';
import { Source, SourceInput, SourceList, SourcePatch } from '../schemas/sources.js';
import { crudRoutes, idPage, recordAfter } from './crud.js';

export const sourceRoutes = crudRoutes({
  name: 'Source',
  plural: 'Sources',
  tag: 'Sources',
  kind: 'source',
  input: SourceInput,
  patch: SourcePatch,
  output: Source,
  list: SourceList,
  filters: z.object({
    type: repeated(z.string().max(100)).optional().meta({ description: 'Source types (OR), such as `news_article`.' }),
    language: repeated(z.string().max(35))
      .optional()
      .meta({ description: 'Languages the source is written in (OR), such as `ar` (`lang` picks the language of the texts).' }),
  }),
  page: async (storage, filters, after, limit) => idPage(await storage.listSourceIds(filters, recordAfter(after), limit + 1), limit),
  example: 'src:turkpress-2022-01-11-amreyev',
});
