// A spec-driven fuzzer (what Schemathesis would do, for Node): the served /openapi.json is the
// only description of the API it uses. For EVERY operation it derives fast-check arbitraries from
// the operation's parameters and request body schemas (a small JSON-Schema-to-fast-check generator
// for the subset the document uses), sends VALID and MUTATED requests with `app.inject`, and checks
// each response against the document:
//
//   * never a 5xx;
//   * the status is one the operation documents. Accepted for every operation although not
//     documented on each: 404 from the not-found handler (an unknown route or method: the problem's
//     detail says "no route"), and 429 / 503 (rate limits and load shedding apply to every route);
//   * the body validates (Ajv, draft 2020-12) against the schema documented for that status and
//     content type; bodies in non-JSON formats (CSV, iCalendar, NDJSON, ...) only have their
//     Content-Type checked against the documented ones;
//   * every 4xx/5xx is application/problem+json with type, title, status and detail;
//   * no stack frames, SQL text or file paths in any body.
//
// Everything runs once per engine (SQLite, PostgreSQL), with the same cases. Each operation runs on
// its own freshly seeded app, with the seed FUZZ_SEED + its index, so one operation replays alone
// (`-t <operationId>`). FUZZ_SEED and FUZZ_RUNS (total cases)
// override the defaults printed below.
//
// A second fuzzer draws histogram windows at the calendar's edges (years 0000 and 9999) and checks
// the buckets and their counts against the entries (see the end of the file; FUZZ_HISTOGRAM_RUNS).
import fc from 'fast-check';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, expect, it } from 'vitest';
import { dayNumber, dayToIso } from '../src/dates/edtf.js';
import { parseWindowBound } from '../src/dates/window.js';
import { AUTH, buildTestApp, COLLECTION } from './helpers.js';
import { bucketFaults, type Histogram } from './support/histogram.js';
import { describeEngines, type Engine } from './support/pg.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20220105);
const TOTAL = Number(process.env.FUZZ_RUNS ?? 6000);
/** FUZZ_DEBUG=1 prints every VALID case that was refused: where the generator could be smarter. */
const DEBUG = Boolean(process.env.FUZZ_DEBUG);
console.log(`fuzz: fast-check seed ${SEED} (override with FUZZ_SEED), ${TOTAL} cases in total (override with FUZZ_RUNS)`);

type Json = any;

/* ------------------------------------------------------------------------------------------ */
/* The document, from the served endpoint of a seeded app                                       */
/* ------------------------------------------------------------------------------------------ */

// the document and the cursor format are the same on every engine: SQLite serves them here
const docApp = await buildTestApp({ seed: true, memory: true });
const docResponse = await docApp.app.inject({ url: '/openapi.json' });
const doc: Json = docResponse.json();
// a real cursor of the seeded timeline, so that some cursors decode
const firstPage: Json = (await docApp.app.inject({ url: '/v1/timeline?limit=2' })).json();
const REAL_CURSOR: string = firstPage.page.nextCursor;
await docApp.close();

const components: Record<string, Json> = doc.components.schemas;
const METHODS = ['get', 'post', 'patch', 'delete', 'put'] as const;

interface Operation {
  id: string;
  method: string;
  path: string;
  op: Json;
  query: Json[];
  pathParams: Json[];
  headerParams: Json[];
  /** Request body content types and schemas, when the operation takes a body. */
  body: Record<string, Json> | null;
  write: boolean;
}

const operations: Operation[] = [];
for (const [path, item] of Object.entries<Json>(doc.paths)) {
  for (const method of METHODS) {
    const op = item[method];
    if (!op) continue;
    const params: Json[] = op.parameters ?? [];
    operations.push({
      id: op.operationId,
      method: method.toUpperCase(),
      path,
      op,
      query: params.filter((p) => p.in === 'query'),
      pathParams: params.filter((p) => p.in === 'path'),
      headerParams: params.filter((p) => p.in === 'header'),
      body: op.requestBody
        ? Object.fromEntries(Object.entries<Json>(op.requestBody.content).map(([type, c]) => [type, c.schema]))
        : null,
      write: method !== 'get',
    });
  }
}
const PER_OPERATION = Math.max(1, Math.ceil(TOTAL / operations.length));

/* ------------------------------------------------------------------------------------------ */
/* Ajv: the components, then one validator per (operation, status, content type)               */
/* ------------------------------------------------------------------------------------------ */

const SCHEMA_BASE = 'https://annals.test/schemas/';
const refName = (ref: string) => ref.replace('#/components/schemas/', '');

/** The schema with every `#/components/schemas/X` pointed at the component added to Ajv as X. */
function rewriteRefs(node: Json): Json {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([k, v]) => [
        k,
        k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/') ? SCHEMA_BASE + refName(v) : rewriteRefs(v),
      ]),
    );
  }
  return node;
}

const addFormats = ((addFormatsModule as Json).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
for (const [name, schema] of Object.entries(components)) ajv.addSchema({ ...rewriteRefs(schema), $id: SCHEMA_BASE + name });
const validators = new Map<string, ValidateFunction>();
function validatorFor(key: string, schema: Json): ValidateFunction {
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile(rewriteRefs(schema));
    validators.set(key, validate);
  }
  return validate;
}

/* ------------------------------------------------------------------------------------------ */
/* Domain knowledge the document cannot express (so that VALID cases reach the handlers)        */
/* ------------------------------------------------------------------------------------------ */

const KEYS = {
  source: ['src:turkpress-2022-01-11-amreyev'],
  place: ['place:kz', 'place:almaty', 'place:kz-other-cities'],
  actor: ['actor:amreyev', 'actor:ots', 'actor:tokayev', 'actor:kz-government', 'actor:turkic-world', 'actor:soviet-union'],
  event: [
    'event:kz-protests-2022-01-02',
    'event:almaty-riots-2022-01',
    'event:kz-unrest-2022',
    'event:kz-independence',
    'event:ots-cfm-extraordinary-2022-01-11',
  ],
  statement: ['stmt:amreyev-quote-motherland-of-all-turks', 'stmt:amreyev-condolences', 'stmt:amreyev-security-cooperation'],
  timeline: ['kazakhstan-january-2022', 'timeline:kazakhstan-january-2022'],
};
const ALL_KEYS = Object.values(KEYS).flat();
const keysArb = (...kinds: (keyof typeof KEYS)[]) => fc.constantFrom(...kinds.flatMap((k) => KEYS[k]));
const numericId = fc.integer({ min: 1, max: 80 });

/** Which records a reference field of a body names, by the field's name. */
const REF_FIELDS: Record<string, fc.Arbitrary<string | number>> = {
  places: keysArb('place'),
  actor: keysArb('actor'),
  actors: keysArb('actor'),
  speaker: keysArb('actor'),
  source: keysArb('source'),
  parent: keysArb('place', 'event'),
  context: keysArb('event'),
  events: keysArb('event'),
  entries: keysArb('event', 'statement'),
};

const pad = (n: number) => String(n).padStart(2, '0');
const dayArb = fc
  .record({ y: fc.integer({ min: 1900, max: 2030 }), m: fc.integer({ min: 1, max: 12 }), d: fc.integer({ min: 1, max: 28 }) })
  .map(({ y, m, d }) => `${y}-${pad(m)}-${pad(d)}`);
const edtfArb = fc.oneof(
  fc.integer({ min: 1900, max: 2030 }).map(String),
  dayArb.map((d) => d.slice(0, 7)),
  dayArb,
  fc.tuple(dayArb, fc.constantFrom('?', '~', '%')).map(([d, q]) => d + q),
  fc.tuple(dayArb, dayArb).map(([a, b]) => (a <= b ? `${a}/${b}` : `${b}/${a}`)),
  dayArb.map((d) => `../${d}`),
  dayArb.map((d) => `${d}/..`),
  dayArb.map((d) => `${d}T14:30:00+06:00`),
  fc.constantFrom('2022-02-30', '2022-13', '2022-01-05/2021-01-01', 'yesterday', ''),
);
const languageMapArb = fc.dictionary(fc.constantFrom('en', 'ar', 'ru', 'kk', 'en-GB', 'tr'), fc.string({ minLength: 1, maxLength: 30 }), {
  minKeys: 1,
  maxKeys: 3,
});

/** Component hints: mixed in with what the schema alone generates. */
const COMPONENT_HINTS: Record<string, fc.Arbitrary<unknown>> = {
  EdtfInput: edtfArb,
  LanguageMapInput: languageMapArb,
  RefInput: fc.oneof(fc.constantFrom(...ALL_KEYS), numericId),
};

