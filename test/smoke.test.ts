import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from './helpers.js';
import { describeEngines } from './support/pg.js';

describeEngines('seeded app', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ seed: true, engine });
  });
  afterAll(() => t?.close());

  it('serves the January 2022 timeline in order', async () => {
    const res = await t.app.inject({ url: '/v1/timeline?from=2022-01-01&to=2022-01-31&lang=ar&limit=100' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    const first = body.data[0];
    expect(first.key).toBe('event:kz-protests-2022-01-02');
    expect(first.date.earliest).toBe('2022-01-02');
    expect(Object.keys(first.title)).toEqual(['ar']);
  });
});
