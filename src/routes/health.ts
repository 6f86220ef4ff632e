import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ProblemError } from '../schemas/problems.js';
import { publicSecurity } from '../plugins/auth.js';
import { jsonResponse, problemResponses } from '../schemas/common.js';

/**
 * Probes are neither rate-limited nor counted: an orchestrator polls them from one address, and a
 * 429 would read as "down" (or use up the budget of the clients behind the same address). Their
 * documents still list 429, as every operation lists a 4xx (test/openapi.test.ts); they never send it.
 */
const PROBE = { rateLimit: false } as const;

const Health = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });

export async function healthRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  app.get(
    '/healthz',
    {
      config: PROBE,
      schema: {
        operationId: 'getHealth',
        tags: ['Operations'],
        summary: 'Liveness: the process answers',
        description:
          'Answers 200 as long as the process serves requests, without touching the database: for a liveness ' +
          'probe (restart when it fails). Never cached.',
        security: publicSecurity,
        response: { 200: jsonResponse('The process is alive.', Health), ...problemResponses(429, 503) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: PROBE,
      schema: {
        operationId: 'getReadiness',
        tags: ['Operations'],
        summary: 'Readiness: the database answers and every migration is applied',
        description:
          'Answers 200 once the database answers and has every committed migration applied, else 503 ' +
          '(`not-ready`) with `Retry-After`: for a readiness probe (send traffic only while it passes). Never cached.',
        security: publicSecurity,
        response: { 200: jsonResponse('The service is ready to serve.', Health), ...problemResponses(429, 503) },
      },
    },
    async () => {
      let ready = false;
      try {
        ready = await app.storage.ready();
      } catch {
        ready = false;
      }
      if (!ready) {
        throw new ProblemError(503, 'not-ready', 'Not ready', 'the database is unreachable or not migrated', {
          headers: { 'retry-after': '5' },
        });
      }
      return { status: 'ok' as const };
    },
  );
}
