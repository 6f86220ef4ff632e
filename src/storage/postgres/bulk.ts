/**
 * A bulk load on PostgreSQL: an import into an empty database as one transaction, its rows
 * written by COPY FROM STDIN instead of an INSERT (and its look-ups) per record.
 *
 * The load bumps the revision first, as every write does, and so holds the revision row until
 * it ends: writes through any server wait for it (or give up, with their lock wait), and none
 * commits meanwhile. The database held no records when it began, so every record it can see
 * is one the load stored, and the load knows them all: keys resolve to the ids the load drew
 * from the tables' sequences, and a new record is checked against what the load kept of the
 * records before it (the texts of sources, the names of actors and places) without a read.
 * Its rows wait in a buffer per table and go by COPY, in the order of their foreign keys,
 * every few thousand records, while the next records are prepared. The statement triggers of
 * `entries` (migration pg/0001) count each COPY's entries once.
 *
 * The tables' secondary indexes are dropped when the load begins and built when its rows are
 * in, and the tables, empty, are truncated so that COPY writes their rows frozen: readers of
 * those tables wait for the load (they would have seen an empty database). A load asked for
 * `always` on a database that holds records truncates nothing and looks up in the database
 * the keys it did not store itself.
 *
 * When the load's role may set `session_replication_role` (a superuser, or one granted SET on
 * it), the load runs as a replica would: the foreign keys' triggers and the count triggers do
 * not fire for each row. The load has resolved every reference itself; before it commits, one
 * anti-join per foreign key checks them all (as SQLite's bulk load runs foreign_key_check),
 * and the counts are made from the entries in one statement (the database had none before).
 *
 * What the load cannot write so (a key stored earlier in the same file, an update; a key or
 * reference spelled as an id; curated timelines, whose slugs are checked against the others)
 * is written as a batch writes it, in the load's transaction, once the buffers have gone: it
 * sees every row before it. Readers of the other tables see the database as it was until the
 * load commits.
 */
import { finished } from 'node:stream/promises';
import { getTableColumns, getTableName, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { citedText, type CitedText, type CitationWrite } from '../citations.js';
import type { NewChange } from '../changes.js';
import type { ImportSession, ImportUpsert, ImportWriter } from '../import.js';
import { isNumericId } from '../keys.js';
import type { RecordKind, RefTable } from '../types.js';
import { ProblemError } from '../../schemas/problems.js';
import { logChanges } from './changes.js';
import type { PgDb } from './client.js';
import { sourcesCitedAt } from './entries.js';
import { BATCH_RECORDS, holdsNoRecords, holdTransaction, takeImportLock, type HeldTransaction } from './import.js';
import { afterTrackedCommit, entryStored, refreshEntryDocuments, trackEntryDocuments } from './documents.js';
import { prepareUpsert, refuseProblems, refuseUnresolved, storeUpsert, type AnyPgSpec, type NewRecordRows } from './records.js';
import { findId, kindOfKey, kindsOfKeys, PgRefResolver } from './references.js';
import * as schema from './schema.js';
import { indexEntries, searchDocument } from './search.js';
import { bumpRevision, dataRevision } from './settings.js';
import { now, type PgTransaction, type PgTx } from './transactions.js';

/** The tables a load copies into, each after those its foreign keys point to. */
const COPY_ORDER: PgTable[] = [
  schema.sources,
  schema.places,
  schema.actors,
  schema.actorAffiliations,
  schema.entries,
  schema.entryActors,
  schema.entryPlaces,
  schema.entryEvents,
  schema.entryTags,
  schema.citations,
  schema.searchIndex,
];

/** The memory each index build of a load may sort in (maintenance_work_mem). */
const INDEX_BUILD_MEMORY = '256MB';

/** Records whose rows are buffered before they go by COPY. */
const COPY_EVERY_RECORDS = 5_000;

/** Most characters of source text, and most name documents, the load keeps to check and index what follows. */
const MAX_KEPT_TEXT_CHARS = 64 * 1024 * 1024;
const MAX_KEPT_NAMES = 200_000;

/** Ids drawn from a sequence at a time: the first few, then more as the load goes on. */
const FIRST_ID_BLOCK = 64;
const MAX_ID_BLOCK = 16_384;

/** The record kinds, by their index in a packed key entry (id * KINDS.length + index). */
const KINDS: readonly RecordKind[] = ['source', 'place', 'actor', 'event', 'statement', 'timeline'];

/** Which kinds a reference to a table names. */
const KINDS_OF: Record<RefTable, readonly RecordKind[]> = {
  source: ['source'],
  place: ['place'],
  actor: ['actor'],
  entry: ['event', 'statement'],
  timeline: ['timeline'],
};

const TABLE_OF: Record<RecordKind, PgTable> = {
  source: schema.sources,
  place: schema.places,
  actor: schema.actors,
  event: schema.entries,
  statement: schema.entries,
  timeline: schema.timelines,
};

/** COPY's text format: a backslash, and the characters that end a field or a row, escaped. */
const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_SPECIALS = /[\\\n\r\t]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function copyField(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'bigint') text = value.toString();
  else if (typeof value === 'boolean') text = value ? 't' : 'f';
  else throw new Error(`bulk load: no COPY text for a ${typeof value}`);
  return COPY_SPECIAL.test(text) ? text.replace(COPY_SPECIALS, (c) => COPY_ESCAPES[c]!) : text;
}

