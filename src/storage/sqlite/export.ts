import { asc, eq, inArray, sql } from 'drizzle-orm';
import {
  actorAffiliations,
  actors,
  entries,
  places,
  sources,
  timelineEntries,
  timelines,
} from './schema.js';
import { groupBy, selectIn, tuplesIn, type Tx } from './support.js';
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
  try {
    fillExportPlan(tx, t, query, add);
  } catch (error) {
    // a connection that serves on (an in-memory database has no snapshot) keeps no half plan
    dropExportPlan(tx, { table });
    throw error;
  }
  return { table };
}

function fillExportPlan(
  tx: Tx,
  t: ReturnType<typeof q>,
  query: TimelineQuery | null,
  add: (rank: number, select: ReturnType<typeof sql>) => unknown,
): void {
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
            WHERE id IN (SELECT value FROM json_each(${JSON.stringify(page.ids)}))`,
        );
      }
      if (page.next === null) break;
      after = page.next;
    }
    closeOverReferences(tx, t);
  }
  orderByDependencies(tx, t);
}

/**
 * Adds what the planned entries refer to: events, actors, places and sources, transitively.
 * Every depth is still 0 here: the checks for a row already planned say so, which makes them
 * a lookup of the primary key (rank, depth, id) rather than a scan of the rank's rows, once
 * per candidate (a subtree of 10,000 places took seconds a round).
 */
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
      ) x WHERE NOT EXISTS (SELECT 1 FROM ${t} y WHERE y.rank = ${E} AND y.depth = 0 AND y.id = x.id)`).changes;
  }
  tx.run(sql`INSERT OR IGNORE INTO ${t} (rank, depth, id)
    SELECT DISTINCT ${KIND_RANK.actor}, 0, ea.actor_id FROM entry_actors ea JOIN ${t} p ON p.id = ea.entry_id AND p.rank IN (${E}, ${S})`);
  for (let changed = 1; changed > 0; ) {
    changed = tx.run(sql`INSERT OR IGNORE INTO ${t} (rank, depth, id)
      SELECT DISTINCT ${KIND_RANK.actor}, 0, a.other_actor_id FROM actor_affiliations a
      JOIN ${t} p ON p.id = a.actor_id AND p.rank = ${KIND_RANK.actor}
      WHERE NOT EXISTS (SELECT 1 FROM ${t} y WHERE y.rank = ${KIND_RANK.actor} AND y.depth = 0 AND y.id = a.other_actor_id)`).changes;
  }
  tx.run(sql`INSERT OR IGNORE INTO ${t} (rank, depth, id)
    SELECT DISTINCT ${KIND_RANK.place}, 0, ep.place_id FROM entry_places ep JOIN ${t} p ON p.id = ep.entry_id AND p.rank IN (${E}, ${S})`);
  for (let changed = 1; changed > 0; ) {
    changed = tx.run(sql`INSERT OR IGNORE INTO ${t} (rank, depth, id)
      SELECT DISTINCT ${KIND_RANK.place}, 0, pl.parent_id FROM places pl JOIN ${t} p ON p.id = pl.id AND p.rank = ${KIND_RANK.place}
      WHERE pl.parent_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM ${t} y WHERE y.rank = ${KIND_RANK.place} AND y.depth = 0 AND y.id = pl.parent_id)`).changes;
  }
  tx.run(sql`INSERT OR IGNORE INTO ${t} (rank, depth, id)
    SELECT DISTINCT ${KIND_RANK.source}, 0, c.source_id FROM citations c JOIN ${t} p ON p.id = c.entry_id AND p.rank IN (${E}, ${S})`);
}

/**
 * Sets `depth` so that (rank, depth, id) order puts referenced records first: the number of
 * ancestors for places and events, a post-order number for actors (whose affiliations form
 * a graph; the writes keep it free of cycles, which no order could put references first in).
 */
