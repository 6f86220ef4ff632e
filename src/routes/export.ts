import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireAcceptable } from '../formats/negotiate.js';
import { sendStreamed } from '../plugins/streaming.js';
import { publicSecurity } from '../plugins/auth.js';
import { problemResponses } from '../schemas/common.js';
import { timelineFilters } from '../schemas/timeline.js';
import { resolveTimelineQuery } from '../storage/timeline-query.js';

const ExportQuery = z.object(timelineFilters);
const EXPORT_OFFER = { mediaType: 'application/x-ndjson', params: { charset: 'utf-8' } };

export async function exportRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.get(
    '/export',
    {
      schema: {
        operationId: 'exportRecords',
        tags: ['Import and export'],
        summary: 'The dataset, or the part the timeline filters select, as interchange NDJSON',
        description:
          'Streams interchange NDJSON with every record after the records it refers to: sources, places, actors, ' +
          'events, statements, curated timelines. With timeline filters, the selected events and statements and ' +
          'everything they refer to. The last line is always a trailer, ' +
          '`{"kind":"end","records":N,"counts":{"source":n,"place":n,"actor":n,"event":n,"statement":n,"timeline":n},"revision":"R"}`: ' +
          'the records before it, by kind, and the data revision of the snapshot the export read. A file that does not ' +
          'end with it is incomplete (an export that fails or is cut off while streaming ends the response with an ' +
          'error instead). Importing the export into an empty instance and exporting again gives the same records ' +
          '(the trailer differs only in its revision). An export reads one snapshot and may take at most ' +
          '`ANNALS_EXPORT_TIMEOUT_S` seconds; past that it is aborted.',
        security: publicSecurity,
        querystring: ExportQuery,
        response: {
          200: {
            description: 'Interchange NDJSON, one record a line, and the trailer last.',
            content: { 'application/x-ndjson': { schema: z.string() } },
          },
          ...problemResponses(400, 406),
        },
      },
    },
    async (request, reply) => {
      requireAcceptable(request.headers.accept, EXPORT_OFFER);
      const filtered = Object.entries(request.query).some(([name, value]) => name !== 'match' && value !== undefined);
      const query = filtered ? await resolveTimelineQuery(app.storage, request.query) : null;
      reply.type('application/x-ndjson').header('content-disposition', 'attachment; filename="annals-export.ndjson"');
      return sendStreamed(
        request,
        reply,
        () => app.storage.exportStream(query),
        { timeoutMs: app.exportTimeoutMs, what: 'export' },
      );
    },
  );
}
