import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from './helpers.js';

const committed = readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8');
const methods = ['get', 'post', 'put', 'patch', 'delete'] as const;

describe('OpenAPI document', () => {
  let t: TestApp;
  let served: any;
  beforeAll(async () => {
    t = await buildTestApp({ memory: true });
    const res = await t.app.inject({ url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    served = res.json();
  });
  afterAll(() => t.close());

  it('is the committed openapi/openapi.json, byte for byte', () => {
    expect(`${JSON.stringify(served, null, 2)}\n`).toBe(committed);
  });

  it('is valid OpenAPI 3.1 for a real validator', async () => {
    expect(served.openapi).toBe('3.1.0');
    await expect(SwaggerParser.validate(structuredClone(served))).resolves.toBeTruthy();
  });

  it('names, tags, summarises and documents every status of every operation, a 4xx among them', () => {
    const operationIds = new Set<string>();
    for (const [path, item] of Object.entries<any>(served.paths)) {
      for (const method of methods) {
        const op = item[method];
        if (!op) continue;
        const where = `${method.toUpperCase()} ${path}`;
        expect(op.operationId, where).toMatch(/^[a-z][A-Za-z]+$/);
        expect(operationIds.has(op.operationId), `${where} repeats an operationId`).toBe(false);
        operationIds.add(op.operationId);
        expect(op.tags?.length, where).toBeGreaterThan(0);
        expect(op.summary, where).toBeTruthy();
        const statuses = Object.keys(op.responses);
        expect(statuses.some((s) => /^4\d\d$/.test(s)), `${where} documents no 4xx`).toBe(true);
        for (const status of statuses) {
          const response = op.responses[status];
          if (status === '204') continue;
          const content = response.content ?? {};
          expect(Object.keys(content).length, `${where} ${status} has no schema`).toBeGreaterThan(0);
          if (/^[45]/.test(status)) expect(Object.keys(content)).toContain('application/problem+json');
        }
        if (['post', 'patch', 'delete'].includes(method)) expect(op.security, where).toEqual([{ bearerAuth: [] }]);
      }
    }
    expect(operationIds.size).toBeGreaterThan(30);
  });

  it('refers only to components that exist', () => {
    const refs = [...committed.matchAll(/"\$ref": "#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const name of new Set(refs)) expect(served.components.schemas[name], name).toBeDefined();
  });

  it('serves the interactive explorer at /docs', async () => {
    const res = await t.app.inject({ url: '/docs/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.body).toContain('swagger');
  });
});
