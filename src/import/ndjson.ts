import { performance } from 'node:perf_hooks';
import { ProblemError } from '../schemas/problems.js';
import type { ImportSession, ImportUpsert, ImportWriter } from '../storage/import.js';
import type { RecordKind } from '../storage/types.js';
import { END_KIND, RECORD_KINDS, isRecordKind, parseLines, type EndDeclaration, type ParsedLine, type ParsedRecord, type RefusedLine } from './parse.js';

export type { ParsedLine, RefusedLine } from './parse.js';

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

/** A record tried before the end of the file may refer to any key not stored yet: a later line may hold it. */
const anyKeyMayCome = () => true;

export interface ImportOptions {
  /** Stop at the first refused line; what came before it is kept. */
  stopOnError?: boolean;
  /** Records per batch: the unit that commits whole or not at all (default: the session's batchRecords, else 500). */
  batchSize?: number;
  /** Longest accepted line in bytes. */
  maxLineBytes?: number;
  /**
   * In a bulk load, an input that fails or is cut off (a body over the size limit, a client
   * gone) stores the whole lines read before it, as batch by batch, instead of nothing.
   */
  bulkLoadKeepsWhatWasRead?: boolean;
  /** How many refused lines the report lists (all are counted). */
  maxReportedErrors?: number;
  /** See MAX_WAITING_RECORDS and MAX_WAITING_CHARS. */
  maxWaitingRecords?: number;
  maxWaitingChars?: number;
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
  session: ImportSession,
  input: AsyncIterable<Buffer | Uint8Array | string> | { parsed: AsyncIterable<ParsedLine[]> },
  options: ImportOptions = {},
): Promise<ImportReport> {
  const batchSize = options.batchSize ?? session.batchRecords ?? 500;
  const maxErrors = options.maxReportedErrors ?? 10_000;
  const maxWaitingRecords = options.maxWaitingRecords ?? MAX_WAITING_RECORDS;
  const maxWaitingChars = options.maxWaitingChars ?? MAX_WAITING_CHARS;
  const report: ImportReport = {
    lines: 0,
    created: 0,
    updated: 0,
    unchanged: 0,
    refused: 0,
    dryRun: session.mode === 'dry-run',
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
  const count = (outcome: Exclude<ImportUpsert['outcome'], 'deferred'>) => {
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
  const attempt = async (writer: ImportWriter, record: ParsedRecord, final: boolean) => {
    // Every check of a record (and every problem it is refused for) comes before its first
    // write (the writer's contract), so a refused record has written nothing and needs no
    // savepoint to undo: a savepoint per record made SQLite copy each page a record touched
    // to its statement journal. Any other error is not a refusal: it fails the whole batch.
    let stored: ImportUpsert;
    try {
      stored = await writer.upsert(record.kind, record.data, final ? undefined : anyKeyMayCome);
    } catch (error) {
      if (!(error instanceof ProblemError)) throw error;
      refuse({ line: record.line, key: record.key, kind: record.kind, reason: error.message });
      return;
    }
    if (stored.outcome === 'deferred') {
      wait(record, stored.waitingFor);
      return;
    }
    count(stored.outcome);
    wake(record.key);
  };

  const storeRead = async (writer: ImportWriter, records: ParsedRecord[], lines: number[]) => {
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
      await attempt(writer, record, false);
    }
  };
  const retryReady = async (writer: ImportWriter, budget: number, lines: number[]) => {
    let tried = 0;
    while (readyHead < ready.length && tried < budget) {
      const waiter = ready[readyHead++]!;
      if (waiting.get(waiter.record.key) !== waiter) continue; // superseded meanwhile
      leave(waiter);
      if (waiter.record.line >= stopLine) continue;
      tried += 1;
      lines.push(waiter.record.line);
      await attempt(writer, waiter.record, true);
    }
    if (readyHead === ready.length) {
      ready = [];
      readyHead = 0;
    } else if (readyHead > 1024 && readyHead * 2 > ready.length) {
      ready = ready.slice(readyHead);
      readyHead = 0;
    }
  };

  const bulkLoad = session.mode === 'bulk';

  // record lines read, by kind (stored or refused), for the end line
  const readByKind = zeroCounts();
  let readRecords = 0;
  const countRead = (kind: string | null) => {
    if (!isRecordKind(kind)) return;
    readByKind[kind] += 1;
    readRecords += 1;
  };
  let end: { report: ImportEndReport; refusal: RefusedLine | null; followed: boolean } | null = null;

  /** Reads the input and stores it; what it returns is the input's failure, once what was read before it is stored. */
  const run = async (): Promise<ImportInterrupted | null> => {
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
          await session.batch(async (writer) => {
            await writer.willUpsert?.(pending.map((record) => record.key));
            await storeRead(writer, pending, lines);
            await retryReady(writer, batchSize, lines);
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
      if (bulkLoad && !options.bulkLoadKeepsWhatWasRead) throw inputFailure.error;
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
      return new ImportInterrupted(inputFailure.error, report);
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
    return null;
  };

  const interrupted = (error: unknown) => (error instanceof ImportInterrupted ? error : new ImportInterrupted(error, report));
  let cutOff: ImportInterrupted | null;
  try {
    cutOff = await run();
  } catch (error) {
    await session.abort();
    // a bulk load stored nothing: its error is the import's
    throw bulkLoad ? error : interrupted(error);
  }
  await session.finish();
  if (cutOff) throw cutOff;
  return report;
}
