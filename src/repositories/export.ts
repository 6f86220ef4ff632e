import { asc, eq, inArray, sql } from 'drizzle-orm';
import {
  actorAffiliations,
  actors,
  citations,
  entries,
  entryActors,
  entryEvents,
  entryPlaces,
  entryTags,
  places,
  sources,
  timelineEntries,
  timelines,
} from '../db/schema.js';
import { groupBy, selectIn, type Tx } from './support.js';
import { timelinePage, type TimelinePosition, type TimelineQuery } from './timeline.js';

/**
 * The interchange export: which records, in which order, and each as its interchange object.
 *
 * The order puts every record after the records it refers to (sources, places parents
 * first, actors after those they are affiliated to, events parents first, statements,
 * curated timelines), and within that by id, so that an export imported into an empty
 * instance exports again to the same bytes. The plan lives in a temporary table of the
 * connection, so a million-record export holds one page in memory.
 */

const KIND_RANK = { source: 0, place: 1, actor: 2, event: 3, statement: 4, timeline: 5 } as const;
export type ExportKind = keyof typeof KIND_RANK;
const KINDS = Object.keys(KIND_RANK) as ExportKind[];

let planCounter = 0;

export interface ExportPlan {
  table: string;
}

const q = (name: string) => sql.raw(`"${name}"`);

/** Creates the plan of a full export, or of the entries `query` selects and all they refer to. */
export function createExportPlan(tx: Tx, query: TimelineQuery | null): ExportPlan {
  const table = `export_plan_${process.pid}_${++planCounter}`;
  tx.run(sql`CREATE TEMP TABLE ${q(table)} (rank INTEGER NOT NULL, depth INTEGER NOT NULL, id INTEGER NOT NULL,
    PRIMARY KEY (rank, depth, id)) WITHOUT ROWID`);
  const t = q(table);
  const add = (_rank: number, select: ReturnType<typeof sql>) =>
    tx.run(sql`INSERT OR IGNORE INTO ${t} (rank, depth, id) ${select}`);

  if (query === null) {
    add(KIND_RANK.source, sql`SELECT ${KIND_RANK.source}, 0, id FROM sources`);
    add(KIND_RANK.statement, sql`SELECT ${KIND_RANK.statement}, 0, id FROM entries WHERE kind = 'statement'`);
    add(KIND_RANK.timeline, sql`SELECT ${KIND_RANK.timeline}, 0, id FROM timelines`);
    add(KIND_RANK.event, sql`SELECT ${KIND_RANK.event}, 0, id FROM entries WHERE kind = 'event'`);
    add(KIND_RANK.place, sql`SELECT ${KIND_RANK.place}, 0, id FROM places`);
    add(KIND_RANK.actor, sql`SELECT ${KIND_RANK.actor}, 0, id FROM actors`);
  } else {
    // the selected entries, a page at a time
    let after: TimelinePosition | undefined;
    for (;;) {
      const page = timelinePage(tx, query, after, 1000);
      if (page.ids.length > 0) {
        add(
          KIND_RANK.event,
          sql`SELECT CASE kind WHEN 'event' THEN ${KIND_RANK.event} ELSE ${KIND_RANK.statement} END, 0, id FROM entries
            WHERE id IN (${sql.join(page.ids.map((id) => sql`${id}`), sql`, `)})`,
        );
      }
      if (page.next === null) break;
      after = page.next;
    }
    closeOverReferences(tx, t);
  }
  orderByDependencies(tx, t);
  return { table };
}

