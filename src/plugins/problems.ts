import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { isBusyError, isUnavailableError } from '../storage/errors.js';
import { ProblemError, databaseBusy, databaseUnavailable, problemType, type FieldError, type ProblemCode } from '../schemas/problems.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const contextNames: Record<string, string> = { querystring: 'query', body: 'body', params: 'params', headers: 'headers' };

/** Fastify's own client errors, by code: status, our code, title. */
const fastifyCodes: Record<string, [number, ProblemCode, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'body-too-large', 'Body too large'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported-media-type', 'Unsupported media type'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'invalid-request', 'Invalid request'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'invalid-json', 'Invalid JSON'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'invalid-json', 'Invalid JSON'],
  FST_ERR_CTP_EMPTY_TYPE: [415, 'unsupported-media-type', 'Unsupported media type'],
  FST_ERR_CTP_INVALID_TYPE: [415, 'unsupported-media-type', 'Unsupported media type'],
};

export function sendProblem(
  reply: FastifyReply,
  request: FastifyRequest,
  problem: {
    status: number;
    code: ProblemCode;
    title: string;
    detail: string;
    errors?: FieldError[] | undefined;
    extensions?: Record<string, unknown> | undefined;
  },
) {
  return reply
    .code(problem.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send({
      type: problemType(problem.code),
      title: problem.title,
      status: problem.status,
      detail: problem.detail,
      instance: request.url.split('?')[0],
      code: problem.code,
      ...(problem.errors ? { errors: problem.errors } : {}),
      ...problem.extensions,
    });
}

/**
 * One renderer for every error: RFC 9457 problem details. Client errors say what is wrong;
 * server errors say nothing about internals (no messages, SQL or stack), only that the
 * failure is logged.
 */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    // a write that waited the whole busy timeout for another connection's lock: a 503 to
    // retry, never a 500 (and never SQLite's own message)
    if (isBusyError(error)) {
      request.log.warn({ err: error }, 'database busy');
      error = databaseBusy();
    } else if (isUnavailableError(error)) {
      request.log.warn({ err: error }, 'database unavailable');
      error = databaseUnavailable();
    }
    if (error instanceof ProblemError && error.status === 404) {
      try {
        await app.countFailure(request);
      } catch (limited) {
        error = limited as FastifyError;
      }
    }
    if (error instanceof ProblemError) {
      if (error.headers) reply.headers(error.headers);
      return sendProblem(reply, request, {
        status: error.status,
        code: error.code,
        title: error.title,
        detail: error.message,
        errors: error.errors,
        extensions: error.extensions,
      });
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const context = error.validationContext ?? 'body';
      const where = Object.hasOwn(contextNames, context) ? contextNames[context]! : 'body';
      const errors = error.validation.map((issue) => ({
        in: where,
        path: issue.instancePath || '/',
        message: issue.message ?? 'is invalid',
      }));
      return sendProblem(reply, request, {
        status: 400,
        code: 'validation-failed',
        title: 'Validation failed',
        detail: errors.map((e) => `${e.in}${e.path === '/' ? '' : e.path}: ${e.message}`).join('; '),
        errors,
      });
    }
    const known = typeof error.code === 'string' && Object.hasOwn(fastifyCodes, error.code) ? fastifyCodes[error.code] : undefined;
    if (known) {
      const [status, code, title] = known;
      return sendProblem(reply, request, { status, code, title, detail: error.message });
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      if (status === 429 && error.message) reply.header('retry-after', reply.getHeader('retry-after') ?? '60');
      return sendProblem(reply, request, {
        status,
        code: status === 429 ? 'rate-limited' : 'invalid-request',
        title: status === 429 ? 'Too many requests' : 'Invalid request',
        detail: error.message,
      });
    }
    request.log.error({ err: error }, 'request failed');
    return sendProblem(reply, request, {
      status: status >= 500 && status < 600 ? status : 500,
      code: 'internal',
      title: 'Internal server error',
      detail: `The server failed to answer this request. It has been logged (request ${request.id}).`,
    });
  });

  app.setNotFoundHandler(async (request, reply) => {
    await app.countFailure(request);
    return sendProblem(reply, request, {
      status: 404,
      code: 'not-found',
      title: 'Not found',
      detail: `no route ${request.method} ${request.url.split('?')[0]}`,
    });
  });
}
