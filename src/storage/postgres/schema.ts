import { sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
  bigint,
  check,
  customType,
  doublePrecision,
  index,
  integer,
  json,
  pgTable,
  primaryKey,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import type { LanguageMap } from '../language.js';

/** A language map as stored: JSON text of `{ "<BCP 47 tag>": "<text>" }`. */
export type { LanguageMap } from '../language.js';

/**
 * The PostgreSQL engine's tables: the same tables, columns and constraints as the SQLite
 * schema (src/storage/sqlite/schema.ts, which explains what each holds), in PostgreSQL's
 * types. Where the two differ, and why:
 *
 * - Text is `COLLATE "C"`: comparison and order by code point, as SQLite's BINARY compares
 *   UTF-8 bytes, so that keys, tags and types sort (and keyset cursors over them continue)
 *   the same way on both engines whatever the database's default collation. The migrator
 *   refuses a database whose encoding is not UTF-8, where byte order would not be code point
 *   order.
 * - Language maps and other JSON are `json`, which keeps the text it was given byte for byte
 *   (`jsonb` would reorder the languages of a map, and an export must give them back in the
 *   order they were written).
 * - Integer ids are identity columns; like AUTOINCREMENT, a sequence never hands out an id
 *   twice. The chronological positions are milliseconds, past 32 bits: `bigint`.
 * - Coordinates are `double precision` (SQLite's REAL is 8 bytes; PostgreSQL's `real` is 4).
 * - The search index is a table of `tsvector` documents with a GIN index (src/storage/postgres/search-text.ts
 *   writes them from the normalisation SQLite's FTS5 index is fed with); entry_span_counts and
 *   entry_date_counts are kept by triggers of migration 0001, written by hand.
 */

/** Text compared and ordered by code point, as SQLite's BINARY collation orders UTF-8. */
const codePointText = customType<{ data: string; driverData: string }>({
  dataType: () => 'text COLLATE "C"',
});

const entryKind = customType<{ data: 'event' | 'statement'; driverData: string }>({
  dataType: () => 'text COLLATE "C"',
});

const idempotencyState = customType<{ data: 'running' | 'done'; driverData: string }>({
  dataType: () => 'text COLLATE "C"',
});

/** A text-search document: lexemes with positions, written as a tsvector literal (never parsed by a text-search configuration). */
const bytea = customType<{ data: Buffer; driverData: Buffer }>({
  dataType: () => 'bytea',
});

const tsvector = customType<{ data: string; driverData: string }>({
  dataType: () => 'tsvector',
});

const timestamps = {
  createdAt: codePointText('created_at').notNull(),
  updatedAt: codePointText('updated_at').notNull(),
};

const id = () => integer('id').primaryKey().generatedByDefaultAsIdentity();

/** Milliseconds (src/dates/edtf.ts chronoPosition), beyond 32 bits but within a double's exact integers. */
const position = (name: string) => bigint(name, { mode: 'number' });

export const sources = pgTable(
  'sources',
  {
    id: id(),
    key: codePointText('key').notNull(),
    type: codePointText('type').notNull(),
    title: json('title').$type<LanguageMap>(),
    outlet: codePointText('outlet'),
    url: codePointText('url'),
    lang: codePointText('lang'),
    published: codePointText('published'),
    publishedEarliest: integer('published_earliest'),
    publishedLatest: integer('published_latest'),
    retrieved: codePointText('retrieved'),
    text: codePointText('text'),
    ...timestamps,
  },
  (t) => [uniqueIndex('sources_key_unique').on(t.key)],
);

export const places = pgTable(
  'places',
  {
    id: id(),
    key: codePointText('key').notNull(),
    type: codePointText('type').notNull(),
    name: json('name').$type<LanguageMap>().notNull(),
    countryCode: codePointText('country_code'),
    parentId: integer('parent_id').references((): AnyPgColumn => places.id, { onDelete: 'restrict' }),
    lat: doublePrecision('lat'),
    lon: doublePrecision('lon'),
    ...timestamps,
  },
  (t) => [
    uniqueIndex('places_key_unique').on(t.key),
    index('places_parent_idx').on(t.parentId),
    check('places_coordinates', sql`(${t.lat} IS NULL) = (${t.lon} IS NULL)`),
  ],
);

export const actors = pgTable(
  'actors',
  {
    id: id(),
    key: codePointText('key').notNull(),
    type: codePointText('type').notNull(),
    name: json('name').$type<LanguageMap>().notNull(),
    aliases: json('aliases').$type<LanguageMap[]>().notNull(),
    externalIds: json('external_ids').$type<Record<string, string>>().notNull(),
    ...timestamps,
  },
  (t) => [uniqueIndex('actors_key_unique').on(t.key), index('actors_type_idx').on(t.type, t.id)],
);

export const actorAffiliations = pgTable(
  'actor_affiliations',
  {
    actorId: integer('actor_id')
      .notNull()
      .references(() => actors.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    otherActorId: integer('other_actor_id')
      .notNull()
      .references(() => actors.id, { onDelete: 'restrict' }),
    role: codePointText('role').notNull(),
    date: codePointText('date'),
    earliest: integer('earliest'),
    latest: integer('latest'),
  },
  (t) => [
    primaryKey({ columns: [t.actorId, t.position] }),
    index('actor_affiliations_other_idx').on(t.otherActorId),
  ],
);

/** Events and statements (see the SQLite schema for `span_class` and the chronological positions). */
export const entries = pgTable(
  'entries',
  {
    id: id(),
    key: codePointText('key').notNull(),
    kind: entryKind('kind').notNull(),
    type: codePointText('type').notNull(),
    date: codePointText('date').notNull(),
    precision: codePointText('precision').notNull(),
    earliest: integer('earliest').notNull(),
    latest: integer('latest').notNull(),
    spanClass: integer('span_class').notNull(),
    sortStart: position('sort_start').notNull(),
    sortEnd: position('sort_end').notNull(),
    title: json('title').$type<LanguageMap>(),
    description: json('description').$type<LanguageMap>(),
    text: json('text').$type<LanguageMap>(),
    originalLang: codePointText('original_lang'),
    speakerId: integer('speaker_id').references(() => actors.id, { onDelete: 'restrict' }),
    contextId: integer('context_id').references((): AnyPgColumn => entries.id, { onDelete: 'restrict' }),
    parentId: integer('parent_id').references((): AnyPgColumn => entries.id, { onDelete: 'restrict' }),
    ...timestamps,
  },
  (t) => [
    uniqueIndex('entries_key_unique').on(t.key),
    // ordered by position and id; the day bounds and kind ride along (an index-only scan
    // checks a page's window and kind, once the visibility map is set by VACUUM)
    index('entries_chrono_idx').on(t.spanClass, t.sortStart, t.sortEnd, t.id, t.earliest, t.latest, t.kind),
    index('entries_type_idx').on(t.type, t.earliest),
    index('entries_speaker_idx').on(t.speakerId),
    index('entries_context_idx').on(t.contextId),
    index('entries_parent_idx').on(t.parentId),
    check('entries_kind', sql`${t.kind} IN ('event', 'statement')`),
    check('entries_bounds', sql`${t.earliest} <= ${t.latest}`),
  ],
);

/** Entries per (span class, earliest, latest, kind), kept exact by the triggers of migration 0001. */
export const entrySpanCounts = pgTable(
  'entry_span_counts',
  {
    spanClass: integer('span_class').notNull(),
    earliest: integer('earliest').notNull(),
    latest: integer('latest').notNull(),
    kind: entryKind('kind').notNull(),
    n: integer('n').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.spanClass, t.earliest, t.latest, t.kind] }),
    check('entry_span_counts_positive', sql`${t.n} > 0`),
  ],
);

