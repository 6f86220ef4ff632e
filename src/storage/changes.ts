/**
 * What both engines' change logs share: a change as a write notes it before the log gives it
 * its sequence, and how an update's changed fields are told.
 */
import type { ChangeOperation, RecordKind } from './types.js';

/** A change before it has its sequence. */
export interface NewChange {
  kind: RecordKind;
  id: number;
  key: string;
  operation: ChangeOperation;
  fields: string[] | null;
  /** An update's changed fields as they were, or a deleted record's whole stored form; null for a create. */
  previous: Record<string, unknown> | null;
}

/**
 * The top-level fields whose values differ between two stored forms of a record (an update's
 * changed fields, compared as JSON), and what they were.
 */
export function changedFields(before: object, after: object): { fields: string[]; previous: Record<string, unknown> } {
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  const fields = [...names].filter((name) => JSON.stringify(a[name]) !== JSON.stringify(b[name])).sort();
  return { fields, previous: Object.fromEntries(fields.map((name) => [name, a[name] ?? null])) };
}
