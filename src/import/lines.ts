import { firstInvalidUtf8 } from './unicode.js';

export interface Line {
  /** 1-based line number. */
  line: number;
  /** The line's text, without its ending and a leading byte order mark. */
  text: string;
  /** The line exceeded the limit; its text was dropped. */
  tooLong: boolean;
  /**
   * Offset in the line's bytes of the first one that is not UTF-8, or -1. The text is then
   * empty (decoding would replace bytes with U+FFFD), and `bytes` holds the line.
   */
  invalidUtf8At: number;
  bytes?: Buffer;
}

const LF = 10;
const CR = 13;

/**
 * Splits a byte stream into UTF-8 lines without holding more than one line in memory, and
 * drops (but still counts) lines over `maxBytes`, so one endless line cannot exhaust memory.
 * A line ends at LF, CRLF or a lone CR (old Mac files), a CRLF split across two chunks
 * included; a byte order mark at the start of a line (the file's, or that of a file joined
 * to another) is not part of it.
 */
export async function* splitLines(input: AsyncIterable<Buffer | Uint8Array | string>, maxBytes: number): AsyncGenerator<Line> {
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  let line = 0;
  // the last chunk ended with a CR: an LF first in the next one belongs to it
  let afterCr = false;
  const finish = (): Line => {
    line += 1;
    const buffer = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    parts = [];
    size = 0;
    let text = '';
    const invalidUtf8At = tooLong ? -1 : firstInvalidUtf8(buffer);
    if (!tooLong && invalidUtf8At === -1) {
      text = buffer.toString('utf8');
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const result: Line = { line, text, tooLong, invalidUtf8At, ...(invalidUtf8At === -1 ? {} : { bytes: Buffer.from(buffer) }) };
    tooLong = false;
    return result;
  };
  const take = (bytes: Buffer, copy: boolean) => {
    if (bytes.length === 0) return;
    if (!tooLong && size + bytes.length <= maxBytes) {
      parts.push(copy ? Buffer.from(bytes) : bytes);
      size += bytes.length;
    } else {
      tooLong = true;
      parts = [];
      size = 0;
    }
  };
  for await (const chunk of input) {
    const data: Buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    if (data.length === 0) continue;
    let position = 0;
    if (afterCr) {
      afterCr = false;
      if (data[0] === LF) position = 1;
    }
    // each found once per chunk, not once per line: a chunk without CRs is not searched again for every line
    let lf = data.indexOf(LF, position);
    let cr = data.indexOf(CR, position);
    for (;;) {
      const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      if (end === -1) break;
      take(data.subarray(position, end), false);
      yield finish();
      position = end + 1;
      if (data[end] === CR) {
        if (end + 1 === data.length) afterCr = true;
        else if (data[end + 1] === LF) position = end + 2;
      }
      if (lf !== -1 && lf < position) lf = data.indexOf(LF, position);
      if (cr !== -1 && cr < position) cr = data.indexOf(CR, position);
    }
    // the start of a line that goes on in the next chunk: copied, the chunk is not kept
    take(data.subarray(position), true);
  }
  if (size > 0 || tooLong) yield finish();
}
