import type { EntryDto, EventDto, StatementDto } from '../types.js';
export type { EntryDto, EventDto, StatementDto } from '../types.js';
import { and, eq } from 'drizzle-orm';
import type { z } from 'zod';
import {
  entries,
  entryEvents,
  sources,
  timelineEntries,
  timelines,
} from './schema.js';
import type { FieldError } from '../../schemas/problems.js';
import { citationProblem, citedText, type CitationWrite, type CitedText } from '../citations.js';
import { eventChildren, eventColumns, statementChildren, statementColumns, type EntryChildren, type EventWrite, type StatementWrite } from '../writes.js';
import type { EventInput, StatementInput } from '../../schemas/entries.js';
import { actorRefs, eventRefs, placeRefs, present, sourceRefs } from './refs.js';
import { describeChain, parentChain, storedParent, type RecordKindSpec } from './records.js';
import { embeddedRecordStored, entryStored } from './documents.js';
import { writeEntryDocument } from './search.js';
import { prepared } from './statements.js';
import { dateValue } from '../dates.js';
import { groupBy, parseJson, rowsIn, tuplesIn } from './rows.js';
import type { RefResolver } from './references.js';
import type { Tx } from './transactions.js';
import { languagePick, type LanguagePick } from '../language.js';

/** Events and statements: stored in `entries` and its child tables, loaded together. */

export type { CitationWrite } from '../citations.js';

type CitationInput = NonNullable<z.infer<typeof EventInput>['sources']>[number];

function citationWrites(resolver: RefResolver, input: CitationInput[]): CitationWrite[] {
  return input.map((c, i) => ({
    sourceId: resolver.resolve('source', c.source, `/sources/${i}/source`),
    excerpt: c.excerpt ?? null,
    start: c.start ?? null,
    end: c.end ?? null,
  }));
}

/** Paths of the references listed more than once in one field (after resolving ids and keys). */
function listedTwice(path: string, values: readonly unknown[], what = 'listed twice'): FieldError[] {
  // most fields list one reference or none: an import checks millions of them
  if (values.length < 2) return [];
  const seen = new Set<string>();
  return values.flatMap((value, i) => {
    const same = JSON.stringify(value);
    if (seen.has(same)) return [{ in: 'body', path: `${path}/${i}`, message: what }];
    seen.add(same);
    return [];
  });
}

function checkCitations(tx: Tx, cites: CitationWrite[]): FieldError[] {
  const problems = listedTwice(
    '/sources',
    cites.map((c) => [c.sourceId, c.excerpt, c.start, c.end]),
    'the same citation is listed twice',
  );
  const texts = new Map<number, CitedText | null>();
  const textOf = (sourceId: number) => {
    if (!texts.has(sourceId)) {
      const text = tx.select({ text: sources.text }).from(sources).where(eq(sources.id, sourceId)).get()?.text ?? null;
      texts.set(sourceId, text === null ? null : citedText(text));
    }
    return texts.get(sourceId)!;
  };
  cites.forEach((c, i) => {
    if (c.start === null && c.end === null) return;
    const problem = citationProblem(textOf(c.sourceId), c);
    if (problem) problems.push({ in: 'body', path: `/sources/${i}${problem.field}`, message: problem.message });
  });
  return problems;
}

