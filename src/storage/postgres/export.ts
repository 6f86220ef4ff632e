import { sql } from 'drizzle-orm';
import { KIND_RANK, KINDS, type ExportKind } from '../export-format.js';
import type { TimelinePosition, TimelineQuery } from '../types.js';
import type { LanguageMap } from './schema.js';
import { timelinePage } from './timeline.js';
import type { PgTx } from './transactions.js';

/**
 * The interchange export on PostgreSQL, in the order and the bytes of SQLite's
 * (src/storage/sqlite/export.ts explains the order): the plan is a temporary table of the
 * export's own connection, inside the REPEATABLE READ transaction that is its snapshot, so
 * that a large export holds one page in memory and sees no write made while it runs.
 */

const PLAN = sql.raw('export_plan');
/** A rank written into the SQL: a bound one has no type where SELECT DISTINCT or CASE needs one. */
const lit = (n: number) => sql.raw(String(Math.trunc(n)));
const E = KIND_RANK.event;
const S = KIND_RANK.statement;

/** Creates and fills the plan, dropped with the transaction. */
export async function createExportPlan(tx: PgTx, query: TimelineQuery | null): Promise<void> {
  await tx.execute(sql`CREATE TEMP TABLE ${PLAN} (rank integer NOT NULL, depth integer NOT NULL, id integer NOT NULL,
    PRIMARY KEY (rank, depth, id)) ON COMMIT DROP`);
  const add = (select: ReturnType<typeof sql>) => tx.execute(sql`INSERT INTO ${PLAN} (rank, depth, id) ${select} ON CONFLICT DO NOTHING`);
  if (query === null) {
    await add(sql`SELECT ${lit(KIND_RANK.source)}, 0, id FROM sources`);
    await add(sql`SELECT ${lit(S)}, 0, id FROM entries WHERE kind = 'statement'`);
    await add(sql`SELECT ${lit(KIND_RANK.timeline)}, 0, id FROM timelines`);
    await add(sql`SELECT ${lit(E)}, 0, id FROM entries WHERE kind = 'event'`);
    await add(sql`SELECT ${lit(KIND_RANK.place)}, 0, id FROM places`);
    await add(sql`SELECT ${lit(KIND_RANK.actor)}, 0, id FROM actors`);
  } else {
    let after: TimelinePosition | undefined;
    for (;;) {
      const page = await timelinePage(tx, query, after, 1000);
      if (page.ids.length > 0) {
        await add(sql`SELECT CASE kind WHEN 'event' THEN ${lit(E)} ELSE ${lit(S)} END, 0, id FROM entries WHERE id = ANY(${sql.param(page.ids)}::integer[])`);
      }
      if (page.next === null) break;
      after = page.next;
    }
    await closeOverReferences(tx);
  }
  await orderByDependencies(tx);
}

/** Adds what the planned entries refer to: events, actors, places and sources, transitively. */
async function closeOverReferences(tx: PgTx): Promise<void> {
  const untilNothingAdded = async (statement: ReturnType<typeof sql>) => {
    for (let added = 1; added > 0; ) added = (await tx.execute(statement)).rowCount ?? 0;
  };
  await untilNothingAdded(sql`INSERT INTO ${PLAN} (rank, depth, id)
    SELECT DISTINCT ${lit(E)}, 0, x.id FROM (
      SELECT e.parent_id AS id FROM entries e JOIN ${PLAN} p ON p.id = e.id AND p.rank IN (${lit(E)}, ${lit(S)}) WHERE e.parent_id IS NOT NULL
      UNION SELECT e.context_id FROM entries e JOIN ${PLAN} p ON p.id = e.id AND p.rank = ${lit(S)} WHERE e.context_id IS NOT NULL
      UNION SELECT ee.event_id FROM entry_events ee JOIN ${PLAN} p ON p.id = ee.entry_id AND p.rank = ${lit(S)}
    ) x ON CONFLICT DO NOTHING`);
  await tx.execute(sql`INSERT INTO ${PLAN} (rank, depth, id)
    SELECT DISTINCT ${lit(KIND_RANK.actor)}, 0, ea.actor_id FROM entry_actors ea JOIN ${PLAN} p ON p.id = ea.entry_id AND p.rank IN (${lit(E)}, ${lit(S)})
    ON CONFLICT DO NOTHING`);
  await untilNothingAdded(sql`INSERT INTO ${PLAN} (rank, depth, id)
    SELECT DISTINCT ${lit(KIND_RANK.actor)}, 0, a.other_actor_id FROM actor_affiliations a
    JOIN ${PLAN} p ON p.id = a.actor_id AND p.rank = ${lit(KIND_RANK.actor)} ON CONFLICT DO NOTHING`);
  await tx.execute(sql`INSERT INTO ${PLAN} (rank, depth, id)
    SELECT DISTINCT ${lit(KIND_RANK.place)}, 0, ep.place_id FROM entry_places ep JOIN ${PLAN} p ON p.id = ep.entry_id AND p.rank IN (${lit(E)}, ${lit(S)})
    ON CONFLICT DO NOTHING`);
  await untilNothingAdded(sql`INSERT INTO ${PLAN} (rank, depth, id)
    SELECT DISTINCT ${lit(KIND_RANK.place)}, 0, pl.parent_id FROM places pl JOIN ${PLAN} p ON p.id = pl.id AND p.rank = ${lit(KIND_RANK.place)}
    WHERE pl.parent_id IS NOT NULL ON CONFLICT DO NOTHING`);
  await tx.execute(sql`INSERT INTO ${PLAN} (rank, depth, id)
    SELECT DISTINCT ${lit(KIND_RANK.source)}, 0, c.source_id FROM citations c JOIN ${PLAN} p ON p.id = c.entry_id AND p.rank IN (${lit(E)}, ${lit(S)})
    ON CONFLICT DO NOTHING`);
}

