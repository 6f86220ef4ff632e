import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { parseWindowBound } from '../dates/window.js';
import { bearerSecurity, publicSecurity, requireScope, writeContext } from '../plugins/auth.js';
import { invalidCursor } from '../storage/cursor.js';
import type { Storage } from '../storage/port.js';
import type { IdPage, RecordInput, RecordKind, RecordPatch } from '../storage/types.js';
import { REPLAY_HEADER, hashBody, idempotencyRequest } from '../plugins/idempotency.js';
import { RevisionList } from '../schemas/changes.js';
import {
  CursorParam,
  IdempotencyHeaders,
  IdOrKeyParam,
  LangParam,
  LimitParam,
  jsonResponse,
  problemResponses,
} from '../schemas/common.js';

export interface CrudOptions<K extends RecordKind, Filters extends z.ZodObject> {
  kind: K;
  /** Singular and plural names, as in operation ids: `Source`, `Sources`. */
  name: string;
  plural: string;
  tag: string;
  input: z.ZodType<RecordInput<K>>;
  patch: z.ZodType<RecordPatch<K>>;
  output: z.ZodType;
  list: z.ZodType;
  /** Filters of the list operation (the factory adds limit, cursor and lang). */
  filters: Filters;
  /** One page of ids for the filters, after the decoded cursor position. */
  page(storage: Storage, filters: z.output<Filters>, after: unknown, limit: number): Promise<IdPage>;
  /** A sample path id for the documentation. */
  example: string;
  /** Replaces the single-record read: its query, its 200 response and its handler. */
  getOne?: {
    /** What the read answers, beyond the record itself. */
    description: string;
    query: z.ZodObject;
    response: unknown;
    statuses: number[];
    handle(request: FastifyRequest, reply: FastifyReply, ref: string, query: Record<string, unknown>): Promise<unknown>;
  };
}

/** `?as_of=`: a record as it was then, from the change log. */
const AsOfParam = z.iso
  .datetime({ offset: true })
  .optional()
  .meta({
    description:
      'The record as it was at this time (ISO 8601, such as `2026-12-03T12:00:00Z`), rebuilt from the change log: a 404 when it did ' +
      'not exist then, a 410 when the log (kept for the retention period) no longer reaches back that far, a 409 when it referred to ' +
      'records deleted since.',
  });

/** The position of an id-ordered list's cursor: an id, which the cursor's signature vouches for. */
export function recordAfter(after: unknown): number | undefined {
  if (after === undefined) return undefined;
  if (typeof after !== 'number' || !Number.isSafeInteger(after)) throw invalidCursor();
  return after;
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

/**
 * Fastify types a validated body as `[T] extends [undefined] ? unknown : T` (UndefinedToUnknown
 * in fastify/types/type-provider.d.ts), which TypeScript cannot reduce while the record kind is
 * a type parameter. Every kind's input is an object schema, never undefined, so it is T.
 */
const validatedBody = <T>(body: [T] extends [undefined] ? unknown : T): T => body as T;

/** `CuratedTimelines` -> `curated timelines`. */
const words = (name: string) => name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
/** `CuratedTimeline` -> `a curated timeline`, `Event` -> `an event`. */
const aNoun = (name: string) => `${/^[aeiou]/i.test(name) ? 'an' : 'a'} ${words(name)}`;

/** List, get, create, patch and delete for one resource, registered under its prefix. */
export function crudRoutes<K extends RecordKind, Filters extends z.ZodObject>(options: CrudOptions<K, Filters>): FastifyPluginAsyncZod {
  const { kind, name, plural, tag } = options;
  const params = z.object({ id: IdOrKeyParam.meta({ example: options.example }) });
  const listQuery = options.filters
    .extend({ limit: LimitParam, cursor: CursorParam, lang: LangParam })
    .superRefine(windowOrder);

  return async function routes(app) {
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
        const page = await options.page(app.storage, filters as z.output<Filters>, after, limit);
        const nextCursor = page.next === null ? null : app.cursors.encode(scope, page.next);
        const link = linkNext(request, nextCursor);
        if (link) reply.header('link', link);
        return { data: await app.storage.loadRecords(kind, page.ids, lang), page: { nextCursor, limit } };
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
          querystring: options.getOne?.query ?? z.object({ lang: LangParam, as_of: AsOfParam }),
          response: options.getOne
            ? { 200: options.getOne.response, ...problemResponses(...options.getOne.statuses) }
            : { 200: jsonResponse(`The ${words(name)}.`, options.output), ...problemResponses(400, 404, 409, 410) },
        },
      },
      async (request, reply) => {
        const query = request.query as Record<string, unknown> & { lang?: string; as_of?: string };
        const { id } = request.params;
        if (options.getOne) return options.getOne.handle(request, reply, id, query);
        if (query.as_of === undefined) return app.storage.getRecord(kind, id, query.lang);
        // compared with the log's times, which are UTC with milliseconds
        return app.storage.getRecordAsOf(kind, id, new Date(query.as_of).toISOString(), query.lang);
      },
    );

    app.get(
      '/:id/revisions',
      {
        schema: {
          operationId: `list${name}Revisions`,
          tags: [tag],
          summary: `List the revisions of ${aNoun(name)}`,
          description:
            `Every change of the ${words(name)} still in the change log (kept for the retention period, 30 days unless configured), ` +
            'oldest first: when, by which API key (its name), which fields changed and what they were before.',
          security: publicSecurity,
          params,
          response: { 200: jsonResponse(`The ${words(name)}'s revisions, oldest first.`, RevisionList), ...problemResponses(400, 404) },
        },
      },
      async (request) => {
        const revisions = await app.storage.recordRevisions(kind, request.params.id);
        const { floor } = await app.storage.changeLogExtent();
        return {
          data: revisions.map(({ sequence, operation, key, at, author, fields, previous }) => ({ sequence, operation, key, at, author, fields, previous })),
          retainedAfter: floor,
        };
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
        const result = await app.storage.createRecord(kind, validatedBody<RecordInput<K>>(request.body), idempotency, writeContext(request));
        if (result.replayed) reply.header(REPLAY_HEADER, 'true');
        reply.code(201).header('location', `${request.url.split('?')[0]!.replace(/\/$/, '')}/${result.record.id}`);
        return result.record;
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
      async (request) => app.storage.patchRecord(kind, request.params.id, validatedBody<RecordPatch<K>>(request.body), writeContext(request)),
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
        await app.storage.deleteRecord(kind, request.params.id, writeContext(request));
        return reply.code(204).send(null);
      },
    );
  };
}
