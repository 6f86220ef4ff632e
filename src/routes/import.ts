import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { isBusyError, isUnavailableError } from '../storage/errors.js';
import { ProblemError, databaseBusy, databaseUnavailable, idempotencyKeyReused } from '../schemas/problems.js';
import { ImportInterrupted, importNdjson, type ImportOptions } from '../import/ndjson.js';
import { parseStreamInWorker } from '../import/parallel.js';
import { bearerSecurity, requireScope } from '../plugins/auth.js';
import { bodyChunk } from '../plugins/connections.js';
import { IdempotencyHeaders, StreamBody, jsonResponse, problemResponses } from '../schemas/common.js';
import { REPLAY_HEADER, idempotencyRequest } from '../plugins/idempotency.js';
import type { IdempotencyRequest } from '../storage/types.js';
import type { ImportReport as ImportReportValue } from '../import/ndjson.js';
import { ImportProblem, ImportQuery, ImportReport } from '../schemas/import.js';

export const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson', 'application/jsonl'];

/**
 * Smallest body (by its `Content-Length`) imported into an empty database as one bulk load.
 * A small one gains little from it, and keeps the usual batches: visible as they commit, and
 * other writes served between them.
 */
export const BULK_IMPORT_MIN_BYTES = 8 * 1024 * 1024;

const importProblemResponse = (status: number, description: string) => ({
  [status]: { description, content: { 'application/problem+json': { schema: ImportProblem } } },
});

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

  /**
   * A dry run: the body is first read whole into a temporary file, so that the write lock
   * is held for the time the dry run takes, not for as long as the client takes to upload.
   * It then runs in the storage's dry-run session, undone at the end.
   */
  const dryRun = async (body: AsyncIterable<Buffer>, options: ImportOptions) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'annals-dry-run-'));
    try {
      const file = path.join(dir, 'body.ndjson');
      await pipeline(Readable.from(body), createWriteStream(file));
      return await importNdjson(await app.storage.beginImport({ dryRun: true }), createReadStream(file), options);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
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
          'number and reason, and the rest are stored. A record is stored whole or not at all. Lines may end in ' +
          'LF, CRLF or CR, and the file may start with a byte order mark. The last line of a full export ' +
          '(`{"kind":"end","records":N,"counts":{...}}`) is checked against the record lines read: when they differ, ' +
          'or lines follow it, the end line is refused with the reason and `end.complete` is false.\n\n' +
          'A body over the import limit (`ANNALS_IMPORT_LIMIT_MB`) is a 413. When its `Content-Length` says so, ' +
          'nothing is read or stored. A chunked body is imported up to the limit: the whole lines before the byte ' +
          'that goes over it are stored as usual (records among them that wait for keys of later lines are refused), ' +
          'and the 413 carries the `report` of what was stored; the rest of the file, from the line after ' +
          '`report.lines`, can be sent in another request.\n\n' +
          'With `dryRun=true` every line is validated and reported exactly as an import would, and nothing is stored ' +
          '(not even the revision); the body is read whole before the dry run starts. It holds the write lock as an ' +
          'import does: other writes wait for it up to 5 seconds, then answer 503 with `Retry-After`. A dry run ' +
          'ignores `Idempotency-Key`.\n\n' +
          'An import into an empty database is one bulk load: its records become visible together when it ends, ' +
          'and other writes wait for it up to 5 seconds, then answer 503. Once an import holds the write lock, ' +
          'nothing cuts it short: writes arriving meanwhile are what answer 503.\n\n' +
          'With an `Idempotency-Key`, a retry of the same body within 24 hours replays the first report; while the ' +
          'first request runs, a retry is a 409 (the key is freed when its server process dies).',
        security: bearerSecurity,
        headers: IdempotencyHeaders,
        querystring: ImportQuery,
        consumes: NDJSON_TYPES,
        body: StreamBody,
        response: {
          200: jsonResponse('What the import did: counts of created, updated and unchanged records, and every refused line.', ImportReport),
          ...problemResponses(400, 401, 403, 408, 409, 415, 422),
          ...importProblemResponse(413, 'The body is too large. When part of it was imported, `report` says what was stored.'),
          ...importProblemResponse(503, 'The database was busy for too long: retry after `Retry-After` seconds. `report` says what was stored.'),
        },
      },
    },
    async (request, reply) => {
      const body = request.body as unknown as Readable;
      const limit = app.importLimitBytes;
      const hash = createHash('sha256');
      let received = 0;
      // counts and hashes the body as the import reads it; what goes over the limit is cut
      // off there (the import stores the whole lines before it and ends with the 413), and a
      // body that stops arriving is a 408
      async function* chunks(): AsyncGenerator<Buffer> {
        const reads = (body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
        for (;;) {
          const next = await bodyChunk(reads.next(), app.bodyIdleTimeoutMs);
          if (next.done) return;
          const chunk = next.value;
          if (received + chunk.length > limit) {
            const room = chunk.subarray(0, limit - received);
            received = limit;
            if (room.length > 0) {
              hash.update(room);
              yield room;
            }
            throw bodyTooLarge(limit);
          }
          received += chunk.length;
          hash.update(chunk);
          yield chunk;
        }
      }
      const options: ImportOptions = {
        stopOnError: request.query.stopOnError === 'true',
        // the progress line of a long import, and the record of what is committed
        onBatchCommitted: (lines) =>
          request.log.info({ firstLine: lines[0], lastLine: lines[lines.length - 1], records: lines.length }, 'import batch committed'),
      };
      const idempotency = idempotencyRequest(request, null);
      try {
        if (request.query.dryRun === 'true') {
          try {
            return await dryRun(chunks(), options);
          } catch (error) {
            throw importProblem(request, error, limit);
          }
        }
        if (idempotency) {
          const claim = await app.storage.claimIdempotencyKey(idempotency);
          if (claim.kind === 'replay') {
            for await (const _ of chunks());
            if (hash.digest('hex') !== claim.bodyHash) throw idempotencyKeyReused();
            reply.header(REPLAY_HEADER, 'true');
            return JSON.parse(claim.response) as ImportReportValue;
          }
        }
        const stopLease = idempotency
          ? app.storage.holdIdempotencyLease(idempotency, (error) => request.log.warn({ err: error }, 'could not renew the lease of an idempotency key'))
          : () => {};
        let report: ImportReportValue;
        try {
          // A large body into an empty database is a bulk load: the whole body in one unit,
          // written the engine's fastest way, with what was read stored when the body is cut
          // off; its lines are parsed on the second core, as the import command does.
          const length = Number(request.headers['content-length'] ?? 0);
          const session = await app.storage.beginImport({
            author: request.apiKey?.name ?? null,
            ...(length >= app.bulkImportMinBytes && length > 0 ? { bulkLoad: 'when-empty' as const } : {}),
          });
          const input = session.mode === 'bulk' ? { parsed: parseStreamInWorker(chunks()) } : chunks();
          report = await importNdjson(session, input, { ...options, bulkLoadKeepsWhatWasRead: true });
        } catch (error) {
          stopLease();
          // what it committed before it stopped (a 413 of a chunked body, a 503) is stored all the same
          if (error instanceof ImportInterrupted) await refreshStatisticsAfter(request, error.report);
          if (idempotency) await releaseKey(idempotency);
          throw importProblem(request, error, limit);
        }
        stopLease();
        // the key first: a bulk load holds the write lock for long enough that its lease may
        // have run out, and a retry must find the report, not a key free to take over
        if (idempotency) {
          const done = { ...idempotency, bodyHash: hash.digest('hex') };
          await app.storage.completeIdempotencyKey(done, 200, JSON.stringify(report));
        }
        await refreshStatisticsAfter(request, report);
        return report;
      } finally {
        // When the import stops early, the body must not be destroyed mid-upload (the client's
        // upload would stall and the connection never close): what is left is drained instead.
        if (!body.readableEnded) body.resume();
      }
    },
  );

  /**
   * After an import that stored many records, the tables it filled get the statistics the
   * planner needs, as the database is analysed once it was built. A small one does not pay
   * for it: the periodic `PRAGMA optimize` (src/app.ts) sees to the slow growth.
   */
  const refreshStatisticsAfter = async (request: FastifyRequest, report: ImportReportValue) => {
    if (report.created + report.updated < app.statisticsAfterImportRecords) return;
    try {
      await app.storage.refreshStatistics({ everyTable: true });
    } catch (error) {
      request.log.warn({ err: error }, 'could not refresh the planner statistics after an import');
    }
  };

  /** Frees the key of a failed import; a failure to do so leaves it to run out its lease. */
  const releaseKey = async (idempotency: IdempotencyRequest) => {
    try {
      await app.storage.releaseIdempotencyKey(idempotency);
    } catch (error) {
      app.log.warn({ err: error }, 'could not free the idempotency key of a failed import');
    }
  };
}

