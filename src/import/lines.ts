export interface Line {
  /** 1-based line number. */
  line: number;
  text: string;
  /** The line exceeded the limit; its text was dropped. */
  tooLong: boolean;
}

/**
 * Splits a byte stream into UTF-8 lines without holding more than one line in memory, and
 * drops (but still counts) lines over `maxBytes`, so one endless line cannot exhaust memory.
 */
export async function* splitLines(input: AsyncIterable<Buffer | Uint8Array | string>, maxBytes: number): AsyncGenerator<Line> {
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  let line = 0;
  const finish = (): Line => {
    line += 1;
    const buffer = Buffer.concat(parts);
    parts = [];
    size = 0;
    const result = { line, text: tooLong ? '' : buffer.toString('utf8').replace(/\r$/, ''), tooLong };
    tooLong = false;
    return result;
  };
  for await (const chunk of input) {
    let data: Buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    let newline = data.indexOf(10);
    while (newline !== -1) {
      const head = data.subarray(0, newline);
      if (!tooLong && size + head.length <= maxBytes) parts.push(head);
      else tooLong = true;
      yield finish();
      data = data.subarray(newline + 1);
      newline = data.indexOf(10);
    }
    if (data.length > 0) {
      if (!tooLong && size + data.length <= maxBytes) {
        parts.push(Buffer.from(data));
        size += data.length;
      } else {
        tooLong = true;
        parts = [];
      }
    }
  }
  if (size > 0 || tooLong) yield finish();
}
