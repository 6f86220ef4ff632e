/**
 * The storage port: everything the routes, plugins, formats and import ask of a database,
 * as async operations over engine-neutral values (src/storage/types.ts). Each engine
 * (src/storage/sqlite, next to it PostgreSQL) implements it in a folder of its own and keeps
 * its own transaction discipline inside: an operation that writes is one transaction, and
 * what a caller needs atomically (an idempotency key claimed with the record it creates) is
 * one operation, so that no transaction is ever held open across an await of the caller.
 */
import type { Readable } from 'node:stream';
import type { ImportSession, ImportSessionOptions } from './import.js';
import type { RequestCount } from './request-counts.js';
import type {
  ApiKeyInfo,
  Change,
  ChangeFilter,
  ChangeLogExtent,
  Revision,
  WriteContext,
  BoundedStructures,
  Claim,
  DateCounts,
  EntryDto,
  IdempotencyRequest,
  IdPage,
  RecordInput,
  RecordKind,
  RecordOutput,
  RecordPatch,
  RefTable,
  RelevancePosition,
  SpanCount,
  TimelinePosition,
  TimelineQuery,
} from './types.js';

/** An import through the API that stored (created or updated) at least this many records refreshes the planner's statistics. */
export const STATISTICS_AFTER_IMPORT_RECORDS = 10_000;

/** The outcome of a create that may replay an earlier response (an `Idempotency-Key`). */
export interface CreateResult<Output> {
  replayed: boolean;
  record: Output;
}

export interface SourceFilters {
  type?: string[] | undefined;
  language?: string[] | undefined;
}

export interface PlaceFilters {
  type?: string[] | undefined;
  countryCode?: string[] | undefined;
  /** Only the direct children of this place. */
  parent?: number | undefined;
}

export interface ActorFilters {
  type?: string[] | undefined;
}

export interface Storage {
  /** Which engine this is, as `/readyz` and the operations scripts tell it. */
  readonly engine: 'sqlite' | 'postgres';

  /** The id of the record a reference (numeric id or key) names, or null. */
  findId(table: RefTable, ref: string, expect?: 'event' | 'statement'): Promise<number | null>;
  /** A record by reference, as the API returns it; a 404 problem when there is none. */
  getRecord<K extends RecordKind>(kind: K, ref: string, lang?: string): Promise<RecordOutput<K>>;
  /**
   * A record as it was at `asOf` (ISO 8601), rebuilt from the change log: a 404 problem when it
   * did not exist then, a 410 when the log no longer reaches back that far.
   */
  getRecordAsOf<K extends RecordKind>(kind: K, ref: string, asOf: string, lang?: string): Promise<RecordOutput<K>>;
  /** The records of `ids` that exist, in that order. */
  loadRecords<K extends RecordKind>(kind: K, ids: number[], lang?: string): Promise<RecordOutput<K>[]>;
  /**
   * Creates a record; with an idempotency request, claims the key in the same transaction.
   * Every write logs what it changed in its own transaction (see the change log below), named
   * after `context.author`.
   */
  createRecord<K extends RecordKind>(
    kind: K,
    input: RecordInput<K>,
    idempotency: IdempotencyRequest | null,
    context?: WriteContext,
  ): Promise<CreateResult<RecordOutput<K>>>;
  /** Logs an update with its changed fields, or nothing when the patch changes nothing. */
  patchRecord<K extends RecordKind>(kind: K, ref: string, patch: RecordPatch<K>, context?: WriteContext): Promise<RecordOutput<K>>;
  /**
   * Refused with a 409 problem while other records refer to it (curated timelines too), so a
   * delete changes no other record: it logs its tombstone alone.
   */
  deleteRecord(kind: RecordKind, ref: string, context?: WriteContext): Promise<void>;
  /**
   * Starts an import (src/import/ndjson.ts drives it): batch by batch, a bulk load, or a dry
   * run. Each batch logs its records' changes (`options.author`) in one statement.
   */
  beginImport(options?: ImportSessionOptions): Promise<ImportSession>;

  /**
   * The change log: changes after sequence `after`, in sequence order, at most `limit`.
   * Sequences only grow, and a reader never sees a sequence before a smaller one that commits
   * later (each engine keeps that its own way: see the SQLite table's comment).
   */
  changesAfter(filter: ChangeFilter, after: number, limit: number): Promise<Change[]>;
  /** What the log still holds (older changes are pruned) and its newest sequence. */
  changeLogExtent(): Promise<ChangeLogExtent>;
  /** The revisions of a record (by reference) still in the log, oldest first; a 404 problem when there is no such record. */
  recordRevisions(kind: RecordKind, ref: string): Promise<Revision[]>;
  /** The values the change of sequence `sequence` replaced (its revision's `previous`); null when it holds none or the log no longer does. */
  changePrevious(sequence: number): Promise<Record<string, unknown> | null>;
  /** Prunes the changes written before `before` (ISO 8601); returns how many. */
  pruneChanges(before: string): Promise<number>;