const bodyTooLarge = (limit: number) =>
  new ProblemError(413, 'body-too-large', 'Body too large', `an import body may hold at most ${limit} bytes; split the file`);

/**
 * The problem an import that ended early answers with, carrying the report of what it had
 * stored by then (the batches it committed are kept).
 */
function importProblem(request: FastifyRequest, error: unknown, limit: number): unknown {
  if (!(error instanceof ImportInterrupted)) return error;
  const { report } = error;
  const cause = error.cause;
  const extensions = { report };
  if (cause instanceof ProblemError && cause.code === 'body-too-large') {
    const read = report.lines === 0 ? 'no whole line fit within it' : `lines 1 to ${report.lines} were imported (see report)`;
    return new ProblemError(
      413,
      'body-too-large',
      'Body too large',
      `an import body may hold at most ${limit} bytes: ${read}, and the import stopped in line ${report.lines + 1}; ` +
        `send the rest of the file, from line ${report.lines + 1} on, in another request`,
      { extensions },
    );
  }
  if (cause instanceof ProblemError) {
    return new ProblemError(cause.status, cause.code, cause.title, cause.message, {
      ...(cause.errors ? { errors: cause.errors } : {}),
      ...(cause.headers ? { headers: cause.headers } : {}),
      extensions,
    });
  }
  if (isBusyError(cause) || isUnavailableError(cause)) {
    const busy = isBusyError(cause) ? databaseBusy() : databaseUnavailable();
    return new ProblemError(
      busy.status,
      busy.code,
      busy.title,
      `${busy.message}; the import stopped after line ${report.lines}: what it stored is in report`,
      { headers: busy.headers!, extensions },
    );
  }
  // the upload failed (the client went away) or the database did: logged with what was stored
  request.log.error(
    { err: cause, lines: report.lines, created: report.created, updated: report.updated, refused: report.refused },
    'import failed',
  );
  return new ProblemError(
    500,
    'internal',
    'Internal server error',
    `The import failed after line ${report.lines}; what it stored is in report. It has been logged (request ${request.id}).`,
    { extensions },
  );
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Largest import body accepted, in bytes. */
    importLimitBytes: number;
    /** Smallest body imported into an empty database as one bulk load (AppConfig.bulkImportMinBytes). */
    bulkImportMinBytes: number;
  }
}