/** The rows waiting for one table's COPY, as lines of COPY's text format, each value as drizzle would send it. */
class CopyBuffer {
  readonly #columns: [string, PgColumn][];
  readonly statement: string;
  lines: string[] = [];

  /** `freeze`: the table was emptied in the load's transaction, and its rows can be written frozen (COPY's FREEZE). */
  constructor(table: PgTable, freeze: boolean) {
    this.#columns = Object.entries(getTableColumns(table));
    const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
    this.statement = `COPY ${quote(getTableName(table))} (${this.#columns.map(([, column]) => quote(column.name)).join(', ')}) FROM STDIN${freeze ? ' WITH (FREEZE)' : ''}`;
  }

  add(row: Record<string, unknown>): void {
    let line = '';
    for (const [i, [property, column]] of this.#columns.entries()) {
      const value = row[property];
      line += `${i === 0 ? '' : '\t'}${copyField(value === null || value === undefined ? null : column.mapToDriverValue(value))}`;
    }
    this.lines.push(`${line}\n`);
  }
}

/** Ids drawn ahead from a table's identity sequence, handed out in order. */
interface IdPool {
  sequence: string | null;
  ids: number[];
  next: number;
  block: number;
}

/** A reference resolver that finds keys among the load's records, and ids (which it does not know) in the database. */
class LoadRefResolver extends PgRefResolver {
  constructor(
    private readonly load: BulkLoad,
    pendingKeys: ((key: string) => boolean) | undefined,
  ) {
    super(load.tx, 'line', pendingKeys);
  }

  protected override async lookUp(table: RefTable, ref: string, expect?: 'event' | 'statement'): Promise<number | null> {
    // an id, or a timeline's slug: in the database, once what the load buffered is there
    if (isNumericId(ref) || table === 'timeline') {
      await this.load.drain();
      return super.lookUp(table, ref, expect);
    }
    const id = this.load.idOf(ref, expect === undefined ? KINDS_OF[table] : [expect]);
    // a key the load did not store names a record stored before it, if any: none of the load's rows
    if (id !== null || this.load.knowsEveryRecord) return id;
    return this.load.storedId(table, ref, expect);
  }
}

class BulkLoad {
  #client: pg.PoolClient;
  readonly #specs: Record<RecordKind, AnyPgSpec>;
  /** Every key the load stored, with its kind and id (packed: id * KINDS.length + kind). */
  readonly #keys = new Map<string, number>();
  readonly #buffers: Map<PgTable, CopyBuffer>;
  #buffered = 0;
  /** The COPY under way, whose failure fails the load at the next flush or at the end. */
  #copying: Promise<void> = Promise.resolve();
  /** Entries whose documents wait for names the load no longer keeps: indexed from their rows once copied. */
  #unindexed: number[] = [];
  /** Name documents of the load's actors and places (`actor:<id>`, `place:<id>`), while there are not too many. */
  readonly #names = new Map<string, string>();
  /** Texts of the load's sources by id, while they are not too long. */
  readonly #texts = new Map<number, string | null>();
  #textChars = 0;
  readonly #ids: Map<PgTable, IdPool>;
  /** Which record held each key of the batch's records before the load (null: none), as willUpsert found them. */
  #holders = new Map<string, { kind: RecordKind; id: number } | null>();
  /** Ids of records stored before the load, by reference, as looked up. */
  readonly #storedIds = new Map<string, number | null>();
  /** The changes of the batch under way, in the order its records were stored: logged when it ends. */
  #changes: NewChange[] = [];
  timestamp = now();
  /** True when the database held no records as the load began: every record it can see is one the load stored. */
  readonly knowsEveryRecord: boolean;

