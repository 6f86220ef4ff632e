import { asc, count, eq, inArray } from 'drizzle-orm';
import type { z } from 'zod';
import { timelineEntries, timelines, type LanguageMap } from './schema.js';
import type { TimelineInput } from '../../schemas/timelines.js';
import type { RecordKindSpec } from './records.js';
import { groupBy, listIdsAfter, selectIn } from './rows.js';
import { pickLanguage } from '../language.js';
import type { Tx } from './transactions.js';

export interface TimelineWrite {
  key: string;
  slug: string;
  title: LanguageMap;
  description: LanguageMap | null;
  entryIds: number[];
}

export const timelineSpec: RecordKindSpec<z.infer<typeof TimelineInput>, TimelineWrite, ReturnType<typeof loadTimelines>[number]> = {
  kind: 'timeline',
  table: 'timeline',

  toWrite(input, resolver, key, base) {
    return {
      key,
      slug: input.slug ?? base?.slug ?? '',
      title: input.title ?? base?.title ?? {},
      description: input.description === undefined ? (base?.description ?? null) : input.description,
      entryIds: input.entries === undefined ? (base?.entryIds ?? []) : resolver.resolveAll('entry', input.entries, '/entries'),
    };
  },

  check(tx, id, write) {
    const holder = tx.select({ id: timelines.id }).from(timelines).where(eq(timelines.slug, write.slug)).get();
    const problems =
      holder && holder.id !== id ? [{ in: 'body', path: '/slug', message: 'another timeline has this slug' }] : [];
    // a timeline is addressed by key or slug: one timeline's key must not be another's slug
    const slugHolder = tx.select({ id: timelines.id, key: timelines.key }).from(timelines).where(eq(timelines.slug, write.key)).get();
    const keyHolder = tx.select({ id: timelines.id, key: timelines.key }).from(timelines).where(eq(timelines.key, write.slug)).get();
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

  readWrite(tx, id) {
    const row = tx.select().from(timelines).where(eq(timelines.id, id)).get();
    if (!row) return null;
    return {
      key: row.key,
      slug: row.slug,
      title: row.title,
      description: row.description,
      entryIds: timelineEntryIds(tx, id),
    };
  },

  store(tx, id, write, timestamp) {
    const { entryIds, ...columns } = write;
    let timelineId = id;
    if (timelineId === null) {
      timelineId = tx
        .insert(timelines)
        .values({ ...columns, createdAt: timestamp, updatedAt: timestamp })
        .returning({ id: timelines.id })
        .get().id;
    } else {
      tx.update(timelines).set({ ...columns, updatedAt: timestamp }).where(eq(timelines.id, timelineId)).run();
      tx.delete(timelineEntries).where(eq(timelineEntries.timelineId, timelineId)).run();
    }
    if (entryIds.length > 0) {
      tx.insert(timelineEntries)
        .values(entryIds.map((entryId, position) => ({ timelineId: timelineId, position, entryId })))
        .run();
    }
    return timelineId;
  },

  load: loadTimelines,
  referrers: () => [],
};

/** The entries of a curated timeline, in the curator's order. */
export function timelineEntryIds(tx: Tx, id: number): number[] {
  return tx
    .select({ entryId: timelineEntries.entryId })
    .from(timelineEntries)
    .where(eq(timelineEntries.timelineId, id))
    .orderBy(asc(timelineEntries.position))
    .all()
    .map((r) => r.entryId);
}

export function loadTimelines(tx: Tx, ids: number[], lang?: string) {
  const rows = selectIn(ids, (chunk) => tx.select().from(timelines).where(inArray(timelines.id, chunk)).all());
  const counts = groupBy(
    selectIn(ids, (chunk) =>
      tx
        .select({ timelineId: timelineEntries.timelineId, n: count() })
        .from(timelineEntries)
        .where(inArray(timelineEntries.timelineId, chunk))
        .groupBy(timelineEntries.timelineId)
        .all(),
    ),
    (r) => r.timelineId,
  );
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
        entryCount: counts.get(id)?.[0]?.n ?? 0,
        createdAt: r.createdAt,
        updatedAt: r.updatedAt,
      },
    ];
  });
}

export function listTimelineIds(tx: Tx, after: number | undefined, limit: number): number[] {
  return listIdsAfter(tx, timelines, [], after, limit);
}
