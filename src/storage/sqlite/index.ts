/* eslint-disable @typescript-eslint/require-await -- the port's operations are async for every engine; this engine's are synchronous inside */
import { Readable } from 'node:stream';
import { SQLITE_MMAP_MAX_MB, type AppConfig } from '../../config.js';
import type { ActorFilters, CreateResult, PlaceFilters, SourceFilters, Storage } from '../port.js';
import type {
  IdempotencyRequest,
  RecordInput,
  RecordKind,
  RecordOutput,
  RecordPatch,
  RefTable,
  RelevancePosition,
  TimelineQuery,
  WriteContext,
  ChangeFilter,
} from '../types.js';
import { ANONYMOUS_WRITE } from '../types.js';
import { changeLogExtent, changePrevious, changesAfter, latestSequence, pruneChanges, recordRevisions } from './changes.js';
import type { ImportSessionOptions } from '../import.js';
import { actorSpec, listActorIds } from './actors.js';
import { ensureApiKey, knownApiKey, upgradeApiKeys, verifiedSecretCount, verifySecret, VERIFIED_LIMIT } from './apiKeys.js';
import { BUSY_TIMEOUT_MS, isBusyError, openDatabase, openSnapshot, whenWriteLockFree, writeLockHeldElsewhere, type Db } from './client.js';
import { onEntryDocumentsLeft, renderEntries, writeMissingEntryDocuments } from './documents.js';
import { eventSpec, loadEntries, statementSpec } from './entries.js';
import { createExportPlan, dropExportPlan, emptyExportCounts, exportLines, exportPlanPage, exportTrailer } from './export.js';
import { countedByDate, dateCounts, spanCounts } from './histogram.js';
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  releaseIdempotencyKey,
  renewIdempotencyLease,
  RENEW_LEASE_MS,
} from './idempotency.js';
import { beginSqliteImport } from './import.js';
import { notFound } from '../../schemas/problems.js';
import { committedMigrations, migrationsApplied, runMigrations } from './migrate.js';
import { listPlaceIds, placeCoordinates, placeSpec } from './places.js';
import { createRecord, deleteRecord, getRecord, patchRecord, recordAsOf, type AnySpec } from './records.js';
import { ensureSearchIndex, relevanceIds, relevancePage } from './search.js';
import { loadSeedIfEmpty } from './seed.js';
import { cursorSecret, currentRevision, dataRevision, renewLineage } from './settings.js';
import { listSourceIds, sourceSpec } from './sources.js';
import { MAX_STATEMENTS, preparedStatementCount } from './statements.js';
import { OPTIMIZE_INTERVAL_MS, refreshPlannerStatistics } from './statistics.js';
import { findId } from './references.js';
import { PARSED_DATES_LIMIT, parsedDateCount } from '../dates.js';
import { BoundedCounters, REQUEST_COUNTERS_LIMIT } from '../request-counts.js';
import { writeTransaction, type Tx } from './transactions.js';
import { entriesMatching, timelinePage } from './timeline.js';
import { listTimelineIds, timelineEntryIds, timelineSpec } from './timelines.js';

const SPECS: Record<RecordKind, AnySpec> = {
  source: sourceSpec,
  place: placeSpec,
  actor: actorSpec,
  event: eventSpec,
  statement: statementSpec,
  timeline: timelineSpec,
};

/** Entries rendered into documents in one write transaction after a bulk load: short enough not to hold requests up. */
const DOCUMENTS_PAGE = 200;
/** How long a page of documents waits for a write lock another connection holds before the pass gives up (the next interval retries). */
const DOCUMENTS_LOCK_WAIT_MS = 60_000;

/** Records an export reads a page at a time. */
const EXPORT_PAGE = 250;

/**
 * Opens the database file and brings it up to date: migrations, the search index, the seed in
 * an empty one, the bootstrap key. Every step does nothing when already done, so several
 * processes may each call it once the first has (see ANNALS_WORKERS in src/server.ts).
 */
export async function prepareSqliteDatabase(config: AppConfig): Promise<Db> {
  const db = openDatabase(config.databasePath, {
    synchronous: config.synchronous ?? 'FULL',
    // the serving connection only: an import's or an export's connection reads each page about once
    mmapBytes: (config.sqliteMmapMb ?? SQLITE_MMAP_MAX_MB) * 1024 * 1024,
  });
  runMigrations(db);
  ensureSearchIndex(db);
  // revisions may repeat from here on (a restored file): ETags name a new lineage
  renewLineage(db);
  if (config.seedWhenEmpty) await loadSeedIfEmpty(db);
  db.transaction((tx) => upgradeApiKeys(tx), { behavior: 'immediate' });
  if (config.bootstrapKey) ensureApiKey(db, 'bootstrap', config.bootstrapKey);
  return db;
}