/** Query parameter hints, by name (not for enums: those are generated from the schema). */
const QUERY_HINTS: Record<string, fc.Arbitrary<string>> = {
  from: fc.oneof(fc.constantFrom('2022', '2022-01', '2022-01-05', '1991', '2021-12-31'), dayArb),
  to: fc.oneof(fc.constantFrom('2022', '2022-01', '2022-01-31', '2030'), dayArb),
  actor: keysArb('actor'),
  place: keysArb('place'),
  parent: keysArb('place'),
  q: fc.constantFrom('Kazakhstan', 'كازاخستان', 'Amreyev', 'stability', 'السلطات', 'turkic world', 'zzzz'),
  role: fc.constantFrom('speaker', 'about', 'participant', 'organizer'),
  type: fc.constantFrom('protest', 'quote', 'news_article', 'city', 'country', 'meeting'),
  lang: fc.constantFrom('en', 'ar', 'ru', 'en-GB'),
  countryCode: fc.constantFrom('KZ', 'TR'),
  language: fc.constantFrom('ar', 'en'),
  cursor: fc.constant(REAL_CURSOR),
};

/** Path ids, by the collection in the path. */
function idArbFor(path: string): fc.Arbitrary<string> {
  const collection = path.split('/')[2] ?? '';
  const own: Record<string, string[]> = {
    sources: KEYS.source,
    places: KEYS.place,
    actors: KEYS.actor,
    events: KEYS.event,
    statements: KEYS.statement,
    timelines: KEYS.timeline,
  };
  return fc.oneof(
    { arbitrary: fc.constantFrom(...(own[collection] ?? ALL_KEYS)), weight: 5 },
    { arbitrary: numericId.map(String), weight: 2 },
    { arbitrary: fc.constantFrom(...ALL_KEYS), weight: 1 },
  );
}

/* ------------------------------------------------------------------------------------------ */
/* JSON Schema -> fast-check                                                                     */
/* ------------------------------------------------------------------------------------------ */

const INT32 = 2 ** 31 - 1;

function integerArb(s: Json): fc.Arbitrary<number> {
  const lo = Math.max(s.minimum ?? -1e9, s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -Infinity);
  const hi = Math.min(s.maximum ?? 1e9, s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - 1 : Infinity);
  const body = fc.integer({ min: Math.max(lo, -INT32), max: Math.min(hi, INT32) });
  return fc.oneof({ arbitrary: body, weight: 4 }, { arbitrary: fc.constantFrom(lo, hi), weight: 1 });
}

function numberArb(s: Json): fc.Arbitrary<number> {
  const min = s.minimum ?? -1e9;
  const max = s.maximum ?? 1e9;
  return fc.oneof(fc.double({ min, max, noNaN: true, noDefaultInfinity: true }), fc.constantFrom(min, max, 0));
}

function stringArb(s: Json): fc.Arbitrary<string> {
  const min: number = s.minLength ?? 0;
  const max: number = s.maxLength ?? 100_000;
  const fits = (v: string) => v.length >= min && v.length <= max;
  const options: fc.Arbitrary<string>[] = [];
  if (s.enum) return fc.constantFrom(...(s.enum as string[]));
  if (s.format === 'uri') options.push(fc.webUrl());
  else if (s.pattern) options.push(fc.stringMatching(new RegExp(s.pattern, 'u')).filter(fits));
  else {
    options.push(fc.string({ minLength: min, maxLength: Math.min(max, 24) }));
    options.push(fc.string({ unit: 'grapheme', minLength: min, maxLength: Math.min(max, 8) }).filter(fits));
  }
  if (typeof s.example === 'string' && fits(s.example)) options.push(fc.constant(s.example));
  return fc.oneof(...options);
}

/** Keys unlikely to be taken already (a taken key is a 400: fine, but not every time). */
const uniqueKeyArb = fc.tuple(fc.nat(), fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/)).map(([n, s]) => `fuzz:${s}-${n}`);

/** Rules the document cannot state: `lat`/`lon` and `start`/`end` come together, `start <= end`. */
function together(o: Json, a: string, b: string): Json {
  if (!o || typeof o !== 'object' || !(a in o || b in o)) return o;
  if (a in o !== b in o) {
    const { [a]: _a, [b]: _b, ...rest } = o;
    return rest;
  }
  if ((o[a] === null) !== (o[b] === null)) return { ...o, [a]: null, [b]: null };
  if (typeof o[a] === 'number' && typeof o[b] === 'number' && a === 'start' && o[a] > o[b]) return { ...o, [a]: o[b], [b]: o[a] };
  return o;
}

/** An arbitrary of values valid for `schema` (as far as the document says). */
function arbitraryOf(schema: Json, name = '', depth = 0): fc.Arbitrary<unknown> {
  if (schema.$ref) {
    const component = refName(schema.$ref);
    const base = arbitraryOf(components[component], name, depth + 1);
    if (component === 'RefInput' && REF_FIELDS[name]) {
      return fc.oneof({ arbitrary: REF_FIELDS[name], weight: 6 }, { arbitrary: base, weight: 1 });
    }
    const hint = COMPONENT_HINTS[component];
    return hint ? fc.oneof({ arbitrary: hint, weight: 4 }, { arbitrary: base, weight: 1 }) : base;
  }
  const alternatives: Json[] | undefined = schema.anyOf ?? schema.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map((s) => arbitraryOf(s, name, depth + 1)));
  if ('const' in schema) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...(schema.enum as unknown[]));
  if (Array.isArray(schema.type)) return fc.oneof(...schema.type.map((type: string) => arbitraryOf({ ...schema, type }, name, depth)));
  switch (schema.type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return integerArb(schema);
    case 'number':
      return numberArb(schema);
    case 'string':
      return stringArb(schema);
    case 'array':
      return fc.array(arbitraryOf(schema.items ?? {}, name, depth + 1), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 4, depth > 2 ? 1 : 3),
      });
    case 'object': {
      const properties: Record<string, Json> = schema.properties ?? {};
      if (Object.keys(properties).length === 0 && schema.additionalProperties && typeof schema.additionalProperties === 'object') {
        const keys = schema.propertyNames ? stringArb({ type: 'string', ...schema.propertyNames }) : fc.string({ maxLength: 10 });
        return fc.dictionary(keys, arbitraryOf(schema.additionalProperties, name, depth + 1), { minKeys: 0, maxKeys: 3 });
      }
      const model = Object.fromEntries(Object.entries(properties).map(([k, s]) => [k, arbitraryOf(s, k, depth + 1)]));
      if (model.key) model.key = fc.oneof({ arbitrary: uniqueKeyArb, weight: 4 }, { arbitrary: model.key, weight: 1 });
      return fc.record(model, { requiredKeys: schema.required ?? [] }).map((o) => together(together(o as Json, 'lat', 'lon'), 'start', 'end'));
    }
  }
  return fc.jsonValue({ maxDepth: 2 });
}

/* ------------------------------------------------------------------------------------------ */
/* Mutations                                                                                    */
/* ------------------------------------------------------------------------------------------ */

const ODD_STRINGS = [
  '\u202Eevil\u202C', // RTL override
  '\u200F\u200E\u061C', // bidi marks
  'a\u0301\u0301\u0301\u0301\u0301', // stacked combining marks
  'Z\u0364\u0351\u0313a\u0308\u0347l\u036Eg\u0301o\u031C',
  '👩‍👩‍👧‍👦🏳️‍🌈',
  '\uD800', // lone high surrogate
  'x\uDC00y', // lone low surrogate
  'nul\u0000byte',
  '\uFEFF',
  '\r\n\t',
  ' ',
  '𝕬𝖓𝖓𝖆𝖑𝖘',
  'İıß',
  'ﷺ',
];
const oddStringArb = fc.oneof(fc.constantFrom(...ODD_STRINGS), fc.string({ unit: 'binary', maxLength: 12 }));
const hugeStringArb = fc.constantFrom(200_001, 100_000).map((n) => 'x'.repeat(n));
const wrongTypeArb = fc.constantFrom<unknown>(12345, -1, 1.5, true, null, [], {}, ['a'], 'a string', { nested: { x: 1 } });
const outOfRangeArb = fc.constantFrom(1e308, -1e308, 2 ** 53 + 2, -1, 0, 1000, -1000, 1.5);
const BAD_JSON = ['{', '{"a":', "{'type':1}", '[1,2', 'nul', '{"a":1}}', '\u0000', '{"a":NaN}', '{"a":1,}', '"unterminated', '<xml/>', 'undefined', '{"a":"\\x"}'];
const WRONG_CONTENT_TYPES = [
  'text/plain',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'text/html',
  'image/png',
  'application/jsonx',
];
const EXTRA_FIELDS = ['id', 'createdAt', 'updatedAt', 'unknownField', 'kind', 'entryCount'];
const BAD_INTEGERS = ['abc', '0', '-1', '501', '1.5', '1e400', '', '0x10', ' 5', 'NaN', '99999999999999999999'];

/** Percent-encodes, writing lone surrogates as the (invalid) UTF-8 of a surrogate. */
function encode(value: string): string {
  let out = '';
  for (const char of value) {
    const cp = char.codePointAt(0)!;
    out += cp >= 0xd800 && cp <= 0xdfff ? '%ED%A0%80' : encodeURIComponent(char);
  }
  return out;
}

/* ------------------------------------------------------------------------------------------ */
/* Cases                                                                                        */
/* ------------------------------------------------------------------------------------------ */

