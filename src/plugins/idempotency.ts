import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { badRequest } from '../schemas/problems.js';
import { THIS_PROCESS, type IdempotencyRequest } from '../storage/types.js';

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

