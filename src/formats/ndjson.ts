import { Readable } from 'node:stream';
import type { EntryDto } from '../storage/types.js';

export const NDJSON_DESCRIPTION = 'One timeline entry (as in the JSON `data` array) a line, every page, streamed.';

export function ndjsonStream(pages: AsyncIterable<EntryDto[]>): Readable {
  async function* generate() {
    for await (const page of pages) yield page.map((entry) => `${JSON.stringify(entry)}\n`).join('');
  }
  return Readable.from(generate(), { objectMode: false });
}