/**
 * The embedded engine: one better-sqlite3 connection per process, synchronous inside. Each
 * operation runs to its end before it returns (a write is one IMMEDIATE transaction), so no
 * transaction spans an await; several processes share the file through SQLite's locks.
 */
export class SqliteStorage implements Storage {
  readonly engine = 'sqlite' as const;
  readonly #optimizeTimer: NodeJS.Timeout | null;
  readonly #committedMigrations = committedMigrations();
  /** One machine serves an SQLite file: the rate limits count in this process (split between ANNALS_WORKERS). */
  readonly #requestCounts = new BoundedCounters();
  readonly #exclusive: boolean;
  readonly #onBackgroundError: (error: unknown) => void;
  #documentsPass: Promise<void> | null = null;
  #documentsAgain = false;
  #closed = false;

  constructor(
    readonly db: Db,
    readonly path: string,
    options: {
      optimizeIntervalMs?: number | undefined;
      /** A failure of work done between requests (planner statistics, documents rendered after a bulk load). */
      onBackgroundError?: (error: unknown) => void;
      /** The connection serves nobody else (a command-line tool): a bulk load may run on it. */
      exclusive?: boolean;
    } = {},
  ) {
    this.#exclusive = options.exclusive ?? false;
    this.#onBackgroundError = options.onBackgroundError ?? ((error) => process.emitWarning(error instanceof Error ? error : String(error)));
    // the planner's statistics, at intervals (SQLite's advice for long-lived connections). Not at
    // close: a short-lived app on a small database (a test, a benchmark phase) would leave
    // statistics of tiny tables, by which the next start plans scans that only pay on tiny tables.
    // the documents of the entries a write reached through a popular record, left to the pass
    onEntryDocumentsLeft(db.$client, () => void this.writeMissingDocuments());
    const interval = options.optimizeIntervalMs ?? OPTIMIZE_INTERVAL_MS;
    this.#optimizeTimer =
      interval > 0
        ? setInterval(() => {
            try {
              refreshPlannerStatistics(db.$client);
            } catch (error) {
              this.#onBackgroundError(error);
            }
            // entries another process bulk-loaded without documents
            void this.writeMissingDocuments();
          }, interval).unref()
        : null;
  }

  static async open(config: AppConfig): Promise<SqliteStorage> {
    const db = await prepareSqliteDatabase(config);
    const storage = new SqliteStorage(db, config.databasePath, { optimizeIntervalMs: config.optimizeIntervalMs });
    void storage.writeMissingDocuments();
    return storage;
  }

  /**
   * Renders the documents that entries lack (after a bulk load, or a new rendering version), a
   * page at a time between requests, each page a write transaction that waits its turn for the
   * lock. Entries without one are read from their rows meanwhile: slower, never stale. Resolves
   * when none is left; a call while a pass runs makes it go round once more.
   */
  writeMissingDocuments(): Promise<void> {
    if (this.#documentsPass) {
      this.#documentsAgain = true;
      return this.#documentsPass;
    }
    const pass = async () => {
      do {
        this.#documentsAgain = false;
        for (let after: number | null = 0; after !== null && !this.#closed; ) {
          const from: number = after;
          after = await whenWriteLockFree(
            this.db.$client,
            (locked) => writeMissingEntryDocuments(this.db, from, DOCUMENTS_PAGE, locked),
            DOCUMENTS_LOCK_WAIT_MS,
          );
          await new Promise((resolve) => setImmediate(resolve));
        }
      } while (this.#documentsAgain && !this.#closed);
    };
    this.#documentsPass = pass()
      .catch((error: unknown) => {
        if (!this.#closed && this.db.$client.open) this.#onBackgroundError(error);
      })
      .finally(() => {
        this.#documentsPass = null;
      });
    return this.#documentsPass;
  }

  async findId(table: RefTable, ref: string, expect?: 'event' | 'statement') {
    return findId(this.db, table, ref, expect);
  }

  async getRecord<K extends RecordKind>(kind: K, ref: string, lang?: string) {
    return getRecord(this.db, SPECS[kind], ref, lang) as RecordOutput<K>;
  }

  async getRecordAsOf<K extends RecordKind>(kind: K, ref: string, asOf: string, lang?: string) {
    return recordAsOf(this.db, SPECS[kind], ref, asOf, lang) as RecordOutput<K>;
  }

  async loadRecords<K extends RecordKind>(kind: K, ids: number[], lang?: string) {
    return SPECS[kind].load(this.db, ids, lang) as RecordOutput<K>[];
  }

  async createRecord<K extends RecordKind>(
    kind: K,
    input: RecordInput<K>,
    idempotency: IdempotencyRequest | null,
    context: WriteContext = ANONYMOUS_WRITE,
  ): Promise<CreateResult<RecordOutput<K>>> {
    return this.#write(() =>
      writeTransaction(this.db, (tx) => {
        const claim = idempotency ? claimIdempotencyKey(tx, idempotency) : { kind: 'fresh' as const };
        if (claim.kind === 'replay') return { replayed: true, record: JSON.parse(claim.response) as RecordOutput<K> };
        const created = createRecord(tx, SPECS[kind], input, context) as RecordOutput<K>;
        if (idempotency) completeIdempotencyKey(tx, idempotency, 201, JSON.stringify(created));
        return { replayed: false, record: created };
      }),
    );
  }

  async patchRecord<K extends RecordKind>(kind: K, ref: string, patch: RecordPatch<K>, context: WriteContext = ANONYMOUS_WRITE) {
    return this.#write(() => patchRecord(this.db, SPECS[kind], ref, patch, context) as RecordOutput<K>);
  }

  async deleteRecord(kind: RecordKind, ref: string, context: WriteContext = ANONYMOUS_WRITE) {
    await this.#write(() => deleteRecord(this.db, SPECS[kind], ref, context));
  }

  /**
   * A write through the API: one IMMEDIATE transaction. While this process holds the write
   * lock on a connection of its own (a dry run, a bulk load), SQLite's busy handler cannot
   * wait for it (it would block the thread that has to finish that work): the write waits
   * between attempts instead, as long as the busy timeout would have it wait for another
   * process, then answers busy, as a write waits on PostgreSQL for the revision row. A failed
   * attempt has changed nothing: it failed to begin.
   */
  #write<T>(work: () => T): Promise<T> {
    if (!writeLockHeldElsewhere(this.db.$client)) return Promise.resolve(work());
    return whenWriteLockFree(this.db.$client, work, BUSY_TIMEOUT_MS);
  }

