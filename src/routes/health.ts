import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problemResponses } from '../schemas/common.js';

const Health = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });

export async function healthRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.get(
    '/healthz',
    {
      schema: {
        operationId: 'getHealth',
        tags: ['Operations'],
        summary: 'Liveness: the process answers',
        response: { 200: Health, ...problemResponses(404) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );
}
