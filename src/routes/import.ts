import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Readable } from 'node:stream';
import { importNdjson } from '../import/ndjson.js';
import { bearerSecurity, requireScope } from '../plugins/auth.js';
import { StreamBody, problemResponses } from '../schemas/common.js';
import { ImportQuery, ImportReport } from '../schemas/import.js';

export const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson', 'application/jsonl'];

export async function importRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  // The body is handed over as a stream and read line by line: never buffered whole.
  for (const type of NDJSON_TYPES) {
    app.addContentTypeParser(type, (_request, payload, done) => done(null, payload));
  }

  app.post(
    '/import',
    {
      preHandler: requireScope('write'),
      schema: {
        operationId: 'importRecords',
        tags: ['Import and export'],
        summary: 'Load records in bulk from interchange NDJSON',
        description:
          'Streams `application/x-ndjson` in the interchange format. Each record is created, updated or left ' +
          'unchanged by its `key`; the same file twice changes nothing. Bad lines are refused with their line ' +
          'number and reason, and the rest are stored. A record is stored whole or not at all.',
        security: bearerSecurity,
        querystring: ImportQuery,
        consumes: NDJSON_TYPES,
        body: StreamBody,
        response: { 200: ImportReport, ...problemResponses(400, 401, 403, 413, 415) },
      },
    },
    async (request) =>
      importNdjson(app.db, request.body as unknown as Readable, {
        stopOnError: request.query.stopOnError === 'true',
      }),
  );
}
