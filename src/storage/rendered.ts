import type { Db } from './sqlite/client.js';
import { loadEntries } from './sqlite/entries.js';
import { currentRevision } from './sqlite/settings.js';

/**
 * Entries rendered as UTF-8 JSON, kept per (entry, language) for one data revision.
 *
 * Rendering an entry costs far more than finding it: its row, five child tables, the actors,
 * places, sources and events it names, then JSON and UTF-8 encoding (the benchmark's profiles
 * in bench/results/ show where a page's time goes). Pages overlap (the same week,
 * an actor's page inside it, the page after), so each rendered entry is kept and reused.
 *
 * Correctness rests on the revision, which every write transaction bumps: the cache belongs
 * to one revision and is emptied as soon as another is seen. An entry embeds the names of
 * other records, so per-entry invalidation would miss edits to those; a global one cannot.
 * The revision is read in the same synchronous section as the queries that use the cache,
 * so no write can fall between them (better-sqlite3 is synchronous, one connection per
 * process); a deployment with several servers reads it from the shared database the same way.
 */
export class RenderedEntries {
  #revision: string | undefined;
  // insertion order is recency order: a hit is moved to the end, eviction takes the front
  readonly #entries = new Map<string, Buffer>();
  #bytes = 0;

  constructor(readonly maxBytes: number) {}

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The current revision, emptying the cache when the data changed since it was filled. */
  revision(db: Db): string {
    const revision = currentRevision(db);
    if (revision !== this.#revision) {
      this.#entries.clear();
      this.#bytes = 0;
      this.#revision = revision;
    }
    return revision;
  }

  /**
   * The JSON of each entry of `ids` that exists, in that order, rendering what is not cached.
   * Call it synchronously after {@link revision} and the query that found `ids`.
   */
  render(db: Db, ids: number[], lang: string | undefined): Buffer[] {
    const prefix = `${lang ?? ''}\0`;
    const found = new Map<number, Buffer>();
    const missing: number[] = [];
    for (const id of ids) {
      const key = prefix + id;
      const hit = this.#entries.get(key);
      if (hit === undefined) {
        missing.push(id);
      } else {
        this.#entries.delete(key);
        this.#entries.set(key, hit);
        found.set(id, hit);
      }
    }
    if (missing.length > 0) {
      for (const entry of loadEntries(db, missing, lang)) {
        const json = Buffer.from(JSON.stringify(entry));
        found.set(entry.id, json);
        this.#remember(prefix + entry.id, json);
      }
    }
    return ids.flatMap((id) => found.get(id) ?? []);
  }

  #remember(key: string, json: Buffer): void {
    if (this.maxBytes <= 0 || json.length > this.maxBytes) return;
    const previous = this.#entries.get(key);
    if (previous !== undefined) this.#bytes -= previous.length;
    this.#entries.delete(key);
    this.#entries.set(key, json);
    this.#bytes += json.length;
    for (const [oldest, value] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= value.length;
    }
  }
}

const COMMA = Buffer.from(',');

/**
 * A JSON object whose `name` member is an array of already-rendered values, followed by
 * the other members of `rest`: `{"data":[...],"page":{...}}` as one buffer.
 */
export function jsonWithArray(name: string, items: Buffer[], rest: Record<string, unknown>): Buffer {
  const parts: Buffer[] = [Buffer.from(`{${JSON.stringify(name)}:[`)];
  items.forEach((item, i) => {
    if (i > 0) parts.push(COMMA);
    parts.push(item);
  });
  const tail = JSON.stringify(rest);
  parts.push(Buffer.from(tail === '{}' ? ']}' : `],${tail.slice(1)}`));
  return Buffer.concat(parts);
}
