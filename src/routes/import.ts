import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Readable } from 'node:stream';
import { ProblemError } from '../errors.js';
import { importNdjson } from '../import/ndjson.js';
import { bearerSecurity, requireScope } from '../plugins/auth.js';
import { bodyChunk } from '../plugins/connections.js';
import { IdempotencyHeaders, StreamBody, jsonResponse, problemResponses } from '../schemas/common.js';
import { REPLAY_HEADER, idempotencyRequest } from '../plugins/idempotency.js';
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  mismatch,
  releaseIdempotencyKey,
} from '../repositories/idempotency.js';
import { writeTransaction } from '../repositories/support.js';
import type { ImportReport as ImportReportValue } from '../import/ndjson.js';
import { ImportQuery, ImportReport } from '../schemas/import.js';

export const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson', 'application/jsonl'];

export async function importRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  // The body is handed over as a stream and read line by line: never buffered whole.
  for (const type of NDJSON_TYPES) {
    app.addContentTypeParser(type, (_request, payload, done) => done(null, payload));
  }

  /** Other bodies (JSON, text) would reach the handler parsed by the default parsers. */
  const ndjsonOnly = async (request: FastifyRequest) => {
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (!NDJSON_TYPES.includes(type)) {
      throw new ProblemError(
        415,
        'unsupported-media-type',
        'Unsupported media type',
        `the body must be interchange NDJSON (${NDJSON_TYPES.join(', ')}), not ${JSON.stringify(type || 'none')}`,
      );
    }
    const length = Number(request.headers['content-length'] ?? 0);
    if (length > app.importLimitBytes) throw bodyTooLarge(app.importLimitBytes);
  };

  app.post(
    '/import',
    {
      // the key first: without one, any upload is a 401 and nothing of it is read
      onRequest: [requireScope('write'), ndjsonOnly],
      config: { streamsBody: true },
      schema: {
        operationId: 'importRecords',
        tags: ['Import and export'],
        summary: 'Load records in bulk from interchange NDJSON',
        description:
          'Streams `application/x-ndjson` in the interchange format. Each record is created, updated or left ' +
          'unchanged by its `key`; the same file twice changes nothing. Bad lines are refused with their line ' +
          'number and reason, and the rest are stored. A record is stored whole or not at all. With an ' +
          '`Idempotency-Key`, a retry of the same body within 24 hours replays the first report.',
        security: bearerSecurity,
        headers: IdempotencyHeaders,
        querystring: ImportQuery,
        consumes: NDJSON_TYPES,
        body: StreamBody,
        response: {
          200: jsonResponse('What the import did: counts of created, updated and unchanged records, and every refused line.', ImportReport),
          ...problemResponses(400, 401, 403, 408, 409, 413, 415, 422),
        },
      },
    },
    async (request, reply) => {
      const body = request.body as unknown as Readable;
      const hash = createHash('sha256');
      let received = 0;
      // counts and hashes the body as the import reads it; a body that stops arriving is a 408
      async function* chunks() {
        const reads = (body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
        for (;;) {
          const next = await bodyChunk(reads.next(), app.bodyIdleTimeoutMs);
          if (next.done) return;
          const chunk = next.value;
          received += chunk.length;
          if (received > app.importLimitBytes) throw bodyTooLarge(app.importLimitBytes);
          hash.update(chunk);
          yield chunk;
        }
      }
      const idempotency = idempotencyRequest(request, null);
      try {
        if (idempotency) {
          const claim = writeTransaction(app.db, (tx) => claimIdempotencyKey(tx, idempotency));
          if (claim.kind === 'replay') {
            for await (const _ of chunks());
            if (hash.digest('hex') !== claim.bodyHash) throw mismatch();
            reply.header(REPLAY_HEADER, 'true');
            return JSON.parse(claim.response) as ImportReportValue;
          }
        }
        let report: ImportReportValue;
        try {
          report = await importNdjson(app.db, chunks(), {
            stopOnError: request.query.stopOnError === 'true',
            // the progress line of a long import, and the record of what is committed
            onBatchCommitted: (lines) =>
              request.log.info({ firstLine: lines[0], lastLine: lines[lines.length - 1], records: lines.length }, 'import batch committed'),
          });
        } catch (error) {
          if (idempotency) writeTransaction(app.db, (tx) => releaseIdempotencyKey(tx, idempotency));
          throw error;
        }
        if (idempotency) {
          const done = { ...idempotency, bodyHash: hash.digest('hex') };
          writeTransaction(app.db, (tx) => completeIdempotencyKey(tx, done, 200, JSON.stringify(report)));
        }
        return report;
      } finally {
        // When the import stops early, the body must not be destroyed mid-upload (the client's
        // upload would stall and the connection never close): what is left is drained instead.
        if (!body.readableEnded) body.resume();
      }
    },
  );
}

const bodyTooLarge = (limit: number) =>
  new ProblemError(413, 'body-too-large', 'Body too large', `an import body may hold at most ${limit} bytes; split the file`);

declare module 'fastify' {
  interface FastifyInstance {
    /** Largest import body accepted, in bytes. */
    importLimitBytes: number;
  }
}
