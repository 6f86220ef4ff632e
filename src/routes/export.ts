import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { openSnapshot, type Db } from '../storage/sqlite/client.js';
import { requireAcceptable } from '../formats/negotiate.js';
import { sendStreamed } from '../plugins/streaming.js';
import {
  createExportPlan,
  dropExportPlan,
  emptyExportCounts,
  exportLines,
  exportPlanPage,
  exportTrailer,
} from '../storage/sqlite/export.js';
import { dataRevision } from '../storage/sqlite/settings.js';
import type { TimelineQuery as RepoQuery } from '../storage/sqlite/timeline.js';
import { publicSecurity } from '../plugins/auth.js';
import { problemResponses } from '../schemas/common.js';
import { timelineFilters } from '../schemas/timeline.js';
import { resolveTimelineQuery } from '../storage/timeline-query.js';

const PAGE = 250;

/**
 * Interchange NDJSON of the plan, a page at a time, and the trailer line last; the plan is
 * dropped when the stream ends or is abandoned. `db` is a snapshot of the file when there is
 * one, so an export is consistent even while others write, and its trailer's revision is the
 * one it read.
 */
export function exportStream(db: Db, query: RepoQuery | null): Readable {
  async function* generate() {
    const revision = dataRevision(db);
    const counts = emptyExportCounts();
    const plan = createExportPlan(db, query);
    try {
      let after: [number, number, number] | undefined;
      for (;;) {
        const page = exportPlanPage(db, plan, after, PAGE);
        if (page === null) break;
        const { text, records } = exportLines(db, page.kind, page.ids);
        counts[page.kind] += records;
        // As bytes: a page is some 250 KB of two-byte string once flattened, a large object
        // that Readable.from's loop held on to while the next page was built; every scavenge
        // then promoted one, and only mark-compacts freed them. A Buffer's bytes are outside
        // the heap, and the flat string is dead before the next page begins.
        yield Buffer.from(text);
        after = page.last;
        await new Promise((resolve) => setImmediate(resolve));
      }
      yield Buffer.from(exportTrailer(counts, revision));
    } finally {
      dropExportPlan(db, plan);
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
      const query = filtered ? resolveTimelineQuery(app.db, request.query) : null;
      reply.type('application/x-ndjson').header('content-disposition', 'attachment; filename="annals-export.ndjson"');
      return sendStreamed(
        request,
        reply,
        () => {
          const snapshot = openSnapshot(app.databasePath);
          const stream = exportStream(snapshot?.db ?? app.db, query);
          // however the stream ends; also before its first page, when its generator never ran
          if (snapshot) stream.once('close', () => snapshot.close());
          return stream;
        },
        { timeoutMs: app.exportTimeoutMs, what: 'export' },
      );
    },
  );
}
