import { sql } from 'drizzle-orm';
import {
  type AnySQLiteColumn,
  blob,
  check,
  index,
  integer,
  primaryKey,
  real,
  sqliteTable,
  text,
  uniqueIndex,
} from 'drizzle-orm/sqlite-core';

/** A language map as stored: JSON text of `{ "<BCP 47 tag>": "<text>" }`. */
import type { LanguageMap } from '../language.js';
export type { LanguageMap } from '../language.js';

const timestamps = {
  createdAt: text('created_at').notNull(),
  updatedAt: text('updated_at').notNull(),
};

/**
 * Dates are stored as their EDTF text plus the bounds the queries need, as day numbers
 * (days since 1970-01-01) so that range scans compare integers. Open ends are stored as
 * sentinels beyond year 0000 and 9999 (see src/dates/edtf.ts), never as NULL, so that one
 * index serves every window.
 */
export const sources = sqliteTable(
  'sources',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    key: text('key').notNull(),
    type: text('type').notNull(),
    title: text('title', { mode: 'json' }).$type<LanguageMap>(),
    outlet: text('outlet'),
    url: text('url'),
    lang: text('lang'),
    published: text('published'),
    publishedEarliest: integer('published_earliest'),
    publishedLatest: integer('published_latest'),
    retrieved: text('retrieved'),
    text: text('text'),
    ...timestamps,
  },
  (t) => [uniqueIndex('sources_key_unique').on(t.key)],
);

export const places = sqliteTable(
  'places',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    key: text('key').notNull(),
    type: text('type').notNull(),
    name: text('name', { mode: 'json' }).$type<LanguageMap>().notNull(),
    countryCode: text('country_code'),
    parentId: integer('parent_id').references((): AnySQLiteColumn => places.id, { onDelete: 'restrict' }),
    lat: real('lat'),
    lon: real('lon'),
    ...timestamps,
  },
  (t) => [
    uniqueIndex('places_key_unique').on(t.key),
    index('places_parent_idx').on(t.parentId),
    check('places_coordinates', sql`(${t.lat} IS NULL) = (${t.lon} IS NULL)`),
  ],
);

export const actors = sqliteTable(
  'actors',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    key: text('key').notNull(),
    type: text('type').notNull(),
    name: text('name', { mode: 'json' }).$type<LanguageMap>().notNull(),
    aliases: text('aliases', { mode: 'json' }).$type<LanguageMap[]>().notNull(),
    externalIds: text('external_ids', { mode: 'json' }).$type<Record<string, string>>().notNull(),
    ...timestamps,
  },
  (t) => [uniqueIndex('actors_key_unique').on(t.key), index('actors_type_idx').on(t.type, t.id)],
);

export const actorAffiliations = sqliteTable(
  'actor_affiliations',
  {
    actorId: integer('actor_id')
      .notNull()
      .references(() => actors.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    otherActorId: integer('other_actor_id')
      .notNull()
      .references(() => actors.id, { onDelete: 'restrict' }),
    role: text('role').notNull(),
    date: text('date'),
    earliest: integer('earliest'),
    latest: integer('latest'),
  },
  (t) => [
    primaryKey({ columns: [t.actorId, t.position] }),
    index('actor_affiliations_other_idx').on(t.otherActorId),
  ],
);

/**
 * Events and statements share one table: the timeline merges them in one ordered index
 * scan instead of merging two. `kind` tells them apart; columns that belong to one kind
 * only are NULL for the other.
 *
 * `span_class` buckets entries by the length of `[earliest, latest]` (0: one day, 1: up to
 * 31 days, 2: up to 366 days, 3: longer or open). An overlap query can then bound each
 * class's `earliest` from below (`from - maxSpan`) and use the index as a range scan.
 *
 * `sort_start` and `sort_end` are the chronological position (src/dates/edtf.ts
 * chronoPosition: milliseconds, an instant at its moment in UTC, a day from 00:00 UTC), the
 * timeline's order with `id`. `earliest` and `latest` are calendar days in the offset an
 * instant was written with, and differ from the UTC moment by up to 14 hours either way: a
 * window on days bounds `sort_start` to within that margin, which closes the index range,
 * and the exact conditions on the days are checked on the index's own columns. Migration
 * 0005 added and backfilled them; their default only served that.
 */
export const entries = sqliteTable(
  'entries',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    key: text('key').notNull(),
    kind: text('kind', { enum: ['event', 'statement'] }).notNull(),
    type: text('type').notNull(),
    date: text('date').notNull(),
    precision: text('precision').notNull(),
    earliest: integer('earliest').notNull(),
    latest: integer('latest').notNull(),
    spanClass: integer('span_class').notNull(),
    sortStart: integer('sort_start').notNull().default(0),
    sortEnd: integer('sort_end').notNull().default(0),
    title: text('title', { mode: 'json' }).$type<LanguageMap>(),
    description: text('description', { mode: 'json' }).$type<LanguageMap>(),
    text: text('text', { mode: 'json' }).$type<LanguageMap>(),
    originalLang: text('original_lang'),
    speakerId: integer('speaker_id').references(() => actors.id, { onDelete: 'restrict' }),
    contextId: integer('context_id').references((): AnySQLiteColumn => entries.id, { onDelete: 'restrict' }),
    parentId: integer('parent_id').references((): AnySQLiteColumn => entries.id, { onDelete: 'restrict' }),
    ...timestamps,
  },
  (t) => [
    uniqueIndex('entries_key_unique').on(t.key),
    // ordered by position and id; the day bounds and kind ride along, so that a page's window
    // and kind are checked without reading the table
    index('entries_chrono_idx').on(t.spanClass, t.sortStart, t.sortEnd, t.id, t.earliest, t.latest, t.kind),
    index('entries_type_idx').on(t.type, t.earliest),
    index('entries_speaker_idx').on(t.speakerId),
    index('entries_context_idx').on(t.contextId),
    index('entries_parent_idx').on(t.parentId),
    check('entries_kind', sql`${t.kind} IN ('event', 'statement')`),
    check('entries_bounds', sql`${t.earliest} <= ${t.latest}`),
  ],
);

