/**
 * Errors of any engine that mean "the database is busy, try again": answered 503 with
 * Retry-After rather than 500. Told apart by the codes the drivers set, so nothing above
 * storage needs a driver to recognise them.
 */
const POSTGRES_BUSY_CODES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  '57P03', // cannot_connect_now (starting up or shutting down)
  '53300', // too_many_connections
]);

/** SQLITE_BUSY and SQLITE_LOCKED (and their extended codes), or PostgreSQL's transient lock and capacity errors. */
export function isBusyError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED') || POSTGRES_BUSY_CODES.has(code);
}
