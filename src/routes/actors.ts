import { z } from 'zod';
import { Actor, ActorInput, ActorList, ActorPatch, actorTypes } from '../schemas/actors.js';
import { repeated } from '../schemas/common.js';
import { crudRoutes, idPage, recordAfter } from './crud.js';

export const actorRoutes = crudRoutes({
  name: 'Actor',
  plural: 'Actors',
  tag: 'Actors',
  kind: 'actor',
  input: ActorInput,
  patch: ActorPatch,
  output: Actor,
  list: ActorList,
  filters: z.object({
    type: repeated(z.enum(actorTypes)).optional().meta({ description: 'Actor types (OR).' }),
  }),
  page: async (storage, filters, after, limit) => idPage(await storage.listActorIds(filters, recordAfter(after), limit + 1), limit),
  example: 'actor:amreyev',
});