  constructor(
    public tx: PgTransaction,
    client: pg.PoolClient,
    specs: Record<RecordKind, AnyPgSpec>,
    options: { knowsEveryRecord: boolean; ids?: Map<PgTable, IdPool>; freeze?: boolean },
  ) {
    this.#buffers = new Map(COPY_ORDER.map((table) => [table, new CopyBuffer(table, options.freeze === true)]));
    this.#client = client;
    this.#specs = specs;
    this.knowsEveryRecord = options.knowsEveryRecord;
    this.#ids = options.ids ?? new Map<PgTable, IdPool>();
  }

  /**
   * Goes on in the next batch's transaction with what the load knows: only while no other
   * write has committed since its last batch did (every record it can see is one it knew).
   */
  /** Entries created by COPY since the last call: their documents are rendered once their rows are in. */
  readonly #createdEntries: number[] = [];

  /**
   * Marks the entries this load created by COPY since the last call as stored, for the
   * documents of a tracking transaction (src/storage/postgres/documents.ts): called once every
   * buffered row is in (after drain), since their documents are rendered from their rows.
   */
  async entriesCopied(): Promise<void> {
    for (const id of this.#createdEntries.splice(0)) await entryStored(this.tx, id);
  }

  continueIn(tx: PgTransaction, client: pg.PoolClient): this {
    this.tx = tx;
    this.#client = client;
    this.#copying = Promise.resolve();
    this.#holders = new Map();
    this.timestamp = now();
    return this;
  }

  /** The id of a record stored before the load, by key (see findId), looked up once. */
  async storedId(table: RefTable, ref: string, expect: 'event' | 'statement' | undefined): Promise<number | null> {
    const cacheKey = `${table}|${expect ?? ''}|${ref}`;
    let id = this.#storedIds.get(cacheKey);
    if (id === undefined) this.#storedIds.set(cacheKey, (id = await findId(this.tx, table, ref, expect)));
    return id;
  }

  /** The id of the load's record with `key`, if it is of one of `kinds`. */
  idOf(key: string, kinds: readonly RecordKind[]): number | null {
    const packed = this.#keys.get(key);
    if (packed === undefined) return null;
    return kinds.includes(KINDS[packed % KINDS.length]!) ? Math.floor(packed / KINDS.length) : null;
  }

  readonly writer: ImportWriter = {
    upsert: (kind, data, pendingKeys) => this.#upsert(kind, data, pendingKeys),
    willUpsert: async (keys) => {
      if (this.knowsEveryRecord) return;
      const asked = keys.filter((key) => !isNumericId(key) && !this.#keys.has(key) && !this.#holders.has(key));
      const holders = await kindsOfKeys(this.tx, asked);
      for (const key of asked) this.#holders.set(key, holders.get(key) ?? null);
    },
  };

  /** Which record held `key` before the load, if any: as looked up for the batch, or now. */
  async #holderOf(key: string): Promise<{ kind: RecordKind; id: number } | null> {
    const known = this.#holders.get(key);
    return known === undefined ? kindOfKey(this.tx, key) : known;
  }

  async #upsert(kind: RecordKind, data: { key: string }, pendingKeys: ((key: string) => boolean) | undefined): Promise<ImportUpsert> {
    const spec = this.#specs[kind];
    const newRecord = spec.newRecord;
    if (newRecord === undefined || isNumericId(data.key) || this.#keys.has(data.key)) return this.#upsertStored(kind, spec, data, pendingKeys);
    // a key held before the load is an update, or a key of another kind: written as a batch writes it
    if (!this.knowsEveryRecord && (await this.#holderOf(data.key)) !== null) return this.#upsertStored(kind, spec, data, pendingKeys);
    // as prepareWrite checks a record: its key (free: the load has not stored it), its references, its fields
    const resolver = new LoadRefResolver(this, pendingKeys);
    const write = await spec.toWrite(data, resolver, data.key, null);
    if (resolver.deferred.length > 0) return { outcome: 'deferred', waitingFor: resolver.deferred };
    refuseUnresolved(resolver);
    refuseProblems(await newRecord.problems(write, (cites) => this.#citedTexts(cites)));
    const id = await this.#nextId(TABLE_OF[kind]);
    this.#add(kind, data.key, id, newRecord.rows(id, write, this.timestamp));
    this.#changes.push({ kind, id, key: data.key, operation: 'create', fields: null, previous: null });
    // a load that began on an empty database has no documents to keep: the pass after it renders them
    if (!this.knowsEveryRecord && (kind === 'event' || kind === 'statement')) this.#createdEntries.push(id);
    return { outcome: 'created' };
  }

  /** A record the load cannot COPY, written as a batch writes it, once every buffered row is in the database. */
  async #upsertStored(kind: RecordKind, spec: AnyPgSpec, data: { key: string }, pendingKeys: ((key: string) => boolean) | undefined): Promise<ImportUpsert> {
    await this.drain();
    const prepared = await prepareUpsert(this.tx, spec, data, pendingKeys);
    if (prepared.outcome !== 'write') return prepared.outcome === 'deferred' ? prepared : { outcome: 'unchanged' };
    let stored: { outcome: 'created' | 'updated'; id: number };
    try {
      stored = await storeUpsert(this.tx, spec, prepared, this.timestamp, this.#changes);
    } catch (error) {
      // a problem found only while writing would leave the record half-written if it were a refusal
      if (error instanceof ProblemError) throw new Error(`import: record refused after its first write: ${error.message}`);
      throw error;
    }
    this.#keys.set(data.key, stored.id * KINDS.length + KINDS.indexOf(kind));
    // what the load kept of the record before is no longer what it holds
    if (kind === 'actor' || kind === 'place') this.#names.delete(`${kind}:${stored.id}`);
    if (kind === 'source') this.#texts.delete(stored.id);
    return { outcome: stored.outcome };
  }

  #add(kind: RecordKind, key: string, id: number, rows: NewRecordRows): void {
    this.#keys.set(key, id * KINDS.length + KINDS.indexOf(kind));
    for (const [table, row] of rows.rows) this.#buffers.get(table)!.add(row);
    if (rows.nameDocument !== undefined && this.#names.size < MAX_KEPT_NAMES) this.#names.set(`${kind}:${id}`, rows.nameDocument);
    if (rows.text !== undefined && this.#textChars + (rows.text?.length ?? 0) <= MAX_KEPT_TEXT_CHARS) {
      this.#texts.set(id, rows.text);
      this.#textChars += rows.text?.length ?? 0;
    }
    if (rows.search !== undefined) {
      const names = rows.search.names.map((link) => this.#names.get(`${link.kind}:${link.id}`));
      if (names.every((name) => name !== undefined)) {
        this.#buffers.get(schema.searchIndex)!.add({ entryId: id, ...searchDocument(rows.search.fields, names) });
      } else {
        this.#unindexed.push(id);
      }
    }
    this.#buffered += 1;
  }

  async #citedTexts(cites: CitationWrite[]): Promise<ReadonlyMap<number, CitedText | null>> {
    const texts = new Map<number, CitedText | null>();
    const unknown: number[] = [];
    for (const id of sourcesCitedAt(cites)) {
      const text = this.#texts.get(id);
      if (text === undefined) unknown.push(id);
      else texts.set(id, text === null ? null : citedText(text));
    }
    if (unknown.length > 0) {
      await this.drain();
      const { rows } = await this.#client.query<{ id: number; text: string | null }>('SELECT id, text FROM sources WHERE id = ANY($1::integer[])', [unknown]);
      for (const row of rows) texts.set(row.id, row.text === null ? null : citedText(row.text));
    }
    return texts;
  }

  /** The next id of `table`'s sequence, drawn a block at a time (ids a load leaves unused are gaps, as a rollback's are). */
  async #nextId(table: PgTable): Promise<number> {
    let pool = this.#ids.get(table);
    if (pool === undefined) this.#ids.set(table, (pool = { sequence: null, ids: [], next: 0, block: FIRST_ID_BLOCK }));
    if (pool.next === pool.ids.length) {
      await this.#copying;
      if (pool.sequence === null) {
        const { rows } = await this.#client.query<{ sequence: string }>("SELECT pg_get_serial_sequence($1, 'id') AS sequence", [getTableName(table)]);
        pool.sequence = rows[0]!.sequence;
      }
      const { rows } = await this.#client.query<{ id: number }>('SELECT nextval($1::regclass)::integer AS id FROM generate_series(1, $2)', [pool.sequence, pool.block]);
      pool.ids = rows.map((row) => row.id);
      pool.next = 0;
      pool.block = Math.min(pool.block * 2, MAX_ID_BLOCK);
    }
    return pool.ids[pool.next++]!;
  }

  /**
   * Runs `work` on the connection after what was queued before it, without waiting for it: the
   * load prepares its next records meanwhile. A failure fails everything queued after it, and
   * the load at its next wait (one statement at a time on the connection, as node-postgres wants).
   */
  queue(work: () => Promise<unknown>): void {
    this.#copying = this.#copying.then(async () => {
      await work();
    });
    this.#copying.catch(() => {});
  }

  /** Logs the batch's changes (named after `author`) in one statement, after what was queued before. */
  logBatch(author: string | null): void {
    const changes = this.#changes;
    const at = this.timestamp;
    this.#changes = [];
    if (changes.length > 0) this.queue(() => logChanges(this.tx, changes, at, author));
  }

  /** Sends the buffered rows when there are enough of them, once the COPY before has ended (so that one waits at most). */
  async flushWhenFull(): Promise<void> {
    if (this.#buffered < COPY_EVERY_RECORDS) return;
    await this.#copying;
    this.#copyBuffered();
  }

  /** Sends every buffered row and waits until the database has them. */
  async drain(): Promise<void> {
    this.#copyBuffered();
    await this.#copying;
  }

  /** Waits for what is under way on the connection, ignoring its failure: for a load being undone. */
  async settle(): Promise<void> {
    await this.#copying.catch(() => {});
  }

  /** Queues one COPY per table with rows, in foreign-key order, then the documents of the entries left to index. */
  #copyBuffered(): void {
    const copies: { statement: string; body: Buffer }[] = [];
    for (const buffer of this.#buffers.values()) {
      if (buffer.lines.length === 0) continue;
      copies.push({ statement: buffer.statement, body: Buffer.from(buffer.lines.join('')) });
      buffer.lines = [];
    }
    const unindexed = this.#unindexed;
    this.#unindexed = [];
    this.#buffered = 0;
    if (copies.length === 0 && unindexed.length === 0) return;
    this.queue(async () => {
      for (const { statement, body } of copies) {
        const stream = this.#client.query(copyFrom(statement));
        stream.end(body);
        await finished(stream);
      }
      if (unindexed.length > 0) await indexEntries(this.tx, unindexed);
    });
  }
}

/**
 * Makes the transaction skip the triggers of foreign keys and counts, when its role may;
 * true when it does.
 */
async function skipRowTriggers(tx: PgTransaction): Promise<boolean> {
  await tx.execute(sql`SAVEPOINT bulk_load_role`);
  try {
    await tx.execute(sql`SET LOCAL session_replication_role = replica`);
  } catch {
    // not allowed: the triggers fire as for any write
    await tx.execute(sql`ROLLBACK TO SAVEPOINT bulk_load_role`);
    return false;
  }
  await tx.execute(sql`RELEASE SAVEPOINT bulk_load_role`);
  return true;
}

/**
 * Drops the secondary indexes of the tables the load copies into (those that back no
 * constraint and check no uniqueness: the keys' indexes stay, for the look-ups of what the
 * load writes as a batch does) and answers their definitions, to be built again once the rows
 * are in: an index built over the whole table in one pass is cheaper than one kept up to date
 * row by row, a GIN index most of all. Dropped in the load's transaction, they come back
 * with a rollback; meanwhile the tables are locked against readers too, which wait for the
 * load instead of reading the empty database.
 */
async function dropSecondaryIndexes(tx: PgTransaction): Promise<string[]> {
  const tables = COPY_ORDER.map((table) => getTableName(table));
  const { rows } = await tx.execute<{ name: string; definition: string }>(sql`
    SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
      FROM pg_index i
      JOIN pg_class t ON t.oid = i.indrelid
     WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(${sql.param(tables)}::text[])
       AND NOT i.indisunique AND NOT i.indisprimary
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
     ORDER BY 1`);
  // regclass text is quoted already where it needs to be
  if (rows.length > 0) await tx.execute(sql.raw(`DROP INDEX ${rows.map((row) => row.name).join(', ')}`));
  return rows.map((row) => row.definition);
}

/**
 * Empties the tables the load copies into (and those whose foreign keys point to them), which
 * hold no rows, in the load's transaction: COPY may then write their rows frozen and visible
 * to all, so that neither the VACUUM after the load nor the first reads rewrite every page to
 * mark them so. TRUNCATE refuses, and the load fails, if a table is missed out.
 */
async function truncateEmptyTables(tx: PgTransaction): Promise<void> {
  const tables = COPY_ORDER.map((table) => getTableName(table));
  const { rows } = await tx.execute<{ name: string }>(sql`
    SELECT DISTINCT c.conrelid::regclass::text AS name
      FROM pg_constraint c
     WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace
       AND c.confrelid::regclass::text = ANY(${sql.param(tables)}::text[])
       AND NOT c.conrelid::regclass::text = ANY(${sql.param(tables)}::text[])
     ORDER BY 1`);
  const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
  // regclass text is quoted already where it needs to be
  await tx.execute(sql.raw(`TRUNCATE ${[...tables.map(quote), ...rows.map((row) => row.name)].join(', ')}`));
}

/** Builds the indexes dropSecondaryIndexes dropped, with room to sort each in memory. */
async function buildIndexes(tx: PgTransaction, definitions: string[]): Promise<void> {
  await tx.execute(sql.raw(`SET LOCAL maintenance_work_mem = '${INDEX_BUILD_MEMORY}'`));
  for (const definition of definitions) await tx.execute(sql.raw(definition));
}

/**
 * What the skipped triggers would have done, before the load commits: every foreign key of
 * the schema checked in one anti-join each, and the entry counts made from the entries (the
 * load began on a database without entries, so without counts).
 */
async function finishWithoutRowTriggers(tx: PgTransaction): Promise<void> {
  const { rows: keys } = await tx.execute<{ name: string; child: string; column: string; parent: string; referenced: string }>(sql`
    SELECT c.conname AS name, c.conrelid::regclass::text AS child, a.attname AS "column",
           c.confrelid::regclass::text AS parent, r.attname AS referenced
      FROM pg_constraint c
      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
      JOIN pg_attribute r ON r.attrelid = c.confrelid AND r.attnum = c.confkey[1]
     WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace AND cardinality(c.conkey) = 1
     ORDER BY c.conname`);
  const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
  for (const key of keys) {
    // regclass text is quoted already where it needs to be
    const { rows } = await tx.execute<{ missing: number }>(
      sql.raw(
        `SELECT count(*)::integer AS missing FROM ${key.child} c WHERE c.${quote(key.column)} IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM ${key.parent} p WHERE p.${quote(key.referenced)} = c.${quote(key.column)})`,
      ),
    );
    const missing = rows[0]?.missing ?? 0;
    if (missing > 0) throw new Error(`bulk load: ${missing} rows of ${key.child} refer to missing records (${key.name})`);
  }
  await tx.execute(sql`DELETE FROM entry_span_counts`);
  await tx.execute(sql`DELETE FROM entry_date_counts`);
  await tx.execute(sql`SELECT entry_counts_add(ARRAY(SELECT ROW(span_class, earliest, latest, kind)::entry_count_key FROM entries))`);
}

/**
 * Opens a bulk load on a connection of its own, in one transaction; null when `whenEmpty`
 * and the database holds records (the caller imports batch by batch instead).
 */
export async function beginBulkLoad(
  db: PgDb,
  specs: Record<RecordKind, AnyPgSpec>,
  options: { whenEmpty: boolean; lockWaitMs: number | undefined; author: string | null },
): Promise<ImportSession | null> {
  const client = await db.$client.connect();
  let held: HeldTransaction;
  try {
    held = await holdTransaction(drizzle({ client, schema }));
  } catch (error) {
    client.release(error instanceof Error ? error : true);
    throw error;
  }
  let ended = false;
  const end = async (commit: boolean) => {
    if (ended) return;
    ended = true;
    let failure: Error | null = null;
    try {
      await held.end(commit);
    } catch (error) {
      failure = error instanceof Error ? error : new Error('bulk load: the transaction failed to end');
    }
    // a connection whose transaction did not end cleanly is not given back to the pool
    client.release(failure ?? undefined);
    if (failure !== null) throw failure;
  };
  // no other write can store a record once the load holds the revision row: empty stays so
  let empty = false;
  try {
    // first: the revision row, held until the end, orders the load after every write before it
    await takeImportLock(held.tx, options.lockWaitMs);
    empty = await holdsNoRecords(held.tx);
    if (options.whenEmpty && !empty) {
      await end(false);
      return null;
    }
  } catch (error) {
    await end(false).catch(() => {});
    throw error;
  }
  let withoutRowTriggers: boolean;
  let droppedIndexes: string[];
  try {
    withoutRowTriggers = await skipRowTriggers(held.tx);
    // only an empty database's: rebuilding the indexes of a database that holds records would
    // cost more than the load saves, with its readers waiting all along
    droppedIndexes = empty ? await dropSecondaryIndexes(held.tx) : [];
    if (empty) await truncateEmptyTables(held.tx);
  } catch (error) {
    await end(false).catch(() => {});
    throw error;
  }
  const load = new BulkLoad(held.tx, client, specs, { knowsEveryRecord: empty, freeze: empty });
  // on a database that holds records (a load asked for always), the documents it reaches are
  // kept current as a batch keeps them
  if (!empty) trackEntryDocuments(held.tx);
  let batches = 0;
  return {
    mode: 'bulk',
    async batch(work) {
      if (ended) throw new Error('import: the bulk load has ended');
      // each batch bumps the revision, as a batch of its own would (the first bump is the load's)
      if (batches++ > 0) load.queue(() => bumpRevision(held.tx));
      load.timestamp = now();
      await work(load.writer);
      load.logBatch(options.author);
      await load.flushWhenFull();
    },
    async finish() {
      if (ended) return;
      try {
        await load.drain();
        if (withoutRowTriggers) await finishWithoutRowTriggers(held.tx);
        await buildIndexes(held.tx, droppedIndexes);
        await load.entriesCopied();
        await refreshEntryDocuments(held.tx);
      } catch (error) {
        await end(false).catch(() => {});
        throw error;
      }
      await end(true);
      afterTrackedCommit(held.tx);
    },
    async abort() {
      await load.settle();
      await end(false);
    },
  };
}

/**
 * An import into a database that holds records, batch by batch, each batch a write transaction
 * of its own (as batchImportSession's, src/storage/postgres/import.ts) on a connection of the
 * pool, written as a bulk load writes: the new records' rows by COPY when the batch ends, their
 * references to records stored before looked up once, and what a bulk load cannot write so as
 * a batch writes it. What the load knows (the keys it stored and looked up) holds from batch
 * to batch while no other write commits between them; after one, the next batch starts afresh. The foreign keys' triggers fire as for any write. Ids are
 * drawn ahead for the whole import: those a batch leaves unused are gaps.
 */
export function copyBatchImportSession(
  db: PgDb,
  specs: Record<RecordKind, AnyPgSpec>,
  lockWaitMs: number | undefined,
  author: string | null,
): ImportSession {
  const ids = new Map<PgTable, IdPool>();
  /** The load of the last batch that committed, and the revision it committed. */
  let last: { load: BulkLoad; revision: bigint; tx: PgTx } | null = null;
  return {
    mode: 'batches',
    batchRecords: BATCH_RECORDS,
    async batch(work) {
      const client = await db.$client.connect();
      let failure: Error | undefined;
      try {
        last = await drizzle({ client, schema }).transaction(async (tx) => {
          await takeImportLock(tx, lockWaitMs);
          const revision = BigInt(await dataRevision(tx));
          // every write bumps the revision: one more than the last batch's, and none came between
          const load =
            last !== null && revision === last.revision + 1n
              ? last.load.continueIn(tx, client)
              : new BulkLoad(tx, client, specs, { knowsEveryRecord: false, ids });
          trackEntryDocuments(tx);
          try {
            await work(load.writer);
            load.logBatch(author);
            await load.drain();
            // the documents of the entries the batch created or changed, and of those embedding
            // a record it changed, before it commits, as every write renders them
            await load.entriesCopied();
            await refreshEntryDocuments(tx);
          } catch (error) {
            // the rollback waits for no COPY still under way
            await load.settle();
            throw error;
          }
          return { load, revision, tx };
        });
        afterTrackedCommit(last.tx);
      } catch (error) {
        last = null;
        failure = error instanceof Error ? error : new Error(String(error));
        throw error;
      } finally {
        // a connection whose batch failed is not given back to the pool, whatever state it was left in
        client.release(failure);
      }
    },
    async finish() {},
    async abort() {},
  };
}
