import { asc, count, eq, gt, inArray } from 'drizzle-orm';
import type { z } from 'zod';
import { pickLanguage } from '../language.js';
import type { TimelineInput } from '../../schemas/timelines.js';
import type { PgRecordSpec } from './records.js';
import { timelineEntries, timelines, type LanguageMap } from './schema.js';
import { holdsNul, MAX_ID, refuseNul } from './text.js';
import type { PgTx } from './transactions.js';

export interface TimelineWrite {
  key: string;
  slug: string;
  title: LanguageMap;
  description: LanguageMap | null;
  entryIds: number[];
}

export const timelineSpec: PgRecordSpec<z.infer<typeof TimelineInput>, TimelineWrite, Awaited<ReturnType<typeof loadTimelines>>[number]> = {
  kind: 'timeline',
  table: 'timeline',

  async toWrite(input, resolver, key, base) {
    const write = {
      key,
      slug: input.slug ?? base?.slug ?? '',
      title: input.title ?? base?.title ?? {},
      description: input.description === undefined ? (base?.description ?? null) : input.description,
      entryIds: input.entries === undefined ? (base?.entryIds ?? []) : await resolver.resolveAll('entry', input.entries, '/entries'),
    };
    refuseNul(write, ['key', 'slug']);
    return write;
  },

  async check(tx, id, write) {
    const holderOf = async (column: typeof timelines.slug | typeof timelines.key, value: string) =>
      holdsNul(value) ? undefined : (await tx.select({ id: timelines.id, key: timelines.key }).from(timelines).where(eq(column, value)))[0];
    const holder = await holderOf(timelines.slug, write.slug);
    const problems = holder && holder.id !== id ? [{ in: 'body', path: '/slug', message: 'another timeline has this slug' }] : [];
    // a timeline is addressed by key or slug: one timeline's key must not be another's slug
    const slugHolder = await holderOf(timelines.slug, write.key);
    const keyHolder = await holderOf(timelines.key, write.slug);
    if (slugHolder && slugHolder.id !== id) {
      problems.push({ in: 'body', path: '/key', message: `timeline ${slugHolder.key} has this as its slug` });
    }
    if (keyHolder && keyHolder.id !== id) {
      problems.push({ in: 'body', path: '/slug', message: `timeline ${keyHolder.key} has this as its key` });
    }
    const seen = new Set<number>();
    write.entryIds.forEach((entryId, i) => {
      if (seen.has(entryId)) problems.push({ in: 'body', path: `/entries/${i}`, message: 'listed twice' });
      seen.add(entryId);
    });
    return problems;
  },

  async readWrite(tx, id) {
    const [row] = await tx.select().from(timelines).where(eq(timelines.id, id));
    if (!row) return null;
    return { key: row.key, slug: row.slug, title: row.title, description: row.description, entryIds: await timelineEntryIds(tx, id) };
  },

  async store(tx, id, write, timestamp) {
    const { entryIds, ...columns } = write;
    let timelineId = id;
    if (timelineId === null) {
      const [inserted] = await tx
        .insert(timelines)
        .values({ ...columns, createdAt: timestamp, updatedAt: timestamp })
        .returning({ id: timelines.id });
      timelineId = inserted!.id;
    } else {
      await tx.update(timelines).set({ ...columns, updatedAt: timestamp }).where(eq(timelines.id, timelineId));
      await tx.delete(timelineEntries).where(eq(timelineEntries.timelineId, timelineId));
    }
    if (entryIds.length > 0) {
      const owner = timelineId;
      await tx.insert(timelineEntries).values(entryIds.map((entryId, position) => ({ timelineId: owner, position, entryId })));
    }
    return timelineId;
  },

  load: loadTimelines,
  referrers: () => Promise.resolve([]),
};

/** The entries of a curated timeline, in the curator's order. */
export async function timelineEntryIds(tx: PgTx, id: number): Promise<number[]> {
  if (id > MAX_ID) return [];
  const rows = await tx
    .select({ entryId: timelineEntries.entryId })
    .from(timelineEntries)
    .where(eq(timelineEntries.timelineId, id))
    .orderBy(asc(timelineEntries.position));
  return rows.map((r) => r.entryId);
}

export async function loadTimelines(tx: PgTx, ids: number[], lang?: string) {
  if (ids.length === 0) return [];
  const unique = [...new Set(ids)];
  const rows = await tx.select().from(timelines).where(inArray(timelines.id, unique));
  const counts = await tx
    .select({ timelineId: timelineEntries.timelineId, n: count() })
    .from(timelineEntries)
    .where(inArray(timelineEntries.timelineId, unique))
    .groupBy(timelineEntries.timelineId);
  const countOf = new Map(counts.map((c) => [c.timelineId, c.n]));
  const found = new Map(rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => {
    const r = found.get(id);
    if (!r) return [];
    return [
      {
        id: r.id,
        key: r.key,
        slug: r.slug,
        title: pickLanguage(r.title, lang),
        description: pickLanguage(r.description, lang),
        entryCount: countOf.get(id) ?? 0,
        createdAt: r.createdAt,
        updatedAt: r.updatedAt,
      },
    ];
  });
}

export async function listTimelineIds(tx: PgTx, after: number | undefined, limit: number): Promise<number[]> {
  if (after !== undefined && after >= MAX_ID) return [];
  const rows = await tx
    .select({ id: timelines.id })
    .from(timelines)
    .where(after === undefined ? undefined : gt(timelines.id, after))
    .orderBy(asc(timelines.id))
    .limit(limit);
  return rows.map((r) => r.id);
}
