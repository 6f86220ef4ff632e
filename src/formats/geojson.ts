import { Readable } from 'node:stream';
import type { EntryDto } from '../storage/types.js';
import { headline } from './text.js';

export const GEOJSON_DESCRIPTION =
  'A GeoJSON (RFC 7946) FeatureCollection of the entries that have coordinates through their places (a ' +
  'place without coordinates takes its nearest ancestor\'s): a Point, or a MultiPoint for several places. ' +
  'Properties carry the kind, key, type, date bounds and headline.';

/** Coordinates `[lon, lat]` per place id (the place's own, or its nearest ancestor's). */
export type CoordinateLookup = (placeIds: number[]) => Promise<Map<number, [number, number]>>;

function feature(entry: EntryDto, coordinates: Map<number, [number, number]>, lang: string | undefined) {
  const places = entry.kind === 'event' ? entry.places : entry.about.places;
  const seen = new Set<string>();
  const points: [number, number][] = [];
  for (const place of places) {
    const point = coordinates.get(place.id);
    if (point && !seen.has(point.join())) {
      seen.add(point.join());
      points.push(point);
    }
  }
  if (points.length === 0) return null;
  return {
    type: 'Feature',
    id: entry.key,
    geometry: points.length === 1 ? { type: 'Point', coordinates: points[0] } : { type: 'MultiPoint', coordinates: points },
    properties: {
      kind: entry.kind,
      id: entry.id,
      key: entry.key,
      type: entry.type,
      date: entry.date.edtf,
      precision: entry.date.precision,
      earliest: entry.date.earliest,
      latest: entry.date.latest,
      headline: headline(entry, lang),
      places: places.map((p) => p.key),
    },
  };
}

export function geojsonStream(
  pages: AsyncIterable<EntryDto[]>,
  options: { lang?: string | undefined; coordinates: CoordinateLookup },
): Readable {
  async function* generate() {
    yield '{"type":"FeatureCollection","features":[';
    let first = true;
    for await (const page of pages) {
      const placeIds = page.flatMap((e) => (e.kind === 'event' ? e.places : e.about.places).map((p) => p.id));
      const coordinates = await options.coordinates(placeIds);
      const parts: string[] = [];
      for (const entry of page) {
        const f = feature(entry, coordinates, options.lang);
        if (!f) continue;
        parts.push(`${first ? '' : ','}${JSON.stringify(f)}`);
        first = false;
      }
      yield parts.join('');
    }
    yield ']}';
  }
  return Readable.from(generate(), { objectMode: false });
}
