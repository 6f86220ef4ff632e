import type { z } from 'zod';
import type { RecordKind } from '../storage/types.js';
import { ActorInput } from '../schemas/actors.js';
import { EventInput, StatementInput } from '../schemas/entries.js';
import { EndLine } from '../schemas/import.js';
import { PlaceInput } from '../schemas/places.js';
import { SourceInput } from '../schemas/sources.js';
import { TimelineInput } from '../schemas/timelines.js';
import { describeInvalidUtf8, findLoneSurrogate, mayHoldLoneSurrogate } from './unicode.js';
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

/** The kinds of record lines, in the order of the format. */
export const RECORD_KINDS = Object.keys(schemas) as RecordKind[];

/**
 * True when `kind` names a record kind. An own property, never `in`: a line's `kind` is the
 * client's, and `"toString" in schemas` is true.
 */
export const isRecordKind = (kind: unknown): kind is RecordKind => typeof kind === 'string' && Object.hasOwn(schemas, kind);

/** The kind of the line a full export ends with: not a record, the export's own count of them. */
export const END_KIND = 'end';

export interface ParsedRecord {
  line: number;
  kind: RecordKind;
  key: string;
  data: { key: string } & Record<string, unknown>;
  /** Length of the line's text: what keeping the record costs, roughly. */
  size: number;
}

export interface RefusedLine {
  line: number;
  key: string | null;
  kind: string | null;
  reason: string;
}

/** The end line of a full export, as declared. */
export interface EndDeclaration {
  line: number;
  end: z.infer<typeof EndLine>;
}

/**
 * What one line of the input is: a record, a refusal, an end line, or (none of `data`,
 * `reason` and `end`) a blank line.
 */
export type ParsedLine = ParsedRecord | RefusedLine | EndDeclaration | { line: number };

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

export function parseLine(text: string, line: number): ParsedRecord | RefusedLine | EndDeclaration {
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
  const knownKind = isRecordKind(kind) || kind === END_KIND ? kind : null;
  if (mayHoldLoneSurrogate(text)) {
    const found = findLoneSurrogate(value);
    if (found) return refuse(`${found.pointer || '/'}: ${found.message}`, key, knownKind);
  }
  if (kind === END_KIND) {
    const end = EndLine.safeParse(rest);
    if (!end.success) return refuse(`not a valid end line: ${describeIssues(end.error)}`, null, END_KIND);
    return { line, end: end.data };
  }
  if (!isRecordKind(kind)) {
    return refuse(
      `unknown kind ${JSON.stringify(kind ?? null)}; expected one of ${RECORD_KINDS.join(', ')} (or ${END_KIND}, the last line of a full export)`,
      key,
    );
  }
  if (key === null) return refuse('missing required field: key', null, kind);
  const parsed = schemas[kind].safeParse(rest);
  if (!parsed.success) return refuse(describeIssues(parsed.error), key, kind);
  return { line, kind, key, data: parsed.data as ParsedRecord['data'], size: text.length };
}

/** Splits a byte stream into lines and parses each, one line at a time. */
export async function* parseLines(
  input: AsyncIterable<Buffer | Uint8Array | string>,
  maxLineBytes: number,
): AsyncGenerator<ParsedLine[]> {
  for await (const { line, text, tooLong, invalidUtf8At, bytes } of splitLines(input, maxLineBytes)) {
    if (tooLong) yield [{ line, key: null, kind: null, reason: 'line is longer than the limit' }];
    else if (invalidUtf8At !== -1) yield [invalidUtf8Refusal(line, bytes!, invalidUtf8At)];
    else if (text.trim() === '') yield [{ line }];
    else yield [parseLine(text, line)];
  }
}

/** A line with bytes that are not UTF-8, refused naming the field they are in. */
function invalidUtf8Refusal(line: number, bytes: Buffer, offset: number): RefusedLine {
  const { pointer, message } = describeInvalidUtf8(bytes, offset);
  // what can be told of the record from the valid bytes before the bad one
  const before = bytes.subarray(0, offset).toString('utf8');
  const key = /"key"\s*:\s*"([A-Za-z][A-Za-z0-9:._~-]{0,199})"/.exec(before)?.[1] ?? null;
  const kind = /"kind"\s*:\s*"([a-z]{1,20})"/.exec(before)?.[1] ?? null;
  return { line, key, kind: isRecordKind(kind) || kind === END_KIND ? kind : null, reason: `${pointer || '/'}: ${message}` };
}
