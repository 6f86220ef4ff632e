import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ProblemError } from '../errors.js';
import { authenticate } from '../repositories/apiKeys.js';

/** Failed authentications and 404s a client may cause per minute before it is refused. */
export const FAILURE_LIMIT = 60;

/**
 * Rate limits are per API key when a live one is sent (by its id: no secret in memory keys), else
 * per client address. Only a key that authenticates has a budget of its own: a made-up bearer
 * token must not buy a fresh budget with every request.
 */
function clientKey(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)/i.exec(header) : null;
  const key = match ? authenticate(request.server.db, match[1]!) : null;
  return key ? `key:${key.id}` : `ip:${request.ip}`;
}

const tooMany = (ttlMs: number, what: string) =>
  new ProblemError(429, 'rate-limited', 'Too many requests', `${what}; retry in ${Math.ceil(ttlMs / 1000)} s`, {
    headers: { 'retry-after': String(Math.max(1, Math.ceil(ttlMs / 1000))) },
  });

declare module 'fastify' {
  interface FastifyInstance {
    /** Counts a failed authentication or a 404 against the client; throws 429 past the limit. */
    countFailure(request: FastifyRequest): Promise<void>;
  }
}

/**
 * Rate limits (@fastify/rate-limit): `perMinute` requests per key or address, with the
 * RateLimit-* headers of the IETF draft and Retry-After; and a stricter budget for failed
 * authentications and 404s per address, which is how key guessing and scanning show up.
 */
export async function installRateLimits(app: FastifyInstance, perMinute: number): Promise<void> {
  if (perMinute <= 0) {
    app.decorate('countFailure', async () => {});
    return;
  }
  await app.register(fastifyRateLimit, {
    global: true,
    max: perMinute,
    timeWindow: 60_000,
    keyGenerator: clientKey,
    enableDraftSpec: true,
    errorResponseBuilder: (_request, context) => tooMany(context.ttl, `more than ${context.max} requests a minute`),
  });
  const failures = app.createRateLimit({ max: FAILURE_LIMIT, timeWindow: 60_000, keyGenerator: (r) => `fail:${r.ip}` });
  app.decorate('countFailure', async (request: FastifyRequest) => {
    const result = await failures(request);
    if (!result.isAllowed && result.isExceeded) {
      throw tooMany(result.ttl, `more than ${FAILURE_LIMIT} failed authentications or unknown paths a minute`);
    }
  });
}
