import { timingSafeEqual } from 'node:crypto';
import { and, asc, eq, isNull, like, not } from 'drizzle-orm';
import { clientOf } from './statements.js';
import { apiKeys } from './schema.js';
import {
  countSlowVerification,
  enterSlowVerification,
  fastHashOfDigest,
  GENERATED,
  generateSecret,
  hintOf,
  LIKE_FAST,
  LIKE_SLOW,
  sha256Hex,
  SLOW,
  slowHashOfDigest,
  slowMatches,
  slowMatchesSync,
  storedHashOf,
  VerifiedSecrets,
} from '../api-key-hashes.js';
import { now, type Tx } from './transactions.js';

import { SCOPES, type ApiKeyInfo, type Scope } from '../types.js';
export { SCOPES, type ApiKeyInfo, type Scope } from '../types.js';
export {
  generateSecret,
  hintOf,
  slowVerificationCount,
  SLOW_VERIFICATIONS_AT_ONCE,
  VERIFIED_LIMIT,
} from '../api-key-hashes.js';

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

const info = (row: typeof apiKeys.$inferSelect): ApiKeyInfo => ({
  id: row.id,
  name: row.name,
  hint: row.hint,
  scopes: row.scopes as Scope[],
  createdAt: row.createdAt,
  revokedAt: row.revokedAt,
});

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
    .where(and(not(like(apiKeys.hash, LIKE_FAST)), not(like(apiKeys.hash, LIKE_SLOW))))
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
      .where(like(apiKeys.hash, LIKE_SLOW))
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

/**
 * The live key with this secret, verified with the slow hash against every live key stored in
 * the slow form. Remembers a secret that verifies. Several at once beyond
 * {@link SLOW_VERIFICATIONS_AT_ONCE} are a 503: made-up secrets cannot queue up scrypt work.
 */
export async function verifySecret(tx: Tx, secret: string): Promise<ApiKeyInfo | null> {
  const known = knownApiKey(tx, secret);
  if (known !== undefined) return known;
  const release = enterSlowVerification();
  try {
    const digest = sha256Hex(secret);
    const candidates = tx
      .select({ id: apiKeys.id, hash: apiKeys.hash })
      .from(apiKeys)
      .where(and(like(apiKeys.hash, LIKE_SLOW), isNull(apiKeys.revokedAt)))
      .all();
    for (const candidate of candidates) {
      countSlowVerification();
      if (!(await slowMatches(candidate.hash, digest))) continue;
      const row = liveRow(tx, eq(apiKeys.id, candidate.id));
      if (!row || row.hash !== candidate.hash) return null;
      verified(tx).remember(secret, row.id, row.hash);
      return info(row);
    }
    return null;
  } finally {
    release();
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
