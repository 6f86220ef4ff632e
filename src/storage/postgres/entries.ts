import { and, eq, inArray, sql } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { z } from 'zod';
import { citationProblem, citedText, type CitationWrite, type CitedText } from '../citations.js';
import { eventChildren, eventColumns, statementChildren, statementColumns, type EntryChildren, type EventWrite, type StatementWrite } from '../writes.js';
import { dateValue } from '../dates.js';
import { languagePick, type LanguagePick } from '../language.js';
import type { EntryDto, EventDto, StatementDto } from '../types.js';
import type { EventInput, StatementInput } from '../../schemas/entries.js';
import type { FieldError } from '../../schemas/problems.js';
import { describeChain, parentChain, storedParent, type NewRecordRows, type PgRecordSpec } from './records.js';
import type { PgRefResolver } from './references.js';
import { actorRefs, eventRefs, placeRefs, present, sourceRefs } from './refs.js';
import { citations, entries, entryActors, entryEvents, entryPlaces, entryTags, sources, timelineEntries, timelines } from './schema.js';
import { embeddedRecordStored, entryStored } from './documents.js';
import { indexEntries } from './search.js';
import { refuseNul } from './text.js';
import type { PgTransaction, PgTx } from './transactions.js';

/** Events and statements, in `entries` and its child tables, as the SQLite engine's entries module stores them. */

type CitationInput = NonNullable<z.infer<typeof EventInput>['sources']>[number];

async function citationWrites(resolver: PgRefResolver, input: CitationInput[]): Promise<CitationWrite[]> {
  const out: CitationWrite[] = [];
  for (const [i, c] of input.entries()) {
    out.push({ sourceId: await resolver.resolve('source', c.source, `/sources/${i}/source`), excerpt: c.excerpt ?? null, start: c.start ?? null, end: c.end ?? null });
  }
  return out;
}

/** Refuses the text PostgreSQL cannot hold in an entry's own and child text columns. */
function refuseEntryNul(write: { key: string; type: string; date: string; sources: CitationWrite[] }, more: { tags?: string[]; roles?: string[]; originalLang?: string | null } = {}) {
  refuseNul(write, ['key', 'type', 'date']);
  write.sources.forEach((c, i) => refuseNul(c, ['excerpt'], `/sources/${i}`));
  more.tags?.forEach((tag, i) => refuseNul({ tag }, ['tag'], `/tags/${i}`));
  more.roles?.forEach((role, i) => refuseNul({ role }, ['role'], `/actors/${i}`));
  if (more.originalLang) refuseNul({ originalLang: more.originalLang }, ['originalLang']);
}

/** Paths of the references listed more than once in one field (after resolving ids and keys). */
function listedTwice(path: string, values: readonly unknown[], what = 'listed twice'): FieldError[] {
  const seen = new Set<string>();
  return values.flatMap((value, i) => {
    const same = JSON.stringify(value);
    if (seen.has(same)) return [{ in: 'body', path: `${path}/${i}`, message: what }];
    seen.add(same);
    return [];
  });
}

/** The ids of the sources that citations point into with offsets. */
export const sourcesCitedAt = (cites: CitationWrite[]) => [...new Set(cites.filter((c) => c.start !== null || c.end !== null).map((c) => c.sourceId))];

/** The texts of the sources that citations point into with offsets, by id (null: the source has none), as stored. */
export async function citedTexts(tx: PgTx, cites: CitationWrite[]): Promise<Map<number, CitedText | null>> {
  const ids = sourcesCitedAt(cites);
  const texts = new Map<number, CitedText | null>();
  if (ids.length === 0) return texts;
  const rows = await tx.select({ id: sources.id, text: sources.text }).from(sources).where(inArray(sources.id, ids));
  for (const row of rows) texts.set(row.id, row.text === null ? null : citedText(row.text));
  return texts;
}

/** A citation listed twice, offsets that do not hold in the text of their source (`texts`, by id). */
function citationProblems(cites: CitationWrite[], texts: ReadonlyMap<number, CitedText | null>): FieldError[] {
  const problems = listedTwice(
    '/sources',
    cites.map((c) => [c.sourceId, c.excerpt, c.start, c.end]),
    'the same citation is listed twice',
  );
  for (const [i, c] of cites.entries()) {
    const problem = citationProblem(texts.get(c.sourceId) ?? null, c);
    if (problem) problems.push({ in: 'body', path: `/sources/${i}${problem.field}`, message: problem.message });
  }
  return problems;
}

