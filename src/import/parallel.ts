import { Worker } from 'node:worker_threads';
import type { ParsedLine } from './parse.js';

export interface WorkerOptions {
  /** The file to read, or null: the main thread sends the input in chunks. */
  file: string | null;
  maxLineBytes: number;
  /** Lines per message. */
  batchLines: number;
  /** Messages the worker may post before the main thread has taken the first. */
  batchesAhead: number;
}
export type ToWorker = 'more' | { type: 'chunk'; bytes: Uint8Array } | { type: 'end' } | { type: 'fail' };
export type FromWorker =
  | { type: 'lines'; lines: ParsedLine[] }
  | { type: 'end' }
  | { type: 'error'; message: string }
  /** A chunk sent was taken in. */
  | { type: 'took' }
  /** The lines before the input's failure are all posted. */
  | { type: 'input-failed' };

/** The file could not be read, or the worker thread failed. */
export class ParseWorkerError extends Error {}

interface ParseOptions {
  maxLineBytes?: number;
  batchLines?: number;
  batchesAhead?: number;
}

const startWorker = (workerData: WorkerOptions) =>
  new Worker(
    new URL(import.meta.url.endsWith('.ts') ? './parse-worker-tsx.mjs' : './parse-worker.js', import.meta.url),
    // A heap bounded well below the default: the thread keeps little alive, but V8 lets a
    // heap grow with its garbage up to the bound, which pushed the benchmark's large load's
    // peak RSS towards its budget (bench/results/). A line too large to parse within it ends the import with that reason.
    { workerData, resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 } },
  );

/**
 * The parsed lines a worker posts, taken one message at a time, each one asked for as the
 * previous is taken. `onTook` hears that the worker took in a chunk of the input sent to it;
 * `inputFailure` is what to throw when the worker reports the input failed.
 */
async function* linesFrom(
  worker: Worker,
  what: string,
  onTook: () => void = () => {},
  inputFailure: () => unknown = () => new ParseWorkerError(`cannot import ${what}: its input failed`),
): AsyncGenerator<ParsedLine[]> {
  const queue: FromWorker[] = [];
  let wake: (() => void) | null = null;
  const push = (message: FromWorker) => {
    if (message.type === 'took') return onTook();
    queue.push(message);
    wake?.();
    wake = null;
  };
  worker.on('message', push);
  worker.on('error', (error) => push({ type: 'error', message: `the parsing thread failed: ${error.message}` }));
  worker.on('exit', (code) => push({ type: 'error', message: `the parsing thread exited (code ${code}) before the end of its input` }));
  try {
    for (;;) {
      while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const message = queue.shift()!;
      if (message.type === 'end') return;
      if (message.type === 'input-failed') throw inputFailure();
      if (message.type === 'error') throw new ParseWorkerError(`cannot import ${what}: ${message.message}`);
      if (message.type !== 'lines') continue;
      worker.postMessage('more' satisfies ToWorker);
      yield message.lines;
    }
  } finally {
    worker.removeAllListeners();
    await worker.terminate();
  }
}

/**
 * Reads, splits and parses an NDJSON file in a worker thread (parse-worker.ts), for
 * importNdjson: the main thread is left with the database work, and the two share the
 * import's time instead of adding up. What it yields is what parseLines would for the
 * same bytes, in the same order.
 * The lines come as the parsed records themselves (structured clone): taking them in costs
 * the main thread less than parsing and validating them again would.
 */
export function parseFileInWorker(
  file: string,
  { maxLineBytes = 16 * 1024 * 1024, batchLines = 250, batchesAhead = 2 }: ParseOptions = {},
): AsyncGenerator<ParsedLine[]> {
  return linesFrom(startWorker({ file, maxLineBytes, batchLines, batchesAhead }), file);
}

/** Bytes of input gathered into one message to the worker. */
const MESSAGE_BYTES = 256 * 1024;

/**
 * The same for a byte stream read on this thread (a request body): its chunks are sent to the
 * worker as they come, at most `chunksAhead` of them not yet taken in, so that a slow import
 * reads the body no faster than it stores it. When the input fails (cut off at a size limit,
 * a client gone), the lines before the failure are yielded, then its error is thrown, as
 * parseLines would.
 */
export async function* parseStreamInWorker(
  input: AsyncIterable<Buffer | Uint8Array>,
  {
    maxLineBytes = 16 * 1024 * 1024,
    batchLines = 250,
    batchesAhead = 2,
    chunksAhead = 4,
    messageBytes = MESSAGE_BYTES,
  }: ParseOptions & { chunksAhead?: number; messageBytes?: number } = {},
): AsyncGenerator<ParsedLine[]> {
  const worker = startWorker({ file: null, maxLineBytes, batchLines, batchesAhead });
  let inFlight = 0;
  let stopped = false;
  let wakePump: (() => void) | null = null;
  let failure: { error: unknown } | null = null;
  const resumePump = () => {
    wakePump?.();
    wakePump = null;
  };
  // a socket's chunks are small (16-64 KiB): sent a few together, in one message
  let gathered: Uint8Array[] = [];
  let gatheredBytes = 0;
  const send = async () => {
    if (gatheredBytes === 0) return;
    while (inFlight >= chunksAhead && !stopped) await new Promise<void>((resolve) => (wakePump = resolve));
    if (stopped) return;
    // a copy, whose memory moves to the worker: the chunks' may be shared with others
    const bytes = new Uint8Array(gatheredBytes);
    let at = 0;
    for (const part of gathered) {
      bytes.set(part, at);
      at += part.length;
    }
    gathered = [];
    gatheredBytes = 0;
    inFlight += 1;
    worker.postMessage({ type: 'chunk', bytes } satisfies ToWorker, [bytes.buffer]);
  };
  const pump = async () => {
    try {
      for await (const chunk of input) {
        if (stopped) return;
        gathered.push(chunk);
        gatheredBytes += chunk.length;
        if (gatheredBytes >= messageBytes) await send();
      }
      await send();
      if (!stopped) worker.postMessage({ type: 'end' } satisfies ToWorker);
    } catch (error) {
      // the whole chunks before the failure are the input's, as parseLines would read them
      await send();
      failure = { error };
      if (!stopped) worker.postMessage({ type: 'fail' } satisfies ToWorker);
    }
  };
  const pumped = pump();
  try {
    yield* linesFrom(
      worker,
      'the body',
      () => {
        inFlight -= 1;
        resumePump();
      },
      () => failure?.error,
    );
  } finally {
    stopped = true;
    resumePump();
    // the input is read on only up to its next chunk, which ends the pump
    void pumped;
  }
}