/** Entries starting and ending per day (grain 0) and per 512-day block (grain 9), kept by the triggers of migration 0001. */
export const entryDateCounts = pgTable(
  'entry_date_counts',
  {
    grain: integer('grain').notNull(),
    kind: entryKind('kind').notNull(),
    unit: integer('unit').notNull(),
    starts: integer('starts').notNull(),
    ends: integer('ends').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.grain, t.kind, t.unit] }),
    check('entry_date_counts_nonnegative', sql`${t.starts} >= 0 AND ${t.ends} >= 0`),
  ],
);

export const entryActors = pgTable(
  'entry_actors',
  {
    entryId: integer('entry_id')
      .notNull()
      .references(() => entries.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    actorId: integer('actor_id')
      .notNull()
      .references(() => actors.id, { onDelete: 'restrict' }),
    role: codePointText('role').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.entryId, t.position] }),
    index('entry_actors_actor_idx').on(t.actorId, t.role, t.entryId),
  ],
);

export const entryPlaces = pgTable(
  'entry_places',
  {
    entryId: integer('entry_id')
      .notNull()
      .references(() => entries.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    placeId: integer('place_id')
      .notNull()
      .references(() => places.id, { onDelete: 'restrict' }),
  },
  (t) => [
    primaryKey({ columns: [t.entryId, t.position] }),
    index('entry_places_place_idx').on(t.placeId, t.entryId),
  ],
);

export const entryEvents = pgTable(
  'entry_events',
  {
    entryId: integer('entry_id')
      .notNull()
      .references(() => entries.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    eventId: integer('event_id')
      .notNull()
      .references(() => entries.id, { onDelete: 'restrict' }),
  },
  (t) => [
    primaryKey({ columns: [t.entryId, t.position] }),
    index('entry_events_event_idx').on(t.eventId),
  ],
);

/**
 * Each entry as the API renders it, as in the SQLite engine (src/storage/documents.ts): the
 * UTF-8 JSON of the entry in every language and where its language maps with several members
 * lie in it. Not written by this engine yet: its reads render from the rows.
 */
export const entryDocuments = pgTable('entry_documents', {
  entryId: integer('entry_id')
    .primaryKey()
    .references(() => entries.id, { onDelete: 'cascade' }),
  body: bytea('body').notNull(),
  languages: codePointText('languages'),
});

export const entryTags = pgTable(
  'entry_tags',
  {
    entryId: integer('entry_id')
      .notNull()
      .references(() => entries.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    tag: codePointText('tag').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.entryId, t.position] }),
    index('entry_tags_tag_idx').on(t.tag, t.entryId),
  ],
);