/** What an event's checks find without reading the database (all of them, for a new event). */
function eventProblems(write: EventWrite, texts: ReadonlyMap<number, CitedText | null>): FieldError[] {
  return [
    ...listedTwice('/places', write.placeIds),
    ...listedTwice('/actors', write.actors.map((a) => [a.actorId, a.role]), 'the same actor is listed twice in the same role'),
    ...citationProblems(write.sources, texts),
  ];
}

function statementProblems(write: StatementWrite, texts: ReadonlyMap<number, CitedText | null>): FieldError[] {
  const problems = [
    ...listedTwice('/about/actors', write.about.actorIds),
    ...listedTwice('/about/places', write.about.placeIds),
    ...listedTwice('/about/events', write.about.eventIds),
    ...citationProblems(write.sources, texts),
  ];
  if (write.originalLang !== null && !Object.hasOwn(write.text, write.originalLang)) {
    problems.push({ in: 'body', path: '/originalLang', message: 'text has no entry in the original language' });
  }
  return problems;
}

/** The rows of a new entry and its children, as store writes them, and what its search document is made of. */
function newEntryRows(id: number, row: EntryRow, children: EntryChildren, timestamp: string): NewRecordRows {
  return {
    rows: [
      [entries, { ...row, id, createdAt: timestamp, updatedAt: timestamp }],
      ...children.actors.map((a, position): [PgTable, Record<string, unknown>] => [entryActors, { entryId: id, position, actorId: a.actorId, role: a.role }]),
      ...children.placeIds.map((placeId, position): [PgTable, Record<string, unknown>] => [entryPlaces, { entryId: id, position, placeId }]),
      ...children.eventIds.map((eventId, position): [PgTable, Record<string, unknown>] => [entryEvents, { entryId: id, position, eventId }]),
      ...children.tags.map((tag, position): [PgTable, Record<string, unknown>] => [entryTags, { entryId: id, position, tag }]),
      ...children.sources.map((c, position): [PgTable, Record<string, unknown>] => [
        citations,
        { entryId: id, position, sourceId: c.sourceId, excerpt: c.excerpt, start: c.start, end: c.end },
      ]),
    ],
    search: {
      fields: [row.title ?? null, row.description ?? null, row.text ?? null],
      names: [...children.actors.map((a) => ({ kind: 'actor' as const, id: a.actorId })), ...children.placeIds.map((id) => ({ kind: 'place' as const, id }))],
    },
  };
}

