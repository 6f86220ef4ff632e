import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { isBusyError, whenWriteLockFree, type Db } from '../storage/sqlite/client.js';
import { badRequest } from '../schemas/problems.js';
import { RENEW_LEASE_MS, THIS_PROCESS, renewIdempotencyLease, type IdempotencyRequest } from '../storage/sqlite/idempotency.js';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAY_HEADER = 'idempotent-replayed';

export const hashBody = (body: unknown) =>
  createHash('sha256').update(typeof body === 'string' ? body : JSON.stringify(body ?? null)).digest('hex');

/**
 * The idempotency request of a write that carries an `Idempotency-Key` header, or null.
 * Needs the authenticated key: idempotency keys are scoped per API key.
 */
export function idempotencyRequest(request: FastifyRequest, bodyHash: string | null): IdempotencyRequest | null {
  const header = request.headers[IDEMPOTENCY_HEADER];
  if (header === undefined) return null;
  const key = Array.isArray(header) ? header[0]! : header;
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw badRequest('Idempotency-Key must be 1 to 255 visible ASCII characters', [
      { in: 'headers', path: '/idempotency-key', message: 'must be 1 to 255 visible ASCII characters' },
    ]);
  }
  return {
    apiKeyId: request.apiKey!.id,
    key,
    method: request.method,
    path: request.url.split('?')[0]!,
    bodyHash,
    owner: THIS_PROCESS,
  };
}

/**
 * Renews the lease of a claimed key for as long as its request runs (a streamed import), so
 * that the key stays reserved while it does and is free again soon after its process dies.
 * Returns the stop. A renewal that finds the write lock taken is skipped: the next one comes
 * well before the lease runs out.
 */
export function holdIdempotencyLease(db: Db, request: IdempotencyRequest, log: FastifyRequest['log']): () => void {
  const renew = () => {
    whenWriteLockFree(
      db.$client,
      (locked) => {
        renewIdempotencyLease(db, request);
        locked();
      },
      0,
    ).catch((error: unknown) => {
      if (!isBusyError(error) && db.$client.open) log.warn({ err: error }, 'could not renew the lease of an idempotency key');
    });
  };
  const timer = setInterval(renew, RENEW_LEASE_MS);
  timer.unref();
  return () => clearInterval(timer);
}