interface Case {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
  /** What was done to the request: `valid`, or the mutations applied. */
  labels: string[];
}

interface Part<T> {
  value: T;
  labels: string[];
}

const part = <T>(value: T, ...labels: string[]): Part<T> => ({ value, labels });

function pathArb(operation: Operation): fc.Arbitrary<Part<string>> {
  if (operation.pathParams.length === 0) return fc.constant(part(operation.path));
  const fill = (id: string) => operation.path.replace('{id}', id);
  const schema = operation.pathParams[0].schema;
  return fc.oneof(
    { arbitrary: idArbFor(operation.path).map((id) => part(fill(encode(id)))), weight: 12 },
    // `.` and `..` are dot segments, not ids: a URL's path drops them (RFC 3986 §5.2.4) before any server reads it
    { arbitrary: stringArb(schema).filter((id) => id !== '.' && id !== '..').map((id) => part(fill(encode(id)), 'id:schema')), weight: 2 },
    { arbitrary: fc.string({ minLength: 1, maxLength: 20 }).map((s) => part(fill(encode(`nope:${s}`)), 'id:unknown')), weight: 2 },
    { arbitrary: fc.integer({ min: 1000, max: 2 ** 40 }).map((n) => part(fill(String(n)), 'id:unknown-number')), weight: 1 },
    { arbitrary: oddStringArb.filter((s) => s.length > 0).map((s) => part(fill(encode(s)), 'id:odd-unicode')), weight: 2 },
    { arbitrary: fc.integer({ min: 201, max: 400 }).map((n) => part(fill('k'.repeat(n)), 'id:too-long')), weight: 1 },
    { arbitrary: fc.constantFrom('%ZZ', '%E0%A4%A', 'a%', '%ED%A0%80').map((s) => part(fill(s), 'id:bad-encoding')), weight: 1 },
    { arbitrary: fc.constantFrom('..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f', 'a%2Fb').map((s) => part(fill(s), 'id:traversal')), weight: 1 },
  );
}

const isEnumParam = (p: Json) => Boolean(p.schema.enum ?? p.schema.items?.enum);
const isIntegerParam = (p: Json) => p.schema.type === 'integer';

/** A value of a query parameter, valid for its schema (hinted by name). */
function queryValueArb(p: Json): fc.Arbitrary<string[]> {
  const hint = isEnumParam(p) ? undefined : QUERY_HINTS[p.name];
  const schema = p.schema;
  if (schema.type === 'array') {
    const item = hint ? fc.oneof({ arbitrary: hint, weight: 8 }, { arbitrary: arbitraryOf(schema.items).map(String), weight: 1 }) : arbitraryOf(schema.items).map(String);
    return fc.array(item, { minLength: 1, maxLength: 3 });
  }
  const base = arbitraryOf(schema).map(String);
  return (hint ? fc.oneof({ arbitrary: hint, weight: 8 }, { arbitrary: base, weight: 1 }) : base).map((v) => [v]);
}

function queryArb(operation: Operation): fc.Arbitrary<Part<string>> {
  const params = operation.query;
  const serialize = (entries: [string, string[]][], raw = '') =>
    [...entries.flatMap(([name, values]) => values.map((v) => `${name}=${encode(v)}`)), ...(raw ? [raw] : [])].join('&');
  const validEntries =
    params.length === 0
      ? fc.constant([] as [string, string[]][])
      : fc
          .tuple(
            ...params.map((p) =>
              // a few parameters at a time (a cursor rarely: it is bound to the query it came from)
              fc.oneof(
                { arbitrary: fc.constant(null), weight: p.name === 'cursor' ? 19 : 3 },
                { arbitrary: queryValueArb(p).map((v) => [p.name as string, v] as [string, string[]]), weight: 1 },
              ),
            ),
          )
          .map((entries) => entries.filter((e): e is [string, string[]] => e !== null));
  const valid = validEntries.map((entries) => part(serialize(entries)));
  const name = params.length ? fc.constantFrom(...params.map((p) => p.name as string)) : fc.constant('lang');
  const mutations: fc.Arbitrary<Part<string>>[] = [
    fc.tuple(validEntries, fc.string({ maxLength: 10 })).map(([e, v]) => part(serialize([...e, ['unknownParam', [v]]]), 'query:extra-param')),
    fc.tuple(validEntries, name, hugeStringArb).map(([e, n, v]) => part(serialize([...e.filter(([k]) => k !== n), [n, [v.slice(0, 20_000)]]]), 'query:huge')),
    fc.tuple(validEntries, name, oddStringArb).map(([e, n, v]) => part(serialize([...e.filter(([k]) => k !== n), [n, [v]]]), 'query:odd-unicode')),
    fc.tuple(validEntries, name, fc.constantFrom('%ZZ', '%', '%E0%A4%A', '%ED%A0%80', '%00')).map(([e, n, v]) => part(serialize(e, `${n}=${v}`), 'query:bad-encoding')),
    fc.tuple(validEntries, name).map(([e, n]) => part(serialize([...e.filter(([k]) => k !== n), [n, ['']]]), 'query:empty')),
  ];
  const integers = params.filter(isIntegerParam);
  if (integers.length) {
    mutations.push(
      fc.tuple(validEntries, fc.constantFrom(...integers.map((p) => p.name as string)), fc.constantFrom(...BAD_INTEGERS)).map(([e, n, v]) =>
        part(serialize([...e.filter(([k]) => k !== n), [n, [v]]]), 'query:bad-integer'),
      ),
    );
  }
  const enums = params.filter(isEnumParam);
  if (enums.length) {
    mutations.push(
      fc.tuple(validEntries, fc.constantFrom(...enums.map((p) => p.name as string)), fc.string({ maxLength: 12 })).map(([e, n, v]) =>
        part(serialize([...e.filter(([k]) => k !== n), [n, [v]]]), 'query:bad-enum'),
      ),
    );
  }
  const scalars = params.filter((p) => p.schema.type !== 'array');
  if (scalars.length) {
    mutations.push(
      fc.tuple(validEntries, fc.constantFrom(...scalars)).chain(([e, p]) =>
        fc.tuple(queryValueArb(p), queryValueArb(p)).map(([a, b]) =>
          part(serialize([...e.filter(([k]) => k !== p.name), [p.name, [...a, ...b]]]), 'query:repeated-scalar'),
        ),
      ),
    );
  }
  return fc.oneof({ arbitrary: valid, weight: mutations.length * 2 }, ...mutations.map((arbitrary) => ({ arbitrary, weight: 1 })));
}

const AUTH_HEADER = AUTH.authorization;
const BAD_AUTH = ['Bearer', 'Bearer wrong-key-000000000000', 'Basic dXNlcjpwYXNz', `Token ${AUTH_HEADER.slice(7)}`, 'Bearer a b'];

function headersArb(operation: Operation): fc.Arbitrary<Part<Record<string, string>>> {
  const auth: fc.Arbitrary<Part<Record<string, string>>> = operation.write
    ? fc.oneof(
        { arbitrary: fc.constant(part({ authorization: AUTH_HEADER })), weight: 16 },
        { arbitrary: fc.constant(part({}, 'auth:none')), weight: 2 },
        { arbitrary: fc.constantFrom(...BAD_AUTH).map((a) => part({ authorization: a }, 'auth:bad')), weight: 2 },
      )
    : fc.oneof({ arbitrary: fc.constant(part({})), weight: 9 }, { arbitrary: fc.constant(part({ authorization: AUTH_HEADER })), weight: 1 });
  // a live event stream never ends, so inject cannot read it whole: test/changes-live*.test.ts read it over HTTP
  const produced = Object.keys(operation.op.responses['200']?.content ?? {}).filter((type) => type !== 'text/event-stream');
  const accept: fc.Arbitrary<Part<Record<string, string>>> = fc.oneof(
    { arbitrary: fc.constant(part({})), weight: 6 },
    {
      arbitrary: fc
        .constantFrom(...produced, '*/*', 'application/json', 'text/html', 'application/xml', 'text/csv;q=0.5, application/json', 'garbage/;;')
        .map((a) => part({ accept: a }, produced.includes(a) || a === '*/*' ? 'accept' : 'accept:odd')),
      weight: 2,
    },
  );
  const idempotency = operation.headerParams.find((p) => p.name === 'idempotency-key');
  const idem: fc.Arbitrary<Part<Record<string, string>>> = idempotency
    ? fc.oneof(
        { arbitrary: fc.constant(part({})), weight: 6 },
        { arbitrary: stringArb(idempotency.schema).map((k) => part({ 'idempotency-key': k }, 'idempotency-key')), weight: 2 },
        { arbitrary: fc.constantFrom('has space', 'x'.repeat(256), '\tx').map((k) => part({ 'idempotency-key': k }, 'idempotency-key:bad')), weight: 1 },
      )
    : fc.constant(part({}));
  return fc.tuple(auth, accept, idem).map((parts) => part(Object.assign({}, ...parts.map((p) => p.value)), ...parts.flatMap((p) => p.labels)));
}