export const eventSpec: PgRecordSpec<z.infer<typeof EventInput>, EventWrite, EventDto> = {
  kind: 'event',
  table: 'entry',
  entryKind: 'event',

  async toWrite(input, resolver, key, base) {
    const placeIds = input.places === undefined ? (base?.placeIds ?? []) : await resolver.resolveAll('place', input.places, '/places');
    let actors = base?.actors ?? [];
    if (input.actors !== undefined) {
      actors = [];
      for (const [i, a] of input.actors.entries()) actors.push({ actorId: await resolver.resolve('actor', a.actor, `/actors/${i}/actor`), role: a.role });
    }
    const parentId =
      input.parent === undefined
        ? (base?.parentId ?? null)
        : input.parent === null
          ? null
          : await resolver.resolve('entry', input.parent, '/parent', 'event');
    const write = {
      key,
      type: input.type ?? base?.type ?? '',
      date: input.date ?? base?.date ?? '',
      title: input.title ?? base?.title ?? {},
      description: input.description === undefined ? (base?.description ?? null) : input.description,
      placeIds,
      actors,
      tags: input.tags === undefined ? (base?.tags ?? []) : [...new Set(input.tags)],
      parentId,
      sources: input.sources === undefined ? (base?.sources ?? []) : await citationWrites(resolver, input.sources),
    };
    refuseEntryNul(write, { tags: write.tags, roles: actors.map((a) => a.role) });
    return write;
  },

  async check(tx, id, write) {
    const problems = eventProblems(write, await citedTexts(tx, write.sources));
    // a parent already stored closes no cycle (a re-import of the same event checks nothing)
    const moved = write.parentId !== null && id !== null && (await storedParent(tx, 'entries', id)) !== write.parentId;
    const chain = moved ? await parentChain(tx, 'entries', write.parentId!, id) : null;
    if (chain !== null) {
      const message =
        chain.length === 1
          ? 'an event cannot be its own ancestor'
          : `an event cannot be its own ancestor: ${chain[0]} is already under ${chain[chain.length - 1]} (${describeChain(chain)})`;
      problems.push({ in: 'body', path: '/parent', message });
    }
    return problems;
  },

  async readWrite(tx, id) {
    const [row] = await tx.select().from(entries).where(and(eq(entries.id, id), eq(entries.kind, 'event')));
    if (!row) return null;
    const children = await loadChildren(tx, [id]);
    return {
      key: row.key,
      type: row.type,
      date: row.date,
      title: row.title ?? {},
      description: row.description,
      placeIds: (children.places.get(id) ?? []).map((p) => p.placeId),
      actors: (children.actors.get(id) ?? []).map(({ actorId, role }) => ({ actorId, role })),
      tags: (children.tags.get(id) ?? []).map((t) => t.tag),
      parentId: row.parentId,
      sources: citationRows(children.citations.get(id)),
    };
  },

  async store(tx, id, write, timestamp) {
    const entryId = await storeEntryRow(tx, id, timestamp, eventColumns(write));
    await storeChildren(tx, entryId, eventChildren(write));
    await indexEntries(tx, [entryId]);
    await entryStored(tx, entryId);
    // its title and date are in the entries under it, said in its context or about it
    if (id !== null) await embeddedRecordStored(tx, 'event', entryId);
    return entryId;
  },

  load: async (tx, ids, lang) => (await loadEntries(tx, ids, lang)).filter((e): e is EventDto => e.kind === 'event'),
  referrers: entryReferrers,
  newRecord: {
    problems: async (write, texts) => eventProblems(write, await texts(write.sources)),
    rows: (id, write, timestamp) => newEntryRows(id, eventColumns(write), eventChildren(write), timestamp),
  },
};

export const statementSpec: PgRecordSpec<z.infer<typeof StatementInput>, StatementWrite, StatementDto> = {
  kind: 'statement',
  table: 'entry',
  entryKind: 'statement',

  async toWrite(input, resolver, key, base) {
    const about = input.about;
    const speakerId = input.speaker === undefined ? (base?.speakerId ?? -1) : await resolver.resolve('actor', input.speaker, '/speaker');
    const contextId =
      input.context === undefined
        ? (base?.contextId ?? null)
        : input.context === null
          ? null
          : await resolver.resolve('entry', input.context, '/context', 'event');
    const aboutIds =
      about === undefined
        ? (base?.about ?? { actorIds: [], placeIds: [], eventIds: [] })
        : {
            actorIds: await resolver.resolveAll('actor', about.actors, '/about/actors'),
            placeIds: await resolver.resolveAll('place', about.places, '/about/places'),
            eventIds: await resolver.resolveAll('entry', about.events, '/about/events', 'event'),
          };
    const write = {
      key,
      type: input.type ?? base?.type ?? '',
      date: input.date ?? base?.date ?? '',
      speakerId,
      text: input.text ?? base?.text ?? {},
      originalLang: input.originalLang === undefined ? (base?.originalLang ?? null) : input.originalLang,
      contextId,
      about: aboutIds,
      sources: input.sources === undefined ? (base?.sources ?? []) : await citationWrites(resolver, input.sources),
    };
    refuseEntryNul(write, { originalLang: write.originalLang });
    return write;
  },

  async check(tx, _id, write) {
    return statementProblems(write, await citedTexts(tx, write.sources));
  },

  async readWrite(tx, id) {
    const [row] = await tx.select().from(entries).where(and(eq(entries.id, id), eq(entries.kind, 'statement')));
    if (!row) return null;
    const children = await loadChildren(tx, [id]);
    return {
      key: row.key,
      type: row.type,
      date: row.date,
      speakerId: row.speakerId!,
      text: row.text ?? {},
      originalLang: row.originalLang,
      contextId: row.contextId,
      about: {
        actorIds: (children.actors.get(id) ?? []).filter((a) => a.role === 'about').map((a) => a.actorId),
        placeIds: (children.places.get(id) ?? []).map((p) => p.placeId),
        eventIds: (children.events.get(id) ?? []).map((e) => e.eventId),
      },
      sources: citationRows(children.citations.get(id)),
    };
  },

  async store(tx, id, write, timestamp) {
    const entryId = await storeEntryRow(tx, id, timestamp, statementColumns(write));
    await storeChildren(tx, entryId, statementChildren(write));
    await indexEntries(tx, [entryId]);
    await entryStored(tx, entryId);
    return entryId;
  },

  load: async (tx, ids, lang) => (await loadEntries(tx, ids, lang)).filter((e): e is StatementDto => e.kind === 'statement'),
  referrers: entryReferrers,
  newRecord: {
    problems: async (write, texts) => statementProblems(write, await texts(write.sources)),
    rows: (id, write, timestamp) => newEntryRows(id, statementColumns(write), statementChildren(write), timestamp),
  },
};

