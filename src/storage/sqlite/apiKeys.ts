import { createHash, createHmac, randomBytes, scrypt, scryptSync, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { and, asc, eq, isNull, like, not } from 'drizzle-orm';
import { clientOf } from './statements.js';
import { apiKeys } from './schema.js';
import { ProblemError } from '../../schemas/problems.js';
import { now, type Tx } from './support.js';

import { SCOPES, type ApiKeyInfo, type Scope } from '../types.js';
export { SCOPES, type ApiKeyInfo, type Scope } from '../types.js';

/** A new secret: 256 random bits, prefixed so that leaked keys are easy to recognise. */
export const generateSecret = () => `annals_${randomBytes(32).toString('base64url')}`;

/** What {@link generateSecret} makes: a secret no one could guess, so a fast hash keeps it. */
const GENERATED = /^annals_[A-Za-z0-9_-]{43}$/;

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
const SLOW = 'scrypt$';
const SCRYPT = { log2N: 15, r: 8, p: 1, keyLength: 32 };

const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const fastHashOfDigest = (digest: string) => `${FAST}${sha256Hex(`annals api key\0${digest}`)}`;

const scryptOptions = (log2N: number, r: number, p: number): ScryptOptions => ({
  N: 2 ** log2N,
  r,
  p,
  // the default (32 MiB) is exactly what N = 2^15, r = 8 needs, and Node refuses equality
  maxmem: 2 * 128 * 2 ** log2N * r * p + 1024 * 1024,
});

function slowHashOfDigest(digest: string): string {
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

function slowMatchesSync(stored: string, digest: string): boolean {
  const parsed = parseSlowHash(stored);
  if (!parsed) return false;
  const computed = scryptSync(digest, parsed.salt, parsed.hash.length, scryptOptions(parsed.log2N, parsed.r, parsed.p));
  return timingSafeEqual(computed, parsed.hash);
}

function slowMatches(stored: string, digest: string): Promise<boolean> {
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

class VerifiedSecrets {
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

const verifiedByConnection = new WeakMap<object, VerifiedSecrets>();
function verified(tx: Tx): VerifiedSecrets {
  const client = clientOf(tx);
  let secrets = verifiedByConnection.get(client);
  if (!secrets) {
    secrets = new VerifiedSecrets();
    verifiedByConnection.set(client, secrets);
  }
  return secrets;
}

/** How many verified secrets this connection remembers (at most {@link VERIFIED_LIMIT}). */
export const verifiedSecretCount = (tx: Tx) => verified(tx).size;

let slowVerifications = 0;
/** Slow verifications run so far in this process: a remembered secret runs none. */
export const slowVerificationCount = () => slowVerifications;


const info = (row: typeof apiKeys.$inferSelect): ApiKeyInfo => ({
  id: row.id,
  name: row.name,
  hint: row.hint,
  scopes: row.scopes as Scope[],
  createdAt: row.createdAt,
  revokedAt: row.revokedAt,
});

const storedHashOf = (secret: string) =>
  GENERATED.test(secret) ? fastHashOfDigest(sha256Hex(secret)) : slowHashOfDigest(sha256Hex(secret));

/** Stores a key; only its hash is kept, so the secret is returned this once. */
export function createApiKey(tx: Tx, name: string, scopes: readonly Scope[], secret = generateSecret()) {
  const row = tx
    .insert(apiKeys)
    .values({ name, hash: storedHashOf(secret), hint: hintOf(secret), scopes: [...scopes], createdAt: now() })
    .returning()
    .get();
  if (row.hash.startsWith(SLOW)) verified(tx).remember(secret, row.id, row.hash);
  return { secret, key: info(row) };
}

/**
 * Rewrites rows of earlier versions: a bare SHA-256 becomes the fast form when its hint shows a
 * generated secret (`annals_` and 4 characters), else the slow form over that SHA-256; a hint
 * longer than {@link hintOf} allows is cut. Runs at start-up; does nothing once done.
 */
export function upgradeApiKeys(tx: Tx): number {
  const legacy = tx
    .select()
    .from(apiKeys)
    .where(and(not(like(apiKeys.hash, `${FAST}%`)), not(like(apiKeys.hash, `${SLOW}%`))))
    .all();
  for (const row of legacy) {
    const generated = /^annals_[A-Za-z0-9_-]{4}…$/.test(row.hint);
    const digest = row.hash.toLowerCase();
    tx.update(apiKeys)
      .set({
        hash: generated ? fastHashOfDigest(digest) : slowHashOfDigest(digest),
        hint: generated ? row.hint : `${row.hint.replace(/…$/, '').slice(0, 4)}…`,
      })
      .where(eq(apiKeys.id, row.id))
      .run();
  }
  return legacy.length;
}

/** Ensures a live key with this secret and every scope exists (the bootstrap key). */
export function ensureApiKey(tx: Tx, name: string, secret: string): void {
  const digest = sha256Hex(secret);
  let existing = tx.select().from(apiKeys).where(eq(apiKeys.hash, fastHashOfDigest(digest))).get();
  if (existing && !GENERATED.test(secret)) {
    // upgraded from a bare SHA-256 by its hint, but chosen by hand: it takes the slow form
    const hash = slowHashOfDigest(digest);
    tx.update(apiKeys).set({ hash, hint: hintOf(secret) }).where(eq(apiKeys.id, existing.id)).run();
    existing = { ...existing, hash };
  }
  if (!existing && !GENERATED.test(secret)) {
    // revoked keys too: the bootstrap key is live again after every start
    existing = tx
      .select()
      .from(apiKeys)
      .where(like(apiKeys.hash, `${SLOW}%`))
      .all()
      .find((row) => slowMatchesSync(row.hash, digest));
  }
  if (!existing) {
    createApiKey(tx, name, SCOPES, secret);
    return;
  }
  tx.update(apiKeys).set({ revokedAt: null, scopes: [...SCOPES] }).where(eq(apiKeys.id, existing.id)).run();
  if (existing.hash.startsWith(SLOW)) verified(tx).remember(secret, existing.id, existing.hash);
}

const liveRow = (tx: Tx, where: ReturnType<typeof eq>) => {
  const row = tx.select().from(apiKeys).where(where).get();
  return row && row.revokedAt === null ? row : undefined;
};

/**
 * The live key with this secret when it is known without the slow hash (a generated secret,
 * or one verified before by this process); null when there is none; undefined when only the
 * slow hash can tell ({@link verifySecret}).
 */
export function knownApiKey(tx: Tx, secret: string): ApiKeyInfo | null | undefined {
  const remembered = verified(tx).get(secret);
  if (remembered) {
    const row = tx.select().from(apiKeys).where(eq(apiKeys.id, remembered.id)).get();
    if (row && row.hash === remembered.hash) return row.revokedAt === null ? info(row) : null;
    verified(tx).forget(secret);
  }
  const fast = fastHashOfDigest(sha256Hex(secret));
  const row = tx.select().from(apiKeys).where(eq(apiKeys.hash, fast)).get();
  // the lookup is by hash; compare again in constant time so that no timing leaks a prefix
  if (row && timingSafeEqual(Buffer.from(row.hash), Buffer.from(fast))) return row.revokedAt === null ? info(row) : null;
  // a generated secret is only ever stored in the fast form
  if (GENERATED.test(secret)) return null;
  return undefined;
}

/** Slow verifications a process runs at once; more are refused until one ends. */
export const SLOW_VERIFICATIONS_AT_ONCE = 4;
let slowInFlight = 0;

/**
 * The live key with this secret, verified with the slow hash against every live key stored in
 * the slow form. Remembers a secret that verifies. Several at once beyond
 * {@link SLOW_VERIFICATIONS_AT_ONCE} are a 503: made-up secrets cannot queue up scrypt work.
 */
export async function verifySecret(tx: Tx, secret: string): Promise<ApiKeyInfo | null> {
  const known = knownApiKey(tx, secret);
  if (known !== undefined) return known;
  if (slowInFlight >= SLOW_VERIFICATIONS_AT_ONCE) {
    throw new ProblemError(503, 'overloaded', 'Service unavailable', 'too many API keys are being verified at once; retry in 1 s', {
      headers: { 'retry-after': '1' },
    });
  }
  slowInFlight++;
  try {
    const digest = sha256Hex(secret);
    const candidates = tx
      .select({ id: apiKeys.id, hash: apiKeys.hash })
      .from(apiKeys)
      .where(and(like(apiKeys.hash, `${SLOW}%`), isNull(apiKeys.revokedAt)))
      .all();
    for (const candidate of candidates) {
      slowVerifications++;
      if (!(await slowMatches(candidate.hash, digest))) continue;
      const row = liveRow(tx, eq(apiKeys.id, candidate.id));
      if (!row || row.hash !== candidate.hash) return null;
      verified(tx).remember(secret, row.id, row.hash);
      return info(row);
    }
    return null;
  } finally {
    slowInFlight--;
  }
}

export function listApiKeys(tx: Tx, includeRevoked = false): ApiKeyInfo[] {
  const query = tx.select().from(apiKeys);
  return (includeRevoked ? query : query.where(isNull(apiKeys.revokedAt))).orderBy(asc(apiKeys.id)).all().map(info);
}

export function revokeApiKey(tx: Tx, id: number): boolean {
  const result = tx.update(apiKeys).set({ revokedAt: now() }).where(eq(apiKeys.id, id)).run();
  return result.changes > 0;
}
