/**
 * Tells the page that the data it shows may have changed. The server pushes: an EventSource on
 * the changes feed (/v1/changes as Server-Sent Events), filtered to the view's window and
 * filters, so that the page hears only of writes that touch it. Where that cannot work (no
 * EventSource, or the feed refused for good), it polls the API's ETags instead.
 */
export interface ChangeFeed {
  /** Calls `listener` after changes; returns the function that stops listening. */
  subscribe(listener: () => void): () => void;
  /** Follows the changes that touch this timeline query (the view's window and filters) from now on. */
  watch(query: URLSearchParams): void;
}

/** The parameters of a timeline query the changes feed filters by; the others (text, language) it does not take. */
const FEED_PARAMS = ['from', 'to', 'actor', 'place', 'type', 'kind'] as const;

/** Changes that come together (an import, a replay after a reconnection) make one call of the listeners. */
const COALESCE_MS = 50;

export function feedQuery(query: URLSearchParams): string {
  const params = new URLSearchParams();
  for (const name of FEED_PARAMS) for (const value of query.getAll(name)) if (value) params.append(name, value);
  return params.toString();
}

/**
 * The newest sequence of the change log: the feed starts after it, so that it does not replay
 * the history the page has just read. A `since` older than the retained log is a 410 that
 * names the sequence to ask from instead.
 */
async function latestSequence(since: number, signal: AbortSignal): Promise<number> {
  const response = await fetch(`/v1/changes?since=${since}&limit=1&kind=timeline`, { headers: { accept: 'application/json' }, cache: 'no-store', signal });
  if (response.status === 410) {
    const problem: unknown = await response.json();
    const resyncFrom = typeof problem === 'object' && problem !== null && 'resyncFrom' in problem ? problem.resyncFrom : null;
    if (typeof resyncFrom === 'number' && resyncFrom > since) return latestSequence(resyncFrom, signal);
  }
  if (!response.ok) throw new Error(`changes: ${response.status}`);
  const body: unknown = await response.json();
  const page = typeof body === 'object' && body !== null && 'page' in body ? body.page : null;
  const latest = typeof page === 'object' && page !== null && 'latest' in page ? page.latest : null;
  if (typeof latest !== 'number') throw new Error('changes: no page.latest');
  return latest;
}

/**
 * The feed over Server-Sent Events. A new query closes the stream and opens one for the new
 * window after the log's newest sequence (read when the view reads its data, so that what the
 * reads miss the stream brings). After a dropped connection the EventSource reconnects by
 * itself and resumes from its Last-Event-ID; only a stream the browser gives up on (the server
 * refused it) falls back to polling.
 */
export function liveFeed(): ChangeFeed {
  const listeners = new Set<() => void>();
  let source: EventSource | null = null;
  let opening: AbortController | null = null;
  let watched: string | null = null;
  let last = 0;
  let fallback: ChangeFeed | null = null;
  let stopFallback: (() => void) | null = null;
  let pending: number | undefined;

  const notify = () => {
    window.clearTimeout(pending);
    pending = window.setTimeout(() => {
      for (const listener of listeners) listener();
    }, COALESCE_MS);
  };

  const close = () => {
    opening?.abort();
    opening = null;
    source?.close();
    source = null;
  };

  const fallBack = () => {
    close();
    if (fallback) return;
    fallback = pollingFeed();
    stopFallback = fallback.subscribe(notify);
  };

  const open = async (query: string) => {
    close();
    const controller = new AbortController();
    opening = controller;
    try {
      last = await latestSequence(last, controller.signal);
    } catch {
      if (!controller.signal.aborted) fallBack();
      return;
    }
    if (controller.signal.aborted) return;
    opening = null;
    const stream = new EventSource(`/v1/changes?since=${last}${query ? `&${query}` : ''}`);
    source = stream;
    stream.addEventListener('change', (event) => {
      const sequence = Number(event.lastEventId);
      if (Number.isSafeInteger(sequence) && sequence > last) last = sequence;
      notify();
    });
    stream.addEventListener('error', () => {
      // CONNECTING: the browser reconnects by itself; CLOSED: it gave up (an error status or type)
      if (stream === source && stream.readyState === EventSource.CLOSED) fallBack();
    });
  };

  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
        if (listeners.size > 0) return;
        close();
        stopFallback?.();
        stopFallback = null;
        fallback = null;
        watched = null;
      };
    },
    watch(query) {
      if (fallback) return;
      const next = feedQuery(query);
      if (next === watched) return;
      watched = next;
      if (typeof EventSource === 'undefined') fallBack();
      else void open(next);
    },
  };
}

/**
 * The fallback: the API's ETags are derived from the data revision, so a conditional read of a
 * one-entry timeline page answers 304 until anything is written, and 200 with a new ETag after.
 */
export function pollingFeed(url = '/v1/timeline?limit=1', intervalMs = 1000): ChangeFeed {
  return {
    watch() {
      // any write anywhere changes the ETag: there is no window to follow
    },
    subscribe(listener) {
      let etag: string | null = null;
      let timer: number | undefined;
      let stopped = false;
      const poll = async () => {
        if (stopped) return;
        // a page nobody sees does not poll; it catches up when shown again
        if (document.visibilityState === 'visible') {
          try {
            const response = await fetch(url, {
              headers: etag ? { 'if-none-match': etag, accept: 'application/json' } : { accept: 'application/json' },
              cache: 'no-store',
            });
            const next = response.headers.get('etag');
            if (response.status === 200 && next) {
              if (etag !== null && next !== etag) listener();
              etag = next;
            }
          } catch {
            // offline or restarting: the next poll tries again
          }
        }
        if (!stopped) timer = window.setTimeout(() => void poll(), intervalMs);
      };
      void poll();
      return () => {
        stopped = true;
        window.clearTimeout(timer);
      };
    },
  };
}
