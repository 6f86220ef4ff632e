// Transitional: what this module held is split by concern (transactions, references, rows, and
// the engine-neutral keys, dates and languages); the re-exports go once every import is moved.
export type { RecordKind, RefTable } from '../types.js';
export { pickLanguage } from '../language.js';
export { generateKey, isNumericId } from '../keys.js';
export { PARSED_DATES_LIMIT, SPAN_CLASS_MAX_DAYS, dateColumns, dateValue, dayBounds, parsedDateCount, spanClass } from '../dates.js';
export * from './transactions.js';
export * from './references.js';
export * from './rows.js';