function citationRows(rows: ChildRows['citations'][] | undefined): CitationWrite[] {
  return (rows ?? []).map(({ sourceId, excerpt, start, end }) => ({ sourceId, excerpt, start, end }));
}

type EntryRow = Omit<typeof entries.$inferInsert, 'id' | 'createdAt' | 'updatedAt'>;

async function storeEntryRow(tx: PgTransaction, id: number | null, timestamp: string, row: EntryRow): Promise<number> {
  if (id === null) {
    const [inserted] = await tx
      .insert(entries)
      .values({ ...row, createdAt: timestamp, updatedAt: timestamp })
      .returning({ id: entries.id });
    return inserted!.id;
  }
  await tx.update(entries).set({ ...row, updatedAt: timestamp }).where(eq(entries.id, id));
  await tx.execute(sql`
    WITH a AS (DELETE FROM entry_actors WHERE entry_id = ${id}),
         p AS (DELETE FROM entry_places WHERE entry_id = ${id}),
         e AS (DELETE FROM entry_events WHERE entry_id = ${id}),
         t AS (DELETE FROM entry_tags WHERE entry_id = ${id})
    DELETE FROM citations WHERE entry_id = ${id}`);
  return id;
}

async function storeChildren(tx: PgTransaction, entryId: number, children: EntryChildren): Promise<void> {
  const positions = <T>(items: T[]) => items.map((_, i) => i);
  const ids = <T>(items: T[]) => items.map(() => entryId);
  // one statement for every child table, each fed arrays
  await tx.execute(sql`
    WITH a AS (INSERT INTO entry_actors (entry_id, position, actor_id, role)
               SELECT * FROM unnest(${sql.param(ids(children.actors))}::integer[], ${sql.param(positions(children.actors))}::integer[],
                                    ${sql.param(children.actors.map((x) => x.actorId))}::integer[], ${sql.param(children.actors.map((x) => x.role))}::text[])),
         p AS (INSERT INTO entry_places (entry_id, position, place_id)
               SELECT * FROM unnest(${sql.param(ids(children.placeIds))}::integer[], ${sql.param(positions(children.placeIds))}::integer[],
                                    ${sql.param(children.placeIds)}::integer[])),
         e AS (INSERT INTO entry_events (entry_id, position, event_id)
               SELECT * FROM unnest(${sql.param(ids(children.eventIds))}::integer[], ${sql.param(positions(children.eventIds))}::integer[],
                                    ${sql.param(children.eventIds)}::integer[])),
         t AS (INSERT INTO entry_tags (entry_id, position, tag)
               SELECT * FROM unnest(${sql.param(ids(children.tags))}::integer[], ${sql.param(positions(children.tags))}::integer[],
                                    ${sql.param(children.tags)}::text[]))
    INSERT INTO citations (entry_id, position, source_id, excerpt, start, "end")
      SELECT * FROM unnest(${sql.param(ids(children.sources))}::integer[], ${sql.param(positions(children.sources))}::integer[],
                           ${sql.param(children.sources.map((c) => c.sourceId))}::integer[], ${sql.param(children.sources.map((c) => c.excerpt))}::text[],
                           ${sql.param(children.sources.map((c) => c.start))}::integer[], ${sql.param(children.sources.map((c) => c.end))}::integer[])`);
}

