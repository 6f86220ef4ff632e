/**
 * The values that cross the storage port, the same for every engine: queries as the routes
 * resolve them, positions that cursors carry, records as the API returns them.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { z } from 'zod';
import type { Actor, ActorInput, ActorPatch } from '../schemas/actors.js';
import type { Event, EventInput, EventPatch, Statement, StatementInput, StatementPatch } from '../schemas/entries.js';
import type { Place, PlaceInput, PlacePatch } from '../schemas/places.js';
import type { Source, SourceInput, SourcePatch } from '../schemas/sources.js';
import type { CuratedTimeline, TimelineInput, TimelinePatch } from '../schemas/timelines.js';

export type RecordKind = 'source' | 'place' | 'actor' | 'event' | 'statement' | 'timeline';

/** What a reference names: entries (events and statements) share one key space and table. */
export type RefTable = 'source' | 'place' | 'actor' | 'entry' | 'timeline';

/** What each kind of record is written as (create, patch) and read as. */
export interface RecordShapes {
  source: { input: z.output<typeof SourceInput>; patch: z.output<typeof SourcePatch>; output: z.output<typeof Source> };
  place: { input: z.output<typeof PlaceInput>; patch: z.output<typeof PlacePatch>; output: z.output<typeof Place> };
  actor: { input: z.output<typeof ActorInput>; patch: z.output<typeof ActorPatch>; output: z.output<typeof Actor> };
  event: { input: z.output<typeof EventInput>; patch: z.output<typeof EventPatch>; output: z.output<typeof Event> };
  statement: { input: z.output<typeof StatementInput>; patch: z.output<typeof StatementPatch>; output: z.output<typeof Statement> };
  timeline: { input: z.output<typeof TimelineInput>; patch: z.output<typeof TimelinePatch>; output: z.output<typeof CuratedTimeline> };
}

export type RecordInput<K extends RecordKind> = RecordShapes[K]['input'];
export type RecordPatch<K extends RecordKind> = RecordShapes[K]['patch'];
export type RecordOutput<K extends RecordKind> = RecordShapes[K]['output'];

export type EventDto = z.output<typeof Event>;
export type StatementDto = z.output<typeof Statement>;
export type EntryDto = EventDto | StatementDto;

/**
 * A page's place in the timeline's order: an entry's position on the time line
 * (`sort_start`, `sort_end`: src/dates/edtf.ts chronoPosition) and its id.
 */
export type TimelinePosition = [start: number, end: number, id: number];

export interface TimelineQuery {
  /** Window bounds as day numbers, inclusive; undefined is open. */
  from?: number | undefined;
  to?: number | undefined;
  match: 'overlaps' | 'within';
  kinds?: ('event' | 'statement')[] | undefined;
  types?: string[] | undefined;
  tags?: string[] | undefined;
  /** Actor ids (OR). Events match by any role (or `role`); statements by speaker, or `about`. */
  actors?: number[] | undefined;
  role?: string | undefined;
  /** Place ids (OR), each with every place under it (expanded by the engine, however many). */
  places?: number[] | undefined;
  /**
   * The user's full-text query, checked to hold a word to search for (resolveTimelineQuery):
   * each engine builds its own expression from it with src/search/text.ts's analysis (SQLite
   * an FTS5 MATCH, PostgreSQL a tsquery), so that none reads another's syntax.
   */
  text?: string | undefined;
  order: 'asc' | 'desc';
}

/**
 * Where a relevance-ordered page ends. Ranks move with writes, so a cursor also says which
 * pages so far must still be the best `seen` matches in the current order (their ids' digest
 * tells): then the next page starts after them, else the cursor has expired.
 */
export type RelevancePosition = [
  /** The data revision the page was read at. */
  revision: string,
  /** The highest entry id when the first page was read: entries created since are not part of these pages. */
  maxId: number,
  /** How many matches the pages so far held. */
  seen: number,
  /** The digest of their ids (see addToDigest), two 32-bit halves. */
  digestHigh: number,
  digestLow: number,
  /** The score and the id of the last entry. */
  rank: number,
  id: number,
];

/** A page of ids and where the next one starts (null on the last page). */
export interface IdPage<Position = unknown> {
  ids: number[];
  next: Position | null;
}

export interface DateCounts {
  /** Entries starting, and ending, before the first day. */
  before: { starts: number; ends: number };
  /** [day, starts, ends] for the days of the range that have any, by day (a day may repeat, once per kind). */
  days: [day: number, starts: number, ends: number][];
  /** [earliest, latest, n] of the spans inside the range no longer than `maxDays` (repeats per kind). */
  within: [earliest: number, latest: number, n: number][];
}

export interface SpanCount {
  earliest: number;
  latest: number;
  n: number;
}

export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKeyInfo {
  id: number;
  name: string;
  hint: string;
  scopes: Scope[];
  createdAt: string;
  revokedAt: string | null;
}

/** The process that holds a reservation: its host and pid, and a nonce drawn at its start (pids are reused). */
export interface LeaseOwner {
  host: string;
  pid: number;
  nonce: string;
}

/** This process. */
export const THIS_PROCESS: LeaseOwner = { host: hostname(), pid: process.pid, nonce: randomBytes(12).toString('hex') };

export interface IdempotencyRequest {
  apiKeyId: number;
  key: string;
  method: string;
  path: string;
  /** SHA-256 of the body, or null when it is not known yet (a streamed body). */
  bodyHash: string | null;
  /** Who runs the request (this process unless told otherwise). */
  owner?: LeaseOwner;
}

export type Claim =
  | { kind: 'fresh' }
  | { kind: 'replay'; status: number; response: string; bodyHash: string | null };

/** Every structure a storage engine keeps in memory that requests can fill, with its size and bound. */
export type BoundedStructures = Record<string, { size: number; limit: number }>;

/** Who a write is made for: the name of the API key that authenticated it (never its secret), or null (the seed, a script). */
export interface WriteContext {
  author: string | null;
}

/** A write made for no key: the seed, the command line. */
export const ANONYMOUS_WRITE: WriteContext = { author: null };

export type ChangeOperation = 'create' | 'update' | 'delete';

/** One row of the change log. */
export interface Change {
  /** Grows with every change, in commit order. */
  sequence: number;
  kind: RecordKind;
  /** The record's id and its key when it changed (the key a delete removed). */
  id: number;
  key: string;
  operation: ChangeOperation;
  /** When it was written (ISO 8601). */
  at: string;
  /** The name of the API key that wrote it. */
  author: string | null;
  /** An update's changed fields (names of the record's stored form); null otherwise. */
  fields: string[] | null;
}

export interface ChangeFilter {
  kinds?: RecordKind[] | undefined;
}

/** The log's extent: changes after `floor` are all kept (older ones are pruned), and `latest` is the newest sequence handed out. */
export interface ChangeLogExtent {
  floor: number;
  latest: number;
}

/** One revision of a record: a change of it, with what its changed fields were before (an update). */
export interface Revision extends Change {
  /** An update's changed fields as they were, in the record's stored form (references as ids); null for a create. */
  previous: Record<string, unknown> | null;
}