/**
 * Each entry as the API renders it (src/storage/documents.ts): `body` is the UTF-8 JSON of the
 * entry in every language, `languages` where its language maps with several members lie in
 * it, so that a page in one language is cut from the bodies without rendering anything.
 * Written in the transaction of every write that changes what an entry renders, its own or
 * a record it names (src/storage/sqlite/documents.ts). Filled for the entries stored before
 * migration 0006 at start-up, as whenever ENTRY_DOCUMENTS_VERSION changes.
 */
export const entryDocuments = sqliteTable('entry_documents', {
  entryId: integer('entry_id')
    .primaryKey()
    .references(() => entries.id, { onDelete: 'cascade' }),
  body: blob('body', { mode: 'buffer' }).notNull(),
  languages: text('languages'),
});

/**
 * How many entries share each (span class, earliest, latest, kind). The histogram reads this
 * instead of `entries` when only the window and `kind` filter it, so that its cost follows
 * the distinct dates in the window rather than the number of entries in it.
 *
 * Kept exact by triggers on `entries` and backfilled by migration 0003, which also makes the
 * table WITHOUT ROWID (drizzle cannot declare it; a change here that makes drizzle-kit
 * rebuild the table must keep it). A migration that rebuilds `entries` drops its triggers
 * and must create them again (those of 0001 too); test/span-counts.test.ts checks they exist.
 */
export const entrySpanCounts = sqliteTable(
  'entry_span_counts',
  {
    spanClass: integer('span_class').notNull(),
    earliest: integer('earliest').notNull(),
    latest: integer('latest').notNull(),
    kind: text('kind', { enum: ['event', 'statement'] }).notNull(),
    n: integer('n').notNull(),
  },
  (t) => [
    // the order of entries_chrono_idx: a window is one range per span class
    primaryKey({ columns: [t.spanClass, t.earliest, t.latest, t.kind] }),
    // the triggers delete a row before its count would reach 0
    check('entry_span_counts_positive', sql`${t.n} > 0`),
  ],
);

/**
 * How many entries of each kind start (`earliest`) and end (`latest`) in each unit of time:
 * single days (`grain` 0) and blocks of 512 days (`grain` 9, `unit` = day >> 9). The number
 * of entries overlapping a day is then the starts up to it less the ends before it, a sum
 * over at most a block's days and the blocks before: a histogram's cost no longer grows
 * with the long and open intervals that began before its window, which are most of the
 * rows `entry_span_counts` holds for a window on a large dataset.
 *
 * Kept exact by triggers on `entries` and backfilled by migration 0004 (WITHOUT ROWID, like
 * `entry_span_counts`; the same care applies to a migration that rebuilds `entries`).
 */
export const entryDateCounts = sqliteTable(
  'entry_date_counts',
  {
    grain: integer('grain').notNull(),
    kind: text('kind', { enum: ['event', 'statement'] }).notNull(),
    unit: integer('unit').notNull(),
    starts: integer('starts').notNull(),
    ends: integer('ends').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.grain, t.kind, t.unit] }),
    // the triggers delete a row once both its counts are 0
    check('entry_date_counts_nonnegative', sql`${t.starts} >= 0 AND ${t.ends} >= 0`),
  ],
);

/**
 * Actors of an entry with their role. A statement's speaker is also stored here with the
 * role `speaker` (and the actors it is about with `about`), so one index answers the
 * timeline's actor filter for both kinds.
 */