function orderByDependencies(tx: Tx, t: ReturnType<typeof q>): void {
  // The whole chain counts, however deep: a depth cut short would order a record by id among
  // its ancestors. The writes keep chains free of cycles; the bound (no chain is longer than
  // the table) only ends the walk on a cycle stored before they did.
  const longest = (table: 'places' | 'entries') => tx.get<{ n: number }>(sql`SELECT count(*) AS n FROM ${sql.raw(table)}`).n;
  tx.run(sql`UPDATE ${t} SET depth = (
      WITH RECURSIVE up(id, n) AS (
        SELECT parent_id, 1 FROM places WHERE id = ${t}.id AND parent_id IS NOT NULL
        UNION ALL SELECT p.parent_id, up.n + 1 FROM places p JOIN up ON p.id = up.id
          WHERE p.parent_id IS NOT NULL AND up.n < ${longest('places')})
      SELECT coalesce(max(n), 0) FROM up)
    WHERE rank = ${KIND_RANK.place}
      AND EXISTS (SELECT 1 FROM places WHERE id = ${t}.id AND parent_id IS NOT NULL)`);
  tx.run(sql`UPDATE ${t} SET depth = (
      WITH RECURSIVE up(id, n) AS (
        SELECT parent_id, 1 FROM entries WHERE id = ${t}.id AND parent_id IS NOT NULL
        UNION ALL SELECT e.parent_id, up.n + 1 FROM entries e JOIN up ON e.id = up.id
          WHERE e.parent_id IS NOT NULL AND up.n < ${longest('entries')})
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
  // actors outside the graph keep depth 0; those in it follow in post-order after them (each
  // is still at depth 0 when updated: the primary key finds it)
  for (const [id, n] of order) tx.run(sql`UPDATE ${t} SET depth = ${n} WHERE rank = ${KIND_RANK.actor} AND depth = 0 AND id = ${id}`);
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

/** Records of the kinds other than events and statements (those are written by exportEntryLines). */
function exportRecords(tx: Tx, kind: Exclude<ExportKind, 'event' | 'statement'>, ids: number[]): object[] {
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

/**
 * A page of the plan as interchange NDJSON (a line per record), and how many records it holds.
 * Events and statements, a million of them in a large export, are written straight from their
 * rows by {@link exportEntryLines}; the other kinds go through their records.
 */
export function exportLines(tx: Tx, kind: ExportKind, ids: number[]): { text: string; records: number } {
  if (kind === 'event' || kind === 'statement') return exportEntryLines(tx, kind, ids);
  const records = exportRecords(tx, kind, ids);
  return { text: records.map((record) => `${JSON.stringify(record)}\n`).join(''), records: records.length };
}

/** Records an export wrote, by kind: what its trailer counts. */
export type ExportCounts = Record<ExportKind, number>;

export const emptyExportCounts = (): ExportCounts => ({ source: 0, place: 0, actor: 0, event: 0, statement: 0, timeline: 0 });

/**
 * The last line of every export: how many records it holds, of each kind, and the data
 * revision of the snapshot it read. A file that does not end with it was cut short.
 */
/**
 * The last line of an export. `sequence` is the change log's position the export was read at:
 * the export and the changes after it (GET /v1/changes?since=) make up the live data.
 */
export function exportTrailer(counts: ExportCounts, revision: string, sequence: number): string {
  const records = KINDS.reduce((n, kind) => n + counts[kind], 0);
  const byKind = Object.fromEntries(KINDS.map((kind) => [kind, counts[kind]]));
  return `${JSON.stringify({ kind: 'end', records, counts: byKind, sequence, revision })}\n`;
}

/**
 * The rows of each entry, from rows sorted by entry id (their first column, which the queries
 * order by): a lookup slices the one array, where groupBy built an array per entry up front.
 *
 * Why not groupBy: V8 decides per allocation site whether new arrays start in the old
 * generation. groupBy's site learnt it from orderByDependencies, whose groups live through
 * thousands of statements, and then allocated every page's groups there: dead, they kept
 * their page's rows and strings alive through scavenges (2.7 MB promoted at each; the 1M
 * benchmark export grew RSS by some 120 MB instead of 35, until mark-compacts). What a page
 * keeps here to its end is Maps, rows and strings, none from an allocation site, and a slice
 * lives for one line.
 */
function rowsByEntry<T extends [number, ...unknown[]]>(rows: T[]): (id: number) => T[] {
  const first = new Map<number, number>();
  for (let i = rows.length - 1; i >= 0; i--) first.set(rows[i]![0], i);
  return (id) => {
    const start = first.get(id);
    if (start === undefined) return [];
    let end = start + 1;
    while (end < rows.length && rows[end]![0] === id) end++;
    return rows.slice(start, end);
  };
}

const IN_IDS = 'IN (SELECT value FROM json_each(:ids))';
const str = (value: string) => JSON.stringify(value);
const keyList = (keys: string[] | undefined) => `[${(keys ?? []).map(str).join(',')}]`;

/**
 * Events or statements as interchange NDJSON, written from prepared statements' rows (arrays)
 * with their language maps copied as the JSON text they are stored as (JSON.stringify wrote
 * it), in the field order of the interchange format: a full export of the 1M benchmark
 * database took 47 s through drizzle-built queries, records and JSON.stringify, and takes
 * 26 s this way, to the same bytes (compared with cmp; test/export.test.ts round-trips).
 */
function exportEntryLines(tx: Tx, kind: 'event' | 'statement', ids: number[]): { text: string; records: number } {
  type Row = [id: number, key: string, type: string, date: string, title: string | null, description: string | null,
    text: string | null, originalLang: string | null, contextId: number | null, parentId: number | null];
  const rows = new Map<number, Row>();
  for (const row of tuplesIn<Row>(
    tx,
    `SELECT id, key, type, date, title, description, text, original_lang, context_id, parent_id FROM entries WHERE id ${IN_IDS}`,
    ids,
  )) {
    rows.set(row[0], row);
  }
  const byEntry = <T extends [number, ...unknown[]]>(sqlText: string) => rowsByEntry(tuplesIn<T>(tx, sqlText, ids));
  const roles = byEntry<[number, string, string]>(
    `SELECT a.entry_id, x.key, a.role FROM entry_actors a JOIN actors x ON x.id = a.actor_id
      WHERE a.entry_id ${IN_IDS} ORDER BY a.entry_id, a.position`,
  );
  const placeKeys = byEntry<[number, string]>(
    `SELECT p.entry_id, x.key FROM entry_places p JOIN places x ON x.id = p.place_id
      WHERE p.entry_id ${IN_IDS} ORDER BY p.entry_id, p.position`,
  );
  const tags = byEntry<[number, string]>(`SELECT entry_id, tag FROM entry_tags WHERE entry_id ${IN_IDS} ORDER BY entry_id, position`);
  const cites = byEntry<[number, string, string | null, number | null, number | null]>(
    `SELECT c.entry_id, x.key, c.excerpt, c.start, c."end" FROM citations c JOIN sources x ON x.id = c.source_id
      WHERE c.entry_id ${IN_IDS} ORDER BY c.entry_id, c.position`,
  );
  const aboutEvents = byEntry<[number, string]>(
    `SELECT a.entry_id, x.key FROM entry_events a JOIN entries x ON x.id = a.event_id
      WHERE a.entry_id ${IN_IDS} ORDER BY a.entry_id, a.position`,
  );
  const referenced = [...rows.values()].flatMap((r) => [r[8], r[9]]).filter((id): id is number => id !== null);
  const eventKeys = new Map(tuplesIn<[number, string]>(tx, `SELECT id, key FROM entries WHERE id ${IN_IDS}`, referenced));
  const refKey = (id: number | null) => (id === null || !eventKeys.has(id) ? 'null' : str(eventKeys.get(id)!));

  let out = '';
  let written = 0;
  for (const id of ids) {
    const r = rows.get(id);
    if (!r) continue;
    written++;
    const [, key, type, date, title, description, text, originalLang, contextId, parentId] = r;
    const entryRoles = roles(id);
    const sourcesJson = `[${cites(id)
      .map(([, source, excerpt, start, end]) => `{"source":${str(source)},"excerpt":${JSON.stringify(excerpt)},"start":${JSON.stringify(start)},"end":${JSON.stringify(end)}}`)
      .join(',')}]`;
    const places = keyList(placeKeys(id).map((p) => p[1]));
    const head = `{"kind":"${kind}","key":${str(key)},"type":${str(type)},"date":${str(date)},`;
    if (kind === 'event') {
      const actorsJson = `[${entryRoles.map(([, actor, role]) => `{"actor":${str(actor)},"role":${str(role)}}`).join(',')}]`;
      out +=
        `${head}"title":${title ?? 'null'},"description":${description ?? 'null'},"places":${places},` +
        `"actors":${actorsJson},"tags":${keyList(tags(id).map((t) => t[1]))},"parent":${refKey(parentId)},"sources":${sourcesJson}}\n`;
    } else {
      const speaker = entryRoles.find((a) => a[2] === 'speaker');
      const about = keyList(entryRoles.filter((a) => a[2] === 'about').map((a) => a[1]));
      out +=
        `${head}"speaker":${speaker ? str(speaker[1]) : 'null'},"text":${text ?? 'null'},"originalLang":${JSON.stringify(originalLang)},` +
        `"context":${refKey(contextId)},"about":{"actors":${about},"places":${places},"events":${keyList(aboutEvents(id).map((e) => e[1]))}},"sources":${sourcesJson}}\n`;
    }
  }
  return { text: out, records: written };
}
