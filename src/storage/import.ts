/**
 * An import as the storage port offers it: a session that src/import/ndjson.ts drives batch
 * by batch, the same for every engine. The engine decides how a batch is made atomic (a
 * transaction of its own, or a part of one that spans the whole session) and how a large
 * load into an empty database is written fastest (SQLite: indexes built once at the end;
 * PostgreSQL: COPY), while the import decides what is stored, refused or kept waiting.
 */
import type { RecordKind } from './types.js';

export interface ImportSessionOptions {
  /** Whom the change log names as the author of what the import writes (an API key's name). */
  author?: string | null;
  /**
   * Validate and report, store nothing: every batch runs inside one unit that is undone at the
   * end, so later lines still see the records earlier lines would have created. It holds the
   * write lock as an import would: other writes wait for it as long as for any write
   * (WRITE_LOCK_WAIT_MS, src/storage/lock-waits.ts), then are refused (busy).
   */
  dryRun?: boolean;
  /**
   * A bulk load: the whole session is one unit (a failure leaves the database as it was),
   * written the engine's fastest way. `when-empty` asks for it only when the database holds
   * no records; `always` is for a caller that knows it has an empty database to itself.
   * Ignored by a dry run.
   */
  bulkLoad?: 'when-empty' | 'always';
  /** How long a batch waits for a write lock that another connection holds before it gives up (busy). */
  lockWaitMs?: number;
}

/** The outcome of one record: stored, found already stored as it is, or waiting for keys not stored yet. */
export type ImportUpsert =
  | { outcome: 'created' | 'updated' | 'unchanged' }
  | { outcome: 'deferred'; waitingFor: string[] };

/** What a batch writes through: one record at a time, inside the batch's unit. */
export interface ImportWriter {
  /**
   * Creates, updates or leaves unchanged the record with `data.key` (a full record: fields it
   * leaves out fall back to their defaults). Every check comes before its first write: a
   * ProblemError thrown is the record's refusal, and it has written nothing. References to
   * keys that `pendingKeys` says may still come make it `deferred` instead of refused; without
   * it, every reference must resolve now. Any other error fails the batch.
   */
  upsert(kind: RecordKind, data: { key: string } & Record<string, unknown>, pendingKeys?: (key: string) => boolean): Promise<ImportUpsert>;
  /**
   * The keys of the records the batch is about to upsert, before the first: an engine that
   * finds keys over a network may look them all up at once instead of one by one. Optional.
   */
  willUpsert?(keys: readonly string[]): Promise<void>;
}

export interface ImportSession {
  /** How this session stores: batch by batch, one bulk load, or a dry run that stores nothing. */
  readonly mode: 'batches' | 'bulk' | 'dry-run';
  /**
   * Records per batch this session is best fed in, when it has a preference: the import's
   * default otherwise. A batch that is a transaction holds the write lock while it runs, and must
   * let go of it well within the time a write waits for it (WRITE_LOCK_WAIT_MS), so that writes
   * arriving during an import are served between batches; a bulk load's batches are not
   * transactions of their own, and small ones keep its memory low. Also the lines per message
   * of a parsing worker that feeds it.
   */
  readonly batchRecords?: number;
  /**
   * Runs `work` as one batch: what it writes is stored whole when it resolves, and not at all
   * when it throws (in a bulk load or a dry run, the session's one unit then fails as a whole).
   * `work` must await nothing but the writer: in an embedded engine the batch holds the
   * connection's transaction, which no other request may share.
   */
  batch(work: (writer: ImportWriter) => Promise<void>): Promise<void>;
  /** Ends the session after its last batch: a bulk load commits (its indexes built), a dry run is undone. */
  finish(): Promise<void>;
  /** Ends the session after a failure: a bulk load or a dry run is undone; batches already stored stay. */
  abort(): Promise<void>;
}