export const entryActors = sqliteTable(
  'entry_actors',
  {
    entryId: integer('entry_id')
      .notNull()
      .references(() => entries.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    actorId: integer('actor_id')
      .notNull()
      .references(() => actors.id, { onDelete: 'restrict' }),
    role: text('role').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.entryId, t.position] }),
    index('entry_actors_actor_idx').on(t.actorId, t.role, t.entryId),
  ],
);

/** Places of an event, or places a statement is about. */
export const entryPlaces = sqliteTable(
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

/** Events a statement is about. */
export const entryEvents = sqliteTable(
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

export const entryTags = sqliteTable(
  'entry_tags',
  {
    entryId: integer('entry_id')
      .notNull()
      .references(() => entries.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    tag: text('tag').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.entryId, t.position] }),
    index('entry_tags_tag_idx').on(t.tag, t.entryId),
  ],
);

/** A citation: the entry rests on this source, with the passage and its offsets. */
export const citations = sqliteTable(
  'citations',
  {
    entryId: integer('entry_id')
      .notNull()
      .references(() => entries.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    sourceId: integer('source_id')
      .notNull()
      .references(() => sources.id, { onDelete: 'restrict' }),
    excerpt: text('excerpt'),
    start: integer('start'),
    end: integer('end'),
  },
  (t) => [
    primaryKey({ columns: [t.entryId, t.position] }),
    index('citations_source_idx').on(t.sourceId),
  ],
);

export const timelines = sqliteTable(
  'timelines',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    key: text('key').notNull(),
    slug: text('slug').notNull(),
    title: text('title', { mode: 'json' }).$type<LanguageMap>().notNull(),
    description: text('description', { mode: 'json' }).$type<LanguageMap>(),
    ...timestamps,
  },
  (t) => [uniqueIndex('timelines_key_unique').on(t.key), uniqueIndex('timelines_slug_unique').on(t.slug)],
);

export const timelineEntries = sqliteTable(
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
export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    name: text('name').notNull(),
    hash: text('hash').notNull(),
    hint: text('hint').notNull(),
    scopes: text('scopes', { mode: 'json' }).$type<string[]>().notNull(),
    createdAt: text('created_at').notNull(),
    revokedAt: text('revoked_at'),
  },
  (t) => [uniqueIndex('api_keys_hash_unique').on(t.hash)],
);

/** Instance settings that must survive restarts and be shared by every server on the database. */
export const settings = sqliteTable('settings', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
});

/**
 * Idempotency keys of writes: the first response to a key is kept for 24 hours and replayed
 * to a retry with the same body. Keys are per API key, so clients cannot collide.
 */
export const idempotencyKeys = sqliteTable(
  'idempotency_keys',
  {
    apiKeyId: integer('api_key_id')
      .notNull()
      .references(() => apiKeys.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    method: text('method').notNull(),
    path: text('path').notNull(),
    /** SHA-256 of the request body; null while a streamed body is still being read. */
    bodyHash: text('body_hash'),
    state: text('state', { enum: ['running', 'done'] }).notNull(),
    status: integer('status'),
    response: text('response'),
    createdAt: text('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.apiKeyId, t.key] }), index('idempotency_keys_created_idx').on(t.createdAt)],
);

/**
 * The change log: one row per record a write created, updated or deleted, written in the
 * write's own transaction (src/storage/sqlite/changes.ts). `seq` is AUTOINCREMENT so that a
 * sequence is never handed out twice, even after the newest rows are pruned. On SQLite one
 * writer commits at a time, so sequences are also in commit order: a reader that has seen `n`
 * never later finds a smaller one committed. PostgreSQL's sequences are drawn before commit and
 * transactions commit in any order, so that engine draws them from a counter row each write
 * holds locked until it commits (src/storage/postgres/changes.ts).
 * `fields` lists the changed fields of an update (of the record's stored form), null otherwise;
 * `previous` holds what they were (an update), or the whole stored form (a delete): a record's
 * revisions, as far back as the log is kept.
 */
export const changes = sqliteTable(
  'changes',
  {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  kind: text('kind').$type<'source' | 'place' | 'actor' | 'event' | 'statement' | 'timeline'>().notNull(),
  recordId: integer('record_id').notNull(),
  key: text('key').notNull(),
  operation: text('operation').$type<'create' | 'update' | 'delete'>().notNull(),
  at: text('at').notNull(),
  author: text('author'),
  fields: text('fields', { mode: 'json' }).$type<string[]>(),
  previous: text('previous', { mode: 'json' }).$type<Record<string, unknown>>(),
  },
  // a record's revisions; dropped and built again by a bulk load, as other secondary indexes
  (t) => [index('changes_record_idx').on(t.recordId, t.seq)],
);
