import { randomBytes } from 'node:crypto';
import type { RecordKind } from './types.js';

const keyPrefix: Record<RecordKind, string> = {
  source: 'src',
  place: 'place',
  actor: 'actor',
  event: 'event',
  statement: 'stmt',
  timeline: 'timeline',
};

/** A key for a record created without one: readable prefix, 80 random bits. */
export function generateKey(kind: RecordKind): string {
  return `${keyPrefix[kind]}:${randomBytes(10).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x')}`;
}

/**
 * True when `value` is written as a numeric id rather than a key. Only the canonical form
 * counts (`12`, not `012`, `+12` or ` 12`): one id has one spelling, so that two references
 * to the same record are the same text, and other spellings are no record at all.
 */
export const isNumericId = (value: string | number): boolean =>
  typeof value === 'number' || /^[1-9][0-9]{0,14}$/.test(value);
