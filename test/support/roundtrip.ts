// Export, import into an empty instance, export again: what the tests of writes use to check
// that every write the API accepts leaves data the interchange format can bring back.
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { AUTH, buildTestApp } from '../helpers.js';

type Json = Record<string, any>;

export async function exportText(app: FastifyInstance): Promise<string> {
  const res = await app.inject({ method: 'GET', url: '/v1/export' });
  expect(res.statusCode, res.body).toBe(200);
  return res.body;
}

export async function importText(app: FastifyInstance, text: string): Promise<Json> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/import',
    headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
    payload: text,
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<Json>();
}

/**
 * The records of an export apart from a final `{"kind":"end",...}` trailer line, if the export
 * has one: its revision differs between instances, so only its counts are compared.
 */
export function splitTrailer(text: string): { records: string; trailer: Json | null } {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const last = lines[lines.length - 1];
  if (last !== undefined) {
    try {
      const parsed = JSON.parse(last) as Json;
      if (parsed?.kind === 'end') {
        lines.pop();
        return { records: lines.map((line) => `${line}\n`).join(''), trailer: parsed };
      }
    } catch {
      // not JSON: a record line the import will refuse, compared as it is
    }
  }
  return { records: lines.map((line) => `${line}\n`).join(''), trailer: null };
}

export interface RoundTrip {
  first: string;
  second: string;
  report: Json;
  records: number;
}

/** Exports `app`, imports the export into a fresh empty instance and exports that. */
export async function roundTrip(app: FastifyInstance): Promise<RoundTrip> {
  const first = await exportText(app);
  const copy = await buildTestApp({ memory: true });
  try {
    const report = await importText(copy.app, first);
    const second = await exportText(copy.app);
    return { first, second, report, records: splitTrailer(first).records.split('\n').length - 1 };
  } finally {
    await copy.close();
  }
}

/** The export of `app` imports into an empty instance, every line, and exports again to the same bytes. */
export async function expectRoundTrip(app: FastifyInstance): Promise<RoundTrip> {
  const trip = await roundTrip(app);
  expect(trip.report.errors, 'lines the import refused').toEqual([]);
  expect(trip.report.refused).toBe(0);
  expect(trip.report.created).toBe(trip.records);
  const first = splitTrailer(trip.first);
  const second = splitTrailer(trip.second);
  expect(second.records).toBe(first.records);
  expect(second.trailer?.records).toEqual(first.trailer?.records);
  expect(second.trailer?.counts).toEqual(first.trailer?.counts);
  return trip;
}
