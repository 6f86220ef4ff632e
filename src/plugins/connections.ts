import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { PROBLEM_BASE, ProblemError, type ProblemCode } from '../schemas/problems.js';
import { PROBLEM_CONTENT_TYPE, sendProblem } from './problems.js';

/** How long a refused client may go on sending its body after the answer before its socket closes. */
export const LINGER_MS = 1000;

const problemBody = (status: number, code: ProblemCode, title: string, detail: string) =>
  JSON.stringify({ type: `${PROBLEM_BASE}${code}`, title, status, detail, code });

/**
 * What Node's HTTP parser refuses before there is a request to route (RFC 9457 like every other
 * error, instead of fastify's own JSON): headers or a request line longer than the limit (431,
 * or 414 when it is the URL), a request timeout (408), anything that is not HTTP/1.1 (400).
 * fastify's `clientErrorHandler` option; the socket is closed after the answer.
 */
export function clientErrorHandler(this: FastifyInstance, error: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  let status: number;
  let code: ProblemCode;
  let detail: string;
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    [status, code, detail] = [408, 'request-timeout', 'the request was not received in time'];
  } else if (error.code === 'HPE_HEADER_OVERFLOW') {
    // the parser counts the request line with the headers: when the line is longer than all
    // the headers after it, what is too long is the URL
    const packet = error.rawPacket;
    let urlTooLong = false;
    if (Buffer.isBuffer(packet) && /^[A-Z]+ /.test(packet.subarray(0, 16).toString('latin1'))) {
      const lineEnd = packet.indexOf('\r\n');
      urlTooLong = lineEnd < 0 || lineEnd > packet.length - lineEnd;
    }
    [status, code, detail] = urlTooLong
      ? [414, 'uri-too-long', 'the URL is longer than the server accepts']
      : [431, 'headers-too-large', 'the request line and headers are larger than the server accepts (16 KiB)'];
  } else {
    [status, code, detail] = [400, 'invalid-request', `the request is not valid HTTP/1.1 (${error.code ?? 'parse error'})`];
  }
  this.log.debug({ err: error }, 'client error');
  const busy = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage?.headersSent;
  if (socket.writable && !busy) {
    const body = problemBody(status, code, STATUS_CODES[status] ?? 'Error', detail);
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/**
 * How the server treats connections and bodies:
 *
 * - An answer sent before the request's body has arrived (a 401 for a missing key, a 413 from
 *   Content-Length, a 429) says `Connection: close`, and the socket closes once it is written and
 *   the client has had {@link LINGER_MS} to stop sending: Node would otherwise read and drop the
 *   rest of the body, for as long as the client cares to trickle it, to keep the connection.
 * - A body that stops arriving for `idleMs` (between two chunks, not in total: an import streams
 *   a large body legitimately) is cut with a 408.
 * - `Expect` values other than 100-continue get a 417 problem instead of Node's empty one; so do
 *   requests that arrive while the server shuts down (503, instead of fastify's own JSON).
 */
export function installConnectionRules(app: FastifyInstance, idleMs: number): void {
  app.decorate('bodyIdleTimeoutMs', idleMs);
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });

  app.server.on('checkExpectation', (_request: IncomingMessage, response: ServerResponse) => {
    const body = problemBody(417, 'expectation-failed', 'Expectation failed', 'the only Expect this server meets is 100-continue');
    response.writeHead(417, { 'content-type': PROBLEM_CONTENT_TYPE, 'content-length': Buffer.byteLength(body), connection: 'close' });
    response.end(body);
  });

  app.addHook('onRequest', (request, reply, done) => {
    if (closing) {
      reply.header('connection', 'close').header('retry-after', '5');
      void sendProblem(reply, request, {
        status: 503,
        code: 'shutting-down',
        title: 'Service unavailable',
        detail: 'the server is shutting down; retry on another connection',
      });
      return;
    }
    const raw = request.raw;
    const hasBody = raw.headers['transfer-encoding'] !== undefined || Number(raw.headers['content-length'] ?? 0) > 0;
    // (requests injected in tests have no socket and no `complete`; a route that streams its
    // body times its reads itself, with bodyChunk)
    if (idleMs > 0 && hasBody && raw.complete === false && request.routeOptions.config?.streamsBody !== true) {
      const socket = raw.socket;
      const onIdle = () => {
        const error = Object.assign(
          new ProblemError(408, 'body-timeout', 'Request timeout', `no part of the body arrived for ${idleMs / 1000} s`),
          { statusCode: 408 },
        );
        // fastify's body parser, reading it, fails with the 408; with no reader, it is sent here
        if (reply.sent || socket.destroyed) socket.destroy();
        else if (raw.listenerCount('error') > 0) raw.emit('error', error);
        else void sendProblem(reply, request, { status: 408, code: error.code, title: error.title, detail: error.message });
      };
      raw.setTimeout(idleMs, onIdle);
      raw.once('end', () => {
        raw.removeListener('timeout', onIdle);
        // once answered, the socket's timeout is Node's keep-alive one: leave it
        if (!reply.raw.writableEnded) socket.setTimeout(app.server.timeout ?? 0);
      });
    }
    done();
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const raw = request.raw;
    if (raw.complete === false && raw.socket && !raw.socket.destroyed) {
      reply.header('connection', 'close');
      lingerThenClose(raw.socket);
    }
    return payload;
  });
}

/**
 * The next chunk of a body a route streams (`config: { streamsBody: true }`), or a 408 when none
 * arrives for the idle timeout. The read itself is left pending: the answer closes the connection.
 */
export async function bodyChunk<T>(next: Promise<T>, idleMs: number): Promise<T> {
  if (idleMs <= 0) return next;
  let timer: NodeJS.Timeout | undefined;
  const idle = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new ProblemError(408, 'body-timeout', 'Request timeout', `no part of the body arrived for ${idleMs / 1000} s`)),
      idleMs,
    );
  });
  try {
    return await Promise.race([next, idle]);
  } finally {
    clearTimeout(timer);
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** A request body that stops arriving for this long is cut with a 408 (0: never). */
    bodyIdleTimeoutMs: number;
  }
  interface FastifyContextConfig {
    /** The route reads its body as a stream and times the reads with {@link bodyChunk}. */
    streamsBody?: boolean;
  }
}

/**
 * Makes Node's close after a `Connection: close` answer a lingering one: the answer is written
 * and the write side ended, then what the client still sends is read and dropped for a moment
 * before the socket is destroyed. Destroying it at once, with the client's bytes unread, makes
 * the kernel reset the connection, and a reset can reach the client before it has read the answer.
 */
function lingerThenClose(socket: Socket): void {
  const lingering = socket as Socket & { destroySoon?: () => void; lingering?: boolean };
  if (lingering.lingering || typeof lingering.destroySoon !== 'function') return;
  lingering.lingering = true;
  lingering.destroySoon = function () {
    if (this.writable) this.end();
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
  };
}
