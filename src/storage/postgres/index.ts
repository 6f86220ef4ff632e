/* eslint-disable @typescript-eslint/require-await -- the port's operations are async, and some of this engine's answer without awaiting */
import { Readable } from 'node:stream';
import { drizzle } from 'drizzle-orm/node-postgres';
import type { AppConfig, PostgresTarget } from '../../config.js';
import type { ActorFilters, CreateResult, PlaceFilters, SourceFilters, Storage } from '../port.js';
import type { ImportSession, ImportSessionOptions } from '../import.js';
import type { ChangeFilter, WriteContext } from '../types.js';
import { ANONYMOUS_WRITE } from '../types.js';
import type {
  IdempotencyRequest,
  RecordInput,
  RecordKind,
  RecordOutput,
  RecordPatch,
  RefTable,
  RelevancePosition,
  TimelineQuery,
} from '../types.js';
import { actorSpec, listActorIds } from './actors.js';
import { knownApiKey, prepareApiKeys, verifiedSecretCount, verifySecret } from './apiKeys.js';
import { VERIFIED_LIMIT } from '../api-key-hashes.js';
import { RENEW_LEASE_MS } from '../idempotency.js';
import { claimIdempotencyKey, completeIdempotencyKey, releaseIdempotencyKey, renewIdempotencyLease } from './idempotency.js';
import { openPool, type PgDb } from './client.js';
import { ensureEntryDocuments, onEntryDocumentsLeft, renderEntries, writeMissingEntryDocuments } from './documents.js';
import { eventSpec, loadEntries, statementSpec } from './entries.js';
import { appliedMigrations, committedMigrations, runMigrations } from './migrate.js';
import { createRecordIn, deleteRecord, getRecord, patchRecord, recordAsOf, sqlState, type AnyPgSpec } from './records.js';
import { changeLogExtent, changePrevious, changesAfter, latestSequence, pruneChanges, recordRevisions, startChangeLog } from './changes.js';
import { notFound } from '../../schemas/problems.js';
import { findId } from './references.js';
import { cursorSecret, currentRevision, dataRevision, renewLineage } from './settings.js';
import { emptyExportCounts, exportTrailer } from '../export-format.js';
import { createExportPlan, exportLines, exportPlanPage } from './export.js';
import { countedByDate, dateCounts, spanCounts } from './histogram.js';
import * as schema from './schema.js';
import { listPlaceIds, placeCoordinates, placeSpec } from './places.js';
import { relevanceIds, relevancePage } from './relevance.js';
import { ensureSearchIndex } from './search.js';
import { entriesMatching, timelinePage } from './timeline.js';
import { listSourceIds, sourceSpec } from './sources.js';
import { listTimelineIds, timelineEntryIds, timelineSpec } from './timelines.js';
import { writeTransaction } from './transactions.js';
import { IMPORT_LOCK_WAIT_MS } from '../lock-waits.js';
import { beginPostgresImport } from './import.js';
import { loadSeedIfEmpty } from './seed.js';
import { RequestCounter } from './request-counts.js';

/** Records an export reads a page at a time. */
const EXPORT_PAGE = 250;

/** Entries rendered into documents in one write transaction after a bulk load: short enough not to hold writes up. */
const DOCUMENTS_PAGE = 200;
/** How long a page of documents waits for the write lock before the pass gives up (the next interval retries). */
const DOCUMENTS_LOCK_WAIT_MS = 10_000;
/** How often a server looks for entries without documents that no server is rendering (a pass cut short by a server that stopped). */
const DOCUMENTS_INTERVAL_MS = 10 * 60_000;
/** The SQLSTATE of a lock wait that gave up (lock_timeout). */
const LOCK_NOT_AVAILABLE = '55P03';
/** The advisory lock (pg_try_advisory_lock) of the server doing the missing-documents pass: one at a time. */
const DOCUMENTS_PASS_LOCK = 0x616e6e01;

/** Where each kind of record is stored on this engine. */
const SPECS: Record<RecordKind, AnyPgSpec> = {
  source: sourceSpec,
  place: placeSpec,
  actor: actorSpec,
  timeline: timelineSpec,
  event: eventSpec,
  statement: statementSpec,
};