interface Body {
  payload?: string | Buffer;
  contentType?: string;
}

const json = (value: unknown, contentType = 'application/json'): Body => ({ payload: JSON.stringify(value), contentType });

/** Valid and mutated bodies of a JSON body schema. */
function jsonBodyArb(schema: Json): fc.Arbitrary<Part<Body>> {
  const resolved = schema.$ref ? components[refName(schema.$ref)] : schema;
  const valid = arbitraryOf(schema) as fc.Arbitrary<Record<string, unknown>>;
  const properties = Object.keys(resolved.properties ?? {});
  const required: string[] = resolved.required ?? [];
  const withField = (arb: fc.Arbitrary<unknown>, label: string) =>
    fc.tuple(valid, fc.constantFrom(...properties), arb).map(([body, field, value]) => part(json({ ...body, [field]: value }), label));
  const mutations: fc.Arbitrary<Part<Body>>[] = [
    wrongTypeArb.map((v) => part(json(v), 'body:wrong-type-root')),
    withField(wrongTypeArb, 'body:wrong-type-field'),
    withField(outOfRangeArb, 'body:out-of-range'),
    withField(hugeStringArb, 'body:huge-string'),
    withField(oddStringArb, 'body:odd-unicode'),
    fc.tuple(valid, fc.constantFrom(...EXTRA_FIELDS), wrongTypeArb).map(([body, field, value]) => part(json({ ...body, [field]: value }), 'body:extra-field')),
    fc.constantFrom(...BAD_JSON).map((text) => part({ payload: text, contentType: 'application/json' }, 'body:invalid-json')),
    fc.tuple(valid, fc.constantFrom(...WRONG_CONTENT_TYPES)).map(([body, type]) => part(json(body, type), 'body:wrong-content-type')),
    valid.map((body) => part({ payload: JSON.stringify(body) }, 'body:no-content-type')),
    fc.constant(part({ contentType: 'application/json' }, 'body:empty')),
    fc.constant(part({ payload: `{"text":"${'x'.repeat(1024 * 1024 + 16)}"}`, contentType: 'application/json' }, 'body:too-large')),
    fc.constant(part({ payload: `${'['.repeat(5000)}${']'.repeat(5000)}`, contentType: 'application/json' }, 'body:deep-nesting')),
    fc.constant(part({ payload: '{"__proto__":{"polluted":true}}', contentType: 'application/json' }, 'body:proto')),
  ];
  if (required.length) {
    mutations.push(
      fc.tuple(valid, fc.constantFrom(...required)).map(([body, field]) => {
        const { [field]: _dropped, ...rest } = body;
        return part(json(rest), 'body:missing-required');
      }),
    );
  }
  return fc.oneof({ arbitrary: valid.map((body) => part(json(body))), weight: mutations.length }, ...mutations.map((arbitrary) => ({ arbitrary, weight: 1 })));
}

/** Interchange NDJSON: records generated from the create schemas (with `kind` and a key), or the seed's lines. */
const IMPORT_KINDS: [string, string][] = [
  ['source', 'CreateSourceInput'],
  ['place', 'CreatePlaceInput'],
  ['actor', 'CreateActorInput'],
  ['event', 'CreateEventInput'],
  ['statement', 'CreateStatementInput'],
  ['timeline', 'CreateTimelineInput'],
];
const importRecordArb = fc.oneof(
  ...IMPORT_KINDS.map(([kind, component]) =>
    fc
      .tuple(arbitraryOf({ $ref: `#/components/schemas/${component}` }) as fc.Arbitrary<Record<string, unknown>>, stringArb(components.KeyInput))
      .map(([record, key]) => JSON.stringify({ kind, ...record, key: `fuzz:${kind}:${key}` })),
  ),
  fc.constantFrom(...ALL_KEYS).map((key) => JSON.stringify({ kind: 'place', key, type: 'city', name: { en: key } })),
);

function importBodyArb(content: Record<string, Json>): fc.Arbitrary<Part<Body>> {
  const types = Object.keys(content);
  const lines = fc.array(importRecordArb, { minLength: 1, maxLength: 4 });
  const valid = fc.tuple(lines, fc.constantFrom(...types)).map(([l, type]) => part({ payload: `${l.join('\n')}\n`, contentType: type }));
  const mutations: fc.Arbitrary<Part<Body>>[] = [
    fc.tuple(fc.array(fc.oneof(fc.constantFrom(...BAD_JSON), oddStringArb, importRecordArb), { minLength: 1, maxLength: 4 }), fc.constantFrom(...types)).map(
      ([l, type]) => part({ payload: l.join('\n'), contentType: type }, 'body:bad-lines'),
    ),
    fc.tuple(lines, fc.constantFrom('application/json', ...WRONG_CONTENT_TYPES)).map(([l, type]) => part({ payload: l.join('\n'), contentType: type }, 'body:wrong-content-type')),
    lines.map((l) => part({ payload: l.join('\n') }, 'body:no-content-type')),
    fc.constantFrom(...types).map((type) => part({ payload: '', contentType: type }, 'body:empty')),
    fc.constantFrom(...types).map((type) => part({ payload: Buffer.from([0xff, 0xfe, 0x7b, 0x0a, 0xc3, 0x28, 0x0a]), contentType: type }, 'body:invalid-utf8')),
    fc.constantFrom(...types).map((type) => part({ payload: `{"kind":"place","key":"place:x","type":"${'x'.repeat(300_000)}"}\n`, contentType: type }, 'body:huge-line')),
    wrongTypeArb.map((v) => part({ payload: `${JSON.stringify(v)}\n`, contentType: types[0] }, 'body:wrong-type-record')),
  ];
  return fc.oneof({ arbitrary: valid, weight: mutations.length }, ...mutations.map((arbitrary) => ({ arbitrary, weight: 1 })));
}

function bodyArb(operation: Operation): fc.Arbitrary<Part<Body>> {
  if (!operation.body) {
    if (operation.method !== 'DELETE') return fc.constant(part({}));
    // a DELETE has no body; one sent anyway must still get a documented answer
    return fc.oneof(
      { arbitrary: fc.constant(part({})), weight: 8 },
      { arbitrary: fc.constant(part({ payload: '{}', contentType: 'application/json' }, 'body:unexpected')), weight: 1 },
      { arbitrary: fc.constantFrom(...BAD_JSON).map((t) => part({ payload: t, contentType: 'application/json' }, 'body:invalid-json')), weight: 1 },
      { arbitrary: fc.constantFrom(...WRONG_CONTENT_TYPES).map((t) => part({ payload: 'x', contentType: t }, 'body:wrong-content-type')), weight: 1 },
    );
  }
  const types = Object.keys(operation.body);
  if (types.includes('application/json')) return jsonBodyArb(operation.body['application/json']);
  return importBodyArb(operation.body);
}

function caseArb(operation: Operation): fc.Arbitrary<Case> {
  const method = fc.oneof(
    { arbitrary: fc.constant(part(operation.method)), weight: 40 },
    { arbitrary: fc.constantFrom('PUT', 'TRACE').map((m) => part(m, 'method:undocumented')), weight: 1 },
  );
  return fc.tuple(method, pathArb(operation), queryArb(operation), headersArb(operation), bodyArb(operation)).map(([m, path, query, headers, body]) => {
    const labels = [...m.labels, ...path.labels, ...query.labels, ...headers.labels, ...body.labels];
    const h: Record<string, string> = { ...headers.value };
    if (body.value.contentType !== undefined) h['content-type'] = body.value.contentType;
    const c: Case = {
      method: m.value,
      url: path.value + (query.value ? `?${query.value}` : ''),
      headers: h,
      ...(body.value.payload !== undefined ? { payload: body.value.payload } : {}),
      labels: labels.length ? labels : ['valid'],
    };
    // short counterexamples: a megabyte body is printed as its start and length
    Object.defineProperty(c, fc.toStringMethod, { value: () => describeCase(c), enumerable: false });
    return c;
  });
}

const clip = (text: string, n = 300) => (text.length > n ? `${text.slice(0, n)}… (${text.length} chars)` : text);
function describeCase(c: Case): string {
  const payload = c.payload === undefined ? '' : ` body=${clip(Buffer.isBuffer(c.payload) ? `<buffer ${c.payload.toString('hex')}>` : c.payload)}`;
  return `${c.method} ${clip(c.url)} headers=${JSON.stringify(c.headers)}${payload} [${c.labels.join(', ')}]`;
}

/* ------------------------------------------------------------------------------------------ */
/* Checks                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/** Internals that must never reach a client: stack frames, SQL, file paths. */
const LEAKS: RegExp[] = [
  // a stack frame: `at fn (/path/file.js:1:2)`, `at /path/file.js:1:2`, `at node:internal/...`
  /\bat (?:[^\s()]+ )?\(?(?:\/|file:\/\/|node:|[A-Za-z]:\\)[^\s()]*:\d+/,
  /node:internal/,
  /\/work\//,
  /node_modules/,
  /\.ts:/,
  /sqlite/i,
  /postgres/i,
  // PostgreSQL's own error messages
  /\bviolates \S+ (?:key )?constraint\b/,
  /\bduplicate key value\b/,
  /\brelation "[^"]*" does not exist/,
  /\bSELECT\b[\s\S]{0,200}\bFROM\b/,
  /\bINSERT\s+INTO\b/,
];

