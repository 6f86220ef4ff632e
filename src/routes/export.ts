import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { openSnapshot, type Db } from '../db/client.js';
import { requireAcceptable } from '../formats/negotiate.js';
import { createExportPlan, dropExportPlan, exportLines, exportPlanPage } from '../repositories/export.js';
import type { TimelineQuery as RepoQuery } from '../repositories/timeline.js';
import { publicSecurity } from '../plugins/auth.js';
import { problemResponses } from '../schemas/common.js';
import { timelineFilters } from '../schemas/timeline.js';
import { resolveTimelineQuery } from '../timeline.js';

const PAGE = 250;

/**
 * Interchange NDJSON of the plan, a page at a time; the plan is dropped when the stream ends
 * or is abandoned. Reads go through a snapshot of the file when there is one, so an export
 * is consistent even while others write (and `release` closes it).
 */
export function exportStream(db: Db, query: RepoQuery | null, release: () => void = () => {}): Readable {
  async function* generate() {
    const plan = createExportPlan(db, query);
    try {
      let after: [number, number, number] | undefined;
      for (;;) {
        const page = exportPlanPage(db, plan, after, PAGE);
        if (page === null) return;
        // As bytes: a page is some 250 KB of two-byte string once flattened, a large object
        // that Readable.from's loop held on to while the next page was built; every scavenge
        // then promoted one, and only mark-compacts freed them. A Buffer's bytes are outside
        // the heap, and the flat string is dead before the next page begins.
        yield Buffer.from(exportLines(db, page.kind, page.ids));
        after = page.last;
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      dropExportPlan(db, plan);
      release();
    }
  }
  return Readable.from(generate(), { objectMode: false });
}

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
          'everything they refer to. Importing the export into an empty instance and exporting again gives the same bytes.',
        security: publicSecurity,
        querystring: ExportQuery,
        response: {
          200: {
            description: 'Interchange NDJSON, one record a line.',
            content: { 'application/x-ndjson': { schema: z.string() } },
          },
          ...problemResponses(400, 406),
        },
      },
    },
    async (request, reply) => {
      requireAcceptable(request.headers.accept, EXPORT_OFFER);
      const filtered = Object.entries(request.query).some(([name, value]) => name !== 'match' && value !== undefined);
      const query = filtered ? resolveTimelineQuery(app.db, request.query) : null;
      const snapshot = openSnapshot(app.databasePath);
      const stream = snapshot ? exportStream(snapshot.db, query, snapshot.close) : exportStream(app.db, query);
      // a client that goes away before the first page leaves the generator unstarted
      stream.once('close', () => snapshot?.close());
      return reply
        .type('application/x-ndjson')
        .header('content-disposition', 'attachment; filename="annals-export.ndjson"')
        .send(stream as never);
    },
  );
}
