import { asc, eq, inArray, type SQL } from 'drizzle-orm';
import type { z } from 'zod';
import { actorAffiliations, actors, entries, entryActors, type LanguageMap } from '../db/schema.js';
import { parseEdtf } from '../dates/edtf.js';
import type { ActorInput } from '../schemas/actors.js';
import { actorRefs } from './refs.js';
import type { RecordKindSpec } from './records.js';
import { entriesNaming, forgetNames, indexEntries } from './search.js';
import { prepared } from '../db/statements.js';
import { dateValue, dayBounds, groupBy, listIdsAfter, pickLanguage, selectIn, type Tx } from './support.js';

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

  check(_tx, id, write) {
    return write.affiliations.flatMap((a, i) =>
      id !== null && a.actorId === id
        ? [{ in: 'body', path: `/affiliations/${i}/actor`, message: 'an actor cannot be affiliated to itself' }]
        : [],
    );
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
              actorId: actorId!,
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
    lang,
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
