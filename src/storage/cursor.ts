import type { RelevancePosition } from './types.js';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ProblemError, badRequest } from '../schemas/problems.js';

/** The answer to a cursor that is not one this query issued (or that an older version did). */
export const invalidCursor = () =>
  badRequest('cursor is not valid for this query; start again without it', [
    { in: 'query', path: '/cursor', message: 'not a cursor issued for this query' },
  ]);

/**
 * Opaque, tamper-evident cursors: base64url(JSON) and an HMAC over it. The HMAC also covers
 * the `scope` (the endpoint and its filters), so a cursor replayed against another query is
 * refused rather than answered with a wrong page.
 */
export class CursorCodec {
  constructor(private readonly secret: Buffer) {}

  encode(scope: string, position: unknown): string {
    const body = Buffer.from(JSON.stringify(position)).toString('base64url');
    return `${body}.${this.sign(scope, body)}`;
  }

  decode<T>(scope: string, cursor: string): T {
    const [body, signature, extra] = cursor.split('.');
    const invalid = invalidCursor;
    if (!body || !signature || extra !== undefined) throw invalid();
    const expected = Buffer.from(this.sign(scope, body));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw invalid();
    try {
      return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as T;
    } catch {
      throw invalid();
    }
  }

  private sign(scope: string, body: string): string {
    return createHmac('sha256', this.secret).update(scope).update('\0').update(body).digest('base64url').slice(0, 32);
  }
}

/**
 * A cursor that was valid but can no longer be continued without skipping or repeating
 * results (the data under it changed): 410, so that a client restarts from the first page
 * rather than retrying the same cursor.
 */
export const cursorExpired = (detail: string) =>
  new ProblemError(410, 'cursor-expired', 'Cursor expired', detail, {
    errors: [{ in: 'query', path: '/cursor', message: 'expired: start again without it' }],
  });

/** True when a decoded cursor body is a relevance position (a signed cursor of another version may not be). */
export function isRelevancePosition(value: unknown): value is RelevancePosition {
  if (!Array.isArray(value) || value.length !== 7 || typeof value[0] !== 'string') return false;
  const [, maxId, seen, high, low, rank, id] = value as unknown[];
  const uint32 = (n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xffffffff;
  return (
    Number.isSafeInteger(maxId) &&
    Number.isSafeInteger(seen) &&
    (seen as number) > 0 &&
    uint32(high) &&
    uint32(low) &&
    typeof rank === 'number' &&
    Number.isFinite(rank) &&
    Number.isSafeInteger(id)
  );
}

/** murmur3's 32-bit finaliser: a bijection of 32-bit integers that mixes every bit. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * The digest of a set of ids with `ids` added: the XOR of a 64-bit hash of each, so the same
 * set in any order or any split into pages gives the same digest. Each half is a bijection of
 * the id's low 32 bits, so two sets that differ by one id swapped for another never collide.
 */
export function addToDigest(digest: readonly [number, number], ids: readonly number[]): [number, number] {
  let [high, low] = digest;
  for (const id of ids) {
    const upper = Math.floor(id / 0x100000000) >>> 0;
    const lower = id >>> 0;
    high = (high ^ mix32(lower ^ mix32(upper ^ 0x9e3779b9))) >>> 0;
    low = (low ^ mix32((lower ^ 0x7f4a7c15) ^ mix32(upper + 0x632be5ab))) >>> 0;
  }
  return [high, low];
}