interface Tally {
  cases: number;
  statuses: Map<number, number>;
}

function sentText(c: Case): string {
  let url = c.url;
  try {
    url = decodeURIComponent(c.url);
  } catch {
    /* keep it encoded */
  }
  const payload = c.payload === undefined ? '' : Buffer.isBuffer(c.payload) ? c.payload.toString('utf8') : c.payload;
  return `${c.url}\n${url}\n${payload}\n${JSON.stringify(payload)}`;
}

function checkResponse(operation: Operation, c: Case, res: LightMyRequestResponse): void {
  const where = `${operation.id}: ${describeCase(c)} -> ${res.statusCode} ${String(res.headers['content-type'] ?? '')} ${clip(res.body, 500)}`;
  const status = res.statusCode;
  expect(status, `5xx: ${where}`).toBeLessThan(500);

  // no internals, unless the client sent that very text (problems quote the offending value)
  const sent = sentText(c);
  for (const leak of LEAKS) {
    const match = leak.exec(res.body);
    if (match && !sent.includes(match[0])) throw new Error(`leak ${leak}: "${match[0]}" in ${where}`);
  }

  const contentType = String(res.headers['content-type'] ?? '');
  const media = contentType.split(';')[0]!.trim().toLowerCase();

  let documented = operation.op.responses[String(status)];
  if (!documented) {
    const global = status === 429 || status === 503 || (status === 404 && /^no route /.test(JSON.parse(res.body).detail ?? ''));
    expect(global, `undocumented status ${status}: ${where}`).toBe(true);
    documented = { content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };
  }

  if (status >= 400) {
    expect(media, `an error that is not a problem: ${where}`).toBe('application/problem+json');
    const problem = JSON.parse(res.body);
    expect(problem.status, where).toBe(status);
    for (const member of ['type', 'title', 'detail']) {
      expect(typeof problem[member] === 'string' && problem[member].length > 0, `problem without ${member}: ${where}`).toBe(true);
    }
  }

  if (status === 204 || status === 304) {
    expect(res.body, where).toBe('');
    return;
  }
  const content: Record<string, Json> = documented.content ?? {};
  expect(Object.keys(content), `undocumented content type ${media}: ${where}`).toContain(media);
  if (media === 'application/json' || media === 'application/problem+json') {
    let body: unknown;
    try {
      body = JSON.parse(res.body);
    } catch {
      throw new Error(`not JSON: ${where}`);
    }
    const validate = validatorFor(`${operation.id} ${status} ${media}`, content[media].schema);
    if (!validate(body)) throw new Error(`schema: ${ajv.errorsText(validate.errors, { separator: '; ' })}: ${where}`);
  }
}

/**
 * `app.inject` resolves through promise jobs: back-to-back injections never let the event loop reach
 * its timers, and @fastify/under-pressure would take the whole run for one long event-loop delay and
 * shed load (503) from then on. A real server yields between requests; so does the fuzzer.
 */
async function send(app: FastifyInstance, c: Case): Promise<LightMyRequestResponse> {
  await new Promise((resolve) => setImmediate(resolve));
  return app.inject({
    method: c.method as 'GET',
    url: c.url,
    headers: c.headers,
    ...(c.payload !== undefined ? { payload: c.payload } : {}),
  });
}

/* ------------------------------------------------------------------------------------------ */
/* The runs                                                                                     */
/* ------------------------------------------------------------------------------------------ */

