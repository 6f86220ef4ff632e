/**
 * EXPLAIN QUERY PLAN of every statement a request runs, for the benchmark's report.
 *
 * The statements are not written out again here: each scenario's request is sent to the app
 * itself (buildApp, in this process, on the benchmark's database, over loopback HTTP so that
 * a streamed export is read as it comes, not held whole), and every statement that
 * any connection runs meanwhile (the serving one, an export's snapshot) is recorded and
 * explained on its own connection, with the values it was run with, before it runs. So a
 * plan cannot drift from what the server does, and a query added to a route shows up here.
 * A timeline page reads its entries' stored documents (src/storage/sqlite/documents.ts).
 */
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import { buildApp } from '../src/app.js';
import { SqliteStorage } from '../src/storage/sqlite/index.js';

export interface StatementPlan {
  /** The statement's SQL, whitespace collapsed. */
  sql: string;
  /** Times the request ran it. */
  runs: number;
  plan: string[];
  /** The plan's lines that read a whole table of the database (see fullScans). */
  fullScans: string[];
}

export interface RequestPlans {
  name: string;
  status: number;
  statements: StatementPlan[];
}

type Run = (this: Database.Statement, ...params: unknown[]) => unknown;

const METHODS = ['run', 'get', 'all', 'iterate'] as const;

/**
 * Plan lines that read every row of one of `tables`: `SCAN t` (with or without an index,
 * which only orders the full read) where t is the table or an alias of it in `statement`.
 * A subquery's result, a CTE, json_each and an FTS5 MATCH (`VIRTUAL TABLE INDEX n:M...`)
 * are not tables of the database.
 */
export function fullScans(statement: string, plan: string[], tables: readonly string[]): string[] {
  const names = new Set<string>();
  for (const table of tables) {
    names.add(table);
    // `FROM entries e`, `JOIN entries AS e`: the plan names the table by its alias
    const aliased = new RegExp(`(?:FROM|JOIN|,)\\s+"?${table}"?\\s+(?:AS\\s+)?([A-Za-z_][A-Za-z0-9_]*)`, 'gi');
    for (const match of statement.matchAll(aliased)) {
      const alias = match[1]!;
      if (!/^(WHERE|JOIN|LEFT|INNER|CROSS|ON|USING|ORDER|GROUP|LIMIT|UNION|AS|SET|VALUES|NATURAL|INDEXED|NOT)$/i.test(alias)) names.add(alias);
    }
  }
  return plan.filter((line) => {
    const scanned = /^SCAN "?([A-Za-z_][A-Za-z0-9_]*)"?(.*)$/.exec(line);
    if (!scanned || !names.has(scanned[1]!)) return false;
    const rest = scanned[2]!;
    // an FTS5 table is searched through its index when the plan says MATCH (M)
    return !/VIRTUAL TABLE INDEX \d+:M/.test(rest);
  });
}

