import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * Helmet's security headers, worked out once. @fastify/helmet builds a new helmet middleware
 * (parsing every CSP directive) on every request, which was 3% of a timeline page's time;
 * the headers depend only on the options, so they are computed at start-up by running
 * helmet's own middleware once, and copied onto each reply (helmetjs/helmet#430 asks for
 * the same: https://github.com/helmetjs/helmet/issues/430).
 */
export function securityHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
      return response;
    },
    removeHeader() {},
  };
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => {
    // helmet passes an Error (a CSP directive it cannot build); its type says unknown
    if (error) throw error instanceof Error ? error : new Error('helmet could not build the security headers', { cause: error });
  });
  return headers;
}

export function installSecurityHeaders(app: FastifyInstance, options: HelmetOptions): void {
  const headers = securityHeaders(options);
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers);
    done();
  });
}

/** A CSP without `upgrade-insecure-requests`, which breaks every page served over plain HTTP. */
export const withoutUpgradeInsecureRequests = (policy: string) =>
  policy
    .split(';')
    .map((directive) => directive.trim())
    .filter((directive) => directive !== '' && directive.toLowerCase() !== 'upgrade-insecure-requests')
    .join('; ');
