import { z } from 'zod';
import { DateValue, LanguageMapOut } from './common.js';

/** Compact forms of records embedded in others, enough to render without another request. */
export const ActorRef = z
  .object({ id: z.number().int(), key: z.string(), type: z.string(), name: LanguageMapOut })
  .meta({ id: 'ActorRef' });

export const PlaceRef = z
  .object({
    id: z.number().int(),
    key: z.string(),
    type: z.string(),
    name: LanguageMapOut,
    countryCode: z.string().nullable(),
    lat: z.number().nullable(),
    lon: z.number().nullable(),
  })
  .meta({ id: 'PlaceRef' });

export const SourceRef = z
  .object({
    id: z.number().int(),
    key: z.string(),
    type: z.string(),
    title: LanguageMapOut.nullable(),
    outlet: z.string().nullable(),
    url: z.string().nullable(),
    published: DateValue.nullable(),
  })
  .meta({ id: 'SourceRef' });

export const EventRef = z
  .object({ id: z.number().int(), key: z.string(), type: z.string(), title: LanguageMapOut, date: DateValue })
  .meta({ id: 'EventRef' });

export const Citation = z
  .object({
    source: SourceRef,
    excerpt: z.string().nullable(),
    start: z.number().int().nullable().meta({ description: 'Offset of the excerpt in the source text (code points).' }),
    end: z.number().int().nullable().meta({ description: 'End offset, exclusive.' }),
  })
  .meta({ id: 'Citation' });