/** Sets `depth` so that (rank, depth, id) puts referenced records first (ancestors counted; actors in post-order). */
async function orderByDependencies(tx: PgTx): Promise<void> {
  for (const [table, rank] of [
    ['places', KIND_RANK.place],
    ['entries', E],
  ] as const) {
    const t = sql.raw(table);
    const { rows } = await tx.execute<{ n: number }>(sql`SELECT count(*)::integer AS n FROM ${t}`);
    await tx.execute(sql`UPDATE ${PLAN} SET depth = d.n FROM (
        SELECT p.id, (WITH RECURSIVE up(id, n) AS (
            SELECT parent_id, 1 FROM ${t} WHERE id = p.id AND parent_id IS NOT NULL
            UNION ALL SELECT r.parent_id, up.n + 1 FROM ${t} r JOIN up ON r.id = up.id
              WHERE r.parent_id IS NOT NULL AND up.n < ${rows[0]!.n})
          SELECT coalesce(max(n), 0) FROM up) AS n
        FROM ${PLAN} p WHERE p.rank = ${lit(rank)} AND EXISTS (SELECT 1 FROM ${t} WHERE id = p.id AND parent_id IS NOT NULL)) AS d
      WHERE ${PLAN}.rank = ${lit(rank)} AND ${PLAN}.id = d.id`);
  }
  const { rows: edgeRows } = await tx.execute<{ actorId: number; otherId: number }>(
    sql`SELECT a.actor_id AS "actorId", a.other_actor_id AS "otherId" FROM actor_affiliations a
        JOIN ${PLAN} p ON p.rank = ${lit(KIND_RANK.actor)} AND p.id = a.actor_id ORDER BY a.actor_id, a.position`,
  );
  if (edgeRows.length === 0) return;
  const edges = new Map<number, number[]>();
  for (const e of edgeRows) edges.set(e.actorId, [...(edges.get(e.actorId) ?? []), e.otherId]);
  const order = new Map<number, number>();
  const visiting = new Set<number>();
  const visit = (id: number) => {
    if (order.has(id) || visiting.has(id)) return;
    visiting.add(id);
    for (const other of edges.get(id) ?? []) visit(other);
    visiting.delete(id);
    order.set(id, order.size + 1);
  };
  const involved = [...new Set([...edges.keys(), ...[...edges.values()].flat()])].sort((a, b) => a - b);
  for (const id of involved) visit(id);
  await tx.execute(sql`UPDATE ${PLAN} SET depth = o.n
    FROM unnest(${sql.param([...order.keys()])}::integer[], ${sql.param([...order.values()])}::integer[]) AS o(id, n)
    WHERE ${PLAN}.rank = ${lit(KIND_RANK.actor)} AND ${PLAN}.depth = 0 AND ${PLAN}.id = o.id`);
}

/** One page of the plan after `after`, of one kind. */
export async function exportPlanPage(
  tx: PgTx,
  after: [number, number, number] | undefined,
  limit: number,
): Promise<{ kind: ExportKind; ids: number[]; last: [number, number, number] } | null> {
  const { rows } = await tx.execute<{ rank: number; depth: number; id: number }>(
    sql`SELECT rank, depth, id FROM ${PLAN} WHERE (rank, depth, id) > (${after?.[0] ?? -1}, ${after?.[1] ?? -1}, ${after?.[2] ?? -1})
      ORDER BY rank, depth, id LIMIT ${limit}`,
  );
  if (rows.length === 0) return null;
  const rank = rows[0]!.rank;
  const same = rows.filter((r) => r.rank === rank);
  const last = same[same.length - 1]!;
  return { kind: KINDS[rank]!, ids: same.map((r) => r.id), last: [last.rank, last.depth, last.id] };
}

