import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../storage/sqlite/client.js';
import { parseWindowBound } from '../dates/window.js';
import { bearerSecurity, publicSecurity, requireScope } from '../plugins/auth.js';
import { claimIdempotencyKey, completeIdempotencyKey } from '../storage/sqlite/idempotency.js';
import { createRecord, deleteRecord, getRecord, patchRecord, type AnySpec } from '../storage/sqlite/records.js';
import { writeTransaction } from '../storage/sqlite/support.js';
import { REPLAY_HEADER, hashBody, idempotencyRequest } from '../plugins/idempotency.js';
import {
  CursorParam,
  IdempotencyHeaders,
  IdOrKeyParam,
  LangParam,
  LimitParam,
  jsonResponse,
  problemResponses,
} from '../schemas/common.js';

/** A page of record ids and where the next one starts (null on the last page). */
export interface IdPage {
  ids: number[];
  next: unknown;
}

export interface CrudOptions {
  /** Singular and plural names, as in operation ids: `Source`, `Sources`. */
  name: string;
  plural: string;
  tag: string;
  spec: AnySpec;
  input: z.ZodType;
  patch: z.ZodType;
  output: z.ZodType;
  list: z.ZodType;
  /** Filters of the list operation (the factory adds limit, cursor and lang). */
  filters: z.ZodObject;
  /** One page of ids for the filters, after the decoded cursor position. */
  page(db: Db, filters: Record<string, unknown>, after: unknown, limit: number): IdPage;
  /** A sample path id for the documentation. */
  example: string;
  /** Replaces the single-record read: its query, its 200 response and its handler. */
  getOne?: {
    /** What the read answers, beyond the record itself. */
    description: string;
    query: z.ZodObject;
    response: unknown;
    statuses: number[];
    handle(request: FastifyRequest, reply: FastifyReply, ref: string, query: Record<string, unknown>): unknown;
  };
}

/** A page from `limit + 1` ids in id order: the extra one only tells that there is more. */
export function idPage(ids: number[], limit: number): IdPage {
  return { ids: ids.slice(0, limit), next: ids.length > limit ? ids[limit - 1] : null };
}

/** Canonical text of a query's filters: part of the cursor's signed scope. */
export function filterScope(path: string, filters: Record<string, unknown>): string {
  const entries = Object.entries(filters)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return `${path}?${JSON.stringify(entries)}`;
}

/** Sets the `Link: rel="next"` header for a page that has a next cursor. */
export function linkNext(request: { url: string; protocol: string; host: string }, nextCursor: string | null) {
  if (nextCursor === null) return undefined;
  const url = new URL(request.url, `${request.protocol}://${request.host}`);
  url.searchParams.set('cursor', nextCursor);
  return `<${url.pathname}${url.search}>; rel="next"`;
}

/** A `from`/`to` window (where a list has one) must not end before it starts. */
function windowOrder(query: Record<string, unknown>, ctx: z.RefinementCtx) {
  const { from, to } = query;
  if (typeof from !== 'string' || typeof to !== 'string') return;
  const start = parseWindowBound(from, 'from');
  const end = parseWindowBound(to, 'to');
  if (start.ok && end.ok && start.day > end.day) {
    ctx.addIssue({ code: 'custom', path: ['to'], message: `to=${to} is before from=${from}` });
  }
}

/** `CuratedTimelines` -> `curated timelines`. */
const words = (name: string) => name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
/** `CuratedTimeline` -> `a curated timeline`, `Event` -> `an event`. */
const aNoun = (name: string) => `${/^[aeiou]/i.test(name) ? 'an' : 'a'} ${words(name)}`;

