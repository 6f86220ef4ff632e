import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { committedMigrations, migrationsApplied } from '../db/migrate.js';
import { ProblemError } from '../errors.js';
import { problemResponses } from '../schemas/common.js';

const Health = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });

export async function healthRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const expectedMigrations = committedMigrations();

  app.get(
    '/healthz',
    {
      schema: {
        operationId: 'getHealth',
        tags: ['Operations'],
        summary: 'Liveness: the process answers',
        response: { 200: Health, ...problemResponses(429, 503) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        operationId: 'getReadiness',
        tags: ['Operations'],
        summary: 'Readiness: the database answers and every migration is applied',
        response: { 200: Health, ...problemResponses(429, 503) },
      },
    },
    async () => {
      let ready = false;
      try {
        ready = migrationsApplied(app.db, expectedMigrations);
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