const ids$ = (ids: number[]) => sql`${sql.param(ids)}::integer[]`;
const str = (value: string) => JSON.stringify(value);
const keyList = (keys: string[]) => `[${keys.map(str).join(',')}]`;

function grouped<T extends { owner: number }>(rows: T[]): (id: number) => T[] {
  const groups = new Map<number, T[]>();
  for (const row of rows) {
    const group = groups.get(row.owner);
    if (group) group.push(row);
    else groups.set(row.owner, [row]);
  }
  return (id) => groups.get(id) ?? [];
}

/** A page of the plan as interchange NDJSON (a line per record, in the interchange field order), and how many it holds. */
export async function exportLines(tx: PgTx, kind: ExportKind, ids: number[]): Promise<{ text: string; records: number }> {
  const lines: string[] = [];
  const inOrder = <T extends { id: number }>(rows: T[]) => {
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.flatMap((id) => (byId.has(id) ? [byId.get(id)!] : []));
  };
  switch (kind) {
    case 'source': {
      type Row = { id: number; key: string; type: string; title: LanguageMap | null; outlet: string | null; url: string | null; lang: string | null; published: string | null; retrieved: string | null; text: string | null };
      const { rows } = await tx.execute<Row>(sql`SELECT id, key, type, title, outlet, url, lang, published, retrieved, text FROM sources WHERE id = ANY(${ids$(ids)})`);
      for (const r of inOrder(rows)) {
        lines.push(JSON.stringify({ kind, key: r.key, type: r.type, title: r.title, outlet: r.outlet, url: r.url, lang: r.lang, published: r.published, retrieved: r.retrieved, text: r.text }));
      }
      break;
    }
    case 'place': {
      type Row = { id: number; key: string; type: string; name: LanguageMap; countryCode: string | null; parent: string | null; lat: number | null; lon: number | null };
      const { rows } = await tx.execute<Row>(sql`SELECT p.id, p.key, p.type, p.name, p.country_code AS "countryCode", q.key AS parent, p.lat, p.lon
        FROM places p LEFT JOIN places q ON q.id = p.parent_id WHERE p.id = ANY(${ids$(ids)})`);
      for (const r of inOrder(rows)) {
        lines.push(JSON.stringify({ kind, key: r.key, type: r.type, name: r.name, countryCode: r.countryCode, parent: r.parent, lat: r.lat, lon: r.lon }));
      }
      break;
    }
    case 'actor': {
      type Row = { id: number; key: string; type: string; name: LanguageMap; aliases: LanguageMap[]; externalIds: Record<string, string> };
      const { rows } = await tx.execute<Row>(sql`SELECT id, key, type, name, aliases, external_ids AS "externalIds" FROM actors WHERE id = ANY(${ids$(ids)})`);
      const { rows: links } = await tx.execute<{ owner: number; other: string; role: string; date: string | null }>(sql`
        SELECT a.actor_id AS owner, x.key AS other, a.role, a.date FROM actor_affiliations a JOIN actors x ON x.id = a.other_actor_id
        WHERE a.actor_id = ANY(${ids$(ids)}) ORDER BY a.actor_id, a.position`);
      const affiliations = grouped(links);
      for (const r of inOrder(rows)) {
        lines.push(
          JSON.stringify({
            kind,
            key: r.key,
            type: r.type,
            name: r.name,
            aliases: r.aliases,
            externalIds: r.externalIds,
            affiliations: affiliations(r.id).map((a) => ({ actor: a.other, role: a.role, date: a.date })),
          }),
        );
      }
      break;
    }
    case 'timeline': {
      type Row = { id: number; key: string; slug: string; title: LanguageMap; description: LanguageMap | null };
      const { rows } = await tx.execute<Row>(sql`SELECT id, key, slug, title, description FROM timelines WHERE id = ANY(${ids$(ids)})`);
      const { rows: members } = await tx.execute<{ owner: number; key: string }>(sql`
        SELECT m.timeline_id AS owner, e.key FROM timeline_entries m JOIN entries e ON e.id = m.entry_id
        WHERE m.timeline_id = ANY(${ids$(ids)}) ORDER BY m.timeline_id, m.position`);
      const entriesOf = grouped(members);
      for (const r of inOrder(rows)) {
        lines.push(JSON.stringify({ kind, key: r.key, slug: r.slug, title: r.title, description: r.description, entries: entriesOf(r.id).map((m) => m.key) }));
      }
      break;
    }
    case 'event':
    case 'statement':
      return exportEntryLines(tx, kind, ids);
  }
  return { text: lines.map((line) => `${line}\n`).join(''), records: lines.length };
}

