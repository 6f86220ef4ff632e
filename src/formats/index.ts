import type { Readable } from 'node:stream';
import { z } from 'zod';
import type { EntryDto } from '../storage/types.js';
import { EntryList } from '../schemas/entries.js';
import { GeoJsonFeatureCollection, TimelineJs } from '../schemas/formats.js';
import { CSV_DESCRIPTION, csvStream } from './csv.js';
import { geojsonStream, type CoordinateLookup } from './geojson.js';
import { ICS_DESCRIPTION, icsStream } from './ics.js';
import { NDJSON_DESCRIPTION, ndjsonStream } from './ndjson.js';
import { FORMATS, FORMAT_NAMES, type Format } from './negotiate.js';
import { timelineJsStream } from './timelinejs.js';

export { FORMATS, FORMAT_NAMES, chooseFormat, type Format } from './negotiate.js';

/** Query parameters of every read that has formats. */
export const formatParams = {
  format: z
    .enum(FORMAT_NAMES as [Format, ...Format[]])
    .optional()
    .meta({ description: 'Output format; overrides `Accept`. JSON is a page; the others hold every matching entry, streamed.' }),
  bom: z.enum(['true', 'false']).default('false').meta({ description: 'CSV: start with a UTF-8 byte order mark.' }),
  group: z.enum(['kind', 'type']).default('kind').meta({ description: 'TimelineJS: what `group` is.' }),
};

const text = (description: string) => ({ schema: z.string().meta({ description }) });

/** The 200 response of a formatted read, one content type per format. */
export function formattedResponse(description: string) {
  return {
    description,
    content: {
      [FORMATS.json]: { schema: EntryList },
      [FORMATS.ndjson]: text(NDJSON_DESCRIPTION),
      [FORMATS.csv]: text(CSV_DESCRIPTION),
      [FORMATS.ics]: text(ICS_DESCRIPTION),
      [FORMATS.timelinejs]: { schema: TimelineJs },
      [FORMATS.geojson]: { schema: GeoJsonFeatureCollection },
    },
  };
}

export interface RenderOptions {
  lang?: string | undefined;
  bom?: boolean;
  group?: 'kind' | 'type';
  title?: { headline: string; text: string } | undefined;
  coordinates: CoordinateLookup;
}

/** A stream of every entry in a non-JSON format. */
export function renderStream(format: Exclude<Format, 'json'>, pages: AsyncIterable<EntryDto[]>, options: RenderOptions): Readable {
  switch (format) {
    case 'ndjson':
      return ndjsonStream(pages);
    case 'csv':
      return csvStream(pages, { lang: options.lang, bom: options.bom ?? false });
    case 'ics':
      return icsStream(pages, { lang: options.lang, ...(options.title ? { name: options.title.headline } : {}) });
    case 'timelinejs':
      return timelineJsStream(pages, { lang: options.lang, group: options.group ?? 'kind', title: options.title });
    case 'geojson':
      return geojsonStream(pages, { lang: options.lang, coordinates: options.coordinates });
  }
}

/** Content-Type header of a format. */
export const contentType = (format: Format) =>
  format === 'csv' || format === 'ics' ? `${FORMATS[format]}; charset=utf-8` : FORMATS[format];
