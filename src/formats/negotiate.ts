import { ProblemError } from '../schemas/problems.js';

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

/**
 * Parameters each representation has, which a media range that names parameters must match:
 * every body is UTF-8, and CSV starts with a header row (RFC 4180's `header=present`).
 */
const FORMAT_PARAMETERS: Record<Format, Record<string, string>> = {
  json: { charset: 'utf-8' },
  ndjson: { charset: 'utf-8' },
  csv: { charset: 'utf-8', header: 'present' },
  ics: { charset: 'utf-8' },
  timelinejs: { charset: 'utf-8' },
  geojson: { charset: 'utf-8' },
};

/** One media range of an `Accept` header (RFC 9110 §12.5.1), lower-cased. */
export interface MediaRange {
  type: string;
  subtype: string;
  /** Media type parameters: those before `q` (what follows `q` are accept-ext, ignored). */
  params: [string, string][];
  /** The weight, 0 to 1; 0 means "not acceptable". */
  q: number;
}

/** A representation a route can produce: its media type and the parameters it has. */
export interface Offer {
  mediaType: string;
  params?: Record<string, string>;
}

// RFC 9110 §5.6.2: tchar
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;
const isTchar = (code: number) => code < 128 && TCHAR[code] === 1;
const isOws = (code: number) => code === 0x20 || code === 0x09;
// RFC 9110's qvalue is `0.xxx` or `1.000` with at most three decimals; common clients send
// `q=.2` (Java's default header) or more decimals, which are read too as long as 0 <= q <= 1
const QVALUE = /^(?:\d{1,5}(?:\.\d{0,10})?|\.\d{1,10})$/;

/**
 * The media ranges of an `Accept` header, in order. A range that does not parse (a bad token,
 * a `*` type with a subtype, a q-value outside 0 to 1, a broken quoted string) is left out, as if absent;
 * empty list elements are allowed. The scan is one pass with no regular expression over the
 * header (no backtracking on long or hostile values) and nothing is remembered between calls,
 * so distinct headers cost time, never memory.
 */
export function parseAccept(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  const n = header.length;
  let i = 0;
  const skipOws = () => {
    while (i < n && isOws(header.charCodeAt(i))) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && isTchar(header.charCodeAt(i))) i++;
    return header.slice(start, i);
  };
  /** Skips to just past the next comma outside a quoted string (the next list element). */
  const skipElement = () => {
    let quoted = false;
    for (; i < n; i++) {
      const c = header.charCodeAt(i);
      if (quoted) {
        if (c === 0x5c) i++;
        else if (c === 0x22) quoted = false;
      } else if (c === 0x22) quoted = true;
      else if (c === 0x2c) break;
    }
    i++;
  };
  while (i < n) {
    skipOws();
    if (i >= n) break;
    if (header.charCodeAt(i) === 0x2c) {
      i++;
      continue;
    }
    const range = parseRange();
    if (range) ranges.push(range);
    skipElement();
  }
  return ranges;

  /** One range from `i`; leaves `i` at the end of what it read (the element's rest is skipped). */
  function parseRange(): MediaRange | null {
    const type = token().toLowerCase();
    let subtype: string;
    if (type === '*' && header.charCodeAt(i) !== 0x2f) {
      // a bare `*` (sent by old HTTP clients) is read as `*/*`
      subtype = '*';
    } else {
      if (type === '' || header.charCodeAt(i) !== 0x2f) return null;
      i++;
      subtype = token().toLowerCase();
      if (subtype === '' || (type === '*' && subtype !== '*')) return null;
    }
    const params: [string, string][] = [];
    let q = 1;
    let afterWeight = false;
    for (;;) {
      skipOws();
      if (i >= n || header.charCodeAt(i) === 0x2c) break;
      if (header.charCodeAt(i) !== 0x3b) return null;
      i++;
      skipOws();
      if (i >= n || header.charCodeAt(i) === 0x2c || header.charCodeAt(i) === 0x3b) continue;
      const name = token().toLowerCase();
      if (name === '' || header.charCodeAt(i) !== 0x3d) return null;
      i++;
      let value: string;
      if (header.charCodeAt(i) === 0x22) {
        i++;
        value = '';
        for (;;) {
          if (i >= n) return null;
          const c = header.charCodeAt(i);
          if (c === 0x22) break;
          if (c === 0x5c) {
            i++;
            if (i >= n) return null;
          } else if (c < 0x20 && c !== 0x09) return null;
          value += header[i];
          i++;
        }
        i++;
      } else {
        value = token();
        if (value === '') return null;
      }
      if (afterWeight) continue;
      if (name === 'q') {
        q = QVALUE.test(value) ? Number(value) : Number.NaN;
        if (!(q >= 0 && q <= 1)) return null;
        afterWeight = true;
      } else {
        params.push([name, value]);
      }
    }
    return { type, subtype, params, q };
  }
}

