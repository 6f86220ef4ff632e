/**
 * Errors of any engine that mean "the database is busy, try again" or "the database cannot be
 * reached, try again": answered 503 with Retry-After rather than 500. Told apart by the codes
 * the drivers set, so nothing above storage needs a driver to recognise them.
 */
const POSTGRES_BUSY_CODES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  '57P03', // cannot_connect_now (starting up or shutting down)
  '53300', // too_many_connections
]);

/** PostgreSQL ended the connection (an administrator, a crash, a failover) or lost it (class 08). */
const POSTGRES_UNAVAILABLE_CODES = new Set(['57P01', '57P02', '08000', '08001', '08003', '08004', '08006']);
/** What node-postgres says, without a code, of a connection that ended or could not be had from the pool in time. */
const LOST_CONNECTION_MESSAGES = new Set(['Connection terminated unexpectedly', 'timeout exceeded when trying to connect']);
/** A connection to the database server that could not be made (never a client's upload, which is not a connect). */
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** The error and its causes: drizzle wraps a driver's error in one of its own (DrizzleQueryError). */
function* causes(error: unknown): Generator<{ code?: unknown; message?: unknown; syscall?: unknown }> {
  for (let depth = 0; typeof error === 'object' && error !== null && depth < 5; depth++) {
    yield error;
    error = (error as { cause?: unknown }).cause;
  }
}

/** SQLITE_BUSY and SQLITE_LOCKED (and their extended codes), or PostgreSQL's transient lock and capacity errors. */
export function isBusyError(error: unknown): boolean {
  for (const { code } of causes(error)) {
    if (typeof code !== 'string') continue;
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED') || POSTGRES_BUSY_CODES.has(code)) return true;
  }
  return false;
}

/** A database server that ended the connection a request was using, or could not be connected to. */
export function isUnavailableError(error: unknown): boolean {
  for (const { code, message, syscall } of causes(error)) {
    if (typeof code === 'string' && POSTGRES_UNAVAILABLE_CODES.has(code)) return true;
    if (typeof code === 'string' && CONNECT_CODES.has(code) && (syscall === 'connect' || syscall === 'getaddrinfo')) return true;
    if (typeof message === 'string' && LOST_CONNECTION_MESSAGES.has(message)) return true;
  }
  return false;
}
