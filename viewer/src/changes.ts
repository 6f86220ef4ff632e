/**
 * Tells the page that the data may have changed. For now it polls: the API's ETags are derived
 * from the data revision, so a conditional read of a one-entry timeline page answers 304
 * until anything is written, and 200 with a new ETag after. The changes feed (SSE on
 * /v1/changes) will replace this module behind the same interface.
 */
export interface ChangeFeed {
  /** Calls `listener` after each change; returns the function that stops listening. */
  subscribe(listener: () => void): () => void;
}

export function pollingFeed(url = '/v1/timeline?limit=1', intervalMs = 1000): ChangeFeed {
  return {
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
