import { z } from 'zod';
import { validationFailed } from '../schemas/problems.js';
import { repeated } from '../schemas/common.js';
import { Place, PlaceInput, PlaceList, PlacePatch } from '../schemas/places.js';
import { crudRoutes, idPage, recordAfter } from './crud.js';

export const placeRoutes = crudRoutes({
  name: 'Place',
  plural: 'Places',
  tag: 'Places',
  kind: 'place',
  input: PlaceInput,
  patch: PlacePatch,
  output: Place,
  list: PlaceList,
  filters: z.object({
    type: repeated(z.string().max(100)).optional().meta({ description: 'Place types (OR), such as `city`.' }),
    countryCode: repeated(z.string().max(2)).optional().meta({ description: 'ISO 3166-1 alpha-2 codes (OR), such as `KZ`.' }),
    parent: z.string().max(200).optional().meta({ description: 'Only the direct children of this place (id or key, such as `place:kz`).' }),
  }),
  page: async (storage, filters, after, limit) => {
    const { parent, ...rest } = filters;
    const parentId = parent === undefined ? undefined : await storage.findId('place', parent);
    if (parentId === null) {
      throw validationFailed(`no place ${JSON.stringify(parent)}`, [
        { in: 'query', path: '/parent', message: `no place ${JSON.stringify(parent)}` },
      ]);
    }
    return idPage(await storage.listPlaceIds({ ...rest, parent: parentId }, recordAfter(after), limit + 1), limit);
  },
  example: 'place:almaty',
});
