import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { asc, eq, isNull } from 'drizzle-orm';
import { apiKeys } from '../db/schema.js';
import { now, type Tx } from './support.js';

export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

const hashSecret = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('hex');

/** A new secret: 256 random bits, prefixed so that leaked keys are easy to recognise. */
export const generateSecret = () => `annals_${randomBytes(32).toString('base64url')}`;

export interface ApiKeyInfo {
  id: number;
  name: string;
  hint: string;
  scopes: Scope[];
  createdAt: string;
  revokedAt: string | null;
}

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
    .values({
      name,
      hash: hashSecret(secret),
      hint: `${secret.slice(0, 11)}…`,
      scopes: [...scopes],
      createdAt: now(),
    })
    .returning()
    .get();
  return { secret, key: info(row) };
}

/** Ensures a live key with this secret and every scope exists (the bootstrap key). */
export function ensureApiKey(tx: Tx, name: string, secret: string): void {
  const existing = tx.select().from(apiKeys).where(eq(apiKeys.hash, hashSecret(secret))).get();
  if (!existing) createApiKey(tx, name, SCOPES, secret);
  else tx.update(apiKeys).set({ revokedAt: null, scopes: [...SCOPES] }).where(eq(apiKeys.id, existing.id)).run();
}

/**
 * The live key with this secret, or null. The lookup is by hash, and the stored hash is
 * compared again in constant time so that no timing of the index lookup leaks a prefix.
 */
export function authenticate(tx: Tx, secret: string): ApiKeyInfo | null {
  const hash = hashSecret(secret);
  const row = tx.select().from(apiKeys).where(eq(apiKeys.hash, hash)).get();
  if (!row || row.revokedAt !== null) return null;
  const same = timingSafeEqual(Buffer.from(row.hash, 'hex'), Buffer.from(hash, 'hex'));
  return same ? info(row) : null;
}

export function listApiKeys(tx: Tx, includeRevoked = false): ApiKeyInfo[] {
  const query = tx.select().from(apiKeys);
  return (includeRevoked ? query : query.where(isNull(apiKeys.revokedAt))).orderBy(asc(apiKeys.id)).all().map(info);
}

export function revokeApiKey(tx: Tx, id: number): boolean {
  const result = tx.update(apiKeys).set({ revokedAt: now() }).where(eq(apiKeys.id, id)).run();
  return result.changes > 0;
}
