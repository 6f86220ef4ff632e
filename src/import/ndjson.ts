import { performance } from 'node:perf_hooks';
import { whenWriteLockFree, type Db } from '../storage/sqlite/client.js';
import { ProblemError } from '../schemas/problems.js';
import { actorSpec } from '../storage/sqlite/actors.js';
import { eventSpec, statementSpec } from '../storage/sqlite/entries.js';
import { placeSpec } from '../storage/sqlite/places.js';
import { prepareUpsert, storeUpsert, type AnySpec, type PreparedUpsert, type UpsertOutcome } from '../storage/sqlite/records.js';
import { sourceSpec } from '../storage/sqlite/sources.js';
import { newWriteCache, now, withWriteCache, writeTransaction, type RecordKind, type Tx } from '../storage/sqlite/support.js';
import { timelineSpec } from '../storage/sqlite/timelines.js';
import { END_KIND, RECORD_KINDS, isRecordKind, parseLines, type EndDeclaration, type ParsedLine, type ParsedRecord, type RefusedLine } from './parse.js';
import { beginBulkLoad } from '../storage/sqlite/bulk.js';
import { bumpRevision } from '../storage/sqlite/settings.js';

export type { ParsedLine, RefusedLine } from './parse.js';

/** Where each record kind of the interchange format is stored. */
const specs: Record<RecordKind, AnySpec> = {
  source: sourceSpec,
  place: placeSpec,
  actor: actorSpec,
  event: eventSpec,
  statement: statementSpec,
  timeline: timelineSpec,
};

/**
 * Most records an import keeps waiting for keys of later lines, and most characters of line
 * text they may hold: beyond either, a record that refers to a key not stored yet is refused
 * at once (with the reason) instead of being kept, so that a file whose references never
 * resolve cannot fill the memory.
 */
export const MAX_WAITING_RECORDS = 100_000;
export const MAX_WAITING_CHARS = 64 * 1024 * 1024;

/** Longest the import runs without letting the event loop turn (other requests, timers). */
const PAUSE_AFTER_MS = 20;

const pause = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Most references and names a bulk load keeps looked up across batches (see runBatch). */
const BULK_CACHE_ENTRIES = 100_000;

/** The tables an import fills. */
const BULK_TABLES = [
  'sources',
  'places',
  'actors',
  'actor_affiliations',
  'entries',
  'entry_actors',
  'entry_places',
  'entry_events',
  'entry_tags',
  'citations',
  'timelines',
  'timeline_entries',
];

export interface ImportOptions {
  /** Stop at the first refused line; what came before it is kept. */
  stopOnError?: boolean;
  /**
   * Validate and report, store nothing. The whole run is one transaction that is rolled
   * back, held across the stream's reads: only for a connection the caller has to itself
   * (the command line, or the one the server opens for a dry run), never the server's shared one.
   */
  dryRun?: boolean;
  /** Records per batch: the unit that commits whole or not at all. */
  batchSize?: number;
  /**
   * For loading an empty database from a connection the caller has to itself: the whole
   * import is one transaction (a failure leaves the database empty), inside which the
   * secondary indexes of the tables it fills are built once at the end and foreign keys are
   * checked once (see src/storage/sqlite/bulk.ts). The stored records and the report are the same.
   */
  bulkLoad?: boolean;
  /** Longest accepted line in bytes. */
  maxLineBytes?: number;
  /** How many refused lines the report lists (all are counted). */
  maxReportedErrors?: number;
  /** See MAX_WAITING_RECORDS and MAX_WAITING_CHARS. */
  maxWaitingRecords?: number;
  maxWaitingChars?: number;
  /** How long a batch waits for the write lock that another connection holds (see whenWriteLockFree). */
  lockWaitMs?: number;
  onProgress?: (progress: ImportProgress, waiting: WaitingRecords) => void;
  /** Called after each batch commits, with the lines it stored. */
  onBatchCommitted?: (lines: number[]) => void;
}

export interface ImportProgress {
  lines: number;
  created: number;
  updated: number;
  unchanged: number;
  refused: number;
}

/** Records kept waiting for keys of later lines, and the characters of their lines. */
export interface WaitingRecords {
  records: number;
  chars: number;
}

export type KindCounts = Record<RecordKind, number>;

