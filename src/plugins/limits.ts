import fastifyRateLimit, { type FastifyRateLimitStore, type FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import { isIPv6 } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ProblemError } from '../schemas/problems.js';
import type { Storage } from '../storage/port.js';

/** Failed authentications and 404s a client may cause per minute before it is refused. */
export const FAILURE_LIMIT = 60;

/**
 * The address a client is counted by: an IPv6 client holds a whole /64 (one customer's
 * prefix), so it is counted by that, not by each of its 2^64 addresses.
 */
export function clientAddress(ip: string): string {
  if (!isIPv6(ip)) return ip;
  const bare = ip.split('%')[0]!.toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(bare);
  if (mapped) return mapped[1]!;
  const [head = '', tail] = bare.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':')).flatMap((g) => (g.includes('.') ? ['0', '0'] : [g]));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${all.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

/**
 * Rate limits are per API key when a live one is sent (by its id: no secret in memory keys), else
 * per client address. Only a key that authenticates has a budget of its own: a made-up bearer
 * token must not buy a fresh budget with every request. Only keys known without the slow hash
 * count here (the route's own check verifies the rest, and remembers them).
 */
async function clientKey(request: FastifyRequest): Promise<string> {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)/i.exec(header) : null;
  const key = match ? await request.server.storage.knownApiKey(match[1]!) : null;
  return key ? `key:${key.id}` : `ip:${clientAddress(request.ip)}`;
}

/**
 * The store of both limiters (a custom store of @fastify/rate-limit): the storage port counts,
 * so that on PostgreSQL every server shares one count per client (src/storage/request-counts.ts).
 * Both limiters use it; their keys cannot meet (`key:` and `ip:` for requests, `fail:` for failures).
 */
function storageStore(storage: Storage): FastifyRateLimitStoreCtor {
  return class StorageStore implements FastifyRateLimitStore {
    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
      storage.countRequest(key, timeWindow).then(
        (count) => callback(null, { current: count.current, ttl: count.ttlMs }),
        (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
      );
    }

    child(): FastifyRateLimitStore {
      return this;
    }
  };
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
 * Routes with `config: { rateLimit: false }` (the probes) are neither limited nor counted.
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
    store: storageStore(app.storage),
    errorResponseBuilder: (_request, context) => tooMany(context.ttl, `more than ${context.max} requests a minute`),
  });
  const failures = app.createRateLimit({
    max: FAILURE_LIMIT,
    timeWindow: 60_000,
    keyGenerator: (r) => `fail:${clientAddress(r.ip)}`,
  });
  app.decorate('countFailure', async (request: FastifyRequest) => {
    if (request.routeOptions.config?.rateLimit === false) return;
    const result = await failures(request);
    if (!result.isAllowed && result.isExceeded) {
      throw tooMany(result.ttl, `more than ${FAILURE_LIMIT} failed authentications or unknown paths a minute`);
    }
  });
}