function specOf(kind: RecordKind): AnyPgSpec {
  return SPECS[kind];
}

/**
 * Opens the pool and brings the database up to date: migrations (under the advisory lock,
 * so several servers may start at once), a new lineage for the revisions, the seed in an
 * empty database when asked for (under a lock of its own), the bootstrap key.
 */
export async function preparePostgresDatabase(
  target: PostgresTarget,
  options: { bootstrapKey?: string | undefined; seedWhenEmpty?: boolean } = {},
): Promise<PgDb> {
  const db = openPool(target);
  try {
    await runMigrations(db.$client);
    await startChangeLog(db);
    await ensureSearchIndex(db);
    await renewLineage(db);
    await ensureEntryDocuments(db);
    if (options.seedWhenEmpty) await loadSeedIfEmpty(db, SPECS);
    await prepareApiKeys(db, options.bootstrapKey === undefined ? undefined : { name: 'bootstrap', secret: options.bootstrapKey });
  } catch (error) {
    await db.$client.end();
    // names the database the server failed on (its URL without the credentials)
    const url = new URL(target.url);
    throw new Error(`PostgreSQL at ${url.host}${url.pathname}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return db;
}

/**
 * The PostgreSQL engine: a pool of connections per server, any number of servers on one
 * database. Everything that must hold across servers (the revision, the cursor secret,
 * idempotency keys) lives in the database; a write is one transaction that bumps the
 * revision first, so that writes from every server are ordered.
 */
export class PostgresStorage implements Storage {
  readonly engine = 'postgres' as const;
  readonly #committedMigrations = committedMigrations();
  readonly #requestCounter: RequestCounter;
  readonly #onBackgroundError: (error: unknown) => void;
  readonly #documentsTimer: NodeJS.Timeout;
  readonly #stopStartingPasses: () => void;
  #documentsPass: Promise<void> | null = null;
  #documentsAgain = false;
  #closed = false;

  constructor(
    readonly db: PgDb,
    options: {
      /** A failure of work done between requests (documents rendered after a bulk load). */
      onBackgroundError?: (error: unknown) => void;
    } = {},
  ) {
    this.#requestCounter = new RequestCounter(db.$client);
    this.#onBackgroundError = options.onBackgroundError ?? ((error) => process.emitWarning(error instanceof Error ? error : String(error)));
    this.#documentsTimer = setInterval(() => void this.writeMissingDocuments(), DOCUMENTS_INTERVAL_MS).unref();
    // the documents of the entries a write reached through a popular record, left to the pass
    this.#stopStartingPasses = onEntryDocumentsLeft(() => void this.writeMissingDocuments());
  }

  static async open(config: AppConfig): Promise<PostgresStorage> {
    if (!config.postgres) throw new Error('PostgresStorage.open needs config.postgres');
    const storage = new PostgresStorage(await preparePostgresDatabase(config.postgres, config));
    // entries without documents: a new rendering version, a bulk load that did not see its pass through
    void storage.writeMissingDocuments();
    return storage;
  }

  /**
   * Renders the documents that entries lack (after a bulk load, or a new rendering version), a
   * page at a time, each page a short transaction holding the write lock. Entries without one
   * are read from their rows meanwhile: slower, never stale. One server at a time does it (an
   * advisory lock, held by the connection the pass runs on); a server that finds it taken
   * leaves the pass to that one. Resolves when the pass ends (done, cut short by close, or
   * skipped); a call while a pass runs makes it go round once more.
   */
  writeMissingDocuments(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#documentsPass) {
      this.#documentsAgain = true;
      return this.#documentsPass;
    }
    const pass = async () => {
      const client = await this.db.$client.connect();
      let failure: Error | undefined;
      try {
        const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [DOCUMENTS_PASS_LOCK]);
        if (rows[0]?.locked !== true) return;
        try {
          const connection = drizzle({ client, schema });
          do {
            this.#documentsAgain = false;
            for (let after: number | null = 0; after !== null && !this.#closed; ) {
              after = await writeMissingEntryDocuments(connection, after, DOCUMENTS_PAGE, DOCUMENTS_LOCK_WAIT_MS);
            }
          } while (this.#documentsAgain && !this.#closed);
        } finally {
          await client.query('SELECT pg_advisory_unlock($1)', [DOCUMENTS_PASS_LOCK]);
        }
      } catch (error) {
        failure = error instanceof Error ? error : new Error(String(error));
        throw error;
      } finally {
        // a connection that failed mid-pass may still hold the lock: not given back to the pool
        client.release(failure);
      }
    };
    this.#documentsPass = pass()
      .catch((error: unknown) => {
        // a write held the lock longer than a page waits (a bulk load through another server,
        // which renders the documents it leaves itself): the next pass renders what this one left
        if (!this.#closed && sqlState(error) !== LOCK_NOT_AVAILABLE) this.#onBackgroundError(error);
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
    return (await getRecord(this.db, specOf(kind), ref, lang)) as RecordOutput<K>;
  }

  async loadRecords<K extends RecordKind>(kind: K, ids: number[], lang?: string) {
    return (await specOf(kind).load(this.db, ids, lang)) as RecordOutput<K>[];
  }

  async createRecord<K extends RecordKind>(
    kind: K,
    input: RecordInput<K>,
    idempotency: IdempotencyRequest | null,
    context: WriteContext = ANONYMOUS_WRITE,
  ): Promise<CreateResult<RecordOutput<K>>> {
    const spec = specOf(kind);
    return writeTransaction(this.db, async (tx) => {
      const claim = idempotency ? await claimIdempotencyKey(tx, idempotency) : { kind: 'fresh' as const };
      if (claim.kind === 'replay') return { replayed: true, record: JSON.parse(claim.response) as RecordOutput<K> };
      const created = (await createRecordIn(tx, spec, input, context)) as RecordOutput<K>;
      if (idempotency) await completeIdempotencyKey(tx, idempotency, 201, JSON.stringify(created));
      return { replayed: false, record: created };
    });
  }

  async patchRecord<K extends RecordKind>(kind: K, ref: string, patch: RecordPatch<K>, context: WriteContext = ANONYMOUS_WRITE) {
    return (await patchRecord(this.db, specOf(kind), ref, patch, context)) as RecordOutput<K>;
  }

  async deleteRecord(kind: RecordKind, ref: string, context: WriteContext = ANONYMOUS_WRITE) {
    await deleteRecord(this.db, specOf(kind), ref, context);
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

  async loadEntries(ids: number[], lang: string | undefined) {
    return loadEntries(this.db, ids, lang);
  }

  /**
   * Read from the stored documents, which every write transaction keeps current on every
   * server (src/storage/postgres/documents.ts); an entry without one is rendered from its rows.
   */
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
   * Reads one snapshot (a REPEATABLE READ transaction on a connection of its own, taken when
   * the first bytes are asked for), so that writes made meanwhile, through any server, are in
   * the next export; destroying the stream ends the transaction and gives the connection back.
   */
  exportStream(query: TimelineQuery | null): Readable {
    const pool = this.db.$client;
    async function* generate() {
      const client = await pool.connect();
      let failed: Error | undefined;
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        const tx = drizzle({ client, schema });
        const revision = await dataRevision(tx);
        const sequence = await latestSequence(tx);
        const counts = emptyExportCounts();
        await createExportPlan(tx, query);
        let after: [number, number, number] | undefined;
        for (;;) {
          const page = await exportPlanPage(tx, after, EXPORT_PAGE);
          if (page === null) break;
          const { text, records } = await exportLines(tx, page.kind, page.ids);
          counts[page.kind] += records;
          yield Buffer.from(text);
          after = page.last;
        }
        yield Buffer.from(exportTrailer(counts, revision, sequence));
      } catch (error) {
        failed = error instanceof Error ? error : new Error(String(error));
        throw error;
      } finally {
        // a read-only snapshot: nothing to keep, and the plan goes with it
        await client.query('ROLLBACK').catch((error: unknown) => {
          failed ??= error instanceof Error ? error : new Error(String(error));
        });
        client.release(failed);
      }
    }
    return Readable.from(generate(), { objectMode: false });
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

  /**
   * Key writes around an import (claimed before it, completed or released after it) wait for
   * the write lock as long as an import's batch does, as on SQLite: the import they belong to
   * has waited its turn, and its report must not be lost to another's write.
   */
  async claimIdempotencyKey(request: IdempotencyRequest) {
    return writeTransaction(this.db, (tx) => claimIdempotencyKey(tx, request), IMPORT_LOCK_WAIT_MS);
  }

  async completeIdempotencyKey(request: IdempotencyRequest, status: number, response: string) {
    await writeTransaction(this.db, (tx) => completeIdempotencyKey(tx, request, status, response), IMPORT_LOCK_WAIT_MS);
  }

  async releaseIdempotencyKey(request: IdempotencyRequest) {
    await writeTransaction(this.db, (tx) => releaseIdempotencyKey(tx, request), IMPORT_LOCK_WAIT_MS);
  }

  /** Renewed outside write transactions: a lease is no data, and must not wait behind an import's writes. */
  holdIdempotencyLease(request: IdempotencyRequest, onError: (error: unknown) => void): () => void {
    let closed = false;
    const timer = setInterval(() => {
      renewIdempotencyLease(this.db, request).catch((error: unknown) => {
        if (!closed) onError(error);
      });
    }, RENEW_LEASE_MS);
    timer.unref();
    return () => {
      closed = true;
      clearInterval(timer);
    };
  }

  async beginImport(options: ImportSessionOptions = {}): Promise<ImportSession> {
    const session = await beginPostgresImport(this.db, SPECS, options);
    if (session.mode !== 'bulk') return session;
    // a bulk load leaves its entries' documents to be rendered once it has committed
    return {
      ...session,
      finish: async () => {
        await session.finish();
        void this.writeMissingDocuments();
      },
    };
  }

  async getRecordAsOf<K extends RecordKind>(kind: K, ref: string, asOf: string, lang?: string) {
    return (await recordAsOf(this.db, specOf(kind), ref, asOf, lang)) as RecordOutput<K>;
  }

  async changesAfter(filter: ChangeFilter, after: number, limit: number) {
    return changesAfter(this.db, filter, after, limit);
  }

  async changeLogExtent() {
    return changeLogExtent(this.db);
  }

  async recordRevisions(kind: RecordKind, ref: string) {
    const spec = specOf(kind);
    const id = await findId(this.db, spec.table, ref, spec.entryKind);
    if (id === null) throw notFound(`no ${kind} with id or key ${JSON.stringify(ref)}`);
    return recordRevisions(this.db, [kind], id);
  }

  /** A write transaction, as on SQLite: revisions read before it (their ETags) no longer hold once their oldest changes are gone. */
  async changePrevious(sequence: number) {
    return changePrevious(this.db, sequence);
  }

  async pruneChanges(before: string) {
    return writeTransaction(this.db, (tx) => pruneChanges(tx, before));
  }

  async entriesMatching(query: TimelineQuery, ids: number[]) {
    return entriesMatching(this.db, query, ids);
  }

  /** Counted in the database, so that N servers give a client its budget once, not N times. */
  async countRequest(key: string, windowMs: number) {
    return this.#requestCounter.count(key, windowMs);
  }

  /** The database answers and has every migration this code ships. */
  async ready() {
    try {
      return (await appliedMigrations(this.db.$client)) >= this.#committedMigrations;
    } catch {
      return false;
    }
  }

  /**
   * ANALYZE, for the planner (after bulk loads; autovacuum also does it at intervals). With
   * `everyTable`, VACUUM ANALYZE: a bulk load leaves the visibility map unset, and until
   * VACUUM sets it the timeline's index-only scans read the table as well.
   */
  async refreshStatistics(options: { everyTable?: boolean } = {}) {
    await this.db.$client.query(options.everyTable ? 'VACUUM ANALYZE' : 'ANALYZE');
  }

  boundedStructures() {
    return { verifiedSecrets: { size: verifiedSecretCount(this.db), limit: VERIFIED_LIMIT } };
  }

  /** Stops the missing-documents pass after its page under way, then closes the pool. */
  async close() {
    this.#closed = true;
    clearInterval(this.#documentsTimer);
    this.#stopStartingPasses();
    await this.#documentsPass;
    await this.db.$client.end();
  }
}