/** The end line of the file, checked against what was read (see ImportEnd in src/schemas/import.ts). */
export interface ImportEndReport {
  line: number;
  records: number;
  counts: Partial<KindCounts> | null;
  revision: string | null;
  read: { records: number; counts: KindCounts };
  complete: boolean;
}

export interface ImportReport extends ImportProgress {
  dryRun: boolean;
  stopped: boolean;
  errors: RefusedLine[];
  errorsTruncated: boolean;
  end: ImportEndReport | null;
}

/**
 * An import that ended before its input did (the input failed or was cut off, or the
 * database did), with the report of what it had done: the batches it committed are stored,
 * the one that failed is not, and records still waiting for later keys are refused.
 */
export class ImportInterrupted extends Error {
  constructor(
    cause: unknown,
    readonly report: ImportReport,
  ) {
    super(`import interrupted at line ${report.lines}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'ImportInterrupted';
  }
}

const zeroCounts = (): KindCounts => ({ source: 0, place: 0, actor: 0, event: 0, statement: 0, timeline: 0 });

const listKeys = (keys: string[]) => {
  const shown = keys.slice(0, 5).map((k) => JSON.stringify(k));
  return `${shown.join(', ')}${keys.length > shown.length ? ` and ${keys.length - shown.length} more` : ''}`;
};

/** A record waiting for keys of later lines: how many of them are still missing. */
interface Waiter {
  record: ParsedRecord;
  missing: number;
  keys: string[];
}

/**
 * Reads interchange NDJSON from a stream and stores it, batch by batch. Each record is
 * written whole or not at all: it is refused before its first write, or its batch's
 * transaction rolls back.
 * A record that refers to keys not stored yet waits for them, since they may come later in
 * the file: it is tried again once, when the last of them has been stored (so a chain of
 * forward references resolves in time linear in its length). What still waits at the end of
 * the stream is refused. The lines of the file are counted by kind and checked against its
 * end line, when it has one.
 * `input` is a byte stream: a Readable, or any async iterable of chunks; or lines already
 * parsed elsewhere (parseFileInWorker), in order.
 * A failure of the input or of the database ends the import with ImportInterrupted (in a
 * bulk load, the error itself: nothing is stored).
 */
export async function importNdjson(
  db: Db,
  input: AsyncIterable<Buffer | Uint8Array | string> | { parsed: AsyncIterable<ParsedLine[]> },
  options: ImportOptions = {},
): Promise<ImportReport> {
  const batchSize = options.batchSize ?? 500;
  const maxErrors = options.maxReportedErrors ?? 10_000;
  const maxWaitingRecords = options.maxWaitingRecords ?? MAX_WAITING_RECORDS;
  const maxWaitingChars = options.maxWaitingChars ?? MAX_WAITING_CHARS;
  const report: ImportReport = {
    lines: 0,
    created: 0,
    updated: 0,
    unchanged: 0,
    refused: 0,
    dryRun: options.dryRun ?? false,
    stopped: false,
    errors: [],
    errorsTruncated: false,
    end: null,
  };
  // With stopOnError, the first refused line: records after it are not stored. Nothing is
  // thrown across a batch's transaction, so what came before the stop commits.
  let stopLine = Number.POSITIVE_INFINITY;

  const refuse = (refusal: RefusedLine) => {
    report.refused += 1;
    if (report.errors.length < maxErrors) report.errors.push(refusal);
    else report.errorsTruncated = true;
    if (options.stopOnError) {
      report.stopped = true;
      stopLine = Math.min(stopLine, refusal.line);
    }
  };
  const count = (outcome: UpsertOutcome) => {
    report[outcome] += 1;
  };

  // Records waiting for keys, by their own key; who waits for each key; the records whose
  // keys have all been stored since, to be tried again (a queue: `ready` from `readyHead` on).
  const waiting = new Map<string, Waiter>();
  const dependents = new Map<string, Set<Waiter>>();
  let waitingChars = 0;
  let ready: Waiter[] = [];
  let readyHead = 0;
  const waitingState = (): WaitingRecords => ({ records: waiting.size, chars: waitingChars });

  const leave = (waiter: Waiter) => {
    waiting.delete(waiter.record.key);
    waitingChars -= waiter.record.size;
  };
  const drop = (waiter: Waiter) => {
    leave(waiter);
    for (const key of waiter.keys) {
      const set = dependents.get(key);
      set?.delete(waiter);
      if (set?.size === 0) dependents.delete(key);
    }
  };
  const wait = (record: ParsedRecord, keys: string[]) => {
    const unique = [...new Set(keys)];
    if (waiting.size >= maxWaitingRecords || waitingChars + record.size > maxWaitingChars) {
      refuse({
        line: record.line,
        key: record.key,
        kind: record.kind,
        reason:
          `refers to ${listKeys(unique)}, not stored yet, and ${waiting.size} earlier records already wait for keys of later ` +
          `lines, as many as an import keeps (${maxWaitingRecords} records, ${Math.round(maxWaitingChars / 1024 / 1024)} MB of lines): ` +
          'put records before the records that refer to them, or import them in an earlier file',
      });
      return;
    }
    const waiter: Waiter = { record, missing: unique.length, keys: unique };
    waiting.set(record.key, waiter);
    waitingChars += record.size;
    for (const key of unique) {
      let set = dependents.get(key);
      if (!set) dependents.set(key, (set = new Set()));
      set.add(waiter);
    }
  };
  const wake = (key: string) => {
    const set = dependents.get(key);
    if (!set) return;
    dependents.delete(key);
    for (const waiter of set) {
      waiter.missing -= 1;
      if (waiter.missing === 0) ready.push(waiter);
    }
  };

  /**
   * Stores one record, refuses it, or makes it wait for keys. `final`: every key it refers to
   * must resolve now (a record woken because its keys were stored, or one tried at the end).
   */
  const attempt = (tx: Tx, record: ParsedRecord, timestamp: string, final: boolean) => {
    // Every check of a record (and every problem it is refused for) comes before its first
    // write, so a refused record has written nothing and needs no savepoint to undo: a
    // savepoint per record made SQLite copy each page a record touched to its statement
    // journal. An error while writing is not a refusal: it rolls back the whole batch.
    const spec = specs[record.kind];
    let prepared: PreparedUpsert<{ key: string }>;
    try {
      prepared = prepareUpsert(tx, spec, record.data, final ? undefined : () => true);
    } catch (error) {
      if (!(error instanceof ProblemError)) throw error;
      refuse({ line: record.line, key: record.key, kind: record.kind, reason: error.message });
      return;
    }
    if (prepared.outcome === 'deferred') {
      wait(record, prepared.waitingFor);
      return;
    }
    if (prepared.outcome === 'unchanged') count('unchanged');
    else count(storeWrite(tx, spec, prepared, timestamp).outcome);
    wake(record.key);
  };

  const storeWrite = (tx: Tx, spec: AnySpec, prepared: { existing: number | null; write: { key: string } }, timestamp: string) => {
    try {
      return storeUpsert(tx, spec, prepared, timestamp);
    } catch (error) {
      // a problem found only while writing would leave the record half-written if it were a refusal
      if (error instanceof ProblemError) throw new Error(`import: record refused after its first write: ${error.message}`);
      throw error;
    }
  };

  const storeRead = (tx: Tx, records: ParsedRecord[], lines: number[]) => {
    const timestamp = now();
    for (const record of records) {
      if (record.line >= stopLine) break;
      // a later line with the same key replaces a record still waiting for its keys
      const earlier = waiting.get(record.key);
      if (earlier) {
        drop(earlier);
        refuse({
          line: earlier.record.line,
          key: earlier.record.key,
          kind: earlier.record.kind,
          reason: `superseded by line ${record.line}, which has the same key`,
        });
        if (record.line >= stopLine) break;
      }
      lines.push(record.line);
      attempt(tx, record, timestamp, false);
    }
  };
  const retryReady = (tx: Tx, budget: number, lines: number[]) => {
    const timestamp = now();
    let tried = 0;
    while (readyHead < ready.length && tried < budget) {
      const waiter = ready[readyHead++]!;
      if (waiting.get(waiter.record.key) !== waiter) continue; // superseded meanwhile
      leave(waiter);
      if (waiter.record.line >= stopLine) continue;
      tried += 1;
      lines.push(waiter.record.line);
      attempt(tx, waiter.record, timestamp, true);
    }
    if (readyHead === ready.length) {
      ready = [];
      readyHead = 0;
    } else if (readyHead > 1024 && readyHead * 2 > ready.length) {
      ready = ready.slice(readyHead);
      readyHead = 0;
    }
  };

  // the records of a batch share what they looked up (references, names): see WriteCache
  const runBatch = async (work: (tx: Tx) => void) => {
    if (options.dryRun) withWriteCache(dryRunTx!, () => work(dryRunTx!));
    else if (bulkLoad) {
      // inside the load's transaction, with the revision bumped per batch as a transaction
      // of its own would; an error ends the import and rolls back the whole load
      // The batches share one transaction, so they can share one write cache too: each batch
      // no longer looks up again the same places, actors and sources and normalises their
      // names again. Dropped when it grows past a bound, to keep memory flat on a large file.
      const tx = db as unknown as Tx;
      if (bulkCache.refs.size + bulkCache.names.size > BULK_CACHE_ENTRIES) bulkCache = newWriteCache(true);
      withWriteCache(tx, () => work(tx), bulkCache);
      bumpRevision(tx);
    } else {
      // another process (a worker, the CLI) may hold the write lock: waited for between
      // attempts, not inside SQLite, so that this process serves other requests meanwhile
      await whenWriteLockFree(
        db.$client,
        (locked) =>
          writeTransaction(db, (tx) => {
            locked();
            withWriteCache(tx, () => work(tx));
          }),
        options.lockWaitMs,
      );
    }
  };
  const bulkLoad = !options.dryRun && (options.bulkLoad ?? false);
  let bulkCache = newWriteCache(true);

  // A dry run works in one transaction that is rolled back at the end, so that later lines
  // still see the records earlier lines would have created.
  let dryRunTx: Tx | null = null;

  // record lines read, by kind (stored or refused), for the end line
  const readByKind = zeroCounts();
  let readRecords = 0;
  const countRead = (kind: string | null) => {
    if (!isRecordKind(kind)) return;
    readByKind[kind] += 1;
    readRecords += 1;
  };
  let end: { report: ImportEndReport; refusal: RefusedLine | null; followed: boolean } | null = null;

  const run = async (): Promise<void> => {
    let batch: ParsedRecord[] = [];
    /** Stores the records read, then those whose keys have come, a batch (transaction) at a time. */
    const flush = async () => {
      while (batch.length > 0 || readyHead < ready.length) {
        const pending = batch;
        batch = [];
        const lines: number[] = [];
        // a batch that fails is rolled back: so is what the report says of it
        const before = { ...report, errors: report.errors.length };
        const stopBefore = stopLine;
        try {
          await runBatch((tx) => {
            storeRead(tx, pending, lines);
            retryReady(tx, batchSize, lines);
          });
        } catch (error) {
          Object.assign(report, { ...before, errors: report.errors.slice(0, before.errors) });
          stopLine = stopBefore;
          throw error;
        }
        if (lines.length > 0) options.onBatchCommitted?.(lines.sort((a, b) => a - b));
        options.onProgress?.(report, waitingState());
        // Let the event loop turn between batches. When the body is already buffered, the
        // stream's iterator resolves without waiting for I/O, and a whole import would
        // otherwise hold the loop: other requests stall (and under-pressure answers 503),
        // and the batch's log line (an asynchronous write) stays in memory, lost to a kill.
        await pause();
      }
    };
    // With stopOnError, the lines before a refused one are stored first, in order.
    const refuseLine = async (refusal: RefusedLine) => {
      if (options.stopOnError) await flush();
      if (!report.stopped) refuse(refusal);
      return report.errors[report.errors.length - 1] === refusal ? refusal : null;
    };
    const endLine = async (parsed: EndDeclaration) => {
      const declared = parsed.end;
      const value: ImportEndReport = {
        line: parsed.line,
        records: declared.records,
        counts: declared.counts ?? null,
        revision: declared.revision ?? null,
        read: { records: readRecords, counts: { ...readByKind } },
        complete: true,
      };
      report.end = value;
      const problems: string[] = [];
      if (declared.records !== readRecords) problems.push(`the file declares ${declared.records} records, ${readRecords} were read`);
      if (declared.counts) {
        const differ = RECORD_KINDS.filter((kind) => (declared.counts![kind] ?? 0) !== readByKind[kind]).map(
          (kind) => `${declared.counts![kind] ?? 0} ${kind} declared, ${readByKind[kind]} read`,
        );
        if (differ.length > 0) problems.push(differ.join(', '));
      }
      end = { report: value, refusal: null, followed: false };
      if (problems.length > 0) {
        value.complete = false;
        end.refusal = await refuseLine({
          line: parsed.line,
          key: null,
          kind: END_KIND,
          reason: `the file is incomplete or inconsistent: ${problems.join('; ')}`,
        });
      }
    };
    /** A line after the end line: the file is not what the export wrote. */
    const afterEnd = async (line: number) => {
      const current = end!;
      current.followed = true;
      const reason = `the end line is not the last line: line ${line} follows it (files joined, or lines added after the export?)`;
      if (!current.report.complete) {
        if (current.refusal) current.refusal.reason += `; ${reason}`;
        return;
      }
      current.report.complete = false;
      current.refusal = await refuseLine({ line: current.report.line, key: null, kind: END_KIND, reason });
    };

    const lines = 'parsed' in input ? input.parsed : parseLines(input, options.maxLineBytes ?? 16 * 1024 * 1024);
    const iterator = lines[Symbol.asyncIterator]();
    let inputFailure: { error: unknown } | null = null;
    let lastPause = performance.now();
    try {
      read: for (;;) {
        let step: IteratorResult<ParsedLine[]>;
        try {
          step = await iterator.next();
        } catch (error) {
          inputFailure = { error };
          break;
        }
        if (step.done) break;
        for (const parsed of step.value) {
          report.lines = parsed.line;
          const blank = !('reason' in parsed) && !('data' in parsed) && !('end' in parsed);
          if (!blank && end !== null && !end.followed) {
            await afterEnd(parsed.line);
            if (report.stopped) break read;
          }
          if ('reason' in parsed) {
            countRead(parsed.kind);
            await refuseLine(parsed);
          } else if ('end' in parsed) await endLine(parsed);
          else if ('data' in parsed) {
            countRead(parsed.kind);
            batch.push(parsed);
            if (batch.length >= batchSize) {
              await flush();
              lastPause = performance.now();
            }
          }
          if (report.stopped) break read;
          // lines that store nothing (refused, blank) still take time: the loop turns meanwhile too
          if (performance.now() - lastPause > PAUSE_AFTER_MS) {
            await pause();
            lastPause = performance.now();
          }
        }
      }
    } finally {
      if (inputFailure === null) await iterator.return?.();
    }

    if (inputFailure !== null) {
      // The input ended early (cut off at a size limit, or it failed): the whole lines read
      // before are stored as usual, and records still waiting for keys are refused, since
      // the lines that would have held them were never read.
      if (bulkLoad) throw inputFailure.error;
      await flush();
      const cutOff = [...waiting.values()].filter((w) => w.record.line < stopLine).sort((a, b) => a.record.line - b.record.line);
      for (const waiter of cutOff) {
        const missing = waiter.keys.filter((key) => dependents.get(key)?.has(waiter));
        refuse({
          line: waiter.record.line,
          key: waiter.record.key,
          kind: waiter.record.kind,
          reason: `refers to ${listKeys(missing)}, not stored yet, and the import ended at line ${report.lines} before any later line could hold them: send this line again with the rest of the file`,
        });
      }
      waiting.clear();
      dependents.clear();
      throw new ImportInterrupted(inputFailure.error, report);
    }
    await flush();

    // Records still waiting (after a stop: those before it) refer to keys no line stored:
    // tried once more in line order, with unresolved references refused.
    if (waiting.size > 0) {
      ready = [...waiting.values()].sort((a, b) => a.record.line - b.record.line);
      readyHead = 0;
      dependents.clear();
      await flush();
    }
    options.onProgress?.(report, waitingState());
  };

  const interrupted = (error: unknown) => (error instanceof ImportInterrupted ? error : new ImportInterrupted(error, report));
  if (options.dryRun) {
    // drizzle transactions cannot span awaits, so a dry run holds BEGIN/ROLLBACK by hand
    // and the batches run inside it.
    await whenWriteLockFree(
      db.$client,
      (locked) => {
        db.$client.exec('BEGIN IMMEDIATE');
        locked();
      },
      options.lockWaitMs,
    );
    dryRunTx = db;
    try {
      await run();
    } catch (error) {
      throw interrupted(error);
    } finally {
      db.$client.exec('ROLLBACK');
    }
  } else if (bulkLoad) {
    const load = beginBulkLoad(db.$client, BULK_TABLES);
    let committed = false;
    try {
      await run();
      load.finish();
      committed = true;
    } finally {
      load.end(committed);
    }
  } else {
    try {
      await run();
    } catch (error) {
      throw interrupted(error);
    }
  }
  return report;
}