export const eventSpec: RecordKindSpec<z.infer<typeof EventInput>, EventWrite, EventDto> = {
  kind: 'event',
  table: 'entry',
  entryKind: 'event',

  toWrite(input, resolver, key, base) {
    return {
      key,
      type: input.type ?? base?.type ?? '',
      date: input.date ?? base?.date ?? '',
      title: input.title ?? base?.title ?? {},
      description: input.description === undefined ? (base?.description ?? null) : input.description,
      placeIds: input.places === undefined ? (base?.placeIds ?? []) : resolver.resolveAll('place', input.places, '/places'),
      actors:
        input.actors === undefined
          ? (base?.actors ?? [])
          : input.actors.map((a, i) => ({
              actorId: resolver.resolve('actor', a.actor, `/actors/${i}/actor`),
              role: a.role,
            })),
      tags: input.tags === undefined ? (base?.tags ?? []) : [...new Set(input.tags)],
      parentId:
        input.parent === undefined
          ? (base?.parentId ?? null)
          : input.parent === null
            ? null
            : resolver.resolve('entry', input.parent, '/parent', 'event'),
      sources: input.sources === undefined ? (base?.sources ?? []) : citationWrites(resolver, input.sources),
    };
  },

  check(tx, id, write) {
    const problems = [
      ...listedTwice('/places', write.placeIds),
      ...listedTwice('/actors', write.actors.map((a) => [a.actorId, a.role]), 'the same actor is listed twice in the same role'),
      ...checkCitations(tx, write.sources),
    ];
    // a parent already stored closes no cycle (a re-import of the same event checks nothing)
    const moved = write.parentId !== null && id !== null && storedParent(tx, 'entries', id) !== write.parentId;
    const chain = moved ? parentChain(tx, 'entries', write.parentId!, id) : null;
    if (chain !== null) {
      const message =
        chain.length === 1
          ? 'an event cannot be its own ancestor'
          : `an event cannot be its own ancestor: ${chain[0]} is already under ${chain[chain.length - 1]} (${describeChain(chain)})`;
      problems.push({ in: 'body', path: '/parent', message });
    }
    return problems;
  },

  readWrite(tx, id) {
    const row = tx.select().from(entries).where(and(eq(entries.id, id), eq(entries.kind, 'event'))).get();
    if (!row) return null;
    const children = loadChildren(tx, [id]);
    return {
      key: row.key,
      type: row.type,
      date: row.date,
      title: row.title ?? {},
      description: row.description,
      placeIds: (children.places.get(id) ?? []).map((p) => p[1]),
      actors: (children.actors.get(id) ?? []).map(([, actorId, role]) => ({ actorId, role })),
      tags: (children.tags.get(id) ?? []).map((t) => t[1]),
      parentId: row.parentId,
      sources: citationRows(children.citations.get(id)),
    };
  },

  store(tx, id, write, timestamp) {
    const entryId = storeEntryRow(tx, id, timestamp, eventColumns(write));
    storeChildren(tx, entryId, eventChildren(write));
    writeEntryDocument(tx, entryId, [write.title, write.description], write.actors.map((a) => a.actorId), write.placeIds, id !== null);
    entryStored(tx, entryId);
    // its key, type, date and title are in the entries under it, about it or said in its context
    if (id !== null) embeddedRecordStored(tx, 'event', entryId);
    return entryId;
  },

  load: (tx, ids, lang) => loadEntries(tx, ids, lang).filter((e): e is EventDto => e.kind === 'event'),
  referrers: entryReferrers,
};

export const statementSpec: RecordKindSpec<z.infer<typeof StatementInput>, StatementWrite, StatementDto> = {
  kind: 'statement',
  table: 'entry',
  entryKind: 'statement',

  toWrite(input, resolver, key, base) {
    const about = input.about;
    return {
      key,
      type: input.type ?? base?.type ?? '',
      date: input.date ?? base?.date ?? '',
      speakerId: input.speaker === undefined ? (base?.speakerId ?? -1) : resolver.resolve('actor', input.speaker, '/speaker'),
      text: input.text ?? base?.text ?? {},
      originalLang: input.originalLang === undefined ? (base?.originalLang ?? null) : input.originalLang,
      contextId:
        input.context === undefined
          ? (base?.contextId ?? null)
          : input.context === null
            ? null
            : resolver.resolve('entry', input.context, '/context', 'event'),
      about:
        about === undefined
          ? (base?.about ?? { actorIds: [], placeIds: [], eventIds: [] })
          : {
              actorIds: resolver.resolveAll('actor', about.actors, '/about/actors'),
              placeIds: resolver.resolveAll('place', about.places, '/about/places'),
              eventIds: resolver.resolveAll('entry', about.events, '/about/events', 'event'),
            },
      sources: input.sources === undefined ? (base?.sources ?? []) : citationWrites(resolver, input.sources),
    };
  },

  check(tx, _id, write) {
    const problems = [
      ...listedTwice('/about/actors', write.about.actorIds),
      ...listedTwice('/about/places', write.about.placeIds),
      ...listedTwice('/about/events', write.about.eventIds),
      ...checkCitations(tx, write.sources),
    ];
    if (write.originalLang !== null && !Object.hasOwn(write.text, write.originalLang)) {
      problems.push({ in: 'body', path: '/originalLang', message: 'text has no entry in the original language' });
    }
    return problems;
  },

  readWrite(tx, id) {
    const row = tx.select().from(entries).where(and(eq(entries.id, id), eq(entries.kind, 'statement'))).get();
    if (!row) return null;
    const children = loadChildren(tx, [id]);
    return {
      key: row.key,
      type: row.type,
      date: row.date,
      speakerId: row.speakerId!,
      text: row.text ?? {},
      originalLang: row.originalLang,
      contextId: row.contextId,
      about: {
        actorIds: (children.actors.get(id) ?? []).filter((a) => a[2] === 'about').map((a) => a[1]),
        placeIds: (children.places.get(id) ?? []).map((p) => p[1]),
        eventIds: (children.events.get(id) ?? []).map((e) => e[1]),
      },
      sources: citationRows(children.citations.get(id)),
    };
  },

  store(tx, id, write, timestamp) {
    const entryId = storeEntryRow(tx, id, timestamp, statementColumns(write));
    const children = statementChildren(write);
    storeChildren(tx, entryId, children);
    writeEntryDocument(tx, entryId, [write.text], children.actors.map((a) => a.actorId), write.about.placeIds, id !== null);
    entryStored(tx, entryId);
    return entryId;
  },

  load: (tx, ids, lang) => loadEntries(tx, ids, lang).filter((e): e is StatementDto => e.kind === 'statement'),
  referrers: entryReferrers,
};