/** Adds what the planned entries refer to: events, actors, places and sources, transitively. */
function closeOverReferences(tx: Tx, t: ReturnType<typeof q>): void {
  const E = KIND_RANK.event;
  const S = KIND_RANK.statement;
  // events: parents, contexts and events statements are about, up their parent chains
  for (let changed = 1; changed > 0; ) {
    changed = tx.run(sql`INSERT OR IGNORE INTO ${t} (rank, depth, id)
      SELECT ${E}, 0, x.id FROM (
        SELECT e.parent_id AS id FROM entries e JOIN ${t} p ON p.id = e.id AND p.rank IN (${E}, ${S}) WHERE e.parent_id IS NOT NULL
        UNION SELECT e.context_id FROM entries e JOIN ${t} p ON p.id = e.id AND p.rank = ${S} WHERE e.context_id IS NOT NULL
        UNION SELECT ee.event_id FROM entry_events ee JOIN ${t} p ON p.id = ee.entry_id AND p.rank = ${S}
      ) x WHERE NOT EXISTS (SELECT 1 FROM ${t} y WHERE y.rank = ${E} AND y.id = x.id)`).changes;
  }
  tx.run(sql`INSERT OR IGNORE INTO ${t} (rank, depth, id)
    SELECT DISTINCT ${KIND_RANK.actor}, 0, ea.actor_id FROM entry_actors ea JOIN ${t} p ON p.id = ea.entry_id AND p.rank IN (${E}, ${S})`);
  for (let changed = 1; changed > 0; ) {
    changed = tx.run(sql`INSERT OR IGNORE INTO ${t} (rank, depth, id)
      SELECT DISTINCT ${KIND_RANK.actor}, 0, a.other_actor_id FROM actor_affiliations a
      JOIN ${t} p ON p.id = a.actor_id AND p.rank = ${KIND_RANK.actor}
      WHERE NOT EXISTS (SELECT 1 FROM ${t} y WHERE y.rank = ${KIND_RANK.actor} AND y.id = a.other_actor_id)`).changes;
  }
  tx.run(sql`INSERT OR IGNORE INTO ${t} (rank, depth, id)
    SELECT DISTINCT ${KIND_RANK.place}, 0, ep.place_id FROM entry_places ep JOIN ${t} p ON p.id = ep.entry_id AND p.rank IN (${E}, ${S})`);
  for (let changed = 1; changed > 0; ) {
    changed = tx.run(sql`INSERT OR IGNORE INTO ${t} (rank, depth, id)
      SELECT DISTINCT ${KIND_RANK.place}, 0, pl.parent_id FROM places pl JOIN ${t} p ON p.id = pl.id AND p.rank = ${KIND_RANK.place}
      WHERE pl.parent_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM ${t} y WHERE y.rank = ${KIND_RANK.place} AND y.id = pl.parent_id)`).changes;
  }
  tx.run(sql`INSERT OR IGNORE INTO ${t} (rank, depth, id)
    SELECT DISTINCT ${KIND_RANK.source}, 0, c.source_id FROM citations c JOIN ${t} p ON p.id = c.entry_id AND p.rank IN (${E}, ${S})`);
}

/**
 * Sets `depth` so that (rank, depth, id) order puts referenced records first: the number of
 * ancestors for places and events, a post-order number for actors (whose affiliations form
 * a graph that may have cycles; a cycle cannot be ordered and is left to the importer).
 */
function orderByDependencies(tx: Tx, t: ReturnType<typeof q>): void {
  tx.run(sql`UPDATE ${t} SET depth = (
      WITH RECURSIVE up(id, n) AS (
        SELECT parent_id, 1 FROM places WHERE id = ${t}.id AND parent_id IS NOT NULL
        UNION ALL SELECT p.parent_id, up.n + 1 FROM places p JOIN up ON p.id = up.id WHERE p.parent_id IS NOT NULL AND up.n < 100)
      SELECT coalesce(max(n), 0) FROM up)
    WHERE rank = ${KIND_RANK.place}
      AND EXISTS (SELECT 1 FROM places WHERE id = ${t}.id AND parent_id IS NOT NULL)`);
  tx.run(sql`UPDATE ${t} SET depth = (
      WITH RECURSIVE up(id, n) AS (
        SELECT parent_id, 1 FROM entries WHERE id = ${t}.id AND parent_id IS NOT NULL
        UNION ALL SELECT e.parent_id, up.n + 1 FROM entries e JOIN up ON e.id = up.id WHERE e.parent_id IS NOT NULL AND up.n < 1000)
      SELECT coalesce(max(n), 0) FROM up)
    WHERE rank = ${KIND_RANK.event}
      AND EXISTS (SELECT 1 FROM entries WHERE id = ${t}.id AND parent_id IS NOT NULL)`);

  // actors with affiliations: a depth-first post-order over the affiliation graph
  const edges = groupBy(
    tx.all<{ actorId: number; otherId: number }>(
      sql`SELECT a.actor_id AS actorId, a.other_actor_id AS otherId FROM actor_affiliations a
          JOIN ${t} p ON p.rank = ${KIND_RANK.actor} AND p.id = a.actor_id ORDER BY a.actor_id, a.position`,
    ),
    (e) => e.actorId,
  );
  if (edges.size === 0) return;
  const order = new Map<number, number>();
  const visiting = new Set<number>();
  const visit = (id: number) => {
    if (order.has(id) || visiting.has(id)) return;
    visiting.add(id);
    for (const edge of edges.get(id) ?? []) visit(edge.otherId);
    visiting.delete(id);
    order.set(id, order.size + 1);
  };
  const involved = [...new Set([...edges.keys(), ...[...edges.values()].flat().map((e) => e.otherId)])].sort((a, b) => a - b);
  for (const id of involved) visit(id);
  // actors outside the graph keep depth 0; those in it follow in post-order after them
  for (const [id, n] of order) tx.run(sql`UPDATE ${t} SET depth = ${n} WHERE rank = ${KIND_RANK.actor} AND id = ${id}`);
}

