import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { settings } from '../db/schema.js';
import type { Tx } from './support.js';

/**
 * The secret that signs cursors. It lives in the database so that it survives restarts and
 * every server on the same database accepts the others' cursors.
 */
export function cursorSecret(tx: Tx): Buffer {
  const name = 'cursor_secret';
  tx.insert(settings)
    .values({ name, value: randomBytes(32).toString('base64') })
    .onConflictDoNothing()
    .run();
  const row = tx.select({ value: settings.value }).from(settings).where(eq(settings.name, name)).get();
  return Buffer.from(row!.value, 'base64');
}
