import { THIS_PROCESS, type Claim, type IdempotencyRequest, type LeaseOwner } from '../types.js';
export type { Claim, IdempotencyRequest, LeaseOwner } from '../types.js';
import { and, eq, lt, sql } from 'drizzle-orm';
import { idempotencyKeys } from './schema.js';
import { ProblemError } from '../../schemas/problems.js';
import type { Tx } from './support.js';

/** How long a first response is kept for replay. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/**
 * A reservation of a request still running (a streamed import) lasts this long unless the
 * request renews it (every RENEW_LEASE_MS): one left by a process that died is free again
 * once it has run out, or at once when its process is seen to be gone.
 */
export const LEASE_MS = 30_000;
export const RENEW_LEASE_MS = 5_000;
/** A reservation written without a lease (by an earlier version) is taken over after this long. */
export const ABANDONED_AFTER_MS = 60 * 60 * 1000;


export { THIS_PROCESS } from '../types.js';



/**
 * What a running reservation holds in its `response` column (which holds the response once
 * the request is done): the owner and the end of its lease.
 */
interface Lease {
  owner: LeaseOwner;
  until: string;
}

const leaseText = (owner: LeaseOwner, now: number) => JSON.stringify({ owner, until: new Date(now + LEASE_MS).toISOString() } satisfies Lease);

function leaseOf(response: string | null): Lease | null {
  if (response === null) return null;
  try {
    const lease = JSON.parse(response) as Partial<Lease>;
    const owner = lease.owner;
    if (typeof lease.until !== 'string' || !owner || typeof owner.nonce !== 'string' || typeof owner.pid !== 'number') return null;
    return lease as Lease;
  } catch {
    return null;
  }
}

/** True when a process with this pid exists on this host (EPERM: it does, and is someone else's). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True when the request that reserved a key cannot be running any more: its lease ran out
 * (it renews it while it runs), or its owner was on this host and is gone (killed, crashed:
 * no process has its pid, or this process has it now, started after it).
 */
function abandoned(row: { createdAt: string; response: string | null }, now: number, exists: (pid: number) => boolean): boolean {
  const lease = leaseOf(row.response);
  if (lease === null) return row.createdAt < new Date(now - ABANDONED_AFTER_MS).toISOString();
  if (lease.owner.nonce === THIS_PROCESS.nonce) return Date.parse(lease.until) < now;
  if (Date.parse(lease.until) < now) return true;
  if (lease.owner.host !== THIS_PROCESS.host) return false;
  return lease.owner.pid === THIS_PROCESS.pid || !exists(lease.owner.pid);
}

const conflictRunning = () =>
  new ProblemError(409, 'idempotency-in-progress', 'Request in progress', 'a request with this Idempotency-Key is still being processed; retry later', {
    headers: { 'retry-after': '1' },
  });

import { idempotencyKeyReused as mismatch } from '../../schemas/problems.js';
export { mismatch };

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