/** One page of the plan after `after`: (rank, depth, id) triples. */
export function exportPlanPage(
  tx: Tx,
  plan: ExportPlan,
  after: [number, number, number] | undefined,
  limit: number,
): { kind: ExportKind; ids: number[]; last: [number, number, number] } | null {
  const t = q(plan.table);
  const rows = tx.all<{ rank: number; depth: number; id: number }>(
    sql`SELECT rank, depth, id FROM ${t} WHERE (rank, depth, id) > (${after?.[0] ?? -1}, ${after?.[1] ?? -1}, ${after?.[2] ?? -1})
      ORDER BY rank, depth, id LIMIT ${limit}`,
  );
  if (rows.length === 0) return null;
  // one kind per page, so that each page is loaded with one batch of queries
  const rank = rows[0]!.rank;
  const same = rows.filter((r) => r.rank === rank);
  const last = same[same.length - 1]!;
  return { kind: KINDS[rank]!, ids: same.map((r) => r.id), last: [last.rank, last.depth, last.id] };
}

export function dropExportPlan(tx: Tx, plan: ExportPlan): void {
  tx.run(sql`DROP TABLE IF EXISTS ${q(plan.table)}`);
}

/* Interchange records, batch by batch, in the interchange field order. */

const keysOf = (tx: Tx, table: typeof sources | typeof places | typeof actors | typeof entries, ids: number[]) =>
  new Map(
    selectIn(ids, (chunk) =>
      tx.select({ id: table.id, key: table.key }).from(table).where(inArray(table.id, chunk)).all(),
    ).map((r) => [r.id, r.key]),
  );

function inOrder<T extends { id: number }>(ids: number[], rows: T[]): T[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => (byId.has(id) ? [byId.get(id)!] : []));
}

export function exportRecords(tx: Tx, kind: ExportKind, ids: number[]): object[] {
  switch (kind) {
    case 'source':
      return inOrder(ids, selectIn(ids, (c) => tx.select().from(sources).where(inArray(sources.id, c)).all())).map((r) => ({
        kind,
        key: r.key,
        type: r.type,
        title: r.title,
        outlet: r.outlet,
        url: r.url,
        lang: r.lang,
        published: r.published,
        retrieved: r.retrieved,
        text: r.text,
      }));
    case 'place': {
      const rows = inOrder(ids, selectIn(ids, (c) => tx.select().from(places).where(inArray(places.id, c)).all()));
      const parents = keysOf(tx, places, rows.flatMap((r) => (r.parentId === null ? [] : [r.parentId])));
      return rows.map((r) => ({
        kind,
        key: r.key,
        type: r.type,
        name: r.name,
        countryCode: r.countryCode,
        parent: r.parentId === null ? null : (parents.get(r.parentId) ?? null),
        lat: r.lat,
        lon: r.lon,
      }));
    }
    case 'actor': {
      const rows = inOrder(ids, selectIn(ids, (c) => tx.select().from(actors).where(inArray(actors.id, c)).all()));
      const affiliations = groupBy(
        selectIn(ids, (c) =>
          tx
            .select({ actorId: actorAffiliations.actorId, other: actors.key, role: actorAffiliations.role, date: actorAffiliations.date })
            .from(actorAffiliations)
            .innerJoin(actors, eq(actors.id, actorAffiliations.otherActorId))
            .where(inArray(actorAffiliations.actorId, c))
            .orderBy(asc(actorAffiliations.actorId), asc(actorAffiliations.position))
            .all(),
        ),
        (a) => a.actorId,
      );
      return rows.map((r) => ({
        kind,
        key: r.key,
        type: r.type,
        name: r.name,
        aliases: r.aliases,
        externalIds: r.externalIds,
        affiliations: (affiliations.get(r.id) ?? []).map((a) => ({ actor: a.other, role: a.role, date: a.date })),
      }));
    }
    case 'event':
    case 'statement':
      return exportEntries(tx, kind, ids);
    case 'timeline': {
      const rows = inOrder(ids, selectIn(ids, (c) => tx.select().from(timelines).where(inArray(timelines.id, c)).all()));
      const members = groupBy(
        selectIn(ids, (c) =>
          tx
            .select({ timelineId: timelineEntries.timelineId, key: entries.key })
            .from(timelineEntries)
            .innerJoin(entries, eq(entries.id, timelineEntries.entryId))
            .where(inArray(timelineEntries.timelineId, c))
            .orderBy(asc(timelineEntries.timelineId), asc(timelineEntries.position))
            .all(),
        ),
        (m) => m.timelineId,
      );
      return rows.map((r) => ({
        kind,
        key: r.key,
        slug: r.slug,
        title: r.title,
        description: r.description,
        entries: (members.get(r.id) ?? []).map((m) => m.key),
      }));
    }
  }
}

