/**
 * Request counting for the rate limits (src/plugins/limits.ts): a fixed window per client key,
 * counted by the storage port's `countRequest` so that every server on one database can share
 * the count. The SQLite engine serves one machine and counts in process, with the counters
 * below; the PostgreSQL engine counts in a table every server writes to.
 */

/** A client's requests in its current window, this one included, and how long that window has left. */
export interface RequestCount {
  current: number;
  ttlMs: number;
}

/**
 * Clients counted in process at once, over every budget (requests per key or address, failures
 * per address); the least recently seen go first.
 */
export const REQUEST_COUNTERS_LIMIT = 20_000;

interface Window {
  current: number;
  startMs: number;
}

/**
 * In-process counters: a window per client key, and at most {@link REQUEST_COUNTERS_LIMIT}
 * keys, so that clients who each come once (new addresses, forged forwarded-for headers
 * behind a proxy) cannot grow it without end.
 */
export class BoundedCounters {
  readonly #windows = new Map<string, Window>();

  constructor(private readonly limit = REQUEST_COUNTERS_LIMIT) {}

  get size(): number {
    return this.#windows.size;
  }

  /** Counts one request of `key` in its window of `windowMs` (a new window when the last one has run out). */
  count(key: string, windowMs: number, nowMs = Date.now()): RequestCount {
    let window = this.#windows.get(key);
    if (!window || window.startMs + windowMs <= nowMs) window = { current: 1, startMs: nowMs };
    else window.current++;
    // re-inserted, so that the map's order is the order clients were last seen in
    this.#windows.delete(key);
    this.#windows.set(key, window);
    while (this.#windows.size > this.limit) this.#windows.delete(this.#windows.keys().next().value!);
    return { current: window.current, ttlMs: windowMs - (nowMs - window.startMs) };
  }
}
