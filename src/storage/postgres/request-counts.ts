import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { RequestCount } from '../request-counts.js';
import { holdsNul } from './text.js';

/**
 * The rate limits' counts on PostgreSQL, one table shared by every server, so that a client
 * gets its budget once whichever servers its requests reach. Each request costs one statement:
 * an upsert that starts a new window when the last has run out, else counts on, and returns
 * the count and the time left, both on the database's clock (servers' clocks may disagree).
 * It runs outside any transaction (its own commit, on an UNLOGGED table: no WAL flush to wait
 * for) and as a named statement, parsed and planned once per connection.
 */
const COUNT_REQUEST = {
  name: 'annals-count-request',
  text: `INSERT INTO request_counts AS counted (key, requests, expires_at)
         VALUES ($1, 1, now() + $2::integer * interval '1 millisecond')
         ON CONFLICT (key) DO UPDATE SET
           requests = CASE WHEN counted.expires_at <= now() THEN 1 ELSE counted.requests + 1 END,
           expires_at = CASE WHEN counted.expires_at <= now() THEN excluded.expires_at ELSE counted.expires_at END
         RETURNING requests, ceil(extract(epoch FROM expires_at - now()) * 1000)::integer AS ttl_ms`,
};

/** How often a server deletes the windows that have run out (any server may: the table is shared). */
export const PRUNE_REQUEST_COUNTS_MS = 60_000;

/** Keys longer than this (an address behind a proxy is what the client forwarded) are stored as their hash. */
const MAX_STORED_KEY = 200;

/** The key as stored: itself when the index can hold it and PostgreSQL's text can store it, else its SHA-256. */
const storedKey = (key: string) =>
  key.length <= MAX_STORED_KEY && !holdsNul(key) ? key : `sha256:${createHash('sha256').update(key).digest('hex')}`;

/**
 * Counts requests for one storage: the upsert, and once every {@link PRUNE_REQUEST_COUNTS_MS}
 * a delete of what has expired first, so that the table holds about the clients of the last
 * windows (a sequential scan of a small table, no index on the expiry to keep up per request).
 */
export class RequestCounter {
  #nextPruneMs = 0;

  constructor(private readonly pool: pg.Pool) {}

  async count(key: string, windowMs: number): Promise<RequestCount> {
    const nowMs = Date.now();
    if (nowMs >= this.#nextPruneMs) {
      this.#nextPruneMs = nowMs + PRUNE_REQUEST_COUNTS_MS;
      await this.pool.query('DELETE FROM request_counts WHERE expires_at <= now()');
    }
    const { rows } = await this.pool.query<{ requests: number; ttl_ms: number }>({
      ...COUNT_REQUEST,
      values: [storedKey(key), Math.trunc(windowMs)],
    });
    const row = rows[0]!;
    return { current: row.requests, ttlMs: Math.max(0, row.ttl_ms) };
  }
}
