import { z } from 'zod';

export class ConfigError extends Error {}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Connections each server keeps to PostgreSQL when ANNALS_DB_POOL is not set: one Node
 * process runs one query at a time per connection, and a handful covers its concurrency
 * while N servers together stay well under PostgreSQL's default max_connections (100).
 */
export const DEFAULT_POOL_SIZE = 10;

/**
 * The most SQLite maps of a file (its compile-time SQLITE_MAX_MMAP_SIZE in better-sqlite3's
 * build, 0x7fff0000 bytes): it silently caps a larger mmap_size there.
 */
export const SQLITE_MMAP_MAX_MB = 2047;

/** Where the data lives, as ANNALS_DB names it. */
export type DatabaseTarget =
  | { engine: 'sqlite'; path: string }
  | { engine: 'postgres'; url: string };

/** A PostgreSQL database to serve from, with the size of this server's connection pool. */
export interface PostgresTarget {
  /** A `postgres://` or `postgresql://` connection URL (libpq's form, as node-postgres reads it). */
  url: string;
  poolSize: number;
}

/**
 * Reads ANNALS_DB: a `postgres://` or `postgresql://` URL names a PostgreSQL database; any
 * other `scheme://` value is refused, so that a mistyped URL (`postgress://`, `mysql://`) is
 * an error at start-up instead of a folder of that name holding a new SQLite file; anything
 * else is the path of an SQLite file (or `:memory:`).
 */
export function parseDatabaseTarget(value: string): DatabaseTarget {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(value)?.[1]?.toLowerCase();
  if (scheme === undefined) return { engine: 'sqlite', path: value };
  if (scheme !== 'postgres' && scheme !== 'postgresql') {
    throw new ConfigError(
      `ANNALS_DB: ${scheme}:// is not a database Annals can use (a postgres:// or postgresql:// URL, or the path of an SQLite file)`,
    );
  }
  // the value is not repeated in the message: the URL may hold a password
  if (!URL.canParse(value)) {
    throw new ConfigError('ANNALS_DB: not a valid PostgreSQL URL (postgres://user:password@host:port/database)');
  }
  return { engine: 'postgres', url: value };
}

/** Everything the server reads from its environment, read once at start-up. */
export const environmentSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  ANNALS_DB: z.string().min(1).default('data/annals.db'),
  ANNALS_DB_POOL: z.coerce.number().int().min(1).max(1000).default(DEFAULT_POOL_SIZE),
  ANNALS_BOOTSTRAP_KEY: z
    .string()
    .min(16, 'must be at least 16 characters so that it cannot be guessed')
    .optional(),
  ANNALS_SEED: z.enum(['auto', 'off']).default('auto'),
  ANNALS_CORS_ORIGINS: z
    .string()
    .default('*')
    .refine(
      (value) => value === '*' || value.split(',').every((o) => /^https?:\/\/[^/\s]+$/.test(o.trim())),
      'must be * or a comma-separated list of origins such as https://example.org',
    ),
  LOG_LEVEL: z.enum(logLevels).default('info'),
  ANNALS_RATE_LIMIT: z.coerce.number().int().min(0).default(600),
  ANNALS_TRUST_PROXY: z.enum(['true', 'false']).default('false'),
  ANNALS_SYNCHRONOUS: z.enum(['FULL', 'NORMAL']).default('FULL'),
  ANNALS_SQLITE_MMAP_MB: z.coerce.number().int().min(0).max(SQLITE_MMAP_MAX_MB).default(SQLITE_MMAP_MAX_MB),
  ANNALS_IMPORT_LIMIT_MB: z.coerce.number().int().min(1).max(1_000_000).default(1024),
  ANNALS_BULK_IMPORT_MIN_MB: z.coerce.number().int().min(0).max(1_000_000).default(8),
  ANNALS_WORKERS: z.coerce.number().int().min(1).max(64).default(1),
  ANNALS_BODY_IDLE_TIMEOUT_S: z.coerce.number().int().min(0).max(3600).default(30),
  ANNALS_EXPORT_TIMEOUT_S: z.coerce.number().int().min(1).max(86_400).default(900),
  ANNALS_SHUTDOWN_TIMEOUT_S: z.coerce.number().int().min(0).max(3600).default(15),
  ANNALS_CHANGES_RETENTION_DAYS: z.coerce.number().min(0).max(36_500).default(30),
});

