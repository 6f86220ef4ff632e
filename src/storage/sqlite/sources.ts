import { eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { z } from 'zod';
import { citations, entries, sources, type LanguageMap } from './schema.js';
import { conflict } from '../../schemas/problems.js';
import type { SourceInput } from '../../schemas/sources.js';
import { citationProblem, citedText } from '../citations.js';
import type { RecordKindSpec } from './records.js';
import { dateValue, dayBounds } from '../dates.js';
import { listIdsAfter, selectIn } from './rows.js';
import { pickLanguage } from '../language.js';
import type { Tx } from './transactions.js';
import { parseEdtf } from '../../dates/edtf.js';
import { prepared } from './statements.js';
import { embeddedRecordStored } from './documents.js';

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

const pick = <T>(value: T | undefined, fallback: T): T => (value === undefined ? fallback : value);

export const sourceSpec: RecordKindSpec<z.infer<typeof SourceInput>, SourceWrite, ReturnType<typeof loadSources>[number]> = {
  kind: 'source',
  table: 'source',

  toWrite(input, _resolver, key, base) {
    return {
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
  },

  check(tx, id, write) {
    if (id === null) return [];
    const stored = tx.select({ text: sources.text }).from(sources).where(eq(sources.id, id)).get();
    if (stored === undefined || stored.text === write.text) return [];
    // the citations whose offsets point into the old text must still hold under the new one
    const text = write.text === null ? null : citedText(write.text);
    const broken = tx
      .all<{ kind: string; key: string; position: number; excerpt: string | null; start: number | null; end: number | null }>(
        sql`SELECT e.kind, e.key, c.position, c.excerpt, c.start, c."end" AS "end" FROM citations c
            JOIN entries e ON e.id = c.entry_id
            WHERE c.source_id = ${id} AND (c.start IS NOT NULL OR c."end" IS NOT NULL)
            ORDER BY e.id, c.position`,
      )
      .flatMap((c) => {
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

  readWrite(tx, id) {
    const row = tx.select().from(sources).where(eq(sources.id, id)).get();
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

  store(tx, id, write, timestamp) {
    const bounds = write.published === null ? null : dayBounds(parseEdtf(write.published));
    const values = {
      ...write,
      publishedEarliest: bounds?.earliest ?? null,
      publishedLatest: bounds?.latest ?? null,
      updatedAt: timestamp,
    };
    if (id === null) {
      // imports create sources by the thousand: a statement prepared once, not built by drizzle each time
      const inserted = prepared(
        tx,
        `INSERT INTO sources (key, type, title, outlet, url, lang, published, published_earliest, published_latest,
           retrieved, text, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        write.key,
        write.type,
        write.title === null ? null : JSON.stringify(write.title),
        write.outlet,
        write.url,
        write.lang,
        write.published,
        values.publishedEarliest,
        values.publishedLatest,
        write.retrieved,
        write.text,
        timestamp,
        timestamp,
      );
      return Number(inserted.lastInsertRowid);
    }
    tx.update(sources).set(values).where(eq(sources.id, id)).run();
    embeddedRecordStored(tx, 'source', id);
    return id;
  },

  load: loadSources,

  referrers(tx, id) {
    return tx
      .selectDistinct({ key: entries.key, kind: entries.kind })
      .from(citations)
      .innerJoin(entries, eq(entries.id, citations.entryId))
      .where(eq(citations.sourceId, id))
      .limit(1000)
      .all()
      .map((r) => `${r.kind} ${r.key}`);
  },
};

export function loadSources(tx: Tx, ids: number[], lang?: string) {
  const rows = selectIn(ids, (chunk) => tx.select().from(sources).where(inArray(sources.id, chunk)).all());
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

export interface SourceFilters {
  type?: string[] | undefined;
  lang?: string[] | undefined;
}

export function listSourceIds(tx: Tx, filters: SourceFilters, after: number | undefined, limit: number): number[] {
  const where: SQL[] = [];
  if (filters.type?.length) where.push(inArray(sources.type, filters.type));
  if (filters.lang?.length) where.push(inArray(sources.lang, filters.lang));
  return listIdsAfter(tx, sources, where, after, limit);
}
