import type { z } from 'zod';
import type { RecordKind } from '../repositories/support.js';
import { ActorInput } from '../schemas/actors.js';
import { EventInput, StatementInput } from '../schemas/entries.js';
import { PlaceInput } from '../schemas/places.js';
import { SourceInput } from '../schemas/sources.js';
import { TimelineInput } from '../schemas/timelines.js';
import { splitLines } from './lines.js';

// Apart from ndjson.ts so that the parsing worker (parse-worker.ts) loads the schemas only,
// not the database and the repositories.

/** The input schema of each record kind of the interchange format. */
export const schemas: Record<RecordKind, z.ZodType> = {
  source: SourceInput,
  place: PlaceInput,
  actor: ActorInput,
  event: EventInput,
  statement: StatementInput,
  timeline: TimelineInput,
};

export interface ParsedRecord {
  line: number;
  kind: RecordKind;
  key: string;
  data: { key: string } & Record<string, unknown>;
}

export interface RefusedLine {
  line: number;
  key: string | null;
  kind: string | null;
  reason: string;
}

/** What one line of the input is: a record, a refusal, or (neither `data` nor `reason`) a blank line. */
export type ParsedLine = ParsedRecord | RefusedLine | { line: number };

/** Reasons read from zod issues: `path: message`, the first few. */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path.length ? `/${issue.path.join('/')}` : '';
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

export function parseLine(text: string, line: number): ParsedRecord | RefusedLine {
  const refuse = (reason: string, key: string | null = null, kind: string | null = null): RefusedLine => ({
    line,
    key,
    kind,
    reason,
  });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return refuse(`not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return refuse('not a JSON object');
  const { kind, ...rest } = value as Record<string, unknown>;
  const key = typeof rest.key === 'string' ? rest.key : null;
  if (typeof kind !== 'string' || !(kind in schemas)) {
    return refuse(`unknown kind ${JSON.stringify(kind ?? null)}; expected one of ${Object.keys(schemas).join(', ')}`, key);
  }
  if (key === null) return refuse('missing required field: key', null, kind);
  const parsed = schemas[kind as RecordKind].safeParse(rest);
  if (!parsed.success) return refuse(describeIssues(parsed.error), key, kind);
  return { line, kind: kind as RecordKind, key, data: parsed.data as ParsedRecord['data'] };
}

/** Splits a byte stream into lines and parses each, one line at a time. */
export async function* parseLines(
  input: AsyncIterable<Buffer | Uint8Array | string>,
  maxLineBytes: number,
): AsyncGenerator<ParsedLine[]> {
  for await (const { line, text, tooLong } of splitLines(input, maxLineBytes)) {
    if (tooLong) yield [{ line, key: null, kind: null, reason: 'line is longer than the limit' }];
    else if (text.trim() === '') yield [{ line }];
    else yield [parseLine(text, line)];
  }
}
