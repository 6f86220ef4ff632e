import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Readable } from 'node:stream';
import { ProblemError } from '../errors.js';
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
      // Other bodies (JSON, text) would reach the handler parsed by the default parsers.
      onRequest: async (request) => {
        const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (!NDJSON_TYPES.includes(type)) {
          throw new ProblemError(
            415,
            'unsupported-media-type',
            'Unsupported media type',
            `the body must be interchange NDJSON (${NDJSON_TYPES.join(', ')}), not ${JSON.stringify(type || 'none')}`,
          );
        }
      },
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
    async (request) => {
      const body = request.body as unknown as Readable;
      try {
        // Not destroyed when the import stops early: that would drop the connection under the
        // report. The rest of the body is drained instead.
        return await importNdjson(app.db, body.iterator({ destroyOnReturn: false }), {
          stopOnError: request.query.stopOnError === 'true',
        });
      } finally {
        if (!body.readableEnded) body.resume();
      }
    },
  );
}
