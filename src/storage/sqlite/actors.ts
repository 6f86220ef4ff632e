import { asc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { z } from 'zod';
import { actorAffiliations, actors, entries, entryActors, type LanguageMap } from './schema.js';
import { parseEdtf } from '../../dates/edtf.js';
import type { FieldError } from '../../schemas/problems.js';
import type { ActorInput } from '../../schemas/actors.js';
import { embeddedRecordStored } from './documents.js';
import { actorRefs } from './refs.js';
import { languagePick } from '../language.js';
import { describeChain, type RecordKindSpec } from './records.js';
import { entriesNaming, forgetNames, indexEntries } from './search.js';
import { prepared } from './statements.js';
import { dateValue, dayBounds } from '../dates.js';
import { groupBy, listIdsAfter, selectIn } from './rows.js';
import { pickLanguage } from '../language.js';
import type { Tx } from './transactions.js';

export interface ActorWrite {
  key: string;
  type: string;
  name: LanguageMap;
  aliases: LanguageMap[];
  externalIds: Record<string, string>;
  affiliations: { actorId: number; role: string; date: string | null }[];
}

export const actorSpec: RecordKindSpec<z.infer<typeof ActorInput>, ActorWrite, ReturnType<typeof loadActors>[number]> = {
  kind: 'actor',
  table: 'actor',

  toWrite(input, resolver, key, base) {
    return {
      key,
      type: input.type ?? base?.type ?? 'other',
      name: input.name ?? base?.name ?? {},
      aliases: input.aliases ?? base?.aliases ?? [],
      externalIds: sortedRecord(input.externalIds ?? base?.externalIds ?? {}),
      affiliations:
        input.affiliations === undefined
          ? (base?.affiliations ?? [])
          : input.affiliations.map((a, i) => ({
              actorId: resolver.resolve('actor', a.actor, `/affiliations/${i}/actor`),
              role: a.role,
              date: a.date ?? null,
            })),
    };
  },

  check(tx, id, write) {
    const problems: FieldError[] = [];
    const seen = new Set<string>();
    // an affiliation already stored closes no cycle (a re-import of the same actor checks nothing)
    const stored = new Set(
      id === null
        ? []
        : tx
            .select({ other: actorAffiliations.otherActorId })
            .from(actorAffiliations)
            .where(eq(actorAffiliations.actorId, id))
            .all()
            .map((r) => r.other),
    );
    write.affiliations.forEach((a, i) => {
      const path = `/affiliations/${i}`;
      const same = JSON.stringify([a.actorId, a.role, a.date]);
      if (seen.has(same)) problems.push({ in: 'body', path, message: 'the same affiliation is listed twice' });
      seen.add(same);
      if (id === null || stored.has(a.actorId)) return;
      // Affiliations form no cycle, of any length: the interchange format writes an actor after
      // those it is affiliated to, and stores a record whole or not at all, so an import can
      // bring back only an acyclic graph (a cycle would wait on itself and be refused).
      const cycle = affiliationPath(tx, a.actorId, id);
      if (cycle === null) return;
      const message =
        cycle.length === 1
          ? 'an actor cannot be affiliated to itself'
          : `affiliations cannot form a cycle: ${cycle[0]} is already affiliated to ${cycle[cycle.length - 1]} (${describeChain(cycle)})`;
      problems.push({ in: 'body', path: `${path}/actor`, message });
    });
    return problems;
  },

  readWrite(tx, id) {
    const row = tx.select().from(actors).where(eq(actors.id, id)).get();
    if (!row) return null;
    const affiliations = tx
      .select()
      .from(actorAffiliations)
      .where(eq(actorAffiliations.actorId, id))
      .orderBy(asc(actorAffiliations.position))
      .all();
    return {
      key: row.key,
      type: row.type,
      name: row.name,
      aliases: row.aliases,
      externalIds: row.externalIds,
      affiliations: affiliations.map((a) => ({ actorId: a.otherActorId, role: a.role, date: a.date })),
    };
  },

  store(tx, id, write, timestamp) {
    const { affiliations, ...columns } = write;
    const values = { ...columns, updatedAt: timestamp };
    let actorId = id;
    if (actorId === null) {
      // imports create actors by the ten thousand: a statement prepared once, not built by drizzle each time
      const inserted = prepared(
        tx,
        'INSERT INTO actors (key, type, name, aliases, external_ids, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ).run(
        values.key,
        values.type,
        JSON.stringify(values.name),
        JSON.stringify(values.aliases),
        JSON.stringify(values.externalIds),
        timestamp,
        timestamp,
      );
      actorId = Number(inserted.lastInsertRowid);
    } else {
      tx.update(actors).set(values).where(eq(actors.id, actorId)).run();
      tx.delete(actorAffiliations).where(eq(actorAffiliations.actorId, actorId)).run();
      // entries are found by their actors' names: those documents change with the names
      forgetNames(tx, 'actor', actorId);
      indexEntries(tx, entriesNaming(tx, 'actor', actorId));
    }
    if (affiliations.length > 0) {
      tx.insert(actorAffiliations)
        .values(
          affiliations.map((a, position) => {
            const bounds = a.date === null ? null : dayBounds(parseEdtf(a.date));
            return {
              actorId: actorId,
              position,
              otherActorId: a.actorId,
              role: a.role,
              date: a.date,
              earliest: bounds?.earliest ?? null,
              latest: bounds?.latest ?? null,
            };
          }),
        )
        .run();
    }
    // in the entries that name it, and in the statements of the actors affiliated to it
    if (id !== null) embeddedRecordStored(tx, 'actor', actorId);
    return actorId;
  },

  load: loadActors,

  referrers(tx, id) {
    const affiliated = tx
      .select({ key: actors.key })
      .from(actorAffiliations)
      .innerJoin(actors, eq(actors.id, actorAffiliations.actorId))
      .where(eq(actorAffiliations.otherActorId, id))
      .limit(500)
      .all()
      .map((r) => `actor ${r.key}`);
    const roles = tx
      .selectDistinct({ key: entries.key, kind: entries.kind })
      .from(entryActors)
      .innerJoin(entries, eq(entries.id, entryActors.entryId))
      .where(eq(entryActors.actorId, id))
      .limit(500)
      .all()
      .map((r) => `${r.kind} ${r.key}`);
    return [...new Set([...affiliated, ...roles])];
  },
};

/**
 * The keys on a path of affiliations from `from` to `to`, both included, or null when `to`
 * is not `from` nor reachable from it: what an affiliation of `to` to `from` would close into
 * a cycle. The reachable set is found in SQL (UNION visits each actor once, so it ends on any
 * graph); only a refused cycle is walked again, breadth first, to name its actors.
 */
function affiliationPath(tx: Tx, from: number, to: number): string[] | null {
  if (from !== to) {
    const reached = tx.get<{ hit: number }>(
      sql`WITH RECURSIVE reach(id) AS (
            SELECT other_actor_id FROM actor_affiliations WHERE actor_id = ${from}
            UNION SELECT a.other_actor_id FROM actor_affiliations a JOIN reach ON a.actor_id = reach.id)
          SELECT 1 AS hit FROM reach WHERE id = ${to} LIMIT 1`,
    );
    if (reached === undefined) return null;
  }
  const previous = new Map<number, number | null>([[from, null]]);
  for (let frontier = [from]; frontier.length > 0 && !previous.has(to); ) {
    const next: number[] = [];
    for (const id of frontier) {
      const others = tx
        .select({ other: actorAffiliations.otherActorId })
        .from(actorAffiliations)
        .where(eq(actorAffiliations.actorId, id))
        .orderBy(asc(actorAffiliations.position))
        .all();
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
  const keys = new Map(
    tx.select({ id: actors.id, key: actors.key }).from(actors).where(inArray(actors.id, ids)).all().map((r) => [r.id, r.key]),
  );
  return ids.map((id) => keys.get(id) ?? String(id));
}

function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function loadActors(tx: Tx, ids: number[], lang?: string) {
  const rows = selectIn(ids, (chunk) => tx.select().from(actors).where(inArray(actors.id, chunk)).all());
  const found = new Map(rows.map((r) => [r.id, r]));
  const affiliations = groupBy(
    selectIn(ids, (chunk) =>
      tx
        .select()
        .from(actorAffiliations)
        .where(inArray(actorAffiliations.actorId, chunk))
        .orderBy(asc(actorAffiliations.actorId), asc(actorAffiliations.position))
        .all(),
    ),
    (a) => a.actorId,
  );
  const others = actorRefs(
    tx,
    [...affiliations.values()].flat().map((a) => a.otherActorId),
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

export interface ActorFilters {
  type?: string[] | undefined;
}

export function listActorIds(tx: Tx, filters: ActorFilters, after: number | undefined, limit: number): number[] {
  const where: SQL[] = [];
  if (filters.type?.length) where.push(inArray(actors.type, filters.type));
  return listIdsAfter(tx, actors, where, after, limit);
}
