import { z } from 'zod';
import { DateValue, Edtf, Key, LanguageMap, LanguageMapOut, Ref, Timestamps, listOf } from './common.js';
import { ActorRef } from './refs.js';

export const actorTypes = ['person', 'organization', 'state', 'group', 'other'] as const;

const AffiliationInput = z.strictObject({
  actor: Ref,
  role: z.string().min(1).max(100).meta({ example: 'secretary_general' }),
  date: Edtf.nullable().optional(),
});

const fields = {
  type: z.enum(actorTypes),
  name: LanguageMap,
  aliases: z.array(LanguageMap).max(100).optional(),
  externalIds: z
    .record(z.string().regex(/^[a-z][a-z0-9_]*$/).max(50), z.string().min(1).max(200))
    .optional()
    .meta({ example: { wikidata: 'Q42' } }),
  affiliations: z.array(AffiliationInput).max(200).optional(),
};

// the examples of the bodies are what the explorer sends: each is accepted by a seeded instance
export const ActorInput = z.strictObject({ key: Key.optional(), ...fields }).meta({
  id: 'CreateActor',
  example: {
    key: 'actor:ots-chair',
    type: 'person',
    name: { en: 'Chair of the Council of Foreign Ministers' },
    affiliations: [{ actor: 'actor:ots-cfm', role: 'chair', date: '2022-01' }],
  },
});
export const ActorPatch = z
  .strictObject({ key: Key, ...fields })
  .partial()
  .meta({ id: 'UpdateActor', example: { aliases: [{ ar: 'أمرييف', en: 'Amreyev' }, { en: 'Bagdad Amreyev' }] } });

export const Affiliation = z
  .object({ actor: ActorRef, role: z.string(), date: DateValue.nullable() })
  .meta({ id: 'Affiliation' });

export const Actor = z
  .object({
    id: z.number().int(),
    key: z.string(),
    type: z.string(),
    name: LanguageMapOut,
    aliases: z.array(LanguageMapOut),
    externalIds: z.record(z.string(), z.string()),
    affiliations: z.array(Affiliation),
    ...Timestamps,
  })
  .meta({ id: 'Actor' });

export const ActorList = listOf(Actor, 'ActorList');
