// parseStreamInWorker against parseLines, its oracle: the same lines, parsed the same, for any
// way the bytes are cut into chunks, and when the input fails part way.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseStreamInWorker } from '../src/import/parallel.js';
import { parseLines, type ParsedLine } from '../src/import/parse.js';

const record = fc.oneof(
  fc.record({ key: fc.stringMatching(/^src:[a-z]{1,8}$/), title: fc.string({ maxLength: 12 }) }).map((r) =>
    JSON.stringify({ kind: 'source', type: 'news_article', key: r.key, title: { en: r.title || 'x' } }),
  ),
  fc.constantFrom('{bad', '', '  ', '{"kind":"nothing"}', '"a string"', '{"kind":"place","key":"place:p"}', 'صحيفة'),
);
const ending = fc.constantFrom('\n', '\r\n', '\r');

/** The bytes of lines, cut at the given offsets. */
const cut = (bytes: Buffer, cuts: number[]) => {
  const offsets = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const offset of [...offsets, bytes.length]) {
    if (offset > from) chunks.push(bytes.subarray(from, offset));
    from = Math.max(from, offset);
  }
  return chunks;
};

async function* chunksThenMaybeFail(chunks: Buffer[], failAfter: number | null) {
  for (const [i, chunk] of chunks.entries()) {
    if (i === failAfter) throw new Error('input failed');
    await new Promise((resolve) => setImmediate(resolve));
    yield chunk;
  }
}

async function collect(lines: AsyncIterable<ParsedLine[]>): Promise<{ lines: ParsedLine[]; error: string | null }> {
  const out: ParsedLine[] = [];
  try {
    for await (const batch of lines) out.push(...batch);
  } catch (error) {
    return { lines: out, error: (error as Error).message };
  }
  return { lines: out, error: null };
}

describe('parseStreamInWorker', () => {
  it('yields what parseLines yields for the same chunks, up to a failure of the input and its error', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(record, ending), { maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.option(fc.nat({ max: 30 })),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 64 }),
        async (lines, cuts, failAt, batchLines, messageBytes) => {
          const bytes = Buffer.from(lines.map(([text, end]) => text + end).join(''));
          const chunks = cut(bytes, cuts);
          const failAfter = failAt === null || failAt >= chunks.length ? null : failAt;
          const expected = await collect(parseLines(chunksThenMaybeFail(chunks, failAfter), 1024));
          const actual = await collect(parseStreamInWorker(chunksThenMaybeFail(chunks, failAfter), { maxLineBytes: 1024, batchLines, chunksAhead: 2, messageBytes }));
          expect(actual).toEqual(expected);
        },
      ),
      { numRuns: 25 },
    );
  });
});