  /** Record ids in id order after `after`, at most `limit`. */
  listSourceIds(filters: SourceFilters, after: number | undefined, limit: number): Promise<number[]>;
  listPlaceIds(filters: PlaceFilters, after: number | undefined, limit: number): Promise<number[]>;
  listActorIds(filters: ActorFilters, after: number | undefined, limit: number): Promise<number[]>;
  listTimelineIds(after: number | undefined, limit: number): Promise<number[]>;
  /** A curated timeline's entries in the curator's order. */
  timelineEntryIds(timelineId: number): Promise<number[]>;

  /** One page of the timeline in chronological order after `after` (a decoded cursor, checked here). */
  timelinePage(query: TimelineQuery, after: unknown, limit: number): Promise<IdPage<TimelinePosition>>;
  /** One page by relevance to `query.text` (410 `cursor-expired` when earlier pages no longer rank first). */
  relevancePage(query: TimelineQuery & { text: string }, after: RelevancePosition | undefined, limit: number): Promise<IdPage<RelevancePosition>>;
  /** Every match of `query.text` by relevance, read at once (ranks move with every write). */
  relevanceIds(query: TimelineQuery & { text: string }): Promise<number[]>;
  /** Which of the entries `ids` the query selects, in no order (its `text` and `order` aside). */
  entriesMatching(query: TimelineQuery, ids: number[]): Promise<number[]>;
  /** Entries as the API returns them, in the order of `ids` (missing ones left out). */
  loadEntries(ids: number[], lang: string | undefined): Promise<EntryDto[]>;
  /** The same entries as UTF-8 JSON, each the bytes of JSON.stringify of its loadEntries value. */
  renderEntries(ids: number[], lang: string | undefined): Promise<Buffer[]>;
  /** Longitude and latitude of the places of `ids` that have them. */
  placeCoordinates(ids: number[]): Promise<Map<number, [number, number]>>;

  /** Entries per (earliest, latest) span matching the query: the histogram's general input. */
  spanCounts(query: TimelineQuery): Promise<SpanCount[]>;
  /** True when {@link dateCounts} can answer the query (a closed window, filtered only by kind). */
  countsByDate(query: TimelineQuery): Promise<boolean>;
  /** Per-day starts and ends over [first, last]: the histogram's input when only `kind` filters. */
  dateCounts(query: TimelineQuery, first: number, last: number, maxDays: number): Promise<DateCounts>;

  /**
   * Interchange NDJSON of the dataset (or of what `query` selects and what it refers to),
   * from one consistent snapshot, ending with the trailer line. A stream, read as the client
   * reads; destroying it releases the snapshot. The trailer's `sequence` is the change log's
   * newest sequence in that snapshot.
   */
  exportStream(query: TimelineQuery | null): Readable;

  /** Names the data as it is now: changes with every committed write, by any server. */
  currentRevision(): Promise<string>;
  /** The secret that signs cursors: the same for every server of one database. */
  cursorSecret(): Promise<Buffer>;

  /** The key a secret belongs to when it is known without the slow hash; undefined when not known. */
  knownApiKey(secret: string): Promise<ApiKeyInfo | null | undefined>;
  /** The live key of a secret, after the slow verification; null when none. */
  verifySecret(secret: string): Promise<ApiKeyInfo | null>;

  claimIdempotencyKey(request: IdempotencyRequest): Promise<Claim>;
  completeIdempotencyKey(request: IdempotencyRequest, status: number, response: string): Promise<void>;
  releaseIdempotencyKey(request: IdempotencyRequest): Promise<void>;
  /** Renews a claimed key's lease while its request runs; returns the stop. */
  holdIdempotencyLease(request: IdempotencyRequest, onError: (error: unknown) => void): () => void;

  /**
   * Counts one request of a client (`key`: its API key or address, and the budget) in a fixed
   * window of `windowMs`, for the rate limits. Shared by every server of the database where
   * there can be several (PostgreSQL: one statement per request); in process where there is one
   * machine (SQLite).
   */
  countRequest(key: string, windowMs: number): Promise<RequestCount>;

  /** True when the database answers and has every committed migration applied. */
  ready(): Promise<boolean>;
  /** Refreshes the planner's statistics (after large imports, and at intervals). */
  refreshStatistics(options?: { everyTable?: boolean }): Promise<void>;
  /** The engine's in-memory structures that requests can fill, with their bounds. */
  boundedStructures(): BoundedStructures;
  close(): Promise<void>;
}
