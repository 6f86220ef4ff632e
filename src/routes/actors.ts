import { z } from 'zod';
import { actorSpec, listActorIds } from '../storage/sqlite/actors.js';
import { Actor, ActorInput, ActorList, ActorPatch, actorTypes } from '../schemas/actors.js';
import { repeated } from '../schemas/common.js';
import { crudRoutes, idPage } from './crud.js';

export const actorRoutes = crudRoutes({
  name: 'Actor',
  plural: 'Actors',
  tag: 'Actors',
  spec: actorSpec,
  input: ActorInput,
  patch: ActorPatch,
  output: Actor,
  list: ActorList,
  filters: z.object({
    type: repeated(z.enum(actorTypes)).optional().meta({ description: 'Actor types (OR).' }),
  }),
  page: (db, filters, after, limit) => idPage(listActorIds(db, filters, after as number | undefined, limit + 1), limit),
  example: 'actor:amreyev',
});
