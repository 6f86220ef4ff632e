/**
 * Worker thread of parseFileInWorker (parallel.ts): reads the file, splits and parses its
 * lines, and posts them in batches, never more batches ahead of the main thread than it
 * has asked for.
 */
import { createReadStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { parseLines, type ParsedLine } from './parse.js';
import type { FromWorker, ToWorker, WorkerOptions } from './parallel.js';

const port = parentPort!;
const { file, maxLineBytes, batchLines, batchesAhead } = workerData as WorkerOptions;
let credit = batchesAhead;
let wake: (() => void) | null = null;
const onMessage = (message: ToWorker) => {
  if (message !== 'more') return;
  credit += 1;
  wake?.();
  wake = null;
};
port.on('message', onMessage);
const post = (message: FromWorker) => port.postMessage(message);

try {
  let batch: ParsedLine[] = [];
  for await (const lines of parseLines(createReadStream(file), maxLineBytes)) {
    for (const parsed of lines) batch.push(parsed);
    if (batch.length < batchLines) continue;
    // the main thread takes the batches far more slowly than they come: waiting here (and
    // so not reading the file on) is what keeps memory flat
    while (credit === 0) await new Promise<void>((resolve) => (wake = resolve));
    credit -= 1;
    post({ type: 'lines', lines: batch });
    batch = [];
  }
  if (batch.length > 0) post({ type: 'lines', lines: batch });
  post({ type: 'end' });
} catch (error) {
  post({ type: 'error', message: (error as Error).message });
}
// nothing left to wait for: the thread ends once its messages are out
port.off('message', onMessage);
