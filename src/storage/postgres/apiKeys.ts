import { timingSafeEqual } from 'node:crypto';
import { and, asc, eq, isNull, like, not, sql } from 'drizzle-orm';
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
  storedHashOf,
  VerifiedSecrets,
} from '../api-key-hashes.js';
import { SCOPES, type ApiKeyInfo, type Scope } from '../types.js';
import type { PgDb } from './client.js';
import { apiKeys } from './schema.js';
import { MAX_ID } from './text.js';
import { now, type PgTx } from './transactions.js';

/**
 * API keys on PostgreSQL: the rows every server shares, hashed and checked as on SQLite
 * (src/storage/api-key-hashes.ts). A key revoked through one server is refused by every other
 * at its next request: what a server remembers of a verified secret is checked against the
 * row each time.
 */

const verifiedByPool = new WeakMap<object, VerifiedSecrets>();
function verified(db: PgDb): VerifiedSecrets {
  let secrets = verifiedByPool.get(db.$client);
  if (!secrets) {
    secrets = new VerifiedSecrets();
    verifiedByPool.set(db.$client, secrets);
  }
  return secrets;
}

export const verifiedSecretCount = (db: PgDb) => verified(db).size;

/** The lock that orders the servers' start-up key work (the bootstrap key, upgrades): "annals keys". */
const KEYS_LOCK = '107083530496116';

const info = (row: typeof apiKeys.$inferSelect): ApiKeyInfo => ({
  id: row.id,
  name: row.name,
  hint: row.hint,
  scopes: row.scopes as Scope[],
  createdAt: row.createdAt,
  revokedAt: row.revokedAt,
});

/** Stores a key; only its hash is kept, so the secret is returned this once. */
export async function createApiKey(db: PgDb, tx: PgTx, name: string, scopes: readonly Scope[], secret = generateSecret()) {
  const [row] = await tx
    .insert(apiKeys)
    .values({ name, hash: storedHashOf(secret), hint: hintOf(secret), scopes: [...scopes], createdAt: now() })
    .returning();
  if (row!.hash.startsWith(SLOW)) verified(db).remember(secret, row!.id, row!.hash);
  return { secret, key: info(row!) };
}

/**
 * At start-up, under one lock for every server starting at once: rows of earlier versions
 * upgraded (as on SQLite), and the bootstrap key made live with every scope.
 */
export async function prepareApiKeys(db: PgDb, bootstrap: { name: string; secret: string } | undefined): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${KEYS_LOCK}::bigint)`);
    const legacy = await tx
      .select()
      .from(apiKeys)
      .where(and(not(like(apiKeys.hash, LIKE_FAST)), not(like(apiKeys.hash, LIKE_SLOW))));
    for (const row of legacy) {
      const generated = /^annals_[A-Za-z0-9_-]{4}…$/.test(row.hint);
      const digest = row.hash.toLowerCase();
      await tx
        .update(apiKeys)
        .set({
          hash: generated ? fastHashOfDigest(digest) : slowHashOfDigest(digest),
          hint: generated ? row.hint : `${row.hint.replace(/…$/, '').slice(0, 4)}…`,
        })
        .where(eq(apiKeys.id, row.id));
    }
    if (bootstrap) await ensureApiKey(db, tx, bootstrap.name, bootstrap.secret);
  });
}

/** Ensures a live key with this secret and every scope exists (the bootstrap key). */
async function ensureApiKey(db: PgDb, tx: PgTx, name: string, secret: string): Promise<void> {
  const digest = sha256Hex(secret);
  let [existing] = await tx.select().from(apiKeys).where(eq(apiKeys.hash, fastHashOfDigest(digest)));
  if (existing && !GENERATED.test(secret)) {
    // upgraded from a bare SHA-256 by its hint, but chosen by hand: it takes the slow form
    const hash = slowHashOfDigest(digest);
    await tx.update(apiKeys).set({ hash, hint: hintOf(secret) }).where(eq(apiKeys.id, existing.id));
    existing = { ...existing, hash };
  }
  if (!existing && !GENERATED.test(secret)) {
    // revoked keys too: the bootstrap key is live again after every start
    for (const row of await tx.select().from(apiKeys).where(like(apiKeys.hash, LIKE_SLOW))) {
      if (await slowMatches(row.hash, digest)) {
        existing = row;
        break;
      }
    }
  }
  if (!existing) {
    await createApiKey(db, tx, name, SCOPES, secret);
    return;
  }
  await tx.update(apiKeys).set({ revokedAt: null, scopes: [...SCOPES] }).where(eq(apiKeys.id, existing.id));
  if (existing.hash.startsWith(SLOW)) verified(db).remember(secret, existing.id, existing.hash);
}

/**
 * The live key with this secret when it is known without the slow hash; null when there is
 * none; undefined when only the slow hash can tell ({@link verifySecret}).
 */
export async function knownApiKey(db: PgDb, secret: string): Promise<ApiKeyInfo | null | undefined> {
  const remembered = verified(db).get(secret);
  if (remembered) {
    const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, remembered.id));
    if (row && row.hash === remembered.hash) return row.revokedAt === null ? info(row) : null;
    verified(db).forget(secret);
  }
  const fast = fastHashOfDigest(sha256Hex(secret));
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.hash, fast));
  // the lookup is by hash; compare again in constant time so that no timing leaks a prefix
  if (row && timingSafeEqual(Buffer.from(row.hash), Buffer.from(fast))) return row.revokedAt === null ? info(row) : null;
  if (GENERATED.test(secret)) return null;
  return undefined;
}

/** The live key with this secret, verified with the slow hash (at most a few at once per process: a 503 beyond). */
export async function verifySecret(db: PgDb, secret: string): Promise<ApiKeyInfo | null> {
  const known = await knownApiKey(db, secret);
  if (known !== undefined) return known;
  const release = enterSlowVerification();
  try {
    const digest = sha256Hex(secret);
    const candidates = await db
      .select({ id: apiKeys.id, hash: apiKeys.hash })
      .from(apiKeys)
      .where(and(like(apiKeys.hash, LIKE_SLOW), isNull(apiKeys.revokedAt)));
    for (const candidate of candidates) {
      countSlowVerification();
      if (!(await slowMatches(candidate.hash, digest))) continue;
      const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, candidate.id));
      if (!row || row.revokedAt !== null || row.hash !== candidate.hash) return null;
      verified(db).remember(secret, row.id, row.hash);
      return info(row);
    }
    return null;
  } finally {
    release();
  }
}

export async function listApiKeys(db: PgDb, includeRevoked = false): Promise<ApiKeyInfo[]> {
  const rows = await db
    .select()
    .from(apiKeys)
    .where(includeRevoked ? undefined : isNull(apiKeys.revokedAt))
    .orderBy(asc(apiKeys.id));
  return rows.map(info);
}

export async function revokeApiKey(db: PgDb, id: number): Promise<boolean> {
  if (id > MAX_ID) return false;
  const rows = await db.update(apiKeys).set({ revokedAt: now() }).where(eq(apiKeys.id, id)).returning({ id: apiKeys.id });
  return rows.length > 0;
}
