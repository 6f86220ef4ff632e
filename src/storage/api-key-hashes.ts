/**
 * API key secrets as every engine stores and checks them: generated secrets under a fast
 * hash, any other under scrypt, secrets verified once remembered in this process (keyed by
 * an HMAC under a key of its own), and a bound on slow verifications at once. The engines'
 * apiKeys modules hold the queries.
 */
import { createHash, createHmac, randomBytes, scrypt, scryptSync, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { ProblemError } from '../schemas/problems.js';

/** A new secret: 256 random bits, prefixed so that leaked keys are easy to recognise. */
export const generateSecret = () => `annals_${randomBytes(32).toString('base64url')}`;

/** What {@link generateSecret} makes: a secret no one could guess, so a fast hash keeps it. */
export const GENERATED = /^annals_[A-Za-z0-9_-]{43}$/;

/*
 * The `hash` column holds one of two forms, both over SHA-256(secret) (in hex), so that rows of
 * the first version (a bare SHA-256 in hex) are upgraded at start-up without their secrets:
 *
 *   fast$<hex>      generated secrets: SHA-256 again, domain-separated. 256 random bits cannot be
 *                   searched for, so a copy of the database gives nothing away; the lookup is one
 *                   indexed query.
 *   scrypt$<log2 N>$<r>$<p>$<salt>$<hash>
 *                   every other secret (the bootstrap key from the environment, a secret chosen
 *                   by hand): scrypt with a salt of its own, so a guess costs tens of milliseconds
 *                   and 32 MiB per key. A request cannot pay that each time: a secret verified
 *                   once is remembered in memory (see {@link VerifiedSecrets}).
 */
const FAST = 'fast$';
export const LIKE_FAST = `${FAST}%`;
export const SLOW = 'scrypt$';
export const LIKE_SLOW = `${SLOW}%`;
const SCRYPT = { log2N: 15, r: 8, p: 1, keyLength: 32 };

export const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
export const fastHashOfDigest = (digest: string) => `${FAST}${sha256Hex(`annals api key\0${digest}`)}`;

const scryptOptions = (log2N: number, r: number, p: number): ScryptOptions => ({
  N: 2 ** log2N,
  r,
  p,
  // the default (32 MiB) is exactly what N = 2^15, r = 8 needs, and Node refuses equality
  maxmem: 2 * 128 * 2 ** log2N * r * p + 1024 * 1024,
});

export function slowHashOfDigest(digest: string): string {
  const salt = randomBytes(16);
  const { log2N, r, p, keyLength } = SCRYPT;
  const hash = scryptSync(digest, salt, keyLength, scryptOptions(log2N, r, p));
  return `${SLOW}${log2N}$${r}$${p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

interface SlowHash {
  log2N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function parseSlowHash(stored: string): SlowHash | null {
  const parts = stored.split('$');
  if (parts.length !== 6 || `${parts[0]}$` !== SLOW) return null;
  const [log2N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![log2N, r, p].every((n) => Number.isInteger(n) && n > 0 && n < 64)) return null;
  return { log2N, r, p, salt: Buffer.from(parts[4]!, 'base64url'), hash: Buffer.from(parts[5]!, 'base64url') };
}

export function slowMatchesSync(stored: string, digest: string): boolean {
  const parsed = parseSlowHash(stored);
  if (!parsed) return false;
  const computed = scryptSync(digest, parsed.salt, parsed.hash.length, scryptOptions(parsed.log2N, parsed.r, parsed.p));
  return timingSafeEqual(computed, parsed.hash);
}

export function slowMatches(stored: string, digest: string): Promise<boolean> {
  const parsed = parseSlowHash(stored);
  if (!parsed) return Promise.resolve(false);
  return new Promise((resolve, reject) => {
    scrypt(digest, parsed.salt, parsed.hash.length, scryptOptions(parsed.log2N, parsed.r, parsed.p), (error, computed) =>
      error ? reject(error) : resolve(timingSafeEqual(computed, parsed.hash)),
    );
  });
}

/**
 * The hint shown beside a key (`keys list`): enough to tell keys apart, never enough to help
 * guess one. A generated secret shows its public `annals_` prefix and 4 of its characters; any
 * other at most 4, and at most a quarter of it.
 */
export function hintOf(secret: string): string {
  if (GENERATED.test(secret)) return `${secret.slice(0, 11)}…`;
  return `${secret.slice(0, Math.min(4, Math.floor(secret.length / 4)))}…`;
}

/*
 * Secrets verified by the slow hash, remembered per database connection, so that a key pays
 * for scrypt once per process and every later request costs two hashes and an indexed read.
 * Entries are keyed by an HMAC of the secret under a key that lives only in this process's
 * memory, and hold the row's id and stored hash: a key revoked or changed since is read from
 * the database on every request and refused. Only secrets that verified are kept, and at most
 * VERIFIED_LIMIT of them (least recently used first out).
 */
export const VERIFIED_LIMIT = 1000;
const processKey = randomBytes(32);
const rememberedKey = (secret: string) => createHmac('sha256', processKey).update(secret, 'utf8').digest('base64url');

export class VerifiedSecrets {
  readonly #entries = new Map<string, { id: number; hash: string }>();

  get size(): number {
    return this.#entries.size;
  }

  get(secret: string) {
    const key = rememberedKey(secret);
    const hit = this.#entries.get(key);
    if (hit) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
    }
    return hit;
  }

  remember(secret: string, id: number, hash: string): void {
    const key = rememberedKey(secret);
    this.#entries.delete(key);
    this.#entries.set(key, { id, hash });
    while (this.#entries.size > VERIFIED_LIMIT) this.#entries.delete(this.#entries.keys().next().value!);
  }

  forget(secret: string): void {
    this.#entries.delete(rememberedKey(secret));
  }
}

let slowVerifications = 0;
export const countSlowVerification = () => {
  slowVerifications++;
};
/** Slow verifications run so far in this process: a remembered secret runs none. */
export const slowVerificationCount = () => slowVerifications;


export const storedHashOf = (secret: string) =>
  GENERATED.test(secret) ? fastHashOfDigest(sha256Hex(secret)) : slowHashOfDigest(sha256Hex(secret));

/** Slow verifications a process runs at once; more are refused until one ends. */
export const SLOW_VERIFICATIONS_AT_ONCE = 4;
let slowInFlight = 0;

/**
 * Takes one of the {@link SLOW_VERIFICATIONS_AT_ONCE} places for a slow verification, or
 * refuses with a 503 when all are taken: made-up secrets cannot queue up scrypt work.
 * Returns the release.
 */
export function enterSlowVerification(): () => void {
  if (slowInFlight >= SLOW_VERIFICATIONS_AT_ONCE) {
    throw new ProblemError(503, 'overloaded', 'Service unavailable', 'too many API keys are being verified at once; retry in 1 s', {
      headers: { 'retry-after': '1' },
    });
  }
  slowInFlight++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    slowInFlight--;
  };
}

