/**
 * How long a write waits for the write lock that another write holds, on either engine, before
 * it gives up and answers 503 `database-busy` with Retry-After (src/plugins/problems.ts). The
 * same on both engines, so that a client sees the same answer whichever it is served from.
 */

/**
 * A write through the API (a create, change or delete). SQLite waits this long inside its busy
 * handler, which blocks the process's one thread: it is kept to what a client waits for an
 * answer without giving up. PostgreSQL waits as long, though it blocks nothing, so that a
 * write kept waiting behind a long import answers as it would on SQLite, instead of holding
 * its request and a pool connection for as long as the import runs.
 */
export const WRITE_LOCK_WAIT_MS = 5000;

/**
 * An import's batch, a bulk load, a dry run, an idempotency key's claim: work a client expects
 * to take a while, which waits its turn for longer. Once an import holds the lock, nothing
 * bounds how long it keeps it: it is the writes arriving meanwhile that answer busy.
 */
export const IMPORT_LOCK_WAIT_MS = 60_000;