/**
 * Events or statements as interchange NDJSON, in the bytes SQLite's exportEntryLines writes:
 * language maps copied as the JSON text they were stored as (`json` keeps it byte for byte).
 */
async function exportEntryLines(tx: PgTx, kind: 'event' | 'statement', ids: number[]): Promise<{ text: string; records: number }> {
  type Row = { id: number; key: string; type: string; date: string; title: string | null; description: string | null; text: string | null; originalLang: string | null; context: string | null; parent: string | null };
  const { rows } = await tx.execute<Row>(sql`
    SELECT e.id, e.key, e.type, e.date, e.title::text AS title, e.description::text AS description, e.text::text AS text,
      e.original_lang AS "originalLang", c.key AS context, p.key AS parent
    FROM entries e LEFT JOIN entries c ON c.id = e.context_id LEFT JOIN entries p ON p.id = e.parent_id
    WHERE e.id = ANY(${ids$(ids)})`);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const children = async <T extends { owner: number }>(query: ReturnType<typeof sql>) => grouped((await tx.execute<T>(query)).rows);
  const roles = await children<{ owner: number; key: string; role: string }>(sql`
    SELECT a.entry_id AS owner, x.key, a.role FROM entry_actors a JOIN actors x ON x.id = a.actor_id
    WHERE a.entry_id = ANY(${ids$(ids)}) ORDER BY a.entry_id, a.position`);
  const placeKeys = await children<{ owner: number; key: string }>(sql`
    SELECT p.entry_id AS owner, x.key FROM entry_places p JOIN places x ON x.id = p.place_id
    WHERE p.entry_id = ANY(${ids$(ids)}) ORDER BY p.entry_id, p.position`);
  const tags = await children<{ owner: number; tag: string }>(sql`
    SELECT entry_id AS owner, tag FROM entry_tags WHERE entry_id = ANY(${ids$(ids)}) ORDER BY entry_id, position`);
  const cites = await children<{ owner: number; key: string; excerpt: string | null; start: number | null; end: number | null }>(sql`
    SELECT c.entry_id AS owner, x.key, c.excerpt, c.start, c."end" FROM citations c JOIN sources x ON x.id = c.source_id
    WHERE c.entry_id = ANY(${ids$(ids)}) ORDER BY c.entry_id, c.position`);
  const aboutEvents = await children<{ owner: number; key: string }>(sql`
    SELECT a.entry_id AS owner, x.key FROM entry_events a JOIN entries x ON x.id = a.event_id
    WHERE a.entry_id = ANY(${ids$(ids)}) ORDER BY a.entry_id, a.position`);
  const refKey = (key: string | null) => (key === null ? 'null' : str(key));

  let out = '';
  let written = 0;
  for (const id of ids) {
    const r = byId.get(id);
    if (!r) continue;
    written++;
    const entryRoles = roles(id);
    const sourcesJson = `[${cites(id)
      .map((c) => `{"source":${str(c.key)},"excerpt":${JSON.stringify(c.excerpt)},"start":${JSON.stringify(c.start)},"end":${JSON.stringify(c.end)}}`)
      .join(',')}]`;
    const places = keyList(placeKeys(id).map((p) => p.key));
    const head = `{"kind":"${kind}","key":${str(r.key)},"type":${str(r.type)},"date":${str(r.date)},`;
    if (kind === 'event') {
      const actorsJson = `[${entryRoles.map((a) => `{"actor":${str(a.key)},"role":${str(a.role)}}`).join(',')}]`;
      out +=
        `${head}"title":${r.title ?? 'null'},"description":${r.description ?? 'null'},"places":${places},` +
        `"actors":${actorsJson},"tags":${keyList(tags(id).map((t) => t.tag))},"parent":${refKey(r.parent)},"sources":${sourcesJson}}\n`;
    } else {
      const speaker = entryRoles.find((a) => a.role === 'speaker');
      const about = keyList(entryRoles.filter((a) => a.role === 'about').map((a) => a.key));
      out +=
        `${head}"speaker":${speaker ? str(speaker.key) : 'null'},"text":${r.text ?? 'null'},"originalLang":${JSON.stringify(r.originalLang)},` +
        `"context":${refKey(r.context)},"about":{"actors":${about},"places":${places},"events":${keyList(aboutEvents(id).map((e) => e.key))}},"sources":${sourcesJson}}\n`;
    }
  }
  return { text: out, records: written };
}
