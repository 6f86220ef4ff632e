import type { Db } from '../db/client.js';
import { ProblemError } from '../errors.js';
import { actorSpec } from '../repositories/actors.js';
import { eventSpec, statementSpec } from '../repositories/entries.js';
import { placeSpec } from '../repositories/places.js';
import { prepareUpsert, storeUpsert, type AnySpec, type PreparedUpsert, type UpsertOutcome } from '../repositories/records.js';
import { sourceSpec } from '../repositories/sources.js';
import { newWriteCache, now, withWriteCache, writeTransaction, type RecordKind, type Tx } from '../repositories/support.js';
import { timelineSpec } from '../repositories/timelines.js';
import { parseLines, type ParsedLine, type ParsedRecord, type RefusedLine } from './parse.js';
import { beginBulkLoad } from '../db/bulk.js';
import { bumpRevision } from '../repositories/settings.js';

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
   * (the command line), never the server's shared one.
   */
  dryRun?: boolean;
  /** Records per batch: the unit that commits whole or not at all. */
  batchSize?: number;
  /**
   * For loading an empty database from a connection the caller has to itself: the whole
   * import is one transaction (a failure leaves the database empty), inside which the
   * secondary indexes of the tables it fills are built once at the end and foreign keys are
   * checked once (see src/db/bulk.ts). The stored records and the report are the same.
   */
  bulkLoad?: boolean;
  /** Longest accepted line in bytes. */
  maxLineBytes?: number;
  /** How many refused lines the report lists (all are counted). */
  maxReportedErrors?: number;
  onProgress?: (progress: ImportProgress) => void;
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

export interface ImportReport extends ImportProgress {
  dryRun: boolean;
  stopped: boolean;
  errors: RefusedLine[];
  errorsTruncated: boolean;
}

/**
 * Reads interchange NDJSON from a stream and stores it, batch by batch. Each record is
 * written whole or not at all: it is refused before its first write, or its batch's
 * transaction rolls back.
 * A record that refers to a key not stored yet waits until the end of the stream, since
 * the key may come later in the file; what still cannot be resolved then is refused.
 * `input` is a byte stream: a Readable, or any async iterable of chunks; or lines already
 * parsed elsewhere (parseFileInWorker), in order.
 */
export async function importNdjson(
  db: Db,
  input: AsyncIterable<Buffer | Uint8Array | string> | { parsed: AsyncIterable<ParsedLine[]> },
  options: ImportOptions = {},
): Promise<ImportReport> {
  const batchSize = options.batchSize ?? 500;
  const maxErrors = options.maxReportedErrors ?? 10_000;
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
  };
  const waiting = new Map<string, ParsedRecord>();
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

  /** Stores one record; returns false when it must wait for keys. */
  const store = (tx: Tx, record: ParsedRecord, timestamp: string, final: boolean): boolean => {
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
      return true;
    }
    if (prepared.outcome === 'deferred') return false;
    if (prepared.outcome === 'unchanged') count('unchanged');
    else count(storeWrite(tx, spec, prepared, timestamp).outcome);
    return true;
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

  // the records of a batch share what they looked up (references, names): see WriteCache
  const runBatch = (work: (tx: Tx) => void) => {
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
    } else writeTransaction(db, (tx) => withWriteCache(tx, () => work(tx)));
  };
  const bulkLoad = !options.dryRun && (options.bulkLoad ?? false);
  let bulkCache = newWriteCache(true);

  // A dry run works in one transaction that is rolled back at the end, so that later lines
  // still see the records earlier lines would have created.
  let dryRunTx: Tx | null = null;
  const run = async (): Promise<void> => {
    let batch: ParsedRecord[] = [];
    const flush = () => {
      if (batch.length === 0) return;
      const pending = batch;
      const lines: number[] = [];
      batch = [];
      runBatch((tx) => {
        const timestamp = now();
        for (const record of pending) {
          if (record.line >= stopLine) break;
          // a later line with the same key replaces a record still waiting for its keys
          const earlier = waiting.get(record.key);
          if (earlier) {
            waiting.delete(record.key);
            refuse({
              line: earlier.line,
              key: earlier.key,
              kind: earlier.kind,
              reason: `superseded by line ${record.line}, which has the same key`,
            });
            if (record.line >= stopLine) break;
          }
          lines.push(record.line);
          if (!store(tx, record, timestamp, false)) waiting.set(record.key, record);
        }
      });
      options.onBatchCommitted?.(lines);
      options.onProgress?.(report);
    };
    // With stopOnError, the lines before a refused one are stored first, in order.
    const refuseLine = (refusal: RefusedLine) => {
      if (options.stopOnError) flush();
      if (!report.stopped) refuse(refusal);
    };

    const lines = 'parsed' in input ? input.parsed : parseLines(input, options.maxLineBytes ?? 16 * 1024 * 1024);
    read: for await (const chunk of lines) {
      for (const parsed of chunk) {
        report.lines = parsed.line;
        if ('reason' in parsed) refuseLine(parsed);
        else if ('data' in parsed) {
          batch.push(parsed);
          if (batch.length >= batchSize) {
            flush();
            // Let the event loop turn between batches. When the body is already buffered, the
            // stream's iterator resolves without waiting for I/O, and a whole import would
            // otherwise hold the loop: other requests stall (and under-pressure answers 503),
            // and the batch's log line (an asynchronous write) stays in memory, lost to a kill.
            await new Promise((resolve) => setImmediate(resolve));
          }
        }
        if (report.stopped) break read;
      }
    }
    flush();

    // Records that waited for later keys (after a stop: those before it): retry while any of
    // them makes progress, then store the rest with unresolved references refused.
    let progress = true;
    while (waiting.size > 0 && progress) {
      progress = false;
      runBatch((tx) => {
        const timestamp = now();
        for (const [key, record] of waiting) {
          if (record.line >= stopLine) continue;
          if (store(tx, record, timestamp, false)) {
            waiting.delete(key);
            progress = true;
          }
        }
      });
    }
    const rest = [...waiting.values()].filter((r) => r.line < stopLine).sort((a, b) => a.line - b.line);
    waiting.clear();
    if (rest.length > 0) {
      runBatch((tx) => {
        const timestamp = now();
        for (const record of rest) {
          if (record.line >= stopLine) break;
          store(tx, record, timestamp, true);
        }
      });
    }
    options.onProgress?.(report);
  };

  if (options.dryRun) {
    // drizzle transactions cannot span awaits, so a dry run holds BEGIN/ROLLBACK by hand
    // and the batches run inside it.
    db.$client.exec('BEGIN IMMEDIATE');
    dryRunTx = db as unknown as Tx;
    try {
      await run();
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
    await run();
  }
  return report;
}
