/**
 * EXPLAIN (ANALYZE, BUFFERS) of every statement a request runs on the PostgreSQL engine, for
 * the benchmark's report: where the time of a request goes inside PostgreSQL.
 *
 * As bench/plans.ts does on SQLite, the statements are not written out again here: the
 * request is sent to the app itself (buildApp, in this process, on the benchmark's
 * PostgreSQL database), every statement node-postgres sends meanwhile is recorded with its
 * values and the time it took to answer, and each distinct read is run again under
 * EXPLAIN ANALYZE on a connection of its own once the request has ended.
 */
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import type { PlanRequest, RequestPlans } from './plans.js';

interface Recorded {
  text: string;
  values: unknown[];
  runs: number;
  /** Milliseconds from sending the statement to its answer, over its runs. */
  ms: number;
}

/** The text and values of a node-postgres query call (a config object, or text and values). */
function statementOf(args: unknown[]): { text: string; values: unknown[] } | null {
  const [first, second] = args;
  if (typeof first === 'string') return { text: first, values: Array.isArray(second) ? (second as unknown[]) : [] };
  if (first !== null && typeof first === 'object' && 'text' in first && typeof first.text === 'string') {
    // drizzle passes the values beside the config, node-postgres's own callers inside it
    const values = 'values' in first && Array.isArray(first.values) ? (first.values as unknown[]) : Array.isArray(second) ? (second as unknown[]) : [];
    return { text: first.text, values };
  }
  return null;
}

/** Sends each request to an app of its own on the PostgreSQL database `url` and returns the plans of the reads it ran. */
export async function explainPgRequests(url: string, requests: PlanRequest[], options: { bootstrapKey?: string } = {}): Promise<RequestPlans[]> {
  const app = await buildApp({
    databasePath: '',
    postgres: { url, poolSize: 4 },
    seedWhenEmpty: false,
    logLevel: 'silent',
    rateLimit: 0,
    ...(options.bootstrapKey === undefined ? {} : { bootstrapKey: options.bootstrapKey }),
  });
  // every connection's queries, the pool's and a transaction's alike
  const original: unknown = Reflect.get(pg.Client.prototype, 'query');
  if (typeof original !== 'function') throw new Error('pg.Client has no query method to trace');
  let recording: Map<string, Recorded> | null = null;
  const traced = function traced(this: pg.Client, ...args: unknown[]): unknown {
    const statement = recording ? statementOf(args) : null;
    if (!statement || !recording) return Reflect.apply(original, this, args);
    const key = statement.text.replace(/\s+/g, ' ').trim();
    const seen = recording.get(key) ?? { ...statement, runs: 0, ms: 0 };
    recording.set(key, seen);
    seen.runs += 1;
    const started = performance.now();
    const answered = () => (seen.ms += performance.now() - started);
    // the pool's queries pass a callback; a client's return a promise
    const last = args.at(-1);
    if (typeof last === 'function') {
      const callback = (...results: unknown[]): unknown => {
        answered();
        return Reflect.apply(last, undefined, results);
      };
      return Reflect.apply(original, this, [...args.slice(0, -1), callback]);
    }
    const result: unknown = Reflect.apply(original, this, args);
    if (result instanceof Promise) void result.then(answered, () => {});
    return result;
  };
  const patch = (query: unknown) => Object.defineProperty(pg.Client.prototype, 'query', { value: query, writable: true, configurable: true });
  patch(traced);
  const explainer = new pg.Client({ connectionString: url });
  await explainer.connect();
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const results: RequestPlans[] = [];
    for (const { name, url: path, method, headers, body } of requests) {
      recording = new Map();
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        ...(method === undefined ? {} : { method }),
        ...(headers === undefined ? {} : { headers }),
        ...(body === undefined ? {} : { body }),
      });
      for await (const _chunk of response.body ?? []) void _chunk;
      const recorded = [...recording.values()];
      recording = null;
      const statements = [];
      for (const statement of recorded) {
        const sql = statement.text.replace(/\s+/g, ' ').trim();
        const timing = `[answered in ${statement.ms.toFixed(2)} ms${statement.runs > 1 ? ` over ${statement.runs} runs` : ''}]`;
        if (!/^\(*\s*(SELECT|WITH)\b/i.test(sql)) {
          statements.push({ sql, runs: statement.runs, plan: [timing], fullScans: [] });
          continue;
        }
        try {
          const { rows } = await explainer.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${statement.text}`, statement.values);
          const plan = [timing, ...rows.map((row) => row['QUERY PLAN'])];
          statements.push({ sql, runs: statement.runs, plan, fullScans: plan.filter((line) => /Seq Scan on (entries|entry_actors|entry_places|search_index)\b/.test(line)) });
        } catch (error) {
          statements.push({ sql, runs: statement.runs, plan: [timing, `(no plan: ${(error as Error).message})`], fullScans: [] });
        }
      }
      results.push({ name, status: response.status, statements });
    }
    return results;
  } finally {
    recording = null;
    patch(original);
    await explainer.end();
    await app.close();
  }
}
