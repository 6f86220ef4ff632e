import { Negotiator } from '@fastify/accept-negotiator';
import { ProblemError } from '../errors.js';

/** Output formats of timeline reads, by `format=` name, with their media types. */
export const FORMATS = {
  json: 'application/json',
  ndjson: 'application/x-ndjson',
  csv: 'text/csv',
  ics: 'text/calendar',
  timelinejs: 'application/vnd.timelinejs+json',
  geojson: 'application/geo+json',
} as const;

export type Format = keyof typeof FORMATS;
export const FORMAT_NAMES = Object.keys(FORMATS) as Format[];

const byMediaType = new Map<string, Format>(Object.entries(FORMATS).map(([name, type]) => [type, name as Format]));
const negotiator = new Negotiator({ supportedValues: [...byMediaType.keys()], cache: new Map() });

const supported = FORMAT_NAMES.map((name) => `${name} (${FORMATS[name]})`).join(', ');

/**
 * The format a request asks for: `format=` wins over `Accept`; no preference means JSON.
 * An unknown `format=` is a 400, an `Accept` that allows none of them a 406, both listing
 * what is supported.
 */
export function chooseFormat(formatParam: string | undefined, accept: string | undefined): Format {
  if (formatParam !== undefined) {
    // an own property: `"toString" in FORMATS` is true
    if (Object.hasOwn(FORMATS, formatParam)) return formatParam as Format;
    throw new ProblemError(400, 'unsupported-format', 'Unsupported format', `format=${formatParam} is not one of: ${supported}`, {
      errors: [{ in: 'query', path: '/format', message: `supported: ${FORMAT_NAMES.join(', ')}` }],
    });
  }
  if (!accept || accept.trim() === '' ) return 'json';
  // problem+json and plain json clients get JSON; so does anyone who accepts anything
  const chosen = negotiator.negotiate(accept.replace(/application\/problem\+json/g, 'application/json'));
  if (chosen) return byMediaType.get(chosen)!;
  if (/(^|,)\s*\*\/\*/.test(accept) || /application\/\*/.test(accept)) return 'json';
  throw new ProblemError(406, 'not-acceptable', 'Not acceptable', `none of the accepted media types can be produced; supported: ${supported}`);
}
