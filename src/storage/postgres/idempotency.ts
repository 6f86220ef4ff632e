import { and, eq, lt, sql, type SQL } from 'drizzle-orm';
import { abandoned, conflictRunning, IDEMPOTENCY_TTL_MS, leaseText, mismatch, processExists } from '../idempotency.js';
import { THIS_PROCESS, type Claim, type IdempotencyRequest } from '../types.js';
import { idempotencyKeys } from './schema.js';
import { holdsNul } from './text.js';
import type { PgTx } from './transactions.js';

/**
 * Idempotency keys on PostgreSQL, shared by every server: a key claimed through one is
 * replayed, or answered 409 while it runs, by every other. Claims run inside a write
 * transaction (src/storage/postgres/transactions.ts), which orders them.
 */

/** Claims a key inside the caller's write transaction (see src/storage/sqlite/idempotency.ts for the outcomes). */
export async function claimIdempotencyKey(
  tx: PgTx,
  request: IdempotencyRequest,
  now = Date.now(),
  exists: (pid: number) => boolean = processExists,
): Promise<Claim> {
  // a key PostgreSQL cannot store was never stored: the request is told so, as for a key reused
  if (holdsNul(request.key)) throw mismatch();
  await tx.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, new Date(now - IDEMPOTENCY_TTL_MS).toISOString()));
  const where = and(eq(idempotencyKeys.apiKeyId, request.apiKeyId), eq(idempotencyKeys.key, request.key));
  const [existing] = await tx.select().from(idempotencyKeys).where(where);
  if (existing?.state === 'running' && abandoned(existing, now, exists)) {
    await tx.delete(idempotencyKeys).where(where);
  } else if (existing) {
    if (existing.method !== request.method || existing.path !== request.path) throw mismatch();
    if (existing.state === 'running') throw conflictRunning();
    if (request.bodyHash !== null && existing.bodyHash !== request.bodyHash) throw mismatch();
    return { kind: 'replay', status: existing.status!, response: existing.response!, bodyHash: existing.bodyHash };
  }
  await tx.insert(idempotencyKeys).values({
    apiKeyId: request.apiKeyId,
    key: request.key,
    method: request.method,
    path: request.path,
    bodyHash: request.bodyHash,
    state: 'running',
    response: leaseText(request.owner ?? THIS_PROCESS, now),
    createdAt: new Date(now).toISOString(),
  });
  return { kind: 'fresh' };
}

/**
 * This request's own reservation: running, and (unless written without a lease) held by its
 * owner. CASE reads a running row's lease only: a finished row's response is the response.
 */
const ownReservation = (request: IdempotencyRequest): SQL =>
  sql`api_key_id = ${request.apiKeyId} AND key = ${request.key} AND state = 'running'
      AND CASE WHEN response IS NULL THEN true
               ELSE (response::json -> 'owner' ->> 'nonce') = ${(request.owner ?? THIS_PROCESS).nonce} END`;

/** Records the response of a claimed key, for replay (unless another request took the key over meanwhile). */
export async function completeIdempotencyKey(tx: PgTx, request: IdempotencyRequest, status: number, response: string): Promise<void> {
  if (holdsNul(request.key)) return;
  await tx.execute(
    sql`UPDATE idempotency_keys SET state = 'done', status = ${status}, response = ${response}, body_hash = ${request.bodyHash}
        WHERE ${ownReservation(request)}`,
  );
}

/** Frees a claimed key whose request failed, so that a retry runs again. */
export async function releaseIdempotencyKey(tx: PgTx, request: IdempotencyRequest): Promise<void> {
  if (holdsNul(request.key)) return;
  await tx.execute(sql`DELETE FROM idempotency_keys WHERE ${ownReservation(request)}`);
}

/** Extends the lease of a running request's reservation; false when it no longer holds it. */
export async function renewIdempotencyLease(tx: PgTx, request: IdempotencyRequest, now = Date.now()): Promise<boolean> {
  if (holdsNul(request.key)) return false;
  const result = await tx.execute(
    sql`UPDATE idempotency_keys SET response = ${leaseText(request.owner ?? THIS_PROCESS, now)} WHERE ${ownReservation(request)}`,
  );
  return (result.rowCount ?? 0) > 0;
}
