import { isUtf8 } from 'node:buffer';

// Text columns hold UTF-8. A lone surrogate (`"\ud800"` in JSON) has no UTF-8 form and
// invalid UTF-8 bytes have no characters: SQLite and Node would silently turn either into
// U+FFFD, so that what is stored differs from what was sent (and the same file imported
// twice "updates" its records every time). Writes refuse both, naming the field.

/** Offset of the first byte of `bytes` that is not part of well-formed UTF-8, or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  if (isUtf8(bytes)) return -1;
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i += 1;
      continue;
    }
    let length: number;
    let low = 0x80;
    let high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) length = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      if (b === 0xe0) low = 0xa0;
      if (b === 0xed) high = 0x9f; // the UTF-8 form of a surrogate
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      if (b === 0xf0) low = 0x90;
      if (b === 0xf4) high = 0x8f;
    } else return i;
    if (i + length > n) return i;
    const second = bytes[i + 1]!;
    if (second < low || second > high) return i;
    for (let k = 2; k < length; k++) {
      const next = bytes[i + k]!;
      if (next < 0x80 || next > 0xbf) return i;
    }
    i += length;
  }
  return -1;
}

const escapePointer = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * The JSON pointer of the value being written where `prefix` (the start of a JSON text)
 * ends, e.g. `/title/en` for `{"title":{"en":"abc`; `inKey` when it ends inside an object's
 * key. For naming the field in which the bytes that follow the prefix are bad.
 */
export function jsonPointerAt(prefix: string): { pointer: string; inKey: boolean } {
  const frames: { array: boolean; key: string | null; index: number; expectKey: boolean }[] = [];
  let inString = false;
  let isKey = false;
  let escaped = false;
  let text = '';
  for (let i = 0; i < prefix.length; i++) {
    const c = prefix[i]!;
    const top = frames[frames.length - 1];
    if (inString) {
      if (escaped) {
        escaped = false;
        if (isKey) text += c;
      } else if (c === '\\') escaped = true;
      else if (c === '"') {
        inString = false;
        if (isKey && top) top.key = text;
      } else if (isKey) text += c;
      continue;
    }
    if (c === '"') {
      inString = true;
      isKey = top !== undefined && !top.array && top.expectKey;
      text = '';
    } else if (c === '{') frames.push({ array: false, key: null, index: 0, expectKey: true });
    else if (c === '[') frames.push({ array: true, key: null, index: 0, expectKey: false });
    else if (c === '}' || c === ']') frames.pop();
    else if (c === ':' && top && !top.array) top.expectKey = false;
    else if (c === ',' && top) {
      if (top.array) top.index += 1;
      else {
        top.expectKey = true;
        top.key = null;
      }
    }
  }
  const segments = frames.flatMap((frame) => (frame.array ? [String(frame.index)] : frame.key === null ? [] : [frame.key]));
  if (inString && isKey) segments.push(text);
  return { pointer: segments.map((s) => `/${escapePointer(s)}`).join(''), inKey: inString && isKey };
}

/** Where in a UTF-8 JSON text its first invalid byte is: the byte offset and the field. */
export function describeInvalidUtf8(bytes: Uint8Array, offset: number): { pointer: string; message: string } {
  const { pointer, inKey } = jsonPointerAt(Buffer.from(bytes.buffer, bytes.byteOffset, offset).toString('utf8'));
  const byte = bytes[offset]!.toString(16).toUpperCase().padStart(2, '0');
  return {
    pointer,
    message: `not valid UTF-8 (byte 0x${byte} at offset ${offset}${inKey ? ', in a key' : ''}); send text as UTF-8`,
  };
}

const LONE_SURROGATE = /\p{Cs}/u;
const SURROGATE_ESCAPE = /\\u[dD][89abcdefABCDEF]/;

/**
 * Cheap test on a JSON text decoded from UTF-8 (which holds no lone surrogate itself): could
 * its values hold one, written as an escape? Only then are they searched.
 */
export const mayHoldLoneSurrogate = (jsonText: string): boolean => SURROGATE_ESCAPE.test(jsonText);

/**
 * The JSON pointer of the first string (value or key) in `value` that holds a lone surrogate,
 * with the surrogate, or null when every string is well-formed Unicode. Iterative: a deeply
 * nested body must not overflow the stack.
 */
export function findLoneSurrogate(value: unknown): { pointer: string; message: string } | null {
  const stack: [unknown, string][] = [[value, '']];
  while (stack.length > 0) {
    const [node, pointer] = stack.pop()!;
    if (typeof node === 'string') {
      const match = LONE_SURROGATE.exec(node);
      if (match) return { pointer, message: loneSurrogateMessage(match[0]) };
    } else if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push([node[i], `${pointer}/${i}`]);
    } else if (node !== null && typeof node === 'object') {
      const keys = Object.keys(node);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!;
        const match = LONE_SURROGATE.exec(key);
        const at = `${pointer}/${escapePointer(key)}`;
        if (match) return { pointer: at, message: `${loneSurrogateMessage(match[0])} (in a key)` };
        stack.push([(node as Record<string, unknown>)[key], at]);
      }
    }
  }
  return null;
}

const loneSurrogateMessage = (surrogate: string) =>
  `holds a lone surrogate (\\u${surrogate.charCodeAt(0).toString(16).toUpperCase()}), which is not Unicode text and cannot be stored as it was sent`;