/** `end` is a reserved word in PostgreSQL: SQL written by hand must quote it ("end"). */
export const citations = pgTable(
  'citations',
  {
    entryId: integer('entry_id')
      .notNull()
      .references(() => entries.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    sourceId: integer('source_id')
      .notNull()
      .references(() => sources.id, { onDelete: 'restrict' }),
    excerpt: codePointText('excerpt'),
    start: integer('start'),
    end: integer('end'),
  },
  (t) => [
    primaryKey({ columns: [t.entryId, t.position] }),
    index('citations_source_idx').on(t.sourceId),
  ],
);

/**
 * The full-text document of each entry (SQLite: the FTS5 table `search_index`, whose rowid
 * is the entry's id). Deleting the entry deletes its document (SQLite: a trigger).
 */
export const searchIndex = pgTable(
  'search_index',
  {
    entryId: integer('entry_id')
      .primaryKey()
      .references(() => entries.id, { onDelete: 'cascade' }),
    document: tsvector('document').notNull(),
    /** Tokens in the document, as FTS5 counts a row's size: BM25's document length (src/storage/postgres/relevance.ts). */
    length: integer('length').notNull(),
  },
  (t) => [index('search_index_document_idx').using('gin', t.document)],
);

export const timelines = pgTable(
  'timelines',
  {
    id: id(),
    key: codePointText('key').notNull(),
    slug: codePointText('slug').notNull(),
    title: json('title').$type<LanguageMap>().notNull(),
    description: json('description').$type<LanguageMap>(),
    ...timestamps,
  },
  (t) => [uniqueIndex('timelines_key_unique').on(t.key), uniqueIndex('timelines_slug_unique').on(t.slug)],
);

export const timelineEntries = pgTable(
  'timeline_entries',
  {
    timelineId: integer('timeline_id')
      .notNull()
      .references(() => timelines.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    entryId: integer('entry_id')
      .notNull()
      .references(() => entries.id, { onDelete: 'restrict' }),
  },
  (t) => [
    primaryKey({ columns: [t.timelineId, t.position] }),
    index('timeline_entries_entry_idx').on(t.entryId),
  ],
);

/** API keys: only the SHA-256 of the secret is kept. */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: id(),
    name: codePointText('name').notNull(),
    hash: codePointText('hash').notNull(),
    hint: codePointText('hint').notNull(),
    scopes: json('scopes').$type<string[]>().notNull(),
    createdAt: codePointText('created_at').notNull(),
    revokedAt: codePointText('revoked_at'),
  },
  (t) => [uniqueIndex('api_keys_hash_unique').on(t.hash)],
);

/** Instance settings shared by every server on the database (the data revision, the cursor secret). */
export const settings = pgTable('settings', {
  name: codePointText('name').primaryKey(),
  value: codePointText('value').notNull(),
});

/** Idempotency keys of writes, per API key (see the SQLite schema). */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    apiKeyId: integer('api_key_id')
      .notNull()
      .references(() => apiKeys.id, { onDelete: 'cascade' }),
    key: codePointText('key').notNull(),
    method: codePointText('method').notNull(),
    path: codePointText('path').notNull(),
    bodyHash: codePointText('body_hash'),
    state: idempotencyState('state').notNull(),
    status: integer('status'),
    response: codePointText('response'),
    createdAt: codePointText('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.apiKeyId, t.key] }), index('idempotency_keys_created_idx').on(t.createdAt)],
);

/**
 * The change log, with the SQLite engine's columns (src/storage/sqlite/schema.ts). `seq` is
 * not drawn from its identity, whose values are not in commit order, but from a counter row in
 * `settings` that a write locks until it commits (src/storage/postgres/changes.ts says why).
 */
export const changes = pgTable(
  'changes',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    kind: codePointText('kind').$type<'source' | 'place' | 'actor' | 'event' | 'statement' | 'timeline'>().notNull(),
    recordId: integer('record_id').notNull(),
    key: codePointText('key').notNull(),
    operation: codePointText('operation').$type<'create' | 'update' | 'delete'>().notNull(),
    at: codePointText('at').notNull(),
    author: codePointText('author'),
    fields: json('fields').$type<string[]>(),
    previous: json('previous').$type<Record<string, unknown>>(),
  },
  (t) => [index('changes_record_idx').on(t.recordId, t.seq)],
);

/**
 * Requests each client made in its current rate-limit window, counted by every server on the
 * database (src/storage/postgres/request-counts.ts): a row per client key seen within a window,
 * expired rows pruned. This engine's only table with no SQLite twin (SQLite counts in process).
 * UNLOGGED, by hand in migration pg/0005 (drizzle-kit cannot declare it): a count is written
 * with every request, and through the WAL each would wait for a flush and be shipped to every
 * standby; a crash or a failover empties it, which gives every client a fresh window once.
 */
export const requestCounts = pgTable('request_counts', {
  key: codePointText('key').primaryKey(),
  requests: integer('requests').notNull(),
  expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'string' }).notNull(),
});
