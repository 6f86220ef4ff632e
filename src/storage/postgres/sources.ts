import { and, asc, eq, gt, inArray, sql, type SQL } from 'drizzle-orm';
import type { z } from 'zod';
import { citationProblem, citedText } from '../citations.js';
import { dateValue, dayBounds } from '../dates.js';
import { pickLanguage } from '../language.js';
import { conflict } from '../../schemas/problems.js';
import type { SourceInput } from '../../schemas/sources.js';
import { parseEdtf } from '../../dates/edtf.js';
import { embeddedRecordStored } from './documents.js';
import type { PgRecordSpec } from './records.js';
import { citations, entries, sources, type LanguageMap } from './schema.js';
import { MAX_ID, refuseNul } from './text.js';
import type { PgTx } from './transactions.js';

export interface SourceWrite {
  key: string;
  type: string;
  title: LanguageMap | null;
  outlet: string | null;
  url: string | null;
  lang: string | null;
  published: string | null;
  retrieved: string | null;
  text: string | null;
}

const TEXT_FIELDS = ['key', 'type', 'outlet', 'url', 'lang', 'published', 'retrieved', 'text'] as const;

const pick = <T>(value: T | undefined, fallback: T): T => (value === undefined ? fallback : value);

export const sourceSpec: PgRecordSpec<z.infer<typeof SourceInput>, SourceWrite, Awaited<ReturnType<typeof loadSources>>[number]> = {
  kind: 'source',
  table: 'source',

  toWrite(input, _resolver, key, base) {
    const write = {
      key,
      type: pick(input.type, base?.type ?? ''),
      title: pick(input.title, base?.title ?? null),
      outlet: pick(input.outlet, base?.outlet ?? null),
      url: pick(input.url, base?.url ?? null),
      lang: pick(input.lang, base?.lang ?? null),
      published: pick(input.published, base?.published ?? null),
      retrieved: pick(input.retrieved, base?.retrieved ?? null),
      text: pick(input.text, base?.text ?? null),
    };
    refuseNul(write, TEXT_FIELDS);
    return write;
  },

  async check(tx, id, write) {
    if (id === null) return [];
    const [stored] = await tx.select({ text: sources.text }).from(sources).where(eq(sources.id, id));
    if (stored === undefined || stored.text === write.text) return [];
    // the citations whose offsets point into the old text must still hold under the new one
    const text = write.text === null ? null : citedText(write.text);
    const { rows } = await tx.execute<{ kind: string; key: string; position: number; excerpt: string | null; start: number | null; end: number | null }>(
      sql`SELECT e.kind, e.key, c.position, c.excerpt, c.start, c."end" FROM citations c
          JOIN entries e ON e.id = c.entry_id
          WHERE c.source_id = ${id} AND (c.start IS NOT NULL OR c."end" IS NOT NULL)
          ORDER BY e.id, c.position`,
    );
    const broken = rows.flatMap((c) => {
      const problem = citationProblem(text, c);
      return problem ? [{ who: `${c.kind} ${c.key}`, where: `/sources/${c.position}`, problem }] : [];
    });
    if (broken.length === 0) return [];
    const shown = broken.slice(0, 20);
    const more = broken.length > shown.length ? ` and ${broken.length - shown.length} more` : '';
    throw conflict(
      `the new text of source ${JSON.stringify(write.key)} would not hold what ${shown
        .map((b) => `${b.who} cites at ${b.where}`)
        .join(', ')}${more} (${shown[0]!.problem.message}); change or remove those citations first`,
      shown.map((b) => ({
        in: 'body',
        path: '/text',
        message: `${b.who} cites this source at ${b.where}${b.problem.field}: ${b.problem.message}`,
      })),
    );
  },

  async readWrite(tx, id) {
    const [row] = await tx.select().from(sources).where(eq(sources.id, id));
    if (!row) return null;
    return {
      key: row.key,
      type: row.type,
      title: row.title,
      outlet: row.outlet,
      url: row.url,
      lang: row.lang,
      published: row.published,
      retrieved: row.retrieved,
      text: row.text,
    };
  },

  async store(tx, id, write, timestamp) {
    const values = { ...sourceRow(write), updatedAt: timestamp };
    if (id === null) {
      const [inserted] = await tx
        .insert(sources)
        .values({ ...values, createdAt: timestamp })
        .returning({ id: sources.id });
      return inserted!.id;
    }
    await tx.update(sources).set(values).where(eq(sources.id, id));
    await embeddedRecordStored(tx, 'source', id);
    return id;
  },

  load: loadSources,

  async referrers(tx, id) {
    const rows = await tx
      .selectDistinct({ key: entries.key, kind: entries.kind })
      .from(citations)
      .innerJoin(entries, eq(entries.id, citations.entryId))
      .where(eq(citations.sourceId, id))
      .limit(1000);
    return rows.map((r) => `${r.kind} ${r.key}`);
  },

  newRecord: {
    // a new source has no citations for a text to hold
    problems: () => [],
    rows: (id, write, timestamp) => ({ rows: [[sources, { ...sourceRow(write), id, createdAt: timestamp, updatedAt: timestamp }]], text: write.text }),
  },
};

/** A source's columns: its write form and the day bounds of its publication date. */
function sourceRow(write: SourceWrite) {
  const bounds = write.published === null ? null : dayBounds(parseEdtf(write.published));
  return { ...write, publishedEarliest: bounds?.earliest ?? null, publishedLatest: bounds?.latest ?? null };
}

export async function loadSources(tx: PgTx, ids: number[], lang?: string) {
  if (ids.length === 0) return [];
  const rows = await tx.select().from(sources).where(inArray(sources.id, [...new Set(ids)]));
  const found = new Map(rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => {
    const r = found.get(id);
    if (!r) return [];
    return [
      {
        id: r.id,
        key: r.key,
        type: r.type,
        title: pickLanguage(r.title, lang, r.lang),
        outlet: r.outlet,
        url: r.url,
        lang: r.lang,
        published: dateValue(r.published),
        retrieved: dateValue(r.retrieved),
        text: r.text,
        createdAt: r.createdAt,
        updatedAt: r.updatedAt,
      },
    ];
  });
}

/** One page of source ids in id order after `after`. */
export async function listSourceIds(
  tx: PgTx,
  filters: { type?: string[] | undefined; lang?: string[] | undefined },
  after: number | undefined,
  limit: number,
): Promise<number[]> {
  const where: SQL[] = [];
  if (filters.type?.length) where.push(inArray(sources.type, filters.type));
  if (filters.lang?.length) where.push(inArray(sources.lang, filters.lang));
  if (after !== undefined) {
    if (after >= MAX_ID) return [];
    where.push(gt(sources.id, after));
  }
  const rows = await tx
    .select({ id: sources.id })
    .from(sources)
    .where(where.length ? and(...where) : undefined)
    .orderBy(asc(sources.id))
    .limit(limit);
  return rows.map((r) => r.id);
}
