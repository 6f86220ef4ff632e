import { THIS_PROCESS, type Claim, type IdempotencyRequest } from '../types.js';
export type { Claim, IdempotencyRequest, LeaseOwner } from '../types.js';
export { THIS_PROCESS } from '../types.js';
import { and, eq, lt, sql } from 'drizzle-orm';
import { idempotencyKeys } from './schema.js';
import type { Tx } from './transactions.js';

import { abandoned, conflictRunning, IDEMPOTENCY_TTL_MS, leaseText, mismatch, processExists } from '../idempotency.js';
export { ABANDONED_AFTER_MS, IDEMPOTENCY_TTL_MS, LEASE_MS, RENEW_LEASE_MS, mismatch, processExists } from '../idempotency.js';

/**
 * Claims an idempotency key inside the caller's write transaction: a fresh key is recorded
 * as running (and will commit with the write); a finished one gives its response to
 * replay; one still running is a 409, unless the request that reserved it is gone; one used
 * for another request is a 422.
 */
export function claimIdempotencyKey(
  tx: Tx,
  request: IdempotencyRequest,
  now = Date.now(),
  exists: (pid: number) => boolean = processExists,
): Claim {
  tx.delete(idempotencyKeys)
    .where(lt(idempotencyKeys.createdAt, new Date(now - IDEMPOTENCY_TTL_MS).toISOString()))
    .run();
  const where = and(eq(idempotencyKeys.apiKeyId, request.apiKeyId), eq(idempotencyKeys.key, request.key));
  const existing = tx.select().from(idempotencyKeys).where(where).get();
  if (existing?.state === 'running' && abandoned(existing, now, exists)) {
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
      response: leaseText(request.owner ?? THIS_PROCESS, now),
      createdAt: new Date(now).toISOString(),
    })
    .run();
  return { kind: 'fresh' };
}

/** This request's own reservation: running, and (unless written without a lease) held by its owner. */
const ownReservation = (request: IdempotencyRequest) =>
  sql`api_key_id = ${request.apiKeyId} AND key = ${request.key} AND state = 'running'
      AND (response IS NULL OR json_extract(response, '$.owner.nonce') = ${(request.owner ?? THIS_PROCESS).nonce})`;

/** Records the response of a claimed key, for replay (unless another request took the key over meanwhile). */
export function completeIdempotencyKey(
  tx: Tx,
  request: IdempotencyRequest,
  status: number,
  response: string,
): void {
  tx.run(
    sql`UPDATE idempotency_keys SET state = 'done', status = ${status}, response = ${response}, body_hash = ${request.bodyHash}
        WHERE ${ownReservation(request)}`,
  );
}

/** Frees a claimed key whose request failed, so that a retry runs again. */
export function releaseIdempotencyKey(tx: Tx, request: IdempotencyRequest): void {
  tx.run(sql`DELETE FROM idempotency_keys WHERE ${ownReservation(request)}`);
}

/** Extends the lease of a running request's reservation; false when it no longer holds it. */
export function renewIdempotencyLease(tx: Tx, request: IdempotencyRequest, now = Date.now()): boolean {
  const result = tx.run(
    sql`UPDATE idempotency_keys SET response = ${leaseText(request.owner ?? THIS_PROCESS, now)} WHERE ${ownReservation(request)}`,
  ) as unknown as { changes: number };
  return result.changes > 0;
}
