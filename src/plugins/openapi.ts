import { readFileSync } from 'node:fs';
import { PROBLEM_CODES, PROBLEM_TYPES, problemType } from '../schemas/problems.js';
import { hasDataEtag } from './caching.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The parts of the OpenAPI document that do not come from the routes. */
export const openapiDocumentBase = {
  openapi: '3.1.0',
  info: {
    title: 'Annals',
    version: pkg.version,
    description:
      'Event timelines: dated events and the statements actors made, each tied to its sources, with dates ' +
      'that keep their precision (EDTF). Reads are public; writes need an API key (`Authorization: Bearer …`). ' +
      'Errors are RFC 9457 problem details.',
    license: { name: 'MIT', identifier: 'MIT' },
    // a name only: the project publishes no address of its own to put here
    contact: { name: 'The Annals maintainers' },
  },
  // relative: the server that serves this document (whatever its host and port)
  servers: [{ url: '/', description: 'The server that serves this document' }],
  tags: [
    { name: 'Timeline', description: 'Chronological queries over events and statements.' },
    { name: 'Events', description: 'Things that happened.' },
    { name: 'Statements', description: 'Things actors said or published.' },
    { name: 'Actors', description: 'People, organisations, states and groups.' },
    { name: 'Places', description: 'Countries, regions, cities and sites.' },
    { name: 'Sources', description: 'Documents the facts come from.' },
    { name: 'Curated timelines', description: 'Named, ordered collections of events and statements.' },
    { name: 'Import and export', description: 'Bulk exchange in the interchange NDJSON format.' },
    { name: 'Changes', description: 'Every write in commit order, as pages or a live stream of Server-Sent Events.' },
    { name: 'Operations', description: 'Health of the service.' },
    {
      name: 'Problems',
      description:
        'Errors are RFC 9457 problem documents (`application/problem+json`) whose `type` is a URI reference ' +
        'relative to this service, `/problems/{code}`, served as a page that explains it. The types:\n\n' +
        PROBLEM_CODES.map((code) => `- \`${problemType(code)}\` (${PROBLEM_TYPES[code].status}): ${PROBLEM_TYPES[code].description}`).join('\n'),
    },
  ],
  // writes need a key; every read says `security: []` for itself
  security: [{ bearerAuth: [] as string[] }],
  components: {
    securitySchemes: {
      bearerAuth: {
        type: 'http' as const,
        scheme: 'bearer',
        description: 'An API key created with `npm run keys -- create --name NAME`.',
      },
    },
    headers: {
      ETag: {
        description:
          'Weak validator of this representation (the data revision, URL and `Accept`): send it as ' +
          '`If-None-Match` to get a 304 while nothing under it changed.',
        schema: { type: 'string' as const, example: 'W/"3q2-7wQbq5fAm3JcwsvTzM9pX8Kd8aQ"' },
      },
      Link: {
        description: 'The next page, `<URL>; rel="next"` (RFC 8288); absent on the last page.',
        schema: { type: 'string' as const },
      },
      Location: { description: 'The URL of the created record.', schema: { type: 'string' as const } },
      IdempotentReplayed: {
        description: '`true` when this is the stored response of an earlier request with the same `Idempotency-Key`.',
        schema: { type: 'string' as const, enum: ['true'] },
      },
      RetryAfter: { description: 'Seconds to wait before retrying.', schema: { type: 'integer' as const, minimum: 1 } },
      RateLimitLimit: {
        description: 'Requests a minute the client may send (while rate limits are on; IETF RateLimit header draft).',
        schema: { type: 'integer' as const },
      },
      RateLimitRemaining: { description: 'Requests left in the current minute.', schema: { type: 'integer' as const } },
      RateLimitReset: { description: 'Seconds until the budget is full again.', schema: { type: 'integer' as const } },
    },
  },
};

