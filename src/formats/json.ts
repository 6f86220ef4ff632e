const COMMA = Buffer.from(',');

/**
 * A JSON object whose `name` member is an array of already-rendered values, followed by
 * the other members of `rest`: `{"data":[...],"page":{...}}` as one buffer.
 */
export function jsonWithArray(name: string, items: Buffer[], rest: Record<string, unknown>): Buffer {
  const parts: Buffer[] = [Buffer.from(`{${JSON.stringify(name)}:[`)];
  items.forEach((item, i) => {
    if (i > 0) parts.push(COMMA);
    parts.push(item);
  });
  const tail = JSON.stringify(rest);
  parts.push(Buffer.from(tail === '{}' ? ']}' : `],${tail.slice(1)}`));
  return Buffer.concat(parts);
}
