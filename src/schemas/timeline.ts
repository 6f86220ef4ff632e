import { z } from 'zod';
import { parseWindowBound } from '../dates/window.js';
import { MAX_QUERY_LENGTH } from '../search/text.js';
import { formatParams } from '../formats/index.js';
import { CursorParam, LangParam, LimitParam, repeated } from './common.js';

// The optional filters carry no `example`: the explorer pre-fills every example, and all the
// filters at once (an actor, a place, a tag, a text...) select nothing.
const windowBound = (side: 'from' | 'to') =>
  z
    .string()
    .max(10)
    .superRefine((value, ctx) => {
      const parsed = parseWindowBound(value, side);
      if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.error });
    })
    .optional()
    .meta({
      description:
        side === 'from'
          ? 'Start of the window: a year, month or day (`2022` means from 1 January 2022).'
          : 'End of the window, inclusive: a year, month or day (`2022-01` means through 31 January).',
    });

const word = z.string().min(1).max(200);

/** Filters of every timeline read (the merged timeline, scoped timelines, histograms, lists). */
export const timelineFilters = {
  from: windowBound('from'),
  to: windowBound('to'),
  match: z
    .enum(['overlaps', 'within'])
    .default('overlaps')
    .meta({
      description:
        '`overlaps`: entries whose [earliest, latest] overlaps the window; `within`: entries that lie inside it.',
    }),
  kind: repeated(z.enum(['event', 'statement']))
    .optional()
    .meta({ description: 'Only events or only statements.' }),
  type: repeated(word)
    .optional()
    .meta({ description: 'Entry types (OR): `protest`, `meeting`, `quote`, ...' }),
  tag: repeated(word).optional().meta({ description: 'Tags (OR), such as `fuel-prices`.' }),
  actor: repeated(word)
    .optional()
    .meta({
      description:
        'Actor ids or keys (OR), such as `actor:amreyev`. Events where the actor takes part (in `role`, if given); statements the actor made (or, with `role=about`, is the subject of).',
    }),
  role: word.optional().meta({
    description: 'With `actor`: the role taken (`participant`, `organizer`, ..., `speaker`, `about`).',
  }),
  place: repeated(word)
    .optional()
    .meta({ description: 'Place ids or keys (OR), such as `place:kz`, including every place under them.' }),
  q: z
    .string()
    .min(1)
    .max(MAX_QUERY_LENGTH)
    .optional()
    .meta({
      description:
        'Full text over titles, descriptions, statement texts (every language) and the names of the actors and ' +
        'places involved. Every word must match. Arabic-aware: diacritics, tatweel and letter variants are ' +
        'folded and common prefixes and suffixes stemmed, so `سلطات` finds `السلطات`. Latin text ignores case and accents.',
    }),
} as const;

const windowOrder = (query: { from?: string | undefined; to?: string | undefined }, ctx: z.RefinementCtx) => {
  if (query.from && query.to) {
    const from = parseWindowBound(query.from, 'from');
    const to = parseWindowBound(query.to, 'to');
    if (from.ok && to.ok && from.day > to.day) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: `to=${query.to} is before from=${query.from}` });
    }
  }
};

const paging = {
  order: z.enum(['asc', 'desc']).default('asc').meta({ description: 'Chronological or reverse order.' }),
  sort: z
    .enum(['chronological', 'relevance'])
    .default('chronological')
    .meta({
      description:
        '`relevance` (with `q`): best matches first (BM25); `order` does not apply. Its pages hold the matches ' +
        'of the data as the first page found it, each once: entries created while a client pages are left to ' +
        'its next search. Scores move with every write, so a relevance cursor continues only while what it ' +
        'already returned still ranks first; otherwise (say a returned entry was deleted, or an edit moved ' +
        'another above the cursor) it answers 410 `cursor-expired`: start again from the first page.',
    }),
  highlight: z
    .enum(['true', 'false'])
    .default('false')
    .meta({ description: 'With `q`: add `highlight` to each entry, the matched passage with `<mark>`ed words.' }),
  limit: LimitParam,
  cursor: CursorParam.meta({
    description:
      'The `page.nextCursor` of the previous page; opaque. Chronological cursors stay correct while data ' +
      'changes; a `sort=relevance` cursor may instead answer 410 when writes changed the ranks (see `sort`).',
  }),
  lang: LangParam,
  ...formatParams,
};

const sortNeedsText = (query: { q?: string | undefined; sort?: string }, ctx: z.RefinementCtx) => {
  if (query.sort === 'relevance' && query.q === undefined) {
    ctx.addIssue({ code: 'custom', path: ['sort'], message: 'sort=relevance needs a q' });
  }
};

const refine = (query: Parameters<typeof windowOrder>[0] & Parameters<typeof sortNeedsText>[0], ctx: z.RefinementCtx) => {
  windowOrder(query, ctx);
  sortNeedsText(query, ctx);
};

/** Query of `GET /v1/timeline`. */
export const TimelineQuery = z.object({ ...timelineFilters, ...paging }).superRefine(refine);

/** Query of `GET /v1/timeline/histogram`. */
export const HistogramQuery = z
  .object({
    ...timelineFilters,
    interval: z
      .enum(['day', 'week', 'month', 'year'])
      .default('month')
      .meta({ description: 'Bucket size; weeks start on Monday (ISO 8601).' }),
  })
  .superRefine(windowOrder);

export const Histogram = z
  .object({
    interval: z.enum(['day', 'week', 'month', 'year']),
    from: z.string().nullable().meta({ description: 'First day of the first bucket.' }),
    to: z.string().nullable().meta({ description: 'Last day of the last bucket.' }),
    buckets: z.array(
      z.object({
        start: z.string(),
        end: z.string().meta({ description: 'Last day of the bucket (inclusive).' }),
        count: z.number().int().meta({ description: 'Entries whose [earliest, latest] lies inside the bucket.' }),
        imprecise: z
          .number()
          .int()
          .meta({ description: 'Entries that overlap the bucket without fitting inside it (coarser or longer dates).' }),
      }),
    ),
  })
  .meta({
    id: 'Histogram',
    example: {
      interval: 'month',
      from: '2022-01-01',
      to: '2022-01-31',
      buckets: [{ start: '2022-01-01', end: '2022-01-31', count: 19, imprecise: 3 }],
    },
  });

const { actor: _actor, role: _role, ...withoutActor } = timelineFilters;
const { place: _place, ...withoutPlace } = timelineFilters;

/** Query of `GET /v1/actors/{id}/timeline`: the actor is the path's; `role` still applies. */
export const ActorTimelineQuery = z
  .object({ ...withoutActor, role: timelineFilters.role, ...paging })
  .superRefine(refine);

/** Query of `GET /v1/places/{id}/timeline`. */
export const PlaceTimelineQuery = z.object({ ...withoutPlace, ...paging }).superRefine(refine);