function citationRows(rows: ChildRows['citations'][] | undefined): CitationWrite[] {
  return (rows ?? []).map(([, sourceId, excerpt, start, end]) => ({ sourceId, excerpt, start, end }));
}

type EntryRow = Omit<typeof entries.$inferInsert, 'id' | 'createdAt' | 'updatedAt'>;

const json = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));
const ENTRY_COLUMNS =
  'key, kind, type, date, precision, earliest, latest, span_class, sort_start, sort_end, title, description, text, original_lang, speaker_id, context_id, parent_id';

function entryValues(row: EntryRow) {
  return [
    row.key,
    row.kind,
    row.type,
    row.date,
    row.precision,
    row.earliest,
    row.latest,
    row.spanClass,
    row.sortStart ?? null,
    row.sortEnd ?? null,
    json(row.title),
    json(row.description),
    json(row.text),
    row.originalLang ?? null,
    row.speakerId ?? null,
    row.contextId ?? null,
    row.parentId ?? null,
  ];
}

// Imports store hundreds of thousands of entries: these statements are prepared once.
function storeEntryRow(tx: Tx, id: number | null, timestamp: string, row: EntryRow): number {
  if (id === null) {
    const result = prepared(
      tx,
      `INSERT INTO entries (${ENTRY_COLUMNS}, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    ).run(...entryValues(row), timestamp, timestamp);
    return Number(result.lastInsertRowid);
  }
  prepared(
    tx,
    `UPDATE entries SET (${ENTRY_COLUMNS}, updated_at) = (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) WHERE id = ?`,
  ).run(...entryValues(row), timestamp, id);
  for (const table of ['entry_actors', 'entry_places', 'entry_events', 'entry_tags', 'citations']) {
    prepared(tx, `DELETE FROM ${table} WHERE entry_id = ?`).run(id);
  }
  return id;
}

function storeChildren(
  tx: Tx,
  entryId: number,
  children: EntryChildren,
): void {
  const insertActor = prepared(tx, 'INSERT INTO entry_actors (entry_id, position, actor_id, role) VALUES (?, ?, ?, ?)');
  children.actors.forEach((a, position) => insertActor.run(entryId, position, a.actorId, a.role));
  const insertPlace = prepared(tx, 'INSERT INTO entry_places (entry_id, position, place_id) VALUES (?, ?, ?)');
  children.placeIds.forEach((placeId, position) => insertPlace.run(entryId, position, placeId));
  const insertEvent = prepared(tx, 'INSERT INTO entry_events (entry_id, position, event_id) VALUES (?, ?, ?)');
  children.eventIds.forEach((eventId, position) => insertEvent.run(entryId, position, eventId));
  const insertTag = prepared(tx, 'INSERT INTO entry_tags (entry_id, position, tag) VALUES (?, ?, ?)');
  children.tags.forEach((tag, position) => insertTag.run(entryId, position, tag));
  const insertCitation = prepared(
    tx,
    'INSERT INTO citations (entry_id, position, source_id, excerpt, start, "end") VALUES (?, ?, ?, ?, ?, ?)',
  );
  children.sources.forEach((c, position) => insertCitation.run(entryId, position, c.sourceId, c.excerpt, c.start, c.end));
}

function entryReferrers(tx: Tx, id: number): string[] {
  const children = tx
    .select({ key: entries.key, kind: entries.kind })
    .from(entries)
    .where(eq(entries.parentId, id))
    .limit(300)
    .all();
  const said = tx
    .select({ key: entries.key, kind: entries.kind })
    .from(entries)
    .where(eq(entries.contextId, id))
    .limit(300)
    .all();
  const about = tx
    .selectDistinct({ key: entries.key, kind: entries.kind })
    .from(entryEvents)
    .innerJoin(entries, eq(entries.id, entryEvents.entryId))
    .where(eq(entryEvents.eventId, id))
    .limit(300)
    .all();
  const curated = tx
    .selectDistinct({ key: timelines.key })
    .from(timelineEntries)
    .innerJoin(timelines, eq(timelines.id, timelineEntries.timelineId))
    .where(eq(timelineEntries.entryId, id))
    .limit(300)
    .all()
    .map((r) => ({ key: r.key, kind: 'timeline' }));
  return [...new Set([...children, ...said, ...about, ...curated].map((r) => `${r.kind} ${r.key}`))];
}

/** Child rows of entries, as tuples whose first member is the entry's id, in position order. */
interface ChildRows {
  actors: [entryId: number, actorId: number, role: string];
  places: [entryId: number, placeId: number];
  events: [entryId: number, eventId: number];
  tags: [entryId: number, tag: string];
  citations: [entryId: number, sourceId: number, excerpt: string | null, start: number | null, end: number | null];
}

const IN_IDS = 'entry_id IN (SELECT value FROM json_each(:ids)) ORDER BY entry_id, position';

function loadChildren(tx: Tx, ids: number[]) {
  const byEntry = <T extends [number, ...unknown[]]>(rows: T[]) => groupBy(rows, (r) => r[0]);
  return {
    actors: byEntry(tuplesIn<ChildRows['actors']>(tx, `SELECT entry_id, actor_id, role FROM entry_actors WHERE ${IN_IDS}`, ids)),
    places: byEntry(tuplesIn<ChildRows['places']>(tx, `SELECT entry_id, place_id FROM entry_places WHERE ${IN_IDS}`, ids)),
    events: byEntry(tuplesIn<ChildRows['events']>(tx, `SELECT entry_id, event_id FROM entry_events WHERE ${IN_IDS}`, ids)),
    tags: byEntry(tuplesIn<ChildRows['tags']>(tx, `SELECT entry_id, tag FROM entry_tags WHERE ${IN_IDS}`, ids)),
    citations: byEntry(
      tuplesIn<ChildRows['citations']>(tx, `SELECT entry_id, source_id, excerpt, start, "end" FROM citations WHERE ${IN_IDS}`, ids),
    ),
  };
}

type EntryRowOut = typeof entries.$inferSelect;

/** Entry rows by id, as drizzle would map them (camelCase, JSON columns parsed). */
function entryRows(tx: Tx, ids: number[]): EntryRowOut[] {
  return rowsIn<Omit<EntryRowOut, 'title' | 'description' | 'text'> & { title: string | null; description: string | null; text: string | null }>(
    tx,
    `SELECT id, key, kind, type, date, precision, earliest, latest, span_class AS spanClass, title, description, text,
       original_lang AS originalLang, speaker_id AS speakerId, context_id AS contextId, parent_id AS parentId,
       created_at AS createdAt, updated_at AS updatedAt
     FROM entries WHERE id IN (SELECT value FROM json_each(:ids))`,
    ids,
  ).map((r) => ({ ...r, title: parseJson(r.title), description: parseJson(r.description), text: parseJson(r.text) }));
}


/** Full events and statements for `ids`, in that order, with every reference expanded. */
export function loadEntries(tx: Tx, ids: number[], lang?: string): EntryDto[] {
  return loadEntriesWith(tx, ids, languagePick(lang));
}

/**
 * {@link loadEntries} with each language map put in place by `pick`: what a language changes
 * in an entry is only what `pick` returns (src/storage/documents.ts builds on that).
 */
export function loadEntriesWith(tx: Tx, ids: number[], pick: LanguagePick): EntryDto[] {
  const rows = entryRows(tx, ids);
  const found = new Map(rows.map((r) => [r.id, r]));
  const children = loadChildren(tx, ids);
  const all = <T>(groups: Map<number, T[]>) => [...groups.values()].flat();

  const actorsById = actorRefs(
    tx,
    all(children.actors).map((a) => a[1]),
    pick,
  );
  const placesById = placeRefs(
    tx,
    all(children.places).map((p) => p[1]),
    pick,
  );
  const sourcesById = sourceRefs(
    tx,
    all(children.citations).map((c) => c[1]),
    pick,
  );
  const eventsById = eventRefs(
    tx,
    [
      ...rows.flatMap((r) => [r.parentId, r.contextId]).filter((id): id is number => id !== null),
      ...all(children.events).map((e) => e[1]),
    ],
    pick,
  );
  const speakerRoles = loadSpeakerRoles(tx, rows, pick);

  return ids.flatMap((id): EntryDto[] => {
    const r = found.get(id);
    if (!r) return [];
    const entryActorsRows = children.actors.get(id) ?? [];
    const cites = (children.citations.get(id) ?? []).flatMap(([, sourceId, excerpt, start, end]) => {
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
          places: present(
            (children.places.get(id) ?? []).map((p) => p[1]),
            placesById,
          ),
          actors: entryActorsRows.flatMap(([, actorId, role]) => {
            const actor = actorsById.get(actorId);
            return actor ? [{ actor, role }] : [];
          }),
          tags: (children.tags.get(id) ?? []).map((t) => t[1]),
          parent: r.parentId === null ? null : (eventsById.get(r.parentId) ?? null),
          sources: cites,
          createdAt: r.createdAt,
          updatedAt: r.updatedAt,
        },
      ];
    }
    const speaker = entryActorsRows.find((a) => a[2] === 'speaker');
    const speakerRef = speaker ? actorsById.get(speaker[1]) : undefined;
    return [
      {
        kind: 'statement' as const,
        ...common,
        speaker: { ...speakerRef!, roles: speakerRoles.get(id) ?? [] },
        text: pick(r.text ?? {}, r.originalLang),
        originalLang: r.originalLang,
        context: r.contextId === null ? null : (eventsById.get(r.contextId) ?? null),
        about: {
          actors: present(
            entryActorsRows.filter((a) => a[2] === 'about').map((a) => a[1]),
            actorsById,
          ),
          places: present(
            (children.places.get(id) ?? []).map((p) => p[1]),
            placesById,
          ),
          events: present(
            (children.events.get(id) ?? []).map((e) => e[1]),
            eventsById,
          ),
        },
        sources: cites,
        createdAt: r.createdAt,
        updatedAt: r.updatedAt,
      },
    ];
  });
}

/**
 * The affiliations each statement's speaker held on the statement's date: those whose
 * dates overlap it, and undated ones (which the data does not rule out).
 */
function loadSpeakerRoles(tx: Tx, rows: EntryRowOut[], pick: LanguagePick) {
  const statements = rows.filter((r) => r.kind === 'statement' && r.speakerId !== null);
  const affiliations = groupBy(
    rowsIn<{ actorId: number; otherActorId: number; role: string; date: string | null; earliest: number | null; latest: number | null }>(
      tx,
      `SELECT actor_id AS actorId, other_actor_id AS otherActorId, role, date, earliest, latest FROM actor_affiliations
        WHERE actor_id IN (SELECT value FROM json_each(:ids)) ORDER BY actor_id, position`,
      statements.map((s) => s.speakerId!),
    ),
    (a) => a.actorId,
  );
  const others = actorRefs(
    tx,
    [...affiliations.values()].flat().map((a) => a.otherActorId),
    pick,
  );
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
