import { z } from 'zod';
import { Actor } from './actors.js';
import { repeated } from './common.js';
import { timelineFilters } from './timeline.js';
import { Event, Statement } from './entries.js';
import { Place } from './places.js';
import { Source } from './sources.js';
import { CuratedTimeline } from './timelines.js';

export const CHANGE_KINDS = ['source', 'place', 'actor', 'event', 'statement', 'timeline'] as const;

const sequence = z.number().int().min(0);

export const ChangesQuery = z.object({
  since: z.coerce
    .number()
    .int()
    .min(0)
    .max(Number.MAX_SAFE_INTEGER)
    .default(0)
    .meta({ description: 'Answer the changes after this sequence: 0 for all, or the `page.since` of the last page read, or an export trailer\'s `sequence`.' }),
  limit: z.coerce.number().int().min(1).max(1000).default(100).meta({ description: 'Page size, 1 to 1000.' }),
  kind: repeated(z.enum(CHANGE_KINDS)).optional().meta({ description: 'Only changes of records of these kinds (repeatable).' }),
  // a timeline query: only the entries it selects (as they are now), and every entry's delete
  from: timelineFilters.from,
  to: timelineFilters.to,
  match: timelineFilters.match,
  actor: timelineFilters.actor,
  place: timelineFilters.place,
  type: timelineFilters.type,
});

/** The parameters that make a timeline query of the feed: with any of them, only entries are followed. */
export const TIMELINE_FILTER_PARAMS = ['from', 'to', 'actor', 'place', 'type'] as const;

export const LastEventIdHeader = z.object({
  'last-event-id': z
    .string()
    .regex(/^\d{1,15}$/)
    .optional()
    .meta({ description: 'The `id:` of the last event received, sent by an EventSource that reconnects: the stream resumes after it (it wins over `since`).' }),
});

export const ChangeRecord = z.union([Source, Place, Actor, Event, Statement, CuratedTimeline]);

export const Change = z
  .object({
    sequence: sequence.meta({ description: 'The change\'s place in the log: grows with every change, in commit order.' }),
    operation: z.enum(['create', 'update', 'delete']),
    kind: z.enum(CHANGE_KINDS),
    id: z.number().int().meta({ description: 'The record\'s id.' }),
    key: z.string().meta({ description: 'The record\'s key when it changed (for a delete, the key it had).' }),
    at: z.string().meta({ description: 'When the change was committed (ISO 8601).' }),
    author: z.string().nullable().meta({ description: 'The name of the API key that made it (null: the seed or the command line).' }),
    fields: z
      .array(z.string())
      .nullable()
      .meta({ description: 'For an update, the fields it changed (as the record is stored: `placeIds` for `places`, `entryIds` for a curated timeline\'s `entries`); null otherwise.' }),
    record: ChangeRecord.nullable()
      .optional()
      .meta({
        description:
          'The record as it is now (not as it was after this change); null when it has been deleted since (its tombstone comes later). ' +
          'Absent on a delete (a tombstone).',
      }),
  })
  .meta({
    id: 'Change',
    example: {
      sequence: 42,
      operation: 'update',
      kind: 'actor',
      id: 6,
      key: 'actor:amreyev',
      at: '2026-12-03T12:00:00.000Z',
      author: 'bootstrap',
      fields: ['aliases'],
      record: {
        id: 6,
        key: 'actor:amreyev',
        type: 'person',
        name: { ar: 'بغداد أمرييف', en: 'Baghdad Amreyev' },
        aliases: [],
        externalIds: {},
        affiliations: [],
        createdAt: '2026-12-03T11:00:00.000Z',
        updatedAt: '2026-12-03T12:00:00.000Z',
      },
    },
  });

export const ChangePage = z
  .object({
    data: z.array(Change),
    page: z.object({
      limit: z.number().int(),
      since: sequence.meta({ description: 'Where to go on from: the `since` of the next request (the last change of this page, or the `since` asked for when it is empty).' }),
      more: z.boolean().meta({ description: 'True when more changes follow at once (the `Link: rel="next"` header points at them).' }),
      latest: sequence.meta({ description: 'The newest sequence in the log when the page was read.' }),
    }),
  })
  .meta({ id: 'ChangePage' });

export const Revision = z
  .object({
    sequence: sequence.meta({ description: 'The change\'s sequence in the change log.' }),
    operation: z.enum(['create', 'update', 'delete']),
    key: z.string().meta({ description: 'The record\'s key after the change.' }),
    at: z.string().meta({ description: 'When it was committed (ISO 8601).' }),
    author: z.string().nullable().meta({ description: 'The name of the API key that made it (null: the seed or the command line).' }),
    fields: z.array(z.string()).nullable().meta({ description: 'For an update, the fields it changed (as the record is stored); null otherwise.' }),
    previous: z
      .record(z.string(), z.unknown())
      .nullable()
      .meta({ description: 'For an update, what the changed fields were before it, as stored (references as numeric ids); null for a create.' }),
  })
  .meta({
    id: 'Revision',
    example: {
      sequence: 42,
      operation: 'update',
      key: 'actor:amreyev',
      at: '2026-12-03T12:00:00.000Z',
      author: 'bootstrap',
      fields: ['aliases'],
      previous: { aliases: [{ ar: 'أمرييف', en: 'Amreyev' }] },
    },
  });

export const RevisionList = z
  .object({
    data: z.array(Revision),
    retainedAfter: sequence.meta({ description: 'Revisions with sequences up to this one have been pruned from the log (0: none).' }),
  })
  .meta({ id: 'RevisionList' });
