import { z } from 'zod';
import { DateValue, Edtf, Key, LanguageMap, LanguageMapOut, Timestamps, languageTag, listOf } from './common.js';

const fields = {
  type: z.string().min(1).max(100).meta({ example: 'news_article' }),
  title: LanguageMap.nullable().optional(),
  outlet: z.string().max(500).nullable().optional(),
  url: z.url({ protocol: /^https?$/ }).max(2000).nullable().optional(),
  lang: languageTag.nullable().optional(),
  published: Edtf.nullable().optional(),
  retrieved: Edtf.nullable().optional(),
  text: z.string().max(10_000_000).nullable().optional(),
};

// the examples of the bodies are what the explorer sends: each is accepted by a seeded instance
export const SourceInput = z.strictObject({ key: Key.optional(), ...fields }).meta({
  id: 'CreateSource',
  example: {
    key: 'src:example-wire-2022-01-06-almaty-airport',
    type: 'news_article',
    title: { en: 'Protesters seize Almaty airport' },
    outlet: 'Example Wire',
    url: 'https://example.org/news/2022/01/06/almaty-airport',
    lang: 'en',
    published: '2022-01-06',
  },
});
export const SourcePatch = z
  .strictObject({ key: Key, ...fields })
  .partial()
  .meta({ id: 'UpdateSource', example: { outlet: 'Turk Press (Anadolu Agency)' } });

export const Source = z
  .object({
    id: z.number().int(),
    key: z.string(),
    type: z.string(),
    title: LanguageMapOut.nullable(),
    outlet: z.string().nullable(),
    url: z.string().nullable(),
    lang: z.string().nullable(),
    published: DateValue.nullable(),
    retrieved: DateValue.nullable(),
    text: z.string().nullable(),
    ...Timestamps,
  })
  .meta({ id: 'Source' });

export const SourceList = listOf(Source, 'SourceList');