/** A request to trace: a GET of `url` unless it says otherwise. */
export interface PlanRequest {
  name: string;
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * Sends the requests, one after the other, to an app of its own on `databasePath` and
 * returns, per request, every distinct statement it ran with its plan. Nothing is written to
 * the database but what starting the app writes (a no-op on a migrated database; the key of
 * `bootstrapKey`, for requests that write) and what the requests themselves write.
 */
export async function explainRequests(databasePath: string, requests: PlanRequest[], options: { bootstrapKey?: string } = {}): Promise<RequestPlans[]> {
  const app = await buildApp({
    databasePath,
    seedWhenEmpty: false,
    logLevel: 'silent',
    rateLimit: 0,
    ...(options.bootstrapKey === undefined ? {} : { bootstrapKey: options.bootstrapKey }),
  });
  // the statements are traced on the SQLite engine's connection
  if (!(app.storage instanceof SqliteStorage)) throw new Error('query plans are read from the SQLite engine');
  const client = app.storage.db.$client;
  const tables = (
    client.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[]
  ).map((r) => r.name);
  const statementClass = Object.getPrototypeOf(client.prepare('SELECT 1')) as Record<(typeof METHODS)[number], Run>;
  const originals = Object.fromEntries(METHODS.map((method) => [method, statementClass[method]])) as Record<(typeof METHODS)[number], Run>;
  let recording: Map<string, StatementPlan> | null = null;
  let explaining = false;
  for (const method of METHODS) {
    statementClass[method] = function traced(this: Database.Statement, ...params: unknown[]) {
      if (recording && !explaining) {
        const sql = this.source.replace(/\s+/g, ' ').trim();
        const seen = recording.get(sql);
        if (seen) seen.runs += 1;
        else {
          // on the statement's own connection, which may hold temporary tables the
          // statement reads (an export's plan), and before it runs
          explaining = true;
          try {
            const explain = this.database.prepare(`EXPLAIN QUERY PLAN ${this.source}`);
            const plan = (explain.all(...params) as { detail: string }[]).map((row) => row.detail);
            recording.set(sql, { sql, runs: 1, plan, fullScans: fullScans(this.source, plan, tables) });
          } catch (error) {
            // reported, not thrown: the request itself must run as the server would run it
            recording.set(sql, { sql, runs: 1, plan: [`(no plan: ${(error as Error).message})`], fullScans: [] });
          } finally {
            explaining = false;
          }
        }
      }
      return originals[method].apply(this, params);
    };
  }
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const results: RequestPlans[] = [];
    for (const { name, url, method, headers, body } of requests) {
      recording = new Map();
      const response = await fetch(`http://127.0.0.1:${port}${url}`, {
        ...(method === undefined ? {} : { method }),
        ...(headers === undefined ? {} : { headers }),
        ...(body === undefined ? {} : { body }),
      });
      // the statements of a streamed answer run until its last byte
      for await (const _chunk of response.body ?? []) void _chunk;
      // pragmas and DDL (an export's snapshot and temporary table) have no plan to show
      const statements = [...recording.values()].filter((s) => s.plan.length > 0);
      results.push({ name, status: response.status, statements });
      recording = null;
    }
    return results;
  } finally {
    recording = null;
    for (const method of METHODS) statementClass[method] = originals[method];
    await app.close();
  }
}

/**
 * The plans of statements run outside the app (the benchmark's reference server), on a
 * read-only connection of their own to `databasePath`, with the values given, as the plans
 * of one request named `name`.
 */
export function explainStatements(databasePath: string, name: string, statements: { sql: string; params: Record<string, unknown> }[]): RequestPlans {
  const db = new Database(databasePath, { readonly: true });
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[]).map((r) => r.name);
    return {
      name,
      status: 200,
      statements: statements.map(({ sql, params }) => {
        const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((row) => row.detail);
        return { sql: sql.replace(/\s+/g, ' ').trim(), runs: 1, plan, fullScans: fullScans(sql, plan, tables) };
      }),
    };
  } finally {
    db.close();
  }
}

/**
 * The report's text for one request: each statement, how often it ran, and its plan. A
 * statement already shown with the same plan (`shown`, filled as it goes: the loaders of
 * a page's entries run for every scenario) is named with where it was, not shown again.
 */
export function formatRequestPlans(label: string, request: RequestPlans, shown: Map<string, string>, expectFullScans = false): string {
  const scans = request.statements.flatMap((s) => s.fullScans);
  const flag = scans.length === 0 ? '' : expectFullScans ? '  (reads every row, as a full export must)' : '  (FULL SCAN)';
  const here = `[${label}] ${request.name}`;
  const statements = request.statements.map((s) => {
    const runs = s.runs > 1 ? `  [run ${s.runs} times]` : '';
    const key = `${s.sql}\0${s.plan.join('\n')}`;
    const where = shown.get(key);
    if (where !== undefined) return `  ${s.sql.length > 100 ? `${s.sql.slice(0, 97)}...` : s.sql}${runs}  (plan as in ${where})`;
    shown.set(key, here);
    return `  ${s.sql}${runs}\n    ${s.plan.join('\n    ')}`;
  });
  return `${here}${flag}${request.status >= 200 && request.status < 300 ? '' : `  (answered ${request.status})`}\n${statements.join('\n')}`;
}
