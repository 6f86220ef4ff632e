import { validationFailed, type FieldError } from '../../schemas/problems.js';

/**
 * PostgreSQL's text cannot hold U+0000 (SQLite's can). The rule on this engine: a record
 * whose text fields hold it is refused (400, naming each field), as a lone surrogate is on
 * both engines (src/import/unicode.ts); a look-up by a key holding it finds nothing, since
 * no stored key can. JSON columns keep it, escaped as `\u0000` in their text.
 */
export const holdsNul = (value: string) => value.includes('\u0000');

/** Refuses `write` when one of its `fields` is a string holding U+0000 (paths under `at`). */
export function refuseNul<W extends object>(write: W, fields: readonly (keyof W & string)[], at = ''): void {
  const errors: FieldError[] = [];
  for (const field of fields) {
    const value = write[field];
    if (typeof value === 'string' && holdsNul(value)) {
      errors.push({ in: 'body', path: `${at}/${field}`, message: 'must not contain U+0000 (NUL)' });
    }
  }
  if (errors.length > 0) throw validationFailed(errors.map((e) => `${e.path}: ${e.message}`).join('; '), errors);
}

/** PostgreSQL's integer: an id past it names no record (a look-up must not fail on it). */
export const MAX_ID = 2_147_483_647;
