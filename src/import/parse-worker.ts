/**
 * Worker thread of parseFileInWorker and parseStreamInWorker (parallel.ts): reads the file,
 * or the chunks the main thread sends, splits and parses its lines, and posts them in batches,
 * never more batches ahead of the main thread than it has asked for.
 */
import { createReadStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { parseLines, type ParsedLine } from './parse.js';
import type { FromWorker, ToWorker, WorkerOptions } from './parallel.js';

const port = parentPort!;
const { file, maxLineBytes, batchLines, batchesAhead } = workerData as WorkerOptions;
let credit = batchesAhead;
let wake: (() => void) | null = null;

// the main thread's chunks, when it sends the input (a request body) instead of a file
const chunks: Uint8Array[] = [];
let input: 'open' | 'ended' | 'failed' = 'open';
let wakeInput: (() => void) | null = null;
/** The main thread's input failed: the lines before it are posted, the partial one after them is not a line. */
class InputFailed extends Error {}

const onMessage = (message: ToWorker) => {
  if (message === 'more') {
    credit += 1;
    wake?.();
    wake = null;
    return;
  }
  if (message.type === 'chunk') chunks.push(message.bytes);
  else input = message.type === 'end' ? 'ended' : 'failed';
  wakeInput?.();
  wakeInput = null;
};
port.on('message', onMessage);
const post = (message: FromWorker) => port.postMessage(message);

async function* sentChunks(): AsyncGenerator<Uint8Array> {
  for (;;) {
    while (chunks.length === 0 && input === 'open') await new Promise<void>((resolve) => (wakeInput = resolve));
    const chunk = chunks.shift();
    if (chunk !== undefined) {
      // taken: the main thread may send another
      post({ type: 'took' });
      yield chunk;
    } else if (input === 'failed') throw new InputFailed();
    else return;
  }
}

let batch: ParsedLine[] = [];
try {
  for await (const lines of parseLines(file === null ? sentChunks() : createReadStream(file), maxLineBytes)) {
    for (const parsed of lines) batch.push(parsed);
    if (batch.length < batchLines) continue;
    // the main thread takes the batches far more slowly than they come: waiting here (and
    // so not reading the input on) is what keeps memory flat
    while (credit === 0) await new Promise<void>((resolve) => (wake = resolve));
    credit -= 1;
    post({ type: 'lines', lines: batch });
    batch = [];
  }
  if (batch.length > 0) post({ type: 'lines', lines: batch });
  post({ type: 'end' });
} catch (error) {
  if (error instanceof InputFailed) {
    if (batch.length > 0) post({ type: 'lines', lines: batch });
    post({ type: 'input-failed' });
  } else post({ type: 'error', message: (error as Error).message });
}
// nothing left to wait for: the thread ends once its messages are out
port.off('message', onMessage);
