import { z } from 'zod';
import { Key, LanguageMap, LanguageMapOut, Ref, Timestamps, listOf } from './common.js';
import { PlaceRef } from './refs.js';

const fields = {
  type: z.string().min(1).max(100).meta({ description: 'country, region, city, site, ...', example: 'city' }),
  name: LanguageMap,
  countryCode: z
    .string()
    .regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code in capitals')
    .nullable()
    .optional(),
  parent: Ref.nullable().optional(),
  lat: z.number().min(-90).max(90).nullable().optional(),
  lon: z.number().min(-180).max(180).nullable().optional(),
};

const coordinatesTogether = (value: { lat?: number | null; lon?: number | null }) =>
  (value.lat === undefined) === (value.lon === undefined) && (value.lat === null) === (value.lon === null);
const coordinatesMessage = { message: 'lat and lon go together', path: ['lat'] };

export const PlaceInput = z
  .strictObject({ key: Key.optional(), ...fields })
  .refine(coordinatesTogether, coordinatesMessage)
  // the examples of the bodies are what the explorer sends: each is accepted by a seeded instance
  .meta({
    id: 'CreatePlace',
    example: {
      key: 'place:almaty-airport',
      type: 'site',
      name: { en: 'Almaty International Airport' },
      countryCode: 'KZ',
      parent: 'place:almaty',
      lat: 43.3521,
      lon: 77.0405,
    },
  });
export const PlacePatch = z
  .strictObject({ key: Key, ...fields })
  .partial()
  .refine(coordinatesTogether, coordinatesMessage)
  .meta({ id: 'UpdatePlace', example: { lat: 43.2567, lon: 76.9286 } });

export const Place = z
  .object({
    id: z.number().int(),
    key: z.string(),
    type: z.string(),
    name: LanguageMapOut,
    countryCode: z.string().nullable(),
    parent: PlaceRef.nullable(),
    lat: z.number().nullable(),
    lon: z.number().nullable(),
    ...Timestamps,
  })
  .meta({ id: 'Place' });

export const PlaceList = listOf(Place, 'PlaceList');