describeEngines(`fuzz every operation of /openapi.json (${operations.length} operations x ${PER_OPERATION} cases)`, (engine) => {
  const tallies = new Map<string, Tally>();
  const labelCounts = new Map<string, number>();
  afterAll(() => {
    const rows = operations.map((o) => {
      const t = tallies.get(o.id);
      const statuses = t ? [...t.statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}:${n}`).join(' ') : '';
      return `  ${`${o.method} ${o.path}`.padEnd(32)} ${o.id.padEnd(24)} ${String(t?.cases ?? 0).padStart(5)}  ${statuses}`;
    });
    const total = [...tallies.values()].reduce((n, t) => n + t.cases, 0);
    console.log(`fuzz [${engine}]: cases per operation (seed ${SEED}):\n${rows.join('\n')}\n  total ${total}`);
    console.log(
      `fuzz [${engine}]: mutations: ${[...labelCounts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([l, n]) => `${l}=${n}`).join(', ')}`,
    );
  });

  operations.forEach((operation, index) => {
    it(`${operation.id}: ${operation.method} ${operation.path}`, { timeout: 120_000 }, async () => {
      const t = await buildTestApp({ seed: true, memory: true, engine });
      const tally: Tally = { cases: 0, statuses: new Map() };
      tallies.set(operation.id, tally);
      try {
        await fc.assert(
          fc.asyncProperty(caseArb(operation), async (c) => {
            tally.cases++;
            for (const label of c.labels) labelCounts.set(label, (labelCounts.get(label) ?? 0) + 1);
            const res = await send(t.app, c);
            tally.statuses.set(res.statusCode, (tally.statuses.get(res.statusCode) ?? 0) + 1);
            if (DEBUG && c.labels[0] === 'valid' && res.statusCode >= 400) console.log(`${operation.id}: ${describeCase(c)} -> ${res.statusCode} ${clip(res.body, 300)}`);
            checkResponse(operation, c, res);
          }),
          { seed: SEED + index, numRuns: PER_OPERATION, endOnFailure: true },
        );
      } finally {
        await t.close();
      }
      expect(({} as Json).polluted, 'prototype pollution').toBeUndefined();
    });
  });
});

describeEngines('malformed URLs (fastify framework errors)', (engine) => {
  it('an invalid percent-encoding and an over-long id are answered as problem documents', async () => {
    const t = await buildTestApp({ memory: true, engine });
    try {
      for (const url of ['/v1/events/%ZZ', `/v1/events/${'k'.repeat(300)}`]) {
        const res = await t.app.inject({ url });
        expect([400, 404]).toContain(res.statusCode);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
    } finally {
      await t.close();
    }
  });
});

/* ------------------------------------------------------------------------------------------ */
/* The histogram at the calendar's edges                                                        */
/* ------------------------------------------------------------------------------------------ */

// Windows drawn near the years 0000, 0001, 9998 and 9999, at month and day edges (and past them:
// 0001-02-29, 9999-13), with instants at extreme offsets and open sides, on an empty database and
// on one whose entries sit at those edges. A valid window must answer 200 (or the 400 of too many
// buckets), anything else a 400 problem; never a 5xx. A 200's buckets must tile the range, each a
// whole interval cut only by the calendar, and hold exactly the matching entries: `count` those
// inside a bucket, `count + imprecise` those overlapping it; an open side must reach every match.

const HISTOGRAM_RUNS = Number(process.env.FUZZ_HISTOGRAM_RUNS ?? 250);

/** Entries at the edges, by kind, type (a filter that picks a few) and date. */
const EDGE_DATES: [kind: 'event' | 'statement', type: string, date: string][] = [
  ['event', 'edge', '0000'],
  ['event', 'edge', '0000-01'],
  ['event', 'edge', '0000-01-01'],
  ['event', 'far', '0000-01-02'],
  ['event', 'edge', '0000-02-29'],
  ['event', 'far', '0000-01-01/0000-01-03'],
  ['event', 'edge', '../0000-01-01'],
  ['event', 'far', '0000-12-31/..'],
  ['event', 'edge', '0000-01-01T00:00:00-14:00'],
  ['event', 'far', '0001-01-01'],
  ['event', 'edge', '0000/9999'],
  ['event', 'far', '9998-12-31'],
  ['event', 'edge', '9999'],
  ['event', 'far', '9999-12'],
  ['event', 'edge', '9999-12-31'],
  ['event', 'far', '9999-12-27/9999-12-31'],
  ['event', 'edge', '../9999-12-31'],
  ['event', 'far', '9999-12-31/..'],
  ['event', 'edge', '9999-12-31T23:59:59.999+14:00'],
  // only open-ended: without a window their known bounds must make the range
  ['event', 'open', '5000-06-15/..'],
  ['event', 'open', '../4000-03'],
  // an open-ended entry known only beyond the closed ones, each way
  ['event', 'mixed', '4500-01-01'],
  ['event', 'mixed', '4600-02-10/..'],
  ['event', 'mixed', '../4400-12-31'],
  ['statement', 'quote', '0000-01-01'],
  ['statement', 'quote', '9999-12-31'],
  ['statement', 'quote', '9999-12-31/..'],
  ['statement', 'quote', '../0000-12'],
];

interface EdgeEntry {
  kind: 'event' | 'statement';
  type: string;
  earliest: number;
  latest: number;
}

/** Builds an app with the edge entries, and returns them with their stored bounds. */
async function edgeApp(engine: Engine): Promise<{ app: FastifyInstance; close(): Promise<void>; entries: EdgeEntry[] }> {
  const t = await buildTestApp({ memory: true, engine });
  const speaker = await t.app.inject({ method: 'POST', url: '/v1/actors', headers: AUTH, payload: { key: 'actor:edge', type: 'person', name: { en: 'Edge' } } });
  expect(speaker.statusCode, speaker.body).toBe(201);
  const entries: EdgeEntry[] = [];
  for (const [i, [kind, type, date]] of EDGE_DATES.entries()) {
    const payload =
      kind === 'event'
        ? { key: `event:edge-${i}`, type, date, title: { en: date } }
        : { key: `stmt:edge-${i}`, type, date, speaker: 'actor:edge', text: { en: date } };
    const res = await t.app.inject({ method: 'POST', url: `/v1/${kind}s`, headers: AUTH, payload });
    expect(res.statusCode, res.body).toBe(201);
    const stored = res.json().date as { earliest: string | null; latest: string | null };
    entries.push({
      kind,
      type,
      earliest: stored.earliest === null ? Number.NEGATIVE_INFINITY : dayNumber(stored.earliest),
      latest: stored.latest === null ? Number.POSITIVE_INFINITY : dayNumber(stored.latest),
    });
  }
  return { app: t.app, close: () => t.close(), entries };
}

const edgeYearArb = fc.oneof(
  { arbitrary: fc.constantFrom(0, 1, 9998, 9999), weight: 6 },
  { arbitrary: fc.constantFrom(2, 4, 100, 400, 5000, 9997), weight: 1 },
  { arbitrary: fc.integer({ min: 0, max: 9999 }), weight: 1 },
);
const edgeMonthArb = fc.oneof({ arbitrary: fc.constantFrom(1, 2, 12), weight: 3 }, { arbitrary: fc.integer({ min: 1, max: 12 }), weight: 1 });
/** Days of the month, some past its end (then the window is a 400). */
const edgeDayArb = fc.oneof({ arbitrary: fc.constantFrom(1, 2, 28, 29, 30, 31), weight: 3 }, { arbitrary: fc.integer({ min: 1, max: 31 }), weight: 1 });
const yyyy = (y: number) => String(y).padStart(4, '0');
const edgeBoundArb: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: edgeYearArb.map(yyyy), weight: 3 },
  { arbitrary: fc.tuple(edgeYearArb, edgeMonthArb).map(([y, m]) => `${yyyy(y)}-${pad(m)}`), weight: 3 },
  { arbitrary: fc.tuple(edgeYearArb, edgeMonthArb, edgeDayArb).map(([y, m, d]) => `${yyyy(y)}-${pad(m)}-${pad(d)}`), weight: 4 },
  {
    // instants are not window bounds: a 400 however extreme the offset
    arbitrary: fc
      .tuple(edgeYearArb, edgeMonthArb, edgeDayArb, fc.constantFrom('00:00', '23:59:59.999', '12:00'), fc.constantFrom('Z', '+14:00', '-14:00', '+13:59', '-00:30', '+05:45'))
      .map(([y, m, d, time, offset]) => `${yyyy(y)}-${pad(m)}-${pad(d)}T${time}${offset}`),
    weight: 1,
  },
  { arbitrary: fc.constantFrom('10000', '-0001', '9999-13', '0000-00', '0000-01-00', '', '9999-12-32', '0001-02-29'), weight: 1 },
);
const histogramQueryArb = fc.record(
  {
    from: edgeBoundArb,
    to: edgeBoundArb,
    interval: fc.constantFrom('day', 'week', 'month', 'year'),
    match: fc.constantFrom('overlaps', 'within'),
    kind: fc.constantFrom('event', 'statement'),
    type: fc.constantFrom('edge', 'far', 'open', 'mixed', 'quote'),
  },
  { requiredKeys: [] },
);

/** What is wrong with a 200 histogram: its buckets, or its counts of `entries` (absent on the empty app). */
function histogramFaults(query: Record<string, string>, h: Histogram, entries: EdgeEntry[]): string[] {
  const faults = bucketFaults(h);
  if (faults.length > 0) return faults;
  // the window the route counts over: widened to whole buckets, so its closed sides are the range's
  const from = query.from === undefined ? Number.NEGATIVE_INFINITY : h.from === null ? NaN : dayNumber(h.from);
  const to = query.to === undefined ? Number.POSITIVE_INFINITY : h.to === null ? NaN : dayNumber(h.to);
  const matching = entries.filter(
    (e) =>
      (query.kind === undefined || e.kind === query.kind) &&
      (query.type === undefined || e.type === query.type) &&
      ((query.match ?? 'overlaps') === 'within' ? e.earliest >= from && e.latest <= to : e.earliest <= to && e.latest >= from),
  );
  if (h.buckets.length === 0) {
    if (matching.length > 0 || (query.from !== undefined && query.to !== undefined)) faults.push(`no buckets for ${matching.length} matches`);
    return faults;
  }
  const first = dayNumber(h.from!);
  const last = dayNumber(h.to!);
  for (const e of matching) {
    // an open side reaches every match, by whichever of its bounds is known
    const known = [e.earliest, e.latest].filter(Number.isFinite);
    if (query.from === undefined && Math.min(...known) < first) faults.push(`a match known from ${dayToIso(Math.min(...known))} is before the range`);
    if (query.to === undefined && Math.max(...known) > last) faults.push(`a match known until ${dayToIso(Math.max(...known))} is after the range`);
  }
  h.buckets.forEach((b, i) => {
    const start = dayNumber(b.start);
    const end = dayNumber(b.end);
    const inside = matching.filter((e) => e.earliest >= start && e.latest <= end).length;
    const overlapping = matching.filter((e) => e.earliest <= end && e.latest >= start).length;
    if (b.count !== inside || b.count + b.imprecise !== overlapping) {
      faults.push(`bucket ${i} ${JSON.stringify(b)}: ${inside} inside and ${overlapping} overlapping`);
    }
  });
  return faults;
}

describeEngines(`the histogram at the calendar edges (${HISTOGRAM_RUNS} windows on each database)`, (engine) => {
  for (const [index, withData] of [false, true].entries()) {
    it(withData ? 'with entries at the edges' : 'on an empty database', { timeout: 120_000 }, async () => {
      const t = withData ? await edgeApp(engine) : { ...(await buildTestApp({ memory: true, engine })), entries: [] as EdgeEntry[] };
      try {
        await fc.assert(
          fc.asyncProperty(histogramQueryArb, async (query) => {
            const params = new URLSearchParams(query);
            const url = `/v1/timeline/histogram?${params}`;
            await new Promise((resolve) => setImmediate(resolve));
            const res = await t.app.inject({ url });
            const where = `${url} -> ${res.statusCode} ${clip(res.body, 300)}`;
            expect(res.statusCode, `5xx: ${where}`).toBeLessThan(500);
            const from = query.from === undefined ? undefined : parseWindowBound(query.from, 'from');
            const to = query.to === undefined ? undefined : parseWindowBound(query.to, 'to');
            const valid = from?.ok !== false && to?.ok !== false && !(from?.ok && to?.ok && from.day > to.day);
            if (res.statusCode !== 200) {
              expect(res.headers['content-type'], where).toMatch(/^application\/problem\+json/);
              const problem = res.json<Json>();
              expect(problem.status, where).toBe(res.statusCode);
              expect(res.statusCode, where).toBe(400);
              // a valid window is refused only for the number of its buckets
              if (valid) expect(problem.detail, where).toMatch(/^more than 10000 \w+ buckets/);
              return;
            }
            expect(valid, `a 200 for an invalid window: ${where}`).toBe(true);
            expect(histogramFaults(query as Record<string, string>, res.json<Histogram>(), t.entries), where).toEqual([]);
          }),
          { seed: SEED + 1000 + index, numRuns: HISTOGRAM_RUNS, endOnFailure: true },
        );
      } finally {
        await t.close();
      }
    });
  }
});

/* ------------------------------------------------------------------------------------------ */
/* The Accept header                                                                            */
/* ------------------------------------------------------------------------------------------ */

// Random Accept headers (media ranges with parameters and q-values, wildcards, garbage, long
// values) against the routes that negotiate. The oracle is RFC 9110 §12.5.1 written out here,
// apart from src/formats/negotiate.ts: each generated range is known by construction (garbage
// is built so that it cannot parse), so nothing is parsed back from the header to judge it.
describeEngines('fuzz the Accept header of negotiated reads', (engine) => {
  interface Range {
    type: string;
    subtype: string;
    params: [string, string][];
    q: number;
  }
  interface Offer {
    type: string;
    subtype: string;
    params: Record<string, string>;
  }
  const offer = (media: string, params: Record<string, string> = {}): Offer => {
    const [type, subtype] = media.split('/') as [string, string];
    return { type, subtype, params: { charset: 'utf-8', ...params } };
  };
  const FORMATTED = [
    offer('application/json'),
    offer('application/x-ndjson'),
    offer('text/csv', { header: 'present' }),
    offer('text/calendar'),
    offer('application/vnd.timelinejs+json'),
    offer('application/geo+json'),
  ];
  const ROUTES: [string, Offer[]][] = [
    ['/v1/timeline?limit=2', FORMATTED],
    ['/v1/timelines/kazakhstan-january-2022', FORMATTED],
    ['/v1/export?kind=event&from=2022-01-05&to=2022-01-05', [offer('application/x-ndjson')]],
  ];

  const matches = (r: Range, o: Offer) =>
    (r.type === '*' || r.type === o.type) &&
    (r.subtype === '*' || r.subtype === o.subtype) &&
    r.params.every(([name, value]) => o.params[name]?.toLowerCase() === value.toLowerCase());
  const rank = (r: Range) => (r.type === '*' ? 0 : r.subtype === '*' ? 1 : 2) * 100 + r.params.length;
  /** The weight the header gives a representation: its most specific matching range's (ties: the lowest). */
  function weight(ranges: Range[], o: Offer): number {
    const matching = ranges.filter((r) => matches(r, o));
    if (matching.length === 0) return 0;
    const top = Math.max(...matching.map(rank));
    return Math.min(...matching.filter((r) => rank(r) === top).map((r) => r.q));
  }

  const token = (chars: string, max: number) =>
    fc.string({ unit: fc.constantFrom(...chars.split('')), minLength: 1, maxLength: max });
  const anyCase = (text: string) =>
    fc.array(fc.boolean(), { minLength: text.length, maxLength: text.length }).map((ups) =>
      [...text].map((c, i) => (ups[i] ? c.toUpperCase() : c)).join(''),
    );
  const ows = fc.constantFrom('', ' ', '  ', '\t');
  const KNOWN = [
    'application/json', 'application/x-ndjson', 'text/csv', 'text/calendar', 'application/vnd.timelinejs+json',
    'application/geo+json', 'application/problem+json', 'text/html', 'image/png', 'application/xml', 'text/plain',
  ];
  const mediaRange = fc.oneof(
    { arbitrary: fc.constantFrom(...KNOWN), weight: 6 },
    { arbitrary: fc.constantFrom('text/*', 'application/*', 'image/*', '*/*'), weight: 3 },
    { arbitrary: token('abcdefghijklmnopqrstuvwxyz0123456789+-.', 12).map((s) => `application/${s}`), weight: 1 },
    // long values: a long subtype is still a token
    { arbitrary: fc.integer({ min: 500, max: 4000 }).map((n) => `application/${'x'.repeat(n)}`), weight: 1 },
  );
  const param = fc.oneof(
    fc.tuple(fc.constant('charset'), fc.constantFrom('utf-8', 'UTF-8', 'iso-8859-1', 'us-ascii')),
    fc.tuple(fc.constant('header'), fc.constantFrom('present', 'absent')),
    fc.tuple(fc.constantFrom('level', 'profile', 'version'), token('abcxyz019', 6)),
  );
  const quoted = (value: string) => `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
  const qValue = fc.oneof(
    fc.constantFrom(0, 1),
    fc.integer({ min: 0, max: 1000 }).map((n) => n / 1000),
  );
  const qText = (q: number) =>
    fc.constantFrom(
      String(q),
      q === 0 ? '0.000' : q === 1 ? '1.000' : q.toFixed(3),
      q < 1 && q > 0 ? String(q).replace(/^0/, '') : String(q),
    );
  /** A valid media range, written with random case, spacing and quoting, and what it means. */
  const validRange: fc.Arbitrary<{ text: string; range: Range }> = fc
    .record({
      media: mediaRange,
      params: fc.array(param, { maxLength: 2 }),
      q: fc.option(qValue, { nil: undefined }),
      quote: fc.boolean(),
      ext: fc.boolean(),
    })
    .chain(({ media, params, q, quote, ext }) =>
      fc
        .tuple(anyCase(media), ows, ows, q === undefined ? fc.constant('') : qText(q), fc.constantFrom('q', 'Q'))
        .map(([cased, before, after, qString, qName]) => {
          const paramText = params.map(([n, v]) => `${before};${after}${n}=${quote ? quoted(v) : v}`).join('');
          const weightText = q === undefined ? '' : `${before};${after}${qName}=${qString}`;
          // accept-ext after the weight is ignored
          const extText = q !== undefined && ext ? ';ext="a, b"' : '';
          const [type, subtype] = media.split('/') as [string, string];
          return { text: `${cased}${paramText}${weightText}${extText}`, range: { type, subtype, params, q: q ?? 1 } };
        }),
    );
  /** Elements that cannot parse as a media range, whatever else surrounds them. */
  const garbage: fc.Arbitrary<string> = fc.oneof(
    fc.constantFrom('text/', '/json', '*/csv', 'a b/c', 'text/csv;q=2', 'text/csv;q=abc', 'text/csv;q=-1', 'text/csv;=x',
      'text/csv;a', 'text/csv;a=', '@@@', ';;;', 'text/csv x', 'text/csv;q=0.5=1', 'x'.repeat(3000), '\u00e9/\u00e9'),
    // printable text without `/`, `*`, quotes, backslashes or commas: never a range
    fc.string({ unit: fc.constantFrom(...'abcXYZ019 ;=@()[]{}<>?!#$%&\'+-.^_`|~:\t'.split('')), maxLength: 40 }).map((s) => `${s}!`),
  );
  const header = fc
    .array(fc.oneof({ arbitrary: validRange, weight: 4 }, { arbitrary: garbage.map((text) => ({ text, range: null })), weight: 1 }), {
      minLength: 1,
      maxLength: 8,
    })
    .chain((elements) =>
      fc.array(fc.constantFrom(',', ', ', ' ,', ',,', ' , '), { minLength: elements.length, maxLength: elements.length }).map((separators) => ({
        text: elements.map((e, i) => (i === 0 ? e.text : `${separators[i]}${e.text}`)).join(''),
        ranges: elements.flatMap((e) => (e.range ? [e.range] : [])),
      })),
    );

  ROUTES.forEach(([url, offers], index) => {
    it(`${url}: 200 in the most acceptable representation, or a 406 problem when none is`, { timeout: 120_000 }, async () => {
      const t = await buildTestApp({ seed: true, memory: true, engine });
      try {
        await fc.assert(
          fc.asyncProperty(header, async ({ text, ranges }) => {
            await new Promise((resolve) => setImmediate(resolve));
            const res = await t.app.inject({ url, headers: { accept: text } });
            const where = `Accept: ${clip(text, 400)} -> ${res.statusCode} ${String(res.headers['content-type'] ?? '')} ${clip(res.body, 200)}`;
            expect(res.statusCode, where).toBeLessThan(500);
            const weights = offers.map((o) => weight(ranges, o));
            const best = Math.max(...weights);
            if (res.statusCode === 406) {
              expect(String(res.headers['content-type']), where).toMatch(/^application\/problem\+json/);
              expect(JSON.parse(res.body).status, where).toBe(406);
              expect(best, `406 although something is acceptable: ${where}`).toBe(0);
              return;
            }
            expect(res.statusCode, where).toBe(200);
            const media = String(res.headers['content-type']).split(';')[0]!.trim();
            const served = offers.findIndex((o) => `${o.type}/${o.subtype}` === media);
            expect(served, `not a representation of this route: ${where}`).toBeGreaterThanOrEqual(0);
            expect(weights[served], `served a representation the header excludes: ${where}`).toBeGreaterThan(0);
            expect(weights[served], `a representation less acceptable than another: ${where}`).toBe(best);
          }),
          { seed: SEED + 1000 + index, numRuns: Math.max(50, Math.round(TOTAL / 20)) },
        );
      } finally {
        await t.close();
      }
    });
  });
});

/* ------------------------------------------------------------------------------------------ */
/* Object.prototype names as user input                                                         */
/* ------------------------------------------------------------------------------------------ */

// Every name of Object.prototype (`toString`, `__proto__`, `constructor`, ...) as the value of
// every string field of an import line and of a create body, and as a key of every language
// map: a look-up keyed by user input that is not an own property (`kind in schemas`) answers
// 500. Each line must be stored or refused on its own line of the report, each body answered
// with a documented 4xx or a success; never a 500, and Object.prototype stays as it was.
describeEngines('Object.prototype names in every string field and as language map keys', (engine) => {
  const NAMES = Object.getOwnPropertyNames(Object.prototype);
  const PROTOTYPE_BEFORE = Object.getOwnPropertyNames(Object.prototype).sort();

  /** Valid records of every kind, referring to the seed's keys, with the paths of their string fields and language maps. */
  const TEMPLATES: { kind: string; record: Json; strings: (string | number)[][]; maps: (string | number)[][] }[] = [
    {
      kind: 'source',
      record: { type: 'news_article', title: { en: 'T' }, outlet: 'O', url: 'https://example.org/a', lang: 'ar', published: '2022-01-11', retrieved: '2022-01-12', text: 'body' },
      strings: [['type'], ['outlet'], ['url'], ['lang'], ['published'], ['retrieved'], ['text'], ['title', 'en']],
      maps: [['title']],
    },
    {
      kind: 'place',
      record: { type: 'city', name: { en: 'N' }, countryCode: 'KZ', parent: 'place:kz', lat: 1, lon: 2 },
      strings: [['type'], ['countryCode'], ['parent'], ['name', 'en']],
      maps: [['name']],
    },
    {
      kind: 'actor',
      record: {
        type: 'person',
        name: { en: 'N' },
        aliases: [{ en: 'A' }],
        externalIds: { wikidata: 'Q1' },
        affiliations: [{ actor: 'actor:ots', role: 'member', date: '2020/..' }],
      },
      strings: [['type'], ['name', 'en'], ['aliases', 0, 'en'], ['externalIds', 'wikidata'], ['affiliations', 0, 'actor'], ['affiliations', 0, 'role'], ['affiliations', 0, 'date']],
      maps: [['name'], ['aliases', 0], ['externalIds']],
    },
    {
      kind: 'event',
      record: {
        type: 'protest',
        date: '2022-01-02',
        title: { en: 'T' },
        description: { en: 'D' },
        places: ['place:kz'],
        actors: [{ actor: 'actor:ots', role: 'participant' }],
        tags: ['t'],
        parent: 'event:kz-unrest-2022',
        sources: [{ source: 'src:turkpress-2022-01-11-amreyev', excerpt: null }],
      },
      strings: [['type'], ['date'], ['title', 'en'], ['description', 'en'], ['places', 0], ['actors', 0, 'actor'], ['actors', 0, 'role'], ['tags', 0], ['parent'], ['sources', 0, 'source'], ['sources', 0, 'excerpt']],
      maps: [['title'], ['description']],
    },
    {
      kind: 'statement',
      record: {
        type: 'quote',
        date: '2022-01-11',
        speaker: 'actor:amreyev',
        text: { ar: 'نص', en: 'Text' },
        originalLang: 'ar',
        context: 'event:ots-cfm-extraordinary-2022-01-11',
        about: { actors: ['actor:ots'], places: ['place:kz'], events: ['event:kz-unrest-2022'] },
        sources: [{ source: 'src:turkpress-2022-01-11-amreyev' }],
      },
      strings: [['type'], ['date'], ['speaker'], ['text', 'en'], ['originalLang'], ['context'], ['about', 'actors', 0], ['about', 'places', 0], ['about', 'events', 0], ['sources', 0, 'source']],
      maps: [['text']],
    },
    {
      kind: 'timeline',
      record: { slug: 'fuzz-timeline', title: { en: 'T' }, description: { en: 'D' }, entries: ['event:kz-unrest-2022', 'stmt:amreyev-condolences'] },
      strings: [['slug'], ['title', 'en'], ['description', 'en'], ['entries', 0]],
      maps: [['title'], ['description']],
    },
  ];

  const setAt = (target: Json, path: (string | number)[], value: unknown) => {
    let node = target;
    for (const step of path.slice(0, -1)) node = node[step];
    // an own property even for `__proto__` (plain assignment would set the prototype)
    Object.defineProperty(node, path[path.length - 1]!, { value, enumerable: true, writable: true, configurable: true });
  };
  const clone = (value: Json): Json => JSON.parse(JSON.stringify(value));

  /** Every variant of every template with `name` in one place: the kind, the key, a string field, a map key, a top-level key. */
  let n = 0;
  function variants(name: string): { kind: string; record: Json }[] {
    const out: { kind: string; record: Json }[] = [];
    const key = (kind: string) => `fuzz:proto:${kind}:${n++}`;
    for (const template of TEMPLATES) {
      const base = () => ({ ...clone(template.record), key: key(template.kind) });
      out.push({ kind: name, record: base() });
      out.push({ kind: template.kind, record: { ...base(), key: name } });
      for (const path of template.strings) {
        const record = base();
        setAt(record, path, name);
        out.push({ kind: template.kind, record });
      }
      for (const path of template.maps) {
        const record = base();
        const map: Json = {};
        setAt(map, [name], 'x');
        setAt(record, path, map);
        out.push({ kind: template.kind, record });
      }
      const extra = base();
      setAt(extra, [name], 'x');
      out.push({ kind: template.kind, record: extra });
    }
    return out;
  }

  it('in import lines: each line stored or refused with its number, never a 500', { timeout: 120_000 }, async () => {
    const t = await buildTestApp({ seed: true, memory: true, engine });
    try {
      for (const name of NAMES) {
        const lines = variants(name).map(({ kind, record }) => JSON.stringify({ kind, ...record }));
        const res = await send(t.app, {
          method: 'POST',
          url: '/v1/import',
          headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
          payload: `${lines.join('\n')}\n`,
          labels: [`proto:${name}`],
        });
        expect(res.statusCode, `${name}: ${clip(res.body, 500)}`).toBe(200);
        const report = res.json<Json>();
        expect(report.lines, name).toBe(lines.length);
        expect(report.created, `${name}: some lines are stored: ${JSON.stringify(report.errors.slice(0, 5))}`).toBeGreaterThan(0);
        // every line has exactly one outcome: stored (created, updated, unchanged) or refused
        expect(report.created + report.updated + report.unchanged + report.refused, name).toBe(lines.length);
        const refusedLines = report.errors.map((e: Json) => e.line);
        expect(new Set(refusedLines).size, `${name}: a line refused twice`).toBe(refusedLines.length);
        for (const error of report.errors) {
          expect(error.line, name).toBeGreaterThanOrEqual(1);
          expect(error.line, name).toBeLessThanOrEqual(lines.length);
          expect(error.reason, name).not.toMatch(/sqlite|postgres|violates|is not a function|cannot read prop/i);
        }
        // a line whose kind is the name is refused as an unknown kind, on its own line
        for (const [i, line] of lines.entries()) {
          if (JSON.parse(line).kind === name) {
            expect(report.errors.find((e: Json) => e.line === i + 1)?.reason, `${name}: line ${i + 1}`).toMatch(/^unknown kind/);
          }
        }
      }
    } finally {
      await t.close();
    }
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTOTYPE_BEFORE);
    expect(({} as Json).polluted).toBeUndefined();
    expect(typeof ({} as Json).toString).toBe('function');
  });

  it('in create bodies, query values and query names: a documented answer, never a 500', { timeout: 120_000 }, async () => {
    const t = await buildTestApp({ seed: true, memory: true, engine });
    try {
      for (const name of NAMES) {
        for (const { kind, record } of variants(name)) {
          // a variant's kind may itself be the Object.prototype name: only records of a real kind are POSTed
          if (!Object.hasOwn(COLLECTION, kind)) continue;
          const collection = COLLECTION[kind as keyof typeof COLLECTION];
          const operation = operations.find((o) => o.method === 'POST' && o.path === `/v1/${collection}`)!;
          const c: Case = {
            method: 'POST',
            url: `/v1/${collection}`,
            headers: { ...AUTH, 'content-type': 'application/json' },
            payload: JSON.stringify(record),
            labels: [`proto:${name}`],
          };
          checkResponse(operation, c, await send(t.app, c));
        }
        for (const url of [
          `/v1/timeline?format=${name}`,
          `/v1/timeline?lang=${name}`,
          `/v1/timeline?kind=${name}`,
          `/v1/timeline?match=${name}&order=${name}&sort=${name}`,
          `/v1/timeline?group=${name}&bom=${name}`,
          `/v1/timeline?actor=${name}&role=${name}`,
          `/v1/timeline?type=${name}&tag=${name}&place=${name}`,
          `/v1/timeline/histogram?interval=${name}`,
          `/v1/timelines/kazakhstan-january-2022?format=${name}`,
          `/v1/events/${name}`,
          `/v1/timeline?${name}=1`,
          `/v1/places?${name}=1`,
        ]) {
          const path = url.split('?')[0]!;
          const operation =
            operations.find((o) => o.method === 'GET' && new RegExp(`^${o.path.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path)) ??
            operations.find((o) => o.method === 'GET' && o.path === '/v1/timeline')!;
          const c: Case = { method: 'GET', url: encodeURI(url), headers: {}, labels: [`proto:${name}`] };
          const res = await send(t.app, c);
          expect(res.statusCode, `${url}: ${clip(res.body)}`).toBeLessThan(500);
          checkResponse(operation, c, res);
        }
        const accept: Case = { method: 'GET', url: '/v1/timeline', headers: { accept: name, 'accept-language': name }, labels: [`proto:${name}`] };
        expect((await send(t.app, accept)).statusCode, `Accept: ${name}`).toBeLessThan(500);
      }
    } finally {
      await t.close();
    }
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTOTYPE_BEFORE);
    expect(({} as Json).polluted).toBeUndefined();
  });
});
