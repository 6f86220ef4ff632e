import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Storage } from '../storage/port.js';
import type { Change, ChangeFilter } from '../storage/types.js';

/** Default of AppConfig.changesPollMs: how soon a change written by another process reaches a live feed. */
export const CHANGES_POLL_MS = 250;
/** A comment line this often keeps proxies and clients from taking a quiet stream for a dead one. */
export const HEARTBEAT_MS = 15_000;
/** A subscriber that reads slower than changes come is cut past this much unsent text: it resumes from its Last-Event-ID. */
const MAX_BUFFERED = 4 * 1024 * 1024;
/** Changes read from the log at a time. */
const READ_PAGE = 200;

export interface LiveFeedSource {
  filter: ChangeFilter;
  /** The changes of a page that the subscriber hears about, as the event's data. */
  select(changes: Change[]): Promise<{ change: Change; data: unknown }[]>;
}

/**
 * Live change feeds (Server-Sent Events). New changes are found by polling the newest
 * sequence of the log at a short interval, which sees the writes of every process and every
 * server on the database, and at once after a write answered by this process. Each feed then
 * reads the log after its own last sequence, so a feed never skips or repeats a change
 * whichever woke it.
 */
export class LiveFeeds {
  readonly #feeds = new Set<LiveFeed>();
  #timer: NodeJS.Timeout | null = null;
  #head = -1;
  #polling = false;

  constructor(
    readonly storage: Storage,
    readonly pollMs: number,
    readonly heartbeatMs: number,
  ) {}

  get count() {
    return this.#feeds.size;
  }

  /** A stream of events after sequence `after`, which ends when the feeds close. */
  open(after: number, source: LiveFeedSource): Readable {
    const feed = new LiveFeed(this.storage, after, source, this.heartbeatMs);
    this.#feeds.add(feed);
    feed.stream.once('close', () => {
      feed.stop();
      this.#feeds.delete(feed);
      if (this.#feeds.size === 0 && this.#timer) {
        clearInterval(this.#timer);
        this.#timer = null;
      }
    });
    this.#timer ??= setInterval(() => void this.#poll(), this.pollMs).unref();
    feed.wake();
    return feed.stream;
  }

  /** Every feed reads the log again (after a write by this process). */
  wake() {
    for (const feed of this.#feeds) feed.wake();
  }

  /** Ends every stream cleanly (a shutdown): clients reconnect elsewhere with their Last-Event-ID. */
  endAll() {
    for (const feed of this.#feeds) feed.end();
  }

  async #poll() {
    if (this.#polling) return;
    this.#polling = true;
    try {
      const { latest } = await this.storage.changeLogExtent();
      if (latest !== this.#head) {
        this.#head = latest;
        this.wake();
      }
    } catch {
      // the database closing under a last poll: the feeds end with it
    } finally {
      this.#polling = false;
    }
  }
}

class LiveFeed {
  readonly stream = new Readable({ read() {} });
  readonly #heartbeat: NodeJS.Timeout;
  #running = false;
  #again = false;
  #ended = false;

  constructor(
    readonly storage: Storage,
    public last: number,
    readonly source: LiveFeedSource,
    heartbeatMs: number,
  ) {
    // sent at once, so that the client sees the response begin before the first change
    this.stream.push(`retry: 1000\n: after ${last}\n\n`);
    this.#heartbeat = setInterval(() => this.#push(': heartbeat\n\n'), heartbeatMs).unref();
  }

  wake() {
    if (this.#ended) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    void this.#drain();
  }

  async #drain() {
    try {
      do {
        this.#again = false;
        for (;;) {
          const changes = await this.storage.changesAfter(this.source.filter, this.last, READ_PAGE);
          if (changes.length === 0 || this.#ended) break;
          for (const { change, data } of await this.source.select(changes)) {
            this.#push(`id: ${change.sequence}\nevent: change\ndata: ${JSON.stringify(data)}\n\n`);
          }
          this.last = changes[changes.length - 1]!.sequence;
          if (changes.length < READ_PAGE) break;
        }
      } while (this.#again && !this.#ended);
    } catch (error) {
      if (!this.#ended) this.stream.destroy(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.#running = false;
    }
  }

  #push(text: string) {
    if (this.#ended) return;
    this.stream.push(text);
    if (this.stream.readableLength > MAX_BUFFERED) this.end();
  }

  end() {
    if (this.#ended) return;
    this.stop();
    this.stream.push(null);
  }

  stop() {
    this.#ended = true;
    clearInterval(this.#heartbeat);
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    liveFeeds: LiveFeeds;
  }
}

/**
 * Installs the live feeds at the root, so that a write answered by any route wakes them, and
 * a shutdown (before the server stops taking requests, so that it need not wait for streams
 * that never end by themselves) ends them.
 */
export function installLiveFeeds(app: FastifyInstance, options: { pollMs?: number | undefined; heartbeatMs?: number | undefined }) {
  const feeds = new LiveFeeds(app.storage, options.pollMs ?? CHANGES_POLL_MS, options.heartbeatMs ?? HEARTBEAT_MS);
  app.decorate('liveFeeds', feeds);
  app.addHook('onResponse', async (request, reply) => {
    if (feeds.count > 0 && request.method !== 'GET' && request.method !== 'HEAD' && reply.statusCode < 400) feeds.wake();
  });
  app.addHook('preClose', (done) => {
    feeds.endAll();
    done();
  });
}
