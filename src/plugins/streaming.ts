import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Streamed response bodies (the export, and timelines in every format but JSON), and what
 * they hold until they end: a generator and its page, and for an export a snapshot connection
 * of its own, which keeps the WAL from being checkpointed past it. Every way a response can
 * end releases them:
 * - a HEAD is answered with the headers of the GET and builds no body, so it opens nothing
 *   (Fastify would otherwise run the whole stream to drain it);
 * - a client that goes away, or a socket destroyed at shutdown, destroys the stream (Fastify),
 *   whose generator then runs its `finally` and whose `close` releases the rest;
 * - a stream that fails after the headers destroys the socket: the client sees a chunked body
 *   without its last chunk, an error, never a body that merely looks short;
 * - a stream given a time bound is destroyed with an error when it runs past it.
 */
export interface OpenStreams {
  /** Streamed bodies not yet closed. */
  readonly count: number;
  /** Keeps `stream` until it closes. */
  track(stream: Readable): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    streams: OpenStreams;
  }
}

export function installStreaming(app: FastifyInstance): void {
  const open = new Set<Readable>();
  app.decorate('streams', {
    get count() {
      return open.size;
    },
    track(stream: Readable) {
      open.add(stream);
      stream.once('close', () => open.delete(stream));
    },
  } satisfies OpenStreams);
  // By now the server has closed and every connection with it; what is left was streaming to
  // `inject` or to nobody, and must not outlive the database connections it reads.
  app.addHook('onClose', (_instance, done) => {
    for (const stream of open) stream.destroy(new Error('the server closed before the stream ended'));
    done();
  });
}

/** Why a stream past its time bound was aborted. */
export class StreamTimeout extends Error {
  override readonly name = 'StreamTimeout';
}

export interface StreamOptions {
  /** Longest the stream may take, in milliseconds (0 or undefined: no bound). */
  timeoutMs?: number | undefined;
  /** What the stream is, for the log line of a timeout: `export`. */
  what?: string;
}

/**
 * Answers `reply` with the stream `build` makes, built only when the request wants a body.
 * Headers set on `reply` before the call go out for HEAD and GET alike.
 */
export function sendStreamed(request: FastifyRequest, reply: FastifyReply, build: () => Readable, options: StreamOptions = {}) {
  // an empty stream rather than no payload: a HEAD then gets the GET's headers, without the
  // `content-length: 0` Fastify would give an empty body
  if (request.method === 'HEAD') return reply.send(Readable.from([]));
  const stream = build();
  request.server.streams.track(stream);
  const { timeoutMs, what = 'stream' } = options;
  if (timeoutMs !== undefined && timeoutMs > 0) {
    const timer = setTimeout(() => {
      request.log.warn({ timeoutS: timeoutMs / 1000 }, `${what} ran past its time bound: aborted`);
      stream.destroy(new StreamTimeout(`${what} ran past its time bound of ${timeoutMs / 1000} s`));
    }, timeoutMs);
    timer.unref();
    stream.once('close', () => clearTimeout(timer));
  }
  // Fastify destroys the response on a stream error after the headers too; this does not
  // depend on it, since a clean end here would pass a cut body off as a whole one
  stream.once('error', () => {
    if (reply.raw.headersSent && !reply.raw.writableEnded) reply.raw.destroy();
  });
  return reply.send(stream);
}