const matches = (range: MediaRange, type: string, subtype: string, params: Record<string, string>) =>
  (range.type === '*' || range.type === type) &&
  (range.subtype === '*' || range.subtype === subtype) &&
  range.params.every(([name, value]) => params[name]?.toLowerCase() === value.toLowerCase());

/** How specific a range is: a full type beats `type/*` beats `*\/*`; each parameter adds to it. */
const specificity = (range: MediaRange) =>
  (range.type === '*' ? 0 : range.subtype === '*' ? 1000 : 2000) + range.params.length;

/**
 * How acceptable an offer is under `ranges` (RFC 9110 §12.5.1): the weight of the most specific
 * range that matches it (0 when none does); when ranges of the same specificity disagree, the
 * lower weight, so that an explicit refusal is never overridden by an equal grant.
 */
export function quality(ranges: readonly MediaRange[], offer: Offer): { q: number; specificity: number } {
  const [type = '', subtype = ''] = offer.mediaType.toLowerCase().split('/');
  const params = offer.params ?? {};
  let best = -1;
  let q = 0;
  for (const range of ranges) {
    if (!matches(range, type, subtype, params)) continue;
    const s = specificity(range);
    if (s > best) {
      best = s;
      q = range.q;
    } else if (s === best && range.q < q) {
      q = range.q;
    }
  }
  return { q, specificity: best };
}

/**
 * The index of the offer an `Accept` header prefers, or -1 when it accepts none of them. No
 * header (or an empty one) accepts anything: the first offer. Otherwise the highest weight
 * wins, then the more specific range (`text/*` picks a text format over the `*\/*` default),
 * then the order of `offers` (the server's preference).
 */
export function negotiate(accept: string | undefined, offers: readonly Offer[]): number {
  if (accept === undefined) return 0;
  const ranges = parseAccept(accept);
  if (ranges.length === 0) return /^[\s,]*$/.test(accept) ? 0 : -1;
  let chosen = -1;
  let chosenQ = 0;
  let chosenSpecificity = -1;
  offers.forEach((offer, index) => {
    const { q, specificity: s } = quality(ranges, offer);
    if (q <= 0) return;
    if (q > chosenQ || (q === chosenQ && s > chosenSpecificity)) {
      chosen = index;
      chosenQ = q;
      chosenSpecificity = s;
    }
  });
  return chosen;
}

const FORMAT_OFFERS: Offer[] = FORMAT_NAMES.map((name) => ({ mediaType: FORMATS[name], params: FORMAT_PARAMETERS[name] }));

const supported = FORMAT_NAMES.map((name) => `${name} (${FORMATS[name]})`).join(', ');

export const notAcceptable = (what: string) =>
  new ProblemError(406, 'not-acceptable', 'Not acceptable', `none of the accepted media types can be produced; supported: ${what}`);

/**
 * Answers 406 unless `accept` admits `offer` (the one representation of a route such as the
 * export): a route with one format still refuses a client that excludes it.
 */
export function requireAcceptable(accept: string | undefined, offer: Offer): void {
  if (negotiate(accept, [offer]) < 0) throw notAcceptable(offer.mediaType);
}

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
  const chosen = negotiate(accept, FORMAT_OFFERS);
  if (chosen < 0) throw notAcceptable(supported);
  return FORMAT_NAMES[chosen]!;
}
