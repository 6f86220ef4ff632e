import { z } from 'zod';
import { GEOJSON_DESCRIPTION } from '../formats/geojson.js';
import { TIMELINEJS_DESCRIPTION } from '../formats/timelinejs.js';

/** The bodies of the JSON-based formats (src/formats): objects, described for clients that check them. */

const TimelineJsDate = z
  .object({
    year: z.number().int(),
    month: z.number().int().min(1).max(12).optional(),
    day: z.number().int().min(1).max(31).optional(),
    hour: z.number().int().min(0).max(23).optional(),
    minute: z.number().int().min(0).max(59).optional(),
    second: z.number().int().min(0).max(60).optional(),
    display_date: z.string().optional(),
  })
  .meta({ id: 'TimelineJsDate', description: 'A date with exactly the components its precision has (a month has no `day`).' });

const TimelineJsText = z
  .object({
    headline: z.string().optional().meta({ description: 'HTML-escaped.' }),
    text: z.string().optional().meta({ description: 'HTML-escaped.' }),
  })
  .meta({ id: 'TimelineJsText' });

const TimelineJsSlide = z
  .object({
    start_date: TimelineJsDate,
    end_date: TimelineJsDate.optional(),
    text: TimelineJsText,
    group: z.string().meta({ description: 'The entry kind, or its type with `group=type`.' }),
    display_date: z.string(),
    unique_id: z.string().meta({ description: 'The entry key.' }),
  })
  .meta({ id: 'TimelineJsSlide' });

const TimelineJsEra = z
  .object({ start_date: TimelineJsDate, end_date: TimelineJsDate, text: TimelineJsText })
  .meta({ id: 'TimelineJsEra', description: 'The span of an entry dated by an interval.' });

export const TimelineJs = z
  .object({
    title: z.object({ text: TimelineJsText }).optional().meta({ description: 'The title slide (curated timelines).' }),
    events: z.array(TimelineJsSlide),
    eras: z.array(TimelineJsEra),
  })
  .meta({ id: 'TimelineJs', description: TIMELINEJS_DESCRIPTION });

const Position = z.array(z.number()).length(2).meta({ description: '`[longitude, latitude]` (WGS 84).' });

const GeoJsonFeature = z
  .object({
    type: z.literal('Feature'),
    id: z.string().meta({ description: 'The entry key.' }),
    geometry: z.discriminatedUnion('type', [
      z.object({ type: z.literal('Point'), coordinates: Position }),
      z.object({ type: z.literal('MultiPoint'), coordinates: z.array(Position).min(2) }),
    ]),
    properties: z.object({
      kind: z.enum(['event', 'statement']),
      id: z.number().int(),
      key: z.string(),
      type: z.string(),
      date: z.string().meta({ description: 'The EDTF date.' }),
      precision: z.enum(['year', 'month', 'day', 'instant', 'interval']),
      earliest: z.string().nullable(),
      latest: z.string().nullable(),
      headline: z.string(),
      places: z.array(z.string()).meta({ description: 'Keys of the places the coordinates come from.' }),
    }),
  })
  .meta({ id: 'GeoJsonFeature' });

export const GeoJsonFeatureCollection = z
  .object({ type: z.literal('FeatureCollection'), features: z.array(GeoJsonFeature) })
  .meta({ id: 'GeoJsonFeatureCollection', description: GEOJSON_DESCRIPTION });
