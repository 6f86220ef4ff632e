import { and, eq, lt, sql } from 'drizzle-orm';
import { idempotencyKeys } from '../db/schema.js';
import { ProblemError } from '../errors.js';
import type { Tx } from './support.js';

/** How long a first response is kept for replay. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** A request still "running" after this long died with its process: its key is free again. */
export const ABANDONED_AFTER_MS = 60 * 60 * 1000;

export interface IdempotencyRequest {
  apiKeyId: number;
  key: string;
  method: string;
  path: string;
  /** SHA-256 of the body, or null when it is not known yet (a streamed body). */
  bodyHash: string | null;
}

export type Claim =
  | { kind: 'fresh' }
  | { kind: 'replay'; status: number; response: string; bodyHash: string | null };

const conflictRunning = () =>
  new ProblemError(409, 'idempotency-in-progress', 'Request in progress', 'a request with this Idempotency-Key is still being processed; retry later', {
    headers: { 'retry-after': '1' },
  });

export const mismatch = () =>
  new ProblemError(
    422,
    'idempotency-key-reused',
    'Idempotency-Key reused',
    'this Idempotency-Key was used for a different request (another body, method or path) in the last 24 hours',
  );

/**
 * Claims an idempotency key inside the caller's write transaction: a fresh key is recorded
 * as running (and will commit with the write); a finished one gives its response to
 * replay; one still running is a 409; one used for another request is a 422.
 */
export function claimIdempotencyKey(tx: Tx, request: IdempotencyRequest, now = Date.now()): Claim {
  tx.delete(idempotencyKeys)
    .where(lt(idempotencyKeys.createdAt, new Date(now - IDEMPOTENCY_TTL_MS).toISOString()))
    .run();
  const where = and(eq(idempotencyKeys.apiKeyId, request.apiKeyId), eq(idempotencyKeys.key, request.key));
  const existing = tx.select().from(idempotencyKeys).where(where).get();
  if (existing?.state === 'running' && existing.createdAt < new Date(now - ABANDONED_AFTER_MS).toISOString()) {
    tx.delete(idempotencyKeys).where(where).run();
  } else if (existing) {
    if (existing.method !== request.method || existing.path !== request.path) throw mismatch();
    if (existing.state === 'running') throw conflictRunning();
    if (request.bodyHash !== null && existing.bodyHash !== request.bodyHash) throw mismatch();
    return { kind: 'replay', status: existing.status!, response: existing.response!, bodyHash: existing.bodyHash };
  }
  tx.insert(idempotencyKeys)
    .values({
      apiKeyId: request.apiKeyId,
      key: request.key,
      method: request.method,
      path: request.path,
      bodyHash: request.bodyHash,
      state: 'running',
      createdAt: new Date(now).toISOString(),
    })
    .run();
  return { kind: 'fresh' };
}

/** Records the response of a claimed key, for replay. */
export function completeIdempotencyKey(
  tx: Tx,
  request: IdempotencyRequest,
  status: number,
  response: string,
): void {
  tx.update(idempotencyKeys)
    .set({ state: 'done', status, response, bodyHash: request.bodyHash })
    .where(and(eq(idempotencyKeys.apiKeyId, request.apiKeyId), eq(idempotencyKeys.key, request.key)))
    .run();
}

/** Frees a claimed key whose request failed, so that a retry runs again. */
export function releaseIdempotencyKey(tx: Tx, request: IdempotencyRequest): void {
  tx.run(sql`DELETE FROM idempotency_keys WHERE api_key_id = ${request.apiKeyId} AND key = ${request.key} AND state = 'running'`);
}