  async changesAfter(filter: ChangeFilter, after: number, limit: number) {
    return changesAfter(this.db, filter, after, limit);
  }

  async changeLogExtent() {
    return changeLogExtent(this.db);
  }

  async recordRevisions(kind: RecordKind, ref: string) {
    const spec = SPECS[kind];
    const id = findId(this.db, spec.table, ref, spec.entryKind);
    if (id === null) throw notFound(`no ${kind} with id or key ${JSON.stringify(ref)}`);
    return recordRevisions(this.db, [kind], id);
  }

  async changePrevious(sequence: number) {
    return changePrevious(this.db, sequence);
  }

  async pruneChanges(before: string) {
    return this.#write(() => writeTransaction(this.db, (tx) => pruneChanges(tx, before)));
  }

  async beginImport(options: ImportSessionOptions = {}) {
    const session = await beginSqliteImport(this.db, this.path, options, { shared: !this.#exclusive });
    if (session.mode !== 'bulk' || this.#exclusive) return session;
    // a bulk load leaves its entries' documents to be rendered once it has committed
    return {
      ...session,
      finish: async () => {
        await session.finish();
        void this.writeMissingDocuments();
      },
    };
  }

  async listSourceIds(filters: SourceFilters, after: number | undefined, limit: number) {
    return listSourceIds(this.db, { type: filters.type, lang: filters.language }, after, limit);
  }

  async listPlaceIds(filters: PlaceFilters, after: number | undefined, limit: number) {
    return listPlaceIds(this.db, filters, after, limit);
  }

  async listActorIds(filters: ActorFilters, after: number | undefined, limit: number) {
    return listActorIds(this.db, filters, after, limit);
  }

  async listTimelineIds(after: number | undefined, limit: number) {
    return listTimelineIds(this.db, after, limit);
  }

  async timelineEntryIds(timelineId: number) {
    return timelineEntryIds(this.db, timelineId);
  }

  async timelinePage(query: TimelineQuery, after: unknown, limit: number) {
    return timelinePage(this.db, query, after, limit);
  }

  async relevancePage(query: TimelineQuery & { text: string }, after: RelevancePosition | undefined, limit: number) {
    return relevancePage(this.db, query, after, limit);
  }

  async relevanceIds(query: TimelineQuery & { text: string }) {
    return relevanceIds(this.db, query);
  }

  async entriesMatching(query: TimelineQuery, ids: number[]) {
    return entriesMatching(this.db, query, ids);
  }

  async loadEntries(ids: number[], lang: string | undefined) {
    return loadEntries(this.db, ids, lang);
  }

  async renderEntries(ids: number[], lang: string | undefined) {
    return renderEntries(this.db, ids, lang);
  }

  async placeCoordinates(ids: number[]) {
    return placeCoordinates(this.db, ids);
  }

  async spanCounts(query: TimelineQuery) {
    return spanCounts(this.db, query);
  }

  async countsByDate(query: TimelineQuery) {
    return countedByDate(query);
  }

  async dateCounts(query: TimelineQuery, first: number, last: number, maxDays: number) {
    return dateCounts(this.db, query, first, last, maxDays);
  }

  /**
   * The export reads a snapshot of the file on a connection of its own when there is one, so
   * that it is consistent even while others write, and its trailer's revision is the one it
   * read; an in-memory database has only the serving connection.
   */
  exportStream(query: TimelineQuery | null): Readable {
    const snapshot = openSnapshot(this.path);
    const db = snapshot?.db ?? this.db;
    async function* generate() {
      const revision = dataRevision(db);
      const sequence = latestSequence(db);
      const counts = emptyExportCounts();
      const plan = createExportPlan(db, query);
      try {
        let after: [number, number, number] | undefined;
        for (;;) {
          const page = exportPlanPage(db, plan, after, EXPORT_PAGE);
          if (page === null) break;
          const { text, records } = exportLines(db, page.kind, page.ids);
          counts[page.kind] += records;
          // As bytes: a page is some 250 KB of two-byte string once flattened, a large object
          // that Readable.from's loop held on to while the next page was built; every scavenge
          // then promoted one, and only mark-compacts freed them. A Buffer's bytes are outside
          // the heap, and the flat string is dead before the next page begins.
          yield Buffer.from(text);
          after = page.last;
          await new Promise((resolve) => setImmediate(resolve));
        }
        yield Buffer.from(exportTrailer(counts, revision, sequence));
      } finally {
        dropExportPlan(db, plan);
      }
    }
    const stream = Readable.from(generate(), { objectMode: false });
    // however the stream ends; also before its first page, when its generator never ran
    if (snapshot) stream.once('close', () => snapshot.close());
    return stream;
  }

  async currentRevision() {
    return currentRevision(this.db);
  }

  async cursorSecret() {
    return cursorSecret(this.db);
  }

  async knownApiKey(secret: string) {
    return knownApiKey(this.db, secret);
  }

  async verifySecret(secret: string) {
    return verifySecret(this.db, secret);
  }

  /** Key writes wait (without holding the event loop) for a write lock held elsewhere. */
  #keyWrite<T>(work: (tx: Tx) => T): Promise<T> {
    return whenWriteLockFree(this.db.$client, (locked) =>
      writeTransaction(this.db, (tx) => {
        locked();
        return work(tx);
      }),
    );
  }

  async claimIdempotencyKey(request: IdempotencyRequest) {
    return this.#keyWrite((tx) => claimIdempotencyKey(tx, request));
  }

  async completeIdempotencyKey(request: IdempotencyRequest, status: number, response: string) {
    await this.#keyWrite((tx) => completeIdempotencyKey(tx, request, status, response));
  }

  async releaseIdempotencyKey(request: IdempotencyRequest) {
    await this.#keyWrite((tx) => releaseIdempotencyKey(tx, request));
  }

  /** A renewal that finds the write lock taken is skipped: the next one comes well before the lease runs out. */
  holdIdempotencyLease(request: IdempotencyRequest, onError: (error: unknown) => void): () => void {
    const renew = () => {
      whenWriteLockFree(
        this.db.$client,
        (locked) => {
          renewIdempotencyLease(this.db, request);
          locked();
        },
        0,
      ).catch((error: unknown) => {
        if (!isBusyError(error) && this.db.$client.open) onError(error);
      });
    };
    const timer = setInterval(renew, RENEW_LEASE_MS);
    timer.unref();
    return () => clearInterval(timer);
  }

  async countRequest(key: string, windowMs: number) {
    return this.#requestCounts.count(key, windowMs);
  }

  async ready() {
    return migrationsApplied(this.db, this.#committedMigrations);
  }

  async refreshStatistics(options: { everyTable?: boolean } = {}) {
    refreshPlannerStatistics(this.db.$client, options);
  }

  boundedStructures() {
    return {
      preparedStatements: { size: preparedStatementCount(this.db), limit: MAX_STATEMENTS },
      verifiedSecrets: { size: verifiedSecretCount(this.db), limit: VERIFIED_LIMIT },
      parsedDates: { size: parsedDateCount(), limit: PARSED_DATES_LIMIT },
      rateLimitClients: { size: this.#requestCounts.size, limit: REQUEST_COUNTERS_LIMIT },
    };
  }

  async close() {
    this.#closed = true;
    await this.#documentsPass;
    if (this.#optimizeTimer) clearInterval(this.#optimizeTimer);
    if (this.db.$client.open) this.db.$client.close();
  }
}
