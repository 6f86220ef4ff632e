import { and, asc, eq, gt, inArray, sql, type SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { z } from 'zod';
import { dateValue, dayBounds } from '../dates.js';
import { pickLanguage, languagePick } from '../language.js';
import { parseEdtf } from '../../dates/edtf.js';
import type { ActorInput } from '../../schemas/actors.js';
import type { FieldError } from '../../schemas/problems.js';
import { embeddedRecordStored } from './documents.js';
import { describeChain, type PgRecordSpec } from './records.js';
import { actorRefs } from './refs.js';
import { actorAffiliations, actors, entries, entryActors, type LanguageMap } from './schema.js';
import { actorNameDocument, entriesNaming, indexEntries } from './search.js';
import { MAX_ID, refuseNul } from './text.js';
import type { PgTx } from './transactions.js';

export interface ActorWrite {
  key: string;
  type: string;
  name: LanguageMap;
  aliases: LanguageMap[];
  externalIds: Record<string, string>;
  affiliations: { actorId: number; role: string; date: string | null }[];
}

function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export const actorSpec: PgRecordSpec<z.infer<typeof ActorInput>, ActorWrite, Awaited<ReturnType<typeof loadActors>>[number]> = {
  kind: 'actor',
  table: 'actor',

  async toWrite(input, resolver, key, base) {
    let affiliations = base?.affiliations ?? [];
    if (input.affiliations !== undefined) {
      // one after another: unknown references are reported in the order they are listed
      affiliations = [];
      for (const [i, a] of input.affiliations.entries()) {
        affiliations.push({ actorId: await resolver.resolve('actor', a.actor, `/affiliations/${i}/actor`), role: a.role, date: a.date ?? null });
      }
    }
    const write = {
      key,
      type: input.type ?? base?.type ?? 'other',
      name: input.name ?? base?.name ?? {},
      aliases: input.aliases ?? base?.aliases ?? [],
      externalIds: sortedRecord(input.externalIds ?? base?.externalIds ?? {}),
      affiliations,
    };
    refuseNul(write, ['key', 'type']);
    affiliations.forEach((a, i) => refuseNul(a, ['role', 'date'], `/affiliations/${i}`));
    return write;
  },

  async check(tx, id, write) {
    const problems: FieldError[] = [];
    const duplicates = listedTwice(write);
    // an affiliation already stored closes no cycle (a re-import of the same actor checks nothing)
    const stored = new Set(
      id === null
        ? []
        : (
            await tx.select({ other: actorAffiliations.otherActorId }).from(actorAffiliations).where(eq(actorAffiliations.actorId, id))
          ).map((r) => r.other),
    );
    for (const [i, a] of write.affiliations.entries()) {
      const path = `/affiliations/${i}`;
      problems.push(...duplicates.filter((problem) => problem.path === path));
      if (id === null || stored.has(a.actorId)) continue;
      // affiliations form no cycle, of any length (see the SQLite engine's actors)
      const cycle = await affiliationPath(tx, a.actorId, id);
      if (cycle === null) continue;
      const message =
        cycle.length === 1
          ? 'an actor cannot be affiliated to itself'
          : `affiliations cannot form a cycle: ${cycle[0]} is already affiliated to ${cycle[cycle.length - 1]} (${describeChain(cycle)})`;
      problems.push({ in: 'body', path: `${path}/actor`, message });
    }
    return problems;
  },

  async readWrite(tx, id) {
    const [row] = await tx.select().from(actors).where(eq(actors.id, id));
    if (!row) return null;
    const affiliations = await tx
      .select()
      .from(actorAffiliations)
      .where(eq(actorAffiliations.actorId, id))
      .orderBy(asc(actorAffiliations.position));
    return {
      key: row.key,
      type: row.type,
      name: row.name,
      aliases: row.aliases,
      externalIds: row.externalIds,
      affiliations: affiliations.map((a) => ({ actorId: a.otherActorId, role: a.role, date: a.date })),
    };
  },

  async store(tx, id, write, timestamp) {
    const { affiliations, ...columns } = write;
    let actorId = id;
    if (actorId === null) {
      const [inserted] = await tx
        .insert(actors)
        .values({ ...columns, createdAt: timestamp, updatedAt: timestamp })
        .returning({ id: actors.id });
      actorId = inserted!.id;
    } else {
      await tx.update(actors).set({ ...columns, updatedAt: timestamp }).where(eq(actors.id, actorId));
      await tx.delete(actorAffiliations).where(eq(actorAffiliations.actorId, actorId));
      // entries are found by their actors' names: those documents change with the names
      await indexEntries(tx, await entriesNaming(tx, 'actor', actorId));
    }
    if (affiliations.length > 0) await tx.insert(actorAffiliations).values(affiliationRows(actorId, affiliations));
    // in the entries that name it, and in the statements of the actors affiliated to it
    if (id !== null) await embeddedRecordStored(tx, 'actor', actorId);
    return actorId;
  },

  load: loadActors,

  async referrers(tx, id) {
    const affiliated = await tx
      .select({ key: actors.key })
      .from(actorAffiliations)
      .innerJoin(actors, eq(actors.id, actorAffiliations.actorId))
      .where(eq(actorAffiliations.otherActorId, id))
      .limit(500);
    const roles = await tx
      .selectDistinct({ key: entries.key, kind: entries.kind })
      .from(entryActors)
      .innerJoin(entries, eq(entries.id, entryActors.entryId))
      .where(eq(entryActors.actorId, id))
      .limit(500);
    return [...new Set([...affiliated.map((r) => `actor ${r.key}`), ...roles.map((r) => `${r.kind} ${r.key}`)])];
  },

  newRecord: {
    // a new actor is affiliated to by no other, so its affiliations close no cycle
    problems: listedTwice,
    rows: (id, { affiliations, ...columns }, timestamp) => ({
      rows: [
        [actors, { ...columns, id, createdAt: timestamp, updatedAt: timestamp }],
        ...affiliationRows(id, affiliations).map((row): [PgTable, Record<string, unknown>] => [actorAffiliations, row]),
      ],
      nameDocument: actorNameDocument(columns.name, columns.aliases),
    }),
  },
};

/** The affiliations listed more than once (the same actor, role and date). */
function listedTwice(write: ActorWrite): FieldError[] {
  const problems: FieldError[] = [];
  const seen = new Set<string>();
  for (const [i, a] of write.affiliations.entries()) {
    const same = JSON.stringify([a.actorId, a.role, a.date]);
    if (seen.has(same)) problems.push({ in: 'body', path: `/affiliations/${i}`, message: 'the same affiliation is listed twice' });
    seen.add(same);
  }
  return problems;
}

/** An actor's affiliation rows, in position order, with the day bounds of their dates. */
function affiliationRows(actorId: number, affiliations: ActorWrite['affiliations']) {
  return affiliations.map((a, position) => {
    const bounds = a.date === null ? null : dayBounds(parseEdtf(a.date));
    return { actorId, position, otherActorId: a.actorId, role: a.role, date: a.date, earliest: bounds?.earliest ?? null, latest: bounds?.latest ?? null };
  });
}

/**
 * The keys on a path of affiliations from `from` to `to`, both included, or null when `to` is
 * not reachable (as on SQLite: the reachable set in SQL, a refused cycle walked breadth first
 * to name its actors).
 */
async function affiliationPath(tx: PgTx, from: number, to: number): Promise<string[] | null> {
  if (from !== to) {
    const { rows } = await tx.execute(
      sql`WITH RECURSIVE reach(id) AS (
            SELECT other_actor_id FROM actor_affiliations WHERE actor_id = ${from}
            UNION SELECT a.other_actor_id FROM actor_affiliations a JOIN reach ON a.actor_id = reach.id)
          SELECT 1 AS hit FROM reach WHERE id = ${to} LIMIT 1`,
    );
    if (rows.length === 0) return null;
  }
  const previous = new Map<number, number | null>([[from, null]]);
  for (let frontier = [from]; frontier.length > 0 && !previous.has(to); ) {
    const next: number[] = [];
    for (const id of frontier) {
      const others = await tx
        .select({ other: actorAffiliations.otherActorId })
        .from(actorAffiliations)
        .where(eq(actorAffiliations.actorId, id))
        .orderBy(asc(actorAffiliations.position));
      for (const { other } of others) {
        if (previous.has(other)) continue;
        previous.set(other, id);
        next.push(other);
      }
    }
    frontier = next;
  }
  const ids: number[] = [];
  for (let id: number | null | undefined = to; id !== null && id !== undefined; id = previous.get(id)) ids.unshift(id);
  const keys = new Map((await tx.select({ id: actors.id, key: actors.key }).from(actors).where(inArray(actors.id, ids))).map((r) => [r.id, r.key]));
  return ids.map((id) => keys.get(id) ?? String(id));
}

export async function loadActors(tx: PgTx, ids: number[], lang?: string) {
  if (ids.length === 0) return [];
  const unique = [...new Set(ids)];
  const rows = await tx.select().from(actors).where(inArray(actors.id, unique));
  const found = new Map(rows.map((r) => [r.id, r]));
  const affiliationRows = await tx
    .select()
    .from(actorAffiliations)
    .where(inArray(actorAffiliations.actorId, unique))
    .orderBy(asc(actorAffiliations.actorId), asc(actorAffiliations.position));
  const affiliations = new Map<number, typeof affiliationRows>();
  for (const a of affiliationRows) affiliations.set(a.actorId, [...(affiliations.get(a.actorId) ?? []), a]);
  const others = await actorRefs(
    tx,
    affiliationRows.map((a) => a.otherActorId),
    languagePick(lang),
  );
  return ids.flatMap((id) => {
    const r = found.get(id);
    if (!r) return [];
    return [
      {
        id: r.id,
        key: r.key,
        type: r.type,
        name: pickLanguage(r.name, lang),
        aliases: r.aliases.map((alias) => pickLanguage(alias, lang)),
        externalIds: r.externalIds,
        affiliations: (affiliations.get(id) ?? []).flatMap((a) => {
          const other = others.get(a.otherActorId);
          return other ? [{ actor: other, role: a.role, date: dateValue(a.date) }] : [];
        }),
        createdAt: r.createdAt,
        updatedAt: r.updatedAt,
      },
    ];
  });
}

export async function listActorIds(tx: PgTx, filters: { type?: string[] | undefined }, after: number | undefined, limit: number): Promise<number[]> {
  const where: SQL[] = [];
  if (filters.type?.length) where.push(inArray(actors.type, filters.type));
  if (after !== undefined) {
    if (after >= MAX_ID) return [];
    where.push(gt(actors.id, after));
  }
  const rows = await tx
    .select({ id: actors.id })
    .from(actors)
    .where(where.length ? and(...where) : undefined)
    .orderBy(asc(actors.id))
    .limit(limit);
  return rows.map((r) => r.id);
}
