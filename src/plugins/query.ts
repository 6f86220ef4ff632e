import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { z } from 'zod';
import { ProblemError } from '../schemas/problems.js';

/**
 * The query parameters a route's schema names, or null when its schema is not one whose
 * names can be read (it then decides alone). A route without a query schema takes none.
 */
function parameterNames(schema: unknown): Set<string> | null {
  if (schema === undefined || schema === null) return new Set();
  if (schema instanceof z.ZodObject) return new Set(Object.keys(schema.shape));
  return null;
}

/**
 * Unknown query parameters are refused (400 naming them) on every route under `/v1`, reads
 * and writes: a misspelt filter (`?acter=`) would otherwise answer as if it were not there,
 * and `?dryRun=true` on a write that has no dry run would write.
 */
export function installStrictQueries(app: FastifyInstance): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    if (!route.url.startsWith('/v1/')) return;
    const allowed = parameterNames(route.schema?.querystring);
    if (allowed === null) return;
    const check = async (request: FastifyRequest) => {
      const unknown = Object.keys((request.query ?? {})).filter((name) => !allowed.has(name));
      if (unknown.length === 0) return;
      const takes = allowed.size === 0 ? 'this operation takes no query parameters' : `this operation takes ${[...allowed].join(', ')}`;
      throw new ProblemError(
        400,
        'unknown-parameter',
        'Unknown query parameter',
        `unknown query parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => JSON.stringify(n)).join(', ')}; ${takes}`,
        { errors: unknown.map((name) => ({ in: 'query', path: `/${name}`, message: 'unknown parameter' })) },
      );
    };
    const existing = route.preValidation;
    route.preValidation = existing === undefined ? [check] : [...(Array.isArray(existing) ? existing : [existing]), check];
  });
}
