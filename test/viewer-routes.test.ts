// The viewer's routes over inject: its pages under their own strict policy, the assets the
// built page names (all served, cacheable for ever under hashed names), TimelineJS3 from this
// host, and nothing outside the folders they serve.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VIEWER_CSP, VIEWER_DIST } from '../src/routes/viewer.js';
import { buildTestApp, expectProblem, type TestApp } from './helpers.js';

describe('viewer routes', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ seed: true });
  });
  afterAll(() => t.close());

  const directives = (policy: string) => new Map(policy.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));

  it('serves the page at / with a policy that allows this origin only, no inline script or style attribute', async () => {
    const res = await t.app.inject({ url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toBe(readFileSync(path.join(VIEWER_DIST, 'index.html'), 'utf8'));
    expect(res.headers['content-security-policy']).toBe(VIEWER_CSP);
    const policy = directives(VIEWER_CSP);
    for (const name of ['default-src', 'script-src', 'style-src', 'font-src', 'connect-src', 'img-src']) {
      // 'self' and (for images) data: only: no host, no https:, no 'unsafe-inline'
      expect(policy.get(name)!.every((value) => value === "'self'" || (name === 'img-src' && value === 'data:')), name).toBe(true);
    }
    expect(policy.get('script-src-attr')).toEqual(["'none'"]);
    expect(policy.get('style-src-attr')).toEqual(["'none'"]);
    // code, not data: revalidated, without an ETag of the data revision
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers.etag).toBeUndefined();
    // the page has no inline script or style
    expect(res.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(res.body).not.toMatch(/\sstyle=/);
    expect(res.body).not.toMatch(/\son[a-z]+=/);
  });

  it('serves every asset the built pages name, under hashed names cached as immutable', async () => {
    for (const page of ['index.html', 'story.html']) {
      const html = readFileSync(path.join(VIEWER_DIST, page), 'utf8');
      const assets = [...html.matchAll(/(?:src|href)="(\/viewer\/[^"]+)"/g)].map((m) => m[1]!);
      expect(assets.length, page).toBeGreaterThanOrEqual(2);
      for (const asset of assets) {
        const res = await t.app.inject({ url: asset });
        expect(res.statusCode, asset).toBe(200);
        if (asset.startsWith('/viewer/assets/')) {
          expect(res.headers['cache-control'], asset).toBe('public, max-age=31536000, immutable');
          expect(res.rawPayload.equals(readFileSync(path.join(VIEWER_DIST, asset.slice('/viewer/'.length)))), asset).toBe(true);
        }
      }
    }
  });

  it('serves a curated timeline as a story page, and 404 for a slug that names none', async () => {
    const res = await t.app.inject({ url: '/timelines/kazakhstan-january-2022' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(readFileSync(path.join(VIEWER_DIST, 'story.html'), 'utf8'));
    expect(res.headers['content-security-policy']).toBe(VIEWER_CSP);
    expectProblem(await t.app.inject({ url: '/timelines/no-such-timeline' }), 404);
  });

  it('serves TimelineJS3 from the installed package: script, style sheet, locale', async () => {
    for (const [file, type] of [
      ['js/timeline.js', 'text/javascript; charset=utf-8'],
      ['css/timeline.css', 'text/css; charset=utf-8'],
      ['js/locale/ar.json', 'application/json; charset=utf-8'],
    ] as const) {
      const res = await t.app.inject({ url: `/viewer/timelinejs/${file}` });
      expect(res.statusCode, file).toBe(200);
      expect(res.headers['content-type'], file).toBe(type);
      expect(res.headers['cache-control'], file).toBe('public, max-age=86400');
    }
  });

  it('serves nothing outside its folders, and no page under an asset path', async () => {
    for (const url of [
      '/viewer/../package.json',
      '/viewer/%2e%2e/package.json',
      '/viewer/..%2f..%2fpackage.json',
      '/viewer/assets/..%2f..%2f..%2fpackage.json',
      '/viewer/timelinejs/..%2f..%2fpackage.json',
      '/viewer/timelinejs/%2e%2e/%2e%2e/package.json',
      '/viewer/index.html',
      '/viewer/no-such-file.js',
    ]) {
      const res = await t.app.inject({ url });
      expect(res.statusCode, url).toBe(404);
      expect(res.body, url).not.toContain('"name": "annals"');
    }
  });
});
