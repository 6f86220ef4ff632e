import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { publicSecurity } from '../plugins/auth.js';
import { problemResponses } from '../schemas/common.js';
import { notFound } from '../schemas/problems.js';

/** The built viewer (viewer/dist, committed and checked by `npm run viewer:check`). */
export const VIEWER_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../viewer/dist');

/** TimelineJS3's distribution, served by Annals itself: no page loads anything from another origin. */
const TIMELINEJS_DIST = path.join(
  path.dirname(createRequire(import.meta.url).resolve('@knight-lab/timelinejs/package.json')),
  'dist',
);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.eot': 'application/vnd.ms-fontobject',
  '.map': 'application/json; charset=utf-8',
};

/**
 * The pages' own policy, stricter than the API's default (which lets styles and fonts come from
 * any https origin): every script, style, font, image and request comes from this origin, no
 * inline script and no inline style attribute.
 */
export const VIEWER_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self'",
  "style-src-attr 'none'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'self'",
].join('; ');

const AssetParams = z.object({ '*': z.string().max(300) });
const html = z.string().meta({ description: 'An HTML page.' });
const asset = z.string().meta({ description: 'A file of the viewer (script, style sheet, font, image or locale).' });
const htmlResponse = (description: string) => ({ description, content: { 'text/html': { schema: html } } });

/**
 * A file under `root` named by a URL path, or null when the name leaves the folder or is no
 * file. Names are matched against the folder, never resolved outside it.
 */
async function readUnder(root: string, name: string): Promise<Buffer | null> {
  const file = path.resolve(root, `.${path.posix.normalize(`/${name}`)}`);
  if (!file.startsWith(root + path.sep)) return null;
  try {
    return await readFile(file);
  } catch {
    return null;
  }
}

function sendPage(reply: FastifyReply, body: Buffer) {
  // a page names its assets by content hash: it must be revalidated so that a new build is seen
  return reply
    .header('cache-control', 'no-cache')
    .header('content-security-policy', VIEWER_CSP)
    .type(TYPES['.html']!)
    .send(body);
}

async function page(name: string): Promise<Buffer> {
  const body = await readUnder(VIEWER_DIST, name);
  if (body === null) throw notFound(`the viewer is not built (viewer/dist/${name} is missing): run npm run viewer:build`);
  return body;
}

/**
 * The viewer: its page at `/`, its assets under `/viewer/`, TimelineJS3 under `/viewer/timelinejs/`
 * and curated timelines as TimelineJS3 stories at `/timelines/{slug}`. The pages read only the
 * public API, as any other client would. Pages are not part of the API's OpenAPI document.
 */
export async function viewerRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  app.get(
    '/',
    {
      schema: {
        hide: true,
        operationId: 'getViewer',
        tags: ['Viewer'],
        summary: 'The timeline viewer',
        description: 'An HTML page that shows the timeline, its histogram and its entries, reading the public API.',
        security: publicSecurity,
        response: { 200: htmlResponse('The viewer page.') },
      },
    },
    async (_request, reply) => sendPage(reply, await page('index.html')),
  );

  app.get(
    '/timelines/:slug',
    {
      schema: {
        hide: true,
        operationId: 'getTimelineStory',
        tags: ['Viewer'],
        summary: 'A curated timeline as a TimelineJS3 story',
        description: 'An HTML page that draws the curated timeline with TimelineJS3, from `GET /v1/timelines/{slug}?format=timelinejs`.',
        security: publicSecurity,
        params: z.object({ slug: z.string().min(1).max(200) }),
        response: { 200: htmlResponse('The story page.'), ...problemResponses(404) },
      },
    },
    async (request, reply) => {
      // an unknown slug is a 404 page, not a page whose script then finds nothing
      await app.storage.getRecord('timeline', request.params.slug);
      return sendPage(reply, await page('story.html'));
    },
  );

  // files are bytes, which the zod provider's reply types do not take: these two routes are
  // declared on the plain instance and read their parameter through the same schema
  fastify.get(
    '/viewer/timelinejs/*',
    {
      schema: {
        hide: true,
        operationId: 'getTimelineJsAsset',
        tags: ['Viewer'],
        summary: 'A file of TimelineJS3',
        description: 'The script, style sheets, fonts and locales of `@knight-lab/timelinejs`, as installed.',
        security: publicSecurity,
        params: AssetParams,
        response: { 200: { description: 'The file.', content: { '*/*': { schema: asset } } }, ...problemResponses(404) },
      },
    },
    async (request, reply) => {
      const { '*': name } = AssetParams.parse(request.params);
      const body = await readUnder(TIMELINEJS_DIST, name);
      if (body === null) throw notFound(`no such TimelineJS3 file: ${name}`);
      return reply
        .header('cache-control', 'public, max-age=86400')
        .type(TYPES[path.extname(name)] ?? 'application/octet-stream')
        .send(body);
    },
  );

  fastify.get(
    '/viewer/*',
    {
      schema: {
        hide: true,
        operationId: 'getViewerAsset',
        tags: ['Viewer'],
        summary: 'A file of the viewer',
        description: 'Scripts and style sheets of the viewer, named by their content hash.',
        security: publicSecurity,
        params: AssetParams,
        response: { 200: { description: 'The file.', content: { '*/*': { schema: asset } } }, ...problemResponses(404) },
      },
    },
    async (request, reply) => {
      const { '*': name } = AssetParams.parse(request.params);
      // the pages are served at their own paths, with their policy
      const body = name.endsWith('.html') ? null : await readUnder(VIEWER_DIST, name);
      if (body === null) throw notFound(`no such viewer file: ${name}`);
      // hashed names: a file's content never changes under its name
      const immutable = name.startsWith('assets/');
      return reply
        .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'public, max-age=300')
        .type(TYPES[path.extname(name)] ?? 'application/octet-stream')
        .send(body);
    },
  );
}