async function entryReferrers(tx: PgTx, id: number): Promise<string[]> {
  const children = await tx.select({ key: entries.key, kind: entries.kind }).from(entries).where(eq(entries.parentId, id)).limit(300);
  const said = await tx.select({ key: entries.key, kind: entries.kind }).from(entries).where(eq(entries.contextId, id)).limit(300);
  const about = await tx
    .selectDistinct({ key: entries.key, kind: entries.kind })
    .from(entryEvents)
    .innerJoin(entries, eq(entries.id, entryEvents.entryId))
    .where(eq(entryEvents.eventId, id))
    .limit(300);
  const curated = (
    await tx
      .selectDistinct({ key: timelines.key })
      .from(timelineEntries)
      .innerJoin(timelines, eq(timelines.id, timelineEntries.timelineId))
      .where(eq(timelineEntries.entryId, id))
      .limit(300)
  ).map((r) => ({ key: r.key, kind: 'timeline' }));
  return [...new Set([...children, ...said, ...about, ...curated].map((r) => `${r.kind} ${r.key}`))];
}

/** Child rows of entries, in position order, grouped by entry. */
interface ChildRows {
  actors: { entryId: number; actorId: number; role: string };
  places: { entryId: number; placeId: number };
  events: { entryId: number; eventId: number };
  tags: { entryId: number; tag: string };
  citations: { entryId: number; sourceId: number; excerpt: string | null; start: number | null; end: number | null };
}

function groupByEntry<T extends { entryId: number }>(rows: T[]): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const row of rows) {
    const group = groups.get(row.entryId);
    if (group) group.push(row);
    else groups.set(row.entryId, [row]);
  }
  return groups;
}

async function loadChildren(tx: PgTx, ids: number[]) {
  const list = sql.param([...new Set(ids)]);
  const query = async <T extends { entryId: number }>(select: string, table: string) =>
    groupByEntry(
      (await tx.execute<T>(sql`SELECT entry_id AS "entryId", ${sql.raw(select)} FROM ${sql.raw(table)} WHERE entry_id = ANY(${list}::integer[]) ORDER BY entry_id, position`))
        .rows,
    );
  return {
    actors: await query<ChildRows['actors']>('actor_id AS "actorId", role', 'entry_actors'),
    places: await query<ChildRows['places']>('place_id AS "placeId"', 'entry_places'),
    events: await query<ChildRows['events']>('event_id AS "eventId"', 'entry_events'),
    tags: await query<ChildRows['tags']>('tag', 'entry_tags'),
    citations: await query<ChildRows['citations']>('source_id AS "sourceId", excerpt, start, "end"', 'citations'),
  };
}

type EntryRowOut = typeof entries.$inferSelect;

/** Full events and statements for `ids`, in that order, with every reference expanded (as on SQLite). */
export async function loadEntries(tx: PgTx, ids: number[], lang?: string): Promise<EntryDto[]> {
  return loadEntriesWith(tx, ids, languagePick(lang));
}

/**
 * {@link loadEntries} with each language map put in place by `pick`: what a language changes
 * in an entry is only what `pick` returns (src/storage/documents.ts builds on that).
 */
