import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

/** Paths whose answers depend on the code only, not the data: cacheable for a while. */
const STATIC_PREFIXES = ['/openapi.json', '/docs', '/problems/', '/viewer/', '/timelines/'];
/** The probes: never cached. */
const UNCACHED_PREFIXES = ['/healthz', '/readyz'];

/**
 * Whether a read of this path carries an ETag of the data (and so is answered 304 to a
 * matching If-None-Match): what the OpenAPI document declares (src/plugins/openapi.ts) follows this.
 */
export const hasDataEtag = (url: string) => !isStatic(url) && !UNCACHED_PREFIXES.some((prefix) => url.startsWith(prefix));

/** The viewer's page at `/` is code too: a data ETag would keep an old page (and its old asset names) after an upgrade. */
const isStatic = (url: string) =>
  url === '/' || url.startsWith('/?') || STATIC_PREFIXES.some((prefix) => url.startsWith(prefix));

/**
 * ETags and Cache-Control for reads. A read's ETag is derived from the data version (the
 * database's lineage and its revision, bumped by every write transaction: see
 * src/storage/sqlite/settings.ts) and what selects the representation (URL, Accept), so it
 * changes whenever the data under it may have, and a matching If-None-Match is answered
 * 304 before any query runs. Data reads are `no-cache` (revalidate every time, cheaply);
 * writes are `no-store`.
 */
export function installCaching(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      reply.header('cache-control', 'no-store');
      return;
    }
    const url = request.url;
    if (isStatic(url)) {
      reply.header('cache-control', 'public, max-age=300');
      return;
    }
    if (UNCACHED_PREFIXES.some((prefix) => url.startsWith(prefix))) {
      reply.header('cache-control', 'no-store');
      return;
    }
    const tag = `W/"${createHash('sha256')
      .update(`${await app.storage.currentRevision()}\0${url}\0${request.headers.accept ?? ''}`)
      .digest('base64url')
      .slice(0, 27)}"`;
    reply.header('cache-control', 'public, no-cache');
    reply.header('vary', 'Accept');
    request.etag = tag;
  });

  // The 304 is sent after every onRequest hook has run (CORS, security headers, rate limits), so
  // that it carries the headers the 200 would: a cross-origin client that revalidates must see
  // Access-Control-Allow-Origin on the 304 too. Still before validation and any query.
  app.addHook('preValidation', async (request, reply) => {
    const tag = request.etag;
    const ifNoneMatch = request.headers['if-none-match'];
    // `*` ("any representation") is not answered here: whether the resource exists is only
    // known once the route has run, so such a request gets the full answer
    if (tag && ifNoneMatch && ifNoneMatchList(ifNoneMatch).includes(opaqueTag(tag))) {
      reply.header('etag', tag);
      return reply.code(304).send();
    }
  });

  app.addHook('onSend', async (request, reply, payload) => {
    if (request.etag && reply.statusCode === 200) reply.header('etag', request.etag);
    else if (reply.statusCode >= 400) reply.header('cache-control', 'no-store');
    return payload;
  });
}

/** An entity-tag without its weakness indicator: `W/"x"` and `"x"` are both `"x"`. */
const opaqueTag = (tag: string) => (tag.startsWith('W/') ? tag.slice(2) : tag);

/**
 * The opaque tags of an If-None-Match list, for the weak comparison RFC 9110 §13.1.2 asks of
 * it: `W/"x"` and `"x"` match either form. Commas inside a tag's quotes do not split it; a
 * member that is not an entity-tag matches nothing.
 */
export function ifNoneMatchList(header: string): string[] {
  const tags: string[] = [];
  const entityTag = /\s*(W\/)?("[^"]*")\s*(?:,|$)|[^,]*(?:,|$)/gy;
  for (let m = entityTag.exec(header); m && m[0] !== ''; m = entityTag.exec(header)) {
    if (m[2]) tags.push(m[2]);
  }
  return tags;
}

declare module 'fastify' {
  interface FastifyRequest {
    etag?: string;
  }
}