export interface AppConfig {
  /** Path of the SQLite database file, or `:memory:`; not read when `postgres` is set. */
  databasePath: string;
  /** When set, the data lives in this PostgreSQL database instead of an SQLite file. */
  postgres?: PostgresTarget | undefined;
  /** When set, an API key with this secret and every scope exists after start-up. */
  bootstrapKey?: string | undefined;
  /** Load the shipped seed dataset into an empty database at start-up. */
  seedWhenEmpty: boolean;
  logLevel: (typeof logLevels)[number];
  /** Origins allowed by CORS: `*` (the default) or a list. */
  corsOrigins?: '*' | string[] | undefined;
  /** Requests per minute per API key (or per client address without one); 0 turns limits off. */
  rateLimit?: number;
  /** Trust X-Forwarded-For from a proxy in front (off: the socket's address is the client). */
  trustProxy?: boolean;
  /** SQLite `synchronous`: FULL survives power loss; NORMAL is faster and may lose the last commits then. */
  synchronous?: 'FULL' | 'NORMAL';
  /** How much of the SQLite file the serving connection reads through a memory map (MiB; 0: none, every page read by a system call). */
  sqliteMmapMb?: number;
  /** Largest import body, in bytes. */
  importLimitBytes?: number;
  /**
   * An import into an empty database whose `Content-Length` is at least this many bytes is one
   * bulk load (default BULK_IMPORT_MIN_BYTES, src/routes/import.ts); smaller ones, and bodies of
   * unknown length, go batch by batch.
   */
  bulkImportMinBytes?: number;
  /** A request body that stops arriving for this long (between chunks) is cut with a 408; 0 never. */
  bodyIdleTimeoutMs?: number;
  /**
   * Longest an export may stream, in milliseconds: it reads a snapshot, which keeps the WAL
   * from being checkpointed past it, so a client that reads slowly (or not at all) must not
   * hold one for ever. Past it the export is aborted (the client sees a broken response).
   */
  exportTimeoutMs?: number;
  /**
   * An import through the API that stores at least this many records refreshes the planner's
   * statistics when it ends (default STATISTICS_AFTER_IMPORT_RECORDS, src/storage/port.ts).
   */
  statisticsAfterImportRecords?: number;
  /** How often the serving connection runs `PRAGMA optimize`, in milliseconds (default hourly); 0 never. */
  optimizeIntervalMs?: number;
  /** How long the change log keeps a change, in milliseconds (default CHANGES_RETENTION_MS: 30 days). */
  changesRetentionMs?: number;
  /** How often changes past the retention are pruned, in milliseconds (default hourly); 0 never. */
  changesPruneIntervalMs?: number;
  /** How often a live change feed looks for new changes in the log (written by any process), in milliseconds. */
  changesPollMs?: number;
  /** How often a quiet live change feed sends a heartbeat comment, in milliseconds. */
  changesHeartbeatMs?: number;
}

export const CHANGES_RETENTION_MS = 30 * 24 * 3600_000;

export interface ServerConfig extends AppConfig {
  port: number;
  host: string;
  /** Processes serving the same port and database (node:cluster); 1 serves from this process. */
  workers: number;
  /**
   * How long a shutdown waits for the requests in flight, in milliseconds; then the
   * connections still open are closed and the process exits.
   */
  shutdownTimeoutMs: number;
}

/** Reads and validates the environment; a bad value throws one line naming the variable. */
export function readServerConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const picked = Object.fromEntries(
    Object.keys(environmentSchema.shape).map((name) => [name, env[name] === '' ? undefined : env[name]]),
  );
  const result = environmentSchema.safeParse(picked);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    throw new ConfigError(`${name}=${JSON.stringify(picked[name] ?? '')}: ${issue.message}`);
  }
  const e = result.data;
  const target = parseDatabaseTarget(e.ANNALS_DB);
  return {
    port: e.PORT,
    host: e.HOST,
    workers: e.ANNALS_WORKERS,
    databasePath: target.engine === 'sqlite' ? target.path : '',
    postgres: target.engine === 'postgres' ? { url: target.url, poolSize: e.ANNALS_DB_POOL } : undefined,
    bootstrapKey: e.ANNALS_BOOTSTRAP_KEY,
    seedWhenEmpty: e.ANNALS_SEED === 'auto',
    logLevel: e.LOG_LEVEL,
    corsOrigins: e.ANNALS_CORS_ORIGINS === '*' ? '*' : e.ANNALS_CORS_ORIGINS.split(',').map((o) => o.trim()),
    rateLimit: e.ANNALS_RATE_LIMIT,
    trustProxy: e.ANNALS_TRUST_PROXY === 'true',
    synchronous: e.ANNALS_SYNCHRONOUS,
    sqliteMmapMb: e.ANNALS_SQLITE_MMAP_MB,
    importLimitBytes: e.ANNALS_IMPORT_LIMIT_MB * 1024 * 1024,
    bulkImportMinBytes: e.ANNALS_BULK_IMPORT_MIN_MB * 1024 * 1024,
    bodyIdleTimeoutMs: e.ANNALS_BODY_IDLE_TIMEOUT_S * 1000,
    exportTimeoutMs: e.ANNALS_EXPORT_TIMEOUT_S * 1000,
    shutdownTimeoutMs: e.ANNALS_SHUTDOWN_TIMEOUT_S * 1000,
    changesRetentionMs: e.ANNALS_CHANGES_RETENTION_DAYS * 24 * 3600_000,
  };
}