function exportEntries(tx: Tx, kind: 'event' | 'statement', ids: number[]): object[] {
  const rows = inOrder(ids, selectIn(ids, (c) => tx.select().from(entries).where(inArray(entries.id, c)).all()));
  const children = <T extends { entryId: number }>(load: (chunk: number[]) => T[]) => groupBy(selectIn(ids, load), (r) => r.entryId);
  const roles = children((c) =>
    tx
      .select({ entryId: entryActors.entryId, actor: actors.key, role: entryActors.role })
      .from(entryActors)
      .innerJoin(actors, eq(actors.id, entryActors.actorId))
      .where(inArray(entryActors.entryId, c))
      .orderBy(asc(entryActors.entryId), asc(entryActors.position))
      .all(),
  );
  const placeKeys = children((c) =>
    tx
      .select({ entryId: entryPlaces.entryId, place: places.key })
      .from(entryPlaces)
      .innerJoin(places, eq(places.id, entryPlaces.placeId))
      .where(inArray(entryPlaces.entryId, c))
      .orderBy(asc(entryPlaces.entryId), asc(entryPlaces.position))
      .all(),
  );
  const tags = children((c) =>
    tx.select().from(entryTags).where(inArray(entryTags.entryId, c)).orderBy(asc(entryTags.entryId), asc(entryTags.position)).all(),
  );
  const cites = children((c) =>
    tx
      .select({ entryId: citations.entryId, source: sources.key, excerpt: citations.excerpt, start: citations.start, end: citations.end })
      .from(citations)
      .innerJoin(sources, eq(sources.id, citations.sourceId))
      .where(inArray(citations.entryId, c))
      .orderBy(asc(citations.entryId), asc(citations.position))
      .all(),
  );
  const eventKeys = keysOf(
    tx,
    entries,
    rows.flatMap((r) => [r.parentId, r.contextId]).filter((id): id is number => id !== null),
  );
  const aboutEvents = children((c) =>
    tx
      .select({ entryId: entryEvents.entryId, event: entries.key })
      .from(entryEvents)
      .innerJoin(entries, eq(entries.id, entryEvents.eventId))
      .where(inArray(entryEvents.entryId, c))
      .orderBy(asc(entryEvents.entryId), asc(entryEvents.position))
      .all(),
  );
  const sourcesOf = (id: number) =>
    (cites.get(id) ?? []).map((c) => ({ source: c.source, excerpt: c.excerpt, start: c.start, end: c.end }));

  return rows.map((r) => {
    if (kind === 'event') {
      return {
        kind,
        key: r.key,
        type: r.type,
        date: r.date,
        title: r.title,
        description: r.description,
        places: (placeKeys.get(r.id) ?? []).map((p) => p.place),
        actors: (roles.get(r.id) ?? []).map((a) => ({ actor: a.actor, role: a.role })),
        tags: (tags.get(r.id) ?? []).map((t) => t.tag),
        parent: r.parentId === null ? null : (eventKeys.get(r.parentId) ?? null),
        sources: sourcesOf(r.id),
      };
    }
    const actorRoles = roles.get(r.id) ?? [];
    return {
      kind,
      key: r.key,
      type: r.type,
      date: r.date,
      speaker: actorRoles.find((a) => a.role === 'speaker')?.actor ?? null,
      text: r.text,
      originalLang: r.originalLang,
      context: r.contextId === null ? null : (eventKeys.get(r.contextId) ?? null),
      about: {
        actors: actorRoles.filter((a) => a.role === 'about').map((a) => a.actor),
        places: (placeKeys.get(r.id) ?? []).map((p) => p.place),
        events: (aboutEvents.get(r.id) ?? []).map((e) => e.event),
      },
      sources: sourcesOf(r.id),
    };
  });
}