/** List, get, create, patch and delete for one resource, registered under its prefix. */
export function crudRoutes(options: CrudOptions) {
  const { name, plural, tag, spec } = options;
  const params = z.object({ id: IdOrKeyParam.meta({ example: options.example }) });
  const listQuery = options.filters
    .extend({ limit: LimitParam, cursor: CursorParam, lang: LangParam })
    .superRefine(windowOrder);

  return async function routes(fastify: FastifyInstance) {
    const app = fastify.withTypeProvider<ZodTypeProvider>();
    // checked on request, before the body is read or validated: without a key, a write is a 401
    // whatever its body, and the server never parses a large body for an anonymous client
    const write = requireScope('write');

    app.get(
      '/',
      {
        schema: {
          operationId: `list${plural}`,
          tags: [tag],
          summary: `List ${words(plural)}`,
          description: `${plural} in a stable order, a page at a time; follow \`page.nextCursor\` (or the \`Link\` header) for the next page.`,
          security: publicSecurity,
          querystring: listQuery,
          response: { 200: jsonResponse(`A page of ${words(plural)}.`, options.list), ...problemResponses(400) },
        },
      },
      async (request, reply) => {
        const { limit, cursor, lang, ...filters } = request.query as Record<string, unknown> & {
          limit: number;
          cursor?: string;
          lang?: string;
        };
        const scope = filterScope(`${tag}`, filters);
        const after = cursor === undefined ? undefined : app.cursors.decode(scope, cursor);
        const page = options.page(app.db, filters, after, limit);
        const nextCursor = page.next === null ? null : app.cursors.encode(scope, page.next);
        const link = linkNext(request, nextCursor);
        if (link) reply.header('link', link);
        return { data: spec.load(app.db, page.ids, lang), page: { nextCursor, limit } };
      },
    );

    app.get(
      '/:id',
      {
        schema: {
          operationId: `get${name}`,
          tags: [tag],
          summary: `Get ${aNoun(name).replace(/^an? /, 'one ')} by id or key`,
          description:
            `The ${words(name)} with this numeric id or key (records it refers to come embedded in short form); ` +
            `\`lang\` keeps its texts in one language.${options.getOne ? ` ${options.getOne.description}` : ''}`,
          security: publicSecurity,
          params,
          querystring: options.getOne?.query ?? z.object({ lang: LangParam }),
          response: options.getOne
            ? { 200: options.getOne.response, ...problemResponses(...options.getOne.statuses) }
            : { 200: jsonResponse(`The ${words(name)}.`, options.output), ...problemResponses(400, 404) },
        },
      },
      async (request, reply) => {
        const query = request.query as Record<string, unknown> & { lang?: string };
        const { id } = request.params;
        return options.getOne ? options.getOne.handle(request, reply, id, query) : getRecord(app.db, spec, id, query.lang);
      },
    );

    app.post(
      '/',
      {
        onRequest: write,
        schema: {
          operationId: `create${name}`,
          tags: [tag],
          summary: `Create ${aNoun(name)}`,
          description:
            'With an `Idempotency-Key`, a retry with the same body within 24 hours replays the first response ' +
            '(marked `Idempotent-Replayed: true`) instead of creating again; the same key with another body is a 422, ' +
            'and while the first request is still running a 409.',
          security: bearerSecurity,
          headers: IdempotencyHeaders,
          body: options.input,
          response: {
            201: jsonResponse(`The created ${words(name)}, also at the URL in \`Location\`.`, options.output),
            ...problemResponses(400, 401, 403, 408, 409, 413, 415, 422, 503),
          },
        },
      },
      async (request, reply) => {
        const idempotency = idempotencyRequest(request, hashBody(request.body));
        const result = writeTransaction(app.db, (tx) => {
          const claim = idempotency ? claimIdempotencyKey(tx, idempotency) : { kind: 'fresh' as const };
          if (claim.kind === 'replay') return { replayed: true, body: JSON.parse(claim.response) as { id: number } };
          const created = createRecord(tx, spec, request.body as never) as { id: number };
          if (idempotency) completeIdempotencyKey(tx, idempotency, 201, JSON.stringify(created));
          return { replayed: false, body: created };
        });
        if (result.replayed) reply.header(REPLAY_HEADER, 'true');
        reply.code(201).header('location', `${request.url.split('?')[0]!.replace(/\/$/, '')}/${result.body.id}`);
        return result.body;
      },
    );

    app.patch(
      '/:id',
      {
        onRequest: write,
        schema: {
          operationId: `update${name}`,
          tags: [tag],
          summary: `Change fields of ${aNoun(name)}`,
          description: 'Fields present in the body replace the stored ones; absent fields are kept.',
          security: bearerSecurity,
          params,
          consumes: ['application/json', 'application/merge-patch+json'],
          body: options.patch,
          response: {
            200: jsonResponse(`The ${words(name)} as changed.`, options.output),
            ...problemResponses(400, 401, 403, 404, 408, 409, 413, 415, 422, 503),
          },
        },
      },
      async (request) => patchRecord(app.db, spec, request.params.id, request.body as never),
    );

    app.delete(
      '/:id',
      {
        onRequest: write,
        schema: {
          operationId: `delete${name}`,
          tags: [tag],
          summary: `Delete ${aNoun(name)}`,
          description: 'Refused with 409 while other records refer to it; the problem names them.',
          security: bearerSecurity,
          params,
          response: {
            204: z.null().meta({ description: 'Deleted.' }),
            ...problemResponses(400, 401, 403, 404, 409, 413, 415, 503),
          },
        },
      },
      async (request, reply) => {
        deleteRecord(app.db, spec, request.params.id);
        return reply.code(204).send(null);
      },
    );
  };
}
