/**
 * Idempotency keys as every engine keeps them: how long a response is kept, the lease a
 * running request holds on its key (in the row's `response` column until it is done), and
 * when a reservation counts as abandoned. The engines' idempotency modules hold the queries.
 */
import { ProblemError } from '../schemas/problems.js';
import { THIS_PROCESS, type LeaseOwner } from './types.js';

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




/**
 * What a running reservation holds in its `response` column (which holds the response once
 * the request is done): the owner and the end of its lease.
 */
interface Lease {
  owner: LeaseOwner;
  until: string;
}

export const leaseText = (owner: LeaseOwner, now: number) => JSON.stringify({ owner, until: new Date(now + LEASE_MS).toISOString() } satisfies Lease);

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
export function abandoned(row: { createdAt: string; response: string | null }, now: number, exists: (pid: number) => boolean): boolean {
  const lease = leaseOf(row.response);
  if (lease === null) return row.createdAt < new Date(now - ABANDONED_AFTER_MS).toISOString();
  if (lease.owner.nonce === THIS_PROCESS.nonce) return Date.parse(lease.until) < now;
  if (Date.parse(lease.until) < now) return true;
  if (lease.owner.host !== THIS_PROCESS.host) return false;
  return lease.owner.pid === THIS_PROCESS.pid || !exists(lease.owner.pid);
}

export const conflictRunning = () =>
  new ProblemError(409, 'idempotency-in-progress', 'Request in progress', 'a request with this Idempotency-Key is still being processed; retry later', {
    headers: { 'retry-after': '1' },
  });

export { idempotencyKeyReused as mismatch } from '../schemas/problems.js';