/** The parts of an OpenAPI operation that `declareProtocolResponses` reads and writes. */
interface Operation {
  responses?: Record<string, OperationResponse>;
  parameters?: Array<{ in: string; name: string }>;
}
interface OperationResponse {
  description?: string;
  headers?: Record<string, unknown>;
  content?: unknown;
}

const headerRef = (name: string) => ({ $ref: `#/components/headers/${name}` });
const rateLimitHeaders = {
  'RateLimit-Limit': headerRef('RateLimitLimit'),
  'RateLimit-Remaining': headerRef('RateLimitRemaining'),
  'RateLimit-Reset': headerRef('RateLimitReset'),
};
const problemContent = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };

/**
 * The responses every operation has because of the plugins rather than its route, declared
 * from the same rules the plugins follow: a data read's ETag and 304 (src/plugins/caching.ts),
 * rate limits' 429 and load shedding's 503 on every route (src/plugins/limits.ts, src/app.ts),
 * the Link of a paged read (it takes a `cursor`), the Location of a create, and the replay
 * marker of a write that takes an `Idempotency-Key`.
 */
export function declareProtocolResponses<T extends { paths?: unknown }>(document: T): T {
  const paths = (document.paths ?? {}) as Record<string, Record<string, Operation>>;
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'patch', 'delete', 'put'].includes(method) || !op.responses) continue;
      const responses = op.responses;
      const parameters = op.parameters ?? [];
      const addHeaders = (status: string, headers: Record<string, unknown>) => {
        const response = responses[status];
        if (response) response.headers = { ...response.headers, ...headers };
      };
      for (const status of Object.keys(responses).filter((s) => /^2/.test(s))) {
        addHeaders(status, rateLimitHeaders);
        if (parameters.some((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key')) {
          addHeaders(status, { 'Idempotent-Replayed': headerRef('IdempotentReplayed') });
        }
      }
      if (method === 'get' && hasDataEtag(path)) {
        addHeaders('200', { ETag: headerRef('ETag') });
        responses['304'] = {
          description: 'Not modified: the `If-None-Match` ETag is still current; reuse the stored response.',
          headers: { ETag: headerRef('ETag') },
        };
      }
      if (parameters.some((p) => p.in === 'query' && p.name === 'cursor')) addHeaders('200', { Link: headerRef('Link') });
      if (method === 'post') addHeaders('201', { Location: headerRef('Location') });
      // the idempotency key's request still running: retry shortly
      if (parameters.some((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key')) {
        addHeaders('409', { 'Retry-After': headerRef('RetryAfter') });
      }
      responses['429'] = {
        description: 'Too many requests: wait as long as `Retry-After` says.',
        headers: { 'Retry-After': { ...headerRef('RetryAfter') }, ...rateLimitHeaders },
        content: problemContent,
      };
      responses['503'] = {
        description: responses['503']?.description ?? 'The service is overloaded: retry after `Retry-After` seconds.',
        headers: { 'Retry-After': headerRef('RetryAfter') },
        content: problemContent,
      };
      op.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
  }
  return document;
}

/** The document as served at /openapi.json and committed as openapi/openapi.json: the same bytes. */
export const openapiText = (app: { swagger(): unknown }) => `${JSON.stringify(app.swagger(), null, 2)}\n`;

/**
 * Drops component schemas that no operation reaches. The zod type provider registers every
 * named schema twice (an input and an output variant); most are used on one side only.
 */
export function pruneUnusedSchemas<T extends { paths?: unknown; components?: { schemas?: Record<string, unknown> } }>(
  document: T,
): T {
  const schemas = document.components?.schemas;
  if (!schemas) return document;
  const used = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === '$ref' && typeof value === 'string' && value.startsWith('#/components/schemas/')) {
          const name = value.slice('#/components/schemas/'.length);
          if (!used.has(name)) {
            used.add(name);
            visit(schemas[name]);
          }
        } else visit(value);
      }
    }
  };
  visit(document.paths);
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name)).sort(([a], [b]) => (a < b ? -1 : 1)));
  return { ...document, components: { ...document.components, schemas: kept } };
}
