import { z } from 'zod';
import { Key, LanguageMap, LanguageMapOut, Ref, Timestamps, listOf } from './common.js';
import { Entry } from './entries.js';

const slug = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'must be lowercase words joined by hyphens')
  .refine((value) => !/^\d+$/.test(value), 'must not be digits only')
  .meta({ example: 'kazakhstan-january-2022' });

const fields = {
  slug,
  title: LanguageMap,
  description: LanguageMap.nullable().optional(),
  entries: z.array(Ref).max(10_000).optional().meta({ description: 'Event and statement ids or keys, in order.' }),
};

// the examples of the bodies are what the explorer sends: each is accepted by a seeded instance
export const TimelineInput = z.strictObject({ key: Key.optional(), ...fields }).meta({
  id: 'CreateTimeline',
  example: {
    key: 'timeline:ots-position-january-2022',
    slug: 'ots-position-january-2022',
    title: { en: 'The position of the Organization of Turkic States, January 2022' },
    entries: ['event:ots-cfm-extraordinary-2022-01-11', 'stmt:amreyev-stability-integral-part'],
  },
});
export const TimelinePatch = z
  .strictObject({ key: Key, ...fields })
  .partial()
  .meta({
    id: 'UpdateTimeline',
    example: { description: { en: 'The unrest in Kazakhstan in January 2022, and what the Organization of Turkic States said.' } },
  });

export const CuratedTimeline = z
  .object({
    id: z.number().int(),
    key: z.string(),
    slug: z.string(),
    title: LanguageMapOut,
    description: LanguageMapOut.nullable(),
    entryCount: z.number().int(),
    ...Timestamps,
  })
  .meta({ id: 'CuratedTimeline' });

export const CuratedTimelineWithEntries = CuratedTimeline.extend({ entries: z.array(Entry) }).meta({
  id: 'CuratedTimelineWithEntries',
});

export const CuratedTimelineList = listOf(CuratedTimeline, 'CuratedTimelineList');
