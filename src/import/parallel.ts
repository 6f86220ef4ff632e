import { Worker } from 'node:worker_threads';
import type { ParsedLine } from './parse.js';

export interface WorkerOptions {
  file: string;
  maxLineBytes: number;
  /** Lines per message. */
  batchLines: number;
  /** Messages the worker may post before the main thread has taken the first. */
  batchesAhead: number;
}
export type ToWorker = 'more';
export type FromWorker = { type: 'lines'; lines: ParsedLine[] } | { type: 'end' } | { type: 'error'; message: string };

/** The file could not be read, or the worker thread failed. */
export class ParseWorkerError extends Error {}

/**
 * Reads, splits and parses an NDJSON file in a worker thread (parse-worker.ts), for
 * importNdjson: the main thread is left with the database work, and the two share the
 * import's time instead of adding up. What it yields is what parseLines would for the
 * same bytes, in the same order.
 * The lines come as the parsed records themselves (structured clone): taking them in costs
 * the main thread less than parsing and validating them again would.
 */
export async function* parseFileInWorker(
  file: string,
  { maxLineBytes = 16 * 1024 * 1024, batchLines = 250, batchesAhead = 2 } = {},
): AsyncGenerator<ParsedLine[]> {
  const workerData = { file, maxLineBytes, batchLines, batchesAhead } satisfies WorkerOptions;
  const worker = new Worker(
    new URL(import.meta.url.endsWith('.ts') ? './parse-worker-tsx.mjs' : './parse-worker.js', import.meta.url),
    // A heap bounded well below the default: the thread keeps little alive, but V8 lets a
    // heap grow with its garbage up to the bound, which pushed the benchmark's large load's
    // peak RSS towards its budget (bench/results/). A line too large to parse within it ends the import with that reason.
    { workerData, resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 } },
  );
  const queue: FromWorker[] = [];
  let wake: (() => void) | null = null;
  const push = (message: FromWorker) => {
    queue.push(message);
    wake?.();
    wake = null;
  };
  worker.on('message', push);
  worker.on('error', (error) => push({ type: 'error', message: `the parsing thread failed: ${error.message}` }));
  worker.on('exit', (code) => push({ type: 'error', message: `the parsing thread exited (code ${code}) before the end of the file` }));
  try {
    for (;;) {
      while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const message = queue.shift()!;
      if (message.type === 'end') return;
      if (message.type === 'error') throw new ParseWorkerError(`cannot import ${file}: ${message.message}`);
      worker.postMessage('more' satisfies ToWorker);
      yield message.lines;
    }
  } finally {
    worker.removeAllListeners();
    await worker.terminate();
  }
}
