import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, buildTestApp, type TestApp } from './helpers.js';

const committed = readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8');
const methods = ['get', 'post', 'put', 'patch', 'delete'] as const;

describe('OpenAPI document', () => {
  let t: TestApp;
  let served: Json;
  beforeAll(async () => {
    t = await buildTestApp({ memory: true });
    const res = await t.app.inject({ url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    served = res.json();
  });
  afterAll(() => t.close());

  it('is the committed openapi/openapi.json, byte for byte', async () => {
    const res = await t.app.inject({ url: '/openapi.json' });
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    // the bytes as served, not the object re-serialised: the README says identical
    expect(res.body).toBe(committed);
    expect(`${JSON.stringify(served, null, 2)}\n`).toBe(committed);
  });

  it('is valid OpenAPI 3.1 for a real validator', async () => {
    expect(served.openapi).toBe('3.1.0');
    await expect(SwaggerParser.validate(structuredClone(served))).resolves.toBeTruthy();
  });

  it('names, tags, summarises and documents every status of every operation, a 4xx among them', () => {
    const operationIds = new Set<string>();
    for (const [path, item] of Object.entries<Json>(served.paths)) {
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
          if (status === '204' || status === '304') continue;
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

type Json = any;
const addFormats = ((addFormatsModule as Json).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;

/** Every operation of the document, with where it is. */
function operationsOf(doc: Json): { where: string; path: string; method: string; op: Json }[] {
  const found = [];
  for (const [path, item] of Object.entries<Json>(doc.paths)) {
    for (const method of methods) {
      if (item[method]) found.push({ where: `${method.toUpperCase()} ${path}`, path, method, op: item[method] });
    }
  }
  return found;
}

/** A component schema, or the schema itself when it is not a reference. */
const resolve = (doc: Json, schema: Json): Json =>
  schema?.$ref ? doc.components.schemas[schema.$ref.slice('#/components/schemas/'.length)] : schema;

/** A URL with the path parameters filled in from their examples. */
const fillPath = (path: string, op: Json) =>
  path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    const param = op.parameters.find((p: Json) => p.in === 'path' && p.name === name);
    return encodeURIComponent(param.example ?? param.schema.example);
  });

/** An Ajv validator of the document's schemas (components referred to by $ref). */
function documentValidator(doc: Json) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'doc', components: doc.components });
  const rewrite = (node: Json): Json =>
    Array.isArray(node)
      ? node.map(rewrite)
      : node && typeof node === 'object'
        ? Object.fromEntries(Object.entries(node).map(([k, v]) => [k, k === '$ref' ? `doc${v as string}` : rewrite(v)]))
        : node;
  return (schema: Json, value: unknown) => {
    const validate = ajv.compile(rewrite(schema));
    return validate(value) ? null : ajv.errorsText(validate.errors);
  };
}

describe('the OpenAPI document, as linters and real clients read it', () => {
  let t: TestApp;
  let doc: Json;
  beforeAll(async () => {
    t = await buildTestApp({ memory: true, seed: true });
    doc = (await t.app.inject({ url: '/openapi.json' })).json();
  });
  afterAll(() => t.close());

  it('declares a description, operationId, tags and security on every operation: the bearer key on writes, none on reads', () => {
    expect(doc.info.contact).toBeTruthy();
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const { where, method, op } of operationsOf(doc)) {
      expect(op.operationId, where).toBeTruthy();
      expect(op.tags?.length, where).toBeGreaterThan(0);
      expect(typeof op.description === 'string' && op.description.length > 20, `${where} has no description`).toBe(true);
      expect(Array.isArray(op.security), `${where} declares no security`).toBe(true);
      expect(op.security, where).toEqual(method === 'get' ? [] : [{ bearerAuth: [] }]);
    }
  });

  it('says in words what every response holds: no "Default Response"', () => {
    for (const { where, op } of operationsOf(doc)) {
      for (const [status, response] of Object.entries<Json>(op.responses)) {
        expect(typeof response.description === 'string' && response.description.length > 5, `${where} ${status}`).toBe(true);
        expect(response.description, `${where} ${status}`).not.toBe('Default Response');
      }
    }
    expect(committed).not.toContain('Default Response');
  });

  it('declares the headers the plugins send: ETag and 304 on data reads, Link on paged reads, Location on creates, 429 with Retry-After everywhere', () => {
    const header = (name: string) => ({ $ref: `#/components/headers/${name}` });
    let reads = 0;
    for (const { where, path, method, op } of operationsOf(doc)) {
      const { responses } = op;
      expect(responses['429'], where).toBeDefined();
      expect(responses['429'].headers['Retry-After'], where).toEqual(header('RetryAfter'));
      expect(responses['429'].headers['RateLimit-Reset'], where).toEqual(header('RateLimitReset'));
      const params: Json[] = op.parameters ?? [];
      if (method === 'get' && path.startsWith('/v1/')) {
        reads++;
        expect(responses['200'].headers.ETag, where).toEqual(header('ETag'));
        expect(responses['304']?.headers?.ETag, `${where} has no 304`).toEqual(header('ETag'));
        if (params.some((p) => p.name === 'cursor')) expect(responses['200'].headers.Link, where).toEqual(header('Link'));
      }
      if (method === 'post' && responses['201']) expect(responses['201'].headers.Location, where).toEqual(header('Location'));
      if (params.some((p) => p.name === 'idempotency-key')) {
        const success = Object.keys(responses).find((s) => /^2/.test(s))!;
        expect(responses[success].headers['Idempotent-Replayed'], where).toEqual(header('IdempotentReplayed'));
      }
    }
    expect(reads).toBeGreaterThan(10);
    for (const name of ['ETag', 'Link', 'Location', 'IdempotentReplayed', 'RetryAfter', 'RateLimitLimit', 'RateLimitRemaining', 'RateLimitReset']) {
      expect(doc.components.headers[name]?.description, name).toBeTruthy();
    }
  });

  it('sends the headers it declares: ETag (and 304), Link and Location', async () => {
    const list = await t.app.inject({ url: '/v1/events?limit=1' });
    expect(list.headers.etag).toMatch(/^W\/"/);
    expect(list.headers.link).toMatch(/^<\/v1\/events\?.*cursor=.*>; rel="next"$/);
    const again = await t.app.inject({ url: '/v1/events?limit=1', headers: { 'if-none-match': String(list.headers.etag) } });
    expect(again.statusCode).toBe(304);
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/places',
      headers: AUTH,
      payload: { type: 'city', name: { en: 'Shymkent' } },
    });
    expect(created.statusCode).toBe(201);
    expect(created.headers.location).toBe(`/v1/places/${created.json().id}`);
  });

  it('lists every problem type with a relative /problems/{code} URI, each served as a page without script', async () => {
    expect(committed).not.toMatch(/annals\.dev/);
    const problem = doc.components.schemas.Problem;
    const types: string[] = problem.properties.type.enum;
    const codes: string[] = problem.properties.code.enum;
    expect(types.length).toBeGreaterThan(10);
    expect(types).toEqual(codes.map((code) => `/problems/${code}`));
    expect(problem.example.type).toBe('/problems/validation-failed');
    const tag = doc.tags.find((x: Json) => x.name === 'Problems');
    for (const type of types) {
      expect(tag.description, type).toContain(`\`${type}\``);
      const page = await t.app.inject({ url: type });
      expect(page.statusCode, type).toBe(200);
      expect(page.headers['content-type'], type).toMatch(/^text\/html/);
      expect(page.body, type).toMatch(/<h1>[^<]+<\/h1>/);
      expect(page.body, type).not.toMatch(/<script|<style|\sstyle=|\son\w+=/i);
      expect(String(page.headers['content-security-policy']), type).toContain("default-src 'self'");
    }
    const unknown = await t.app.inject({ url: '/problems/no-such-problem' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ type: '/problems/not-found', code: 'not-found' });
  });

  it('answers problems whose type is one of the listed ones and resolves to its page', async () => {
    const types: string[] = doc.components.schemas.Problem.properties.type.enum;
    const answers = [
      await t.app.inject({ url: '/v1/timeline?from=2022-02-30' }),
      await t.app.inject({ url: '/v1/events/no-such-event' }),
      await t.app.inject({ method: 'POST', url: '/v1/events', payload: {} }),
      await t.app.inject({ url: '/v1/timeline', headers: { accept: 'image/png' } }),
    ];
    for (const res of answers) {
      const body = res.json();
      expect(types, res.body).toContain(body.type);
      expect(body.type).toBe(`/problems/${body.code}`);
      expect((await t.app.inject({ url: body.type })).statusCode).toBe(200);
    }
  });

  it('describes TimelineJS and GeoJSON bodies as the objects they are, and the bodies served match', async () => {
    const validate = documentValidator(doc);
    const bodies: Record<string, string> = {
      'application/vnd.timelinejs+json': 'timelinejs',
      'application/geo+json': 'geojson',
    };
    let checked = 0;
    for (const { where, path, op } of operationsOf(doc)) {
      const content = op.responses['200']?.content ?? {};
      for (const [media, format] of Object.entries(bodies)) {
        if (!content[media]) continue;
        const schema = resolve(doc, content[media].schema);
        expect(schema.type, `${where} ${media}`).toBe('object');
        expect(Object.keys(schema.properties), `${where} ${media}`).toEqual(
          expect.arrayContaining(format === 'geojson' ? ['type', 'features'] : ['events']),
        );
        const res = await t.app.inject({ url: `${fillPath(path, op)}?format=${format}` });
        expect(res.statusCode, where).toBe(200);
        expect(res.headers['content-type'], where).toContain(media);
        const body = res.json();
        expect((format === 'geojson' ? body.features : body.events).length, `${where} ${format} is empty`).toBeGreaterThan(0);
        expect(validate(content[media].schema, body), `${where} ${media}`).toBeNull();
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(8);
  });

  it('has a request body example for every write, and each, sent as the explorer sends it, is accepted by a seeded instance', async () => {
    let sent = 0;
    // creates first, so that a change refers to records that exist either way
    const writes = operationsOf(doc)
      .filter(({ op }) => op.requestBody)
      .sort((a, b) => (a.method === 'post' ? 0 : 1) - (b.method === 'post' ? 0 : 1));
    for (const { where, path, method, op } of writes) {
      for (const [media, content] of Object.entries<Json>(op.requestBody.content)) {
        const example = content.example ?? resolve(doc, content.schema).example;
        expect(example, `${where} ${media} has no example (the explorer would make one up)`).toBeDefined();
        // with the header parameters the explorer pre-fills (an Idempotency-Key example, if any)
        const prefilled = Object.fromEntries(
          (op.parameters ?? [])
            .filter((p: Json) => p.in === 'header' && (p.example ?? p.schema.example) !== undefined)
            .map((p: Json) => [p.name, String(p.example ?? p.schema.example)]),
        );
        const res = await t.app.inject({
          method: method.toUpperCase() as 'POST',
          url: fillPath(path, op),
          headers: { ...prefilled, ...AUTH, 'content-type': media },
          payload: typeof example === 'string' ? example : JSON.stringify(example),
        });
        expect(res.statusCode, `${where} ${media}: ${res.body}`).toBeLessThan(300);
        sent++;
      }
    }
    expect(sent).toBeGreaterThan(15);
  });

  it('pre-fills nothing in the explorer that breaks a request: every read with its examples and defaults answers entries', async () => {
    for (const { where, path, method, op } of operationsOf(doc)) {
      const params: Json[] = op.parameters ?? [];
      if (method !== 'get' || !path.startsWith('/v1/')) continue;
      // what Swagger UI fills in on "Try it out": each parameter's example, else its default
      const query = new URLSearchParams();
      for (const p of params.filter((q) => q.in === 'query')) {
        const value = p.example ?? p.schema.example ?? p.schema.default;
        if (value !== undefined) for (const v of [value].flat()) query.append(p.name, String(v));
      }
      const url = `${fillPath(path, op)}${query.size ? `?${query}` : ''}`;
      const res = await t.app.inject({ url });
      expect(res.statusCode, `${where}: ${url} ${res.body.slice(0, 300)}`).toBe(200);
      const body = res.headers['content-type']?.toString().startsWith('application/json') ? res.json() : null;
      if (Array.isArray(body?.data)) expect(body.data.length, `${where}: ${url} answers an empty page`).toBeGreaterThan(0);
    }
    for (const { where, op } of operationsOf(doc)) {
      const params: Json[] = op.parameters ?? [];
      const idempotency = params.find((p) => p.name === 'idempotency-key');
      if (idempotency) {
        // one shared example key would make every write after the first a 422
        expect(idempotency.example ?? idempotency.schema.example, where).toBeUndefined();
        expect(idempotency.description, where).toMatch(/visible ASCII/);
      }
      for (const p of params) {
        if (p.in === 'query' && !p.required) {
          expect(p.example ?? p.schema.example, `${where} ?${p.name} is pre-filled with an example`).toBeUndefined();
        }
      }
    }
  });

  it('serves the explorer under a policy that works over plain HTTP: no upgrade-insecure-requests', async () => {
    const page = await t.app.inject({ url: '/docs/', headers: { host: 'annals.lan:3000' } });
    expect(page.statusCode).toBe(200);
    const asset = [...page.body.matchAll(/(?:src|href)="\.\/(static\/[^"]+)"/g)].map((m) => m[1]!)[0]!;
    for (const url of ['/docs/', `/docs/${asset}`, '/docs/json', '/openapi.json', '/problems/not-found']) {
      const res = await t.app.inject({ url, headers: { host: 'annals.lan:3000' } });
      const policy = String(res.headers['content-security-policy'] ?? '');
      expect(policy, url).toContain("default-src 'self'");
      expect(policy, url).not.toMatch(/upgrade-insecure-requests/i);
    }
  });
});