export async function loadEntriesWith(tx: PgTx, ids: number[], pick: LanguagePick): Promise<EntryDto[]> {
  if (ids.length === 0) return [];
  const rows = await tx.select().from(entries).where(sql`${entries.id} = ANY(${sql.param([...new Set(ids)])}::integer[])`);
  const found = new Map(rows.map((r) => [r.id, r]));
  const children = await loadChildren(tx, ids);
  const all = <T>(groups: Map<number, T[]>) => [...groups.values()].flat();
  const actorsById = await actorRefs(tx, all(children.actors).map((a) => a.actorId), pick);
  const placesById = await placeRefs(tx, all(children.places).map((p) => p.placeId), pick);
  const sourcesById = await sourceRefs(tx, all(children.citations).map((c) => c.sourceId), pick);
  const eventsById = await eventRefs(
    tx,
    [...rows.flatMap((r) => [r.parentId, r.contextId]).filter((id): id is number => id !== null), ...all(children.events).map((e) => e.eventId)],
    pick,
  );
  const speakerRoles = await loadSpeakerRoles(tx, rows, pick);

  return ids.flatMap((id): EntryDto[] => {
    const r = found.get(id);
    if (!r) return [];
    const entryActorsRows = children.actors.get(id) ?? [];
    const cites = (children.citations.get(id) ?? []).flatMap(({ sourceId, excerpt, start, end }) => {
      const source = sourcesById.get(sourceId);
      return source ? [{ source, excerpt, start, end }] : [];
    });
    const common = { id: r.id, key: r.key, type: r.type, date: dateValue(r.date) };
    if (r.kind === 'event') {
      return [
        {
          kind: 'event' as const,
          ...common,
          title: pick(r.title ?? {}),
          description: r.description === null ? null : pick(r.description),
          places: present((children.places.get(id) ?? []).map((p) => p.placeId), placesById),
          actors: entryActorsRows.flatMap(({ actorId, role }) => {
            const actor = actorsById.get(actorId);
            return actor ? [{ actor, role }] : [];
          }),
          tags: (children.tags.get(id) ?? []).map((t) => t.tag),
          parent: r.parentId === null ? null : (eventsById.get(r.parentId) ?? null),
          sources: cites,
          createdAt: r.createdAt,
          updatedAt: r.updatedAt,
        },
      ];
    }
    const speaker = entryActorsRows.find((a) => a.role === 'speaker');
    const speakerRef = speaker ? actorsById.get(speaker.actorId) : undefined;
    return [
      {
        kind: 'statement' as const,
        ...common,
        speaker: { ...speakerRef!, roles: speakerRoles.get(id) ?? [] },
        text: pick(r.text ?? {}, r.originalLang),
        originalLang: r.originalLang,
        context: r.contextId === null ? null : (eventsById.get(r.contextId) ?? null),
        about: {
          actors: present(entryActorsRows.filter((a) => a.role === 'about').map((a) => a.actorId), actorsById),
          places: present((children.places.get(id) ?? []).map((p) => p.placeId), placesById),
          events: present((children.events.get(id) ?? []).map((e) => e.eventId), eventsById),
        },
        sources: cites,
        createdAt: r.createdAt,
        updatedAt: r.updatedAt,
      },
    ];
  });
}

/** The affiliations each statement's speaker held on the statement's date (dated ones overlapping it, and undated ones). */
async function loadSpeakerRoles(tx: PgTx, rows: EntryRowOut[], pick: LanguagePick) {
  const statements = rows.filter((r) => r.kind === 'statement' && r.speakerId !== null);
  const speakers = [...new Set(statements.map((s) => s.speakerId!))];
  type Affiliation = { actorId: number; otherActorId: number; role: string; date: string | null; earliest: number | null; latest: number | null };
  const { rows: affiliationRows } =
    speakers.length === 0
      ? { rows: [] as Affiliation[] }
      : await tx.execute<Affiliation>(sql`
          SELECT actor_id AS "actorId", other_actor_id AS "otherActorId", role, date, earliest, latest FROM actor_affiliations
          WHERE actor_id = ANY(${sql.param(speakers)}::integer[]) ORDER BY actor_id, position`);
  const affiliations = new Map<number, Affiliation[]>();
  for (const a of affiliationRows) affiliations.set(a.actorId, [...(affiliations.get(a.actorId) ?? []), a]);
  const others = await actorRefs(tx, affiliationRows.map((a) => a.otherActorId), pick);
  return new Map(
    statements.map((s) => [
      s.id,
      (affiliations.get(s.speakerId!) ?? [])
        .filter((a) => a.date === null || (a.earliest! <= s.latest && a.latest! >= s.earliest))
        .flatMap((a) => {
          const of = others.get(a.otherActorId);
          return of ? [{ role: a.role, of, date: dateValue(a.date) }] : [];
        }),
    ]),
  );
}
