/**
 * The text and parameters of a query built with drizzle's `sql`, as an engine's dialect
 * (`sqlToQuery`) writes them, for the queries the engines build per request: drizzle tests
 * every chunk against each kind it knows (tables, columns, views, placeholders...) through
 * `is()`, which walks prototype chains, and a timeline page of a hundred chunks took longer to
 * compile that way than to run on SQLite. The chunks those queries are made of (text, nested
 * SQL, parameters and plain values) are compiled here the same way; for a query with any other
 * chunk this answers undefined, and the engine asks its dialect.
 *
 * drizzle is making its own compile cheaper (https://github.com/drizzle-team/drizzle-orm/pull/6129,
 * `is()` to `instanceof`): on an upgrade that has it, measure again, and drop this if drizzle's
 * holds its own. drizzle is imported only by the engines (README, "Layout"), so each passes its
 * classes in.
 */
export interface DrizzleChunkClasses {
  SQL: abstract new (...args: never[]) => { queryChunks: unknown[] };
  StringChunk: abstract new (...args: never[]) => { value: string[] };
  Param: abstract new (...args: never[]) => { value: unknown; encoder: { mapToDriverValue(value: unknown): unknown } };
  Placeholder: abstract new (...args: never[]) => object;
}

export interface CompiledSql {
  sql: string;
  params: unknown[];
}

export function compileSql(
  query: { queryChunks: unknown[] },
  classes: DrizzleChunkClasses,
  escapeParam: (index: number) => string,
): CompiledSql | undefined {
  const params: unknown[] = [];
  const text = chunksText(query.queryChunks, classes, escapeParam, params);
  return text === undefined ? undefined : { sql: text, params };
}

function chunksText(
  chunks: readonly unknown[],
  classes: DrizzleChunkClasses,
  escapeParam: (index: number) => string,
  params: unknown[],
): string | undefined {
  let text = '';
  for (const chunk of chunks) {
    if (chunk instanceof classes.StringChunk) {
      text += chunk.value.join('');
    } else if (chunk instanceof classes.SQL) {
      // `.inlineParams()` writes the values into the text, with the dialect's escaping
      if (Reflect.get(chunk, 'shouldInlineParams') === true) return undefined;
      const inner = chunksText(chunk.queryChunks, classes, escapeParam, params);
      if (inner === undefined) return undefined;
      text += inner;
    } else if (chunk instanceof classes.Param) {
      // bound as its encoder maps it, an array (PostgreSQL's `= ANY($1)`) as it is
      if (chunk.value instanceof classes.Placeholder) return undefined;
      const value = chunk.value === null ? null : chunk.encoder.mapToDriverValue(chunk.value);
      if (value instanceof classes.SQL) return undefined;
      text += escapeParam(params.length);
      params.push(value);
    } else if (chunk === undefined) {
      continue;
    } else if (isPlainValue(chunk)) {
      text += escapeParam(params.length);
      params.push(chunk);
    } else {
      return undefined;
    }
  }
  return text;
}

/** A chunk drizzle binds as it is (an array it expands, an object such as a column it names). */
const isPlainValue = (value: unknown) =>
  value === null || (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol') || Buffer.isBuffer(value);
