import { z } from 'zod';
import { parseWindowBound } from '../dates/window.js';
import { CursorParam, LangParam, LimitParam, repeated } from './common.js';

const windowBound = (side: 'from' | 'to', example: string) =>
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
      example,
    });

const word = z.string().min(1).max(200);

/** Filters of every timeline read (the merged timeline, scoped timelines, histograms, lists). */
export const timelineFilters = {
  from: windowBound('from', '2022-01-01'),
  to: windowBound('to', '2022-01-31'),
  match: z
    .enum(['overlaps', 'within'])
    .default('overlaps')
    .meta({
      description:
        '`overlaps`: entries whose [earliest, latest] overlaps the window; `within`: entries that lie inside it.',
    }),
  kind: repeated(z.enum(['event', 'statement']))
    .optional()
    .meta({ description: 'Only events or only statements.', example: ['statement'] }),
  type: repeated(word)
    .optional()
    .meta({ description: 'Entry types (OR): `protest`, `meeting`, `quote`, ...', example: ['protest'] }),
  tag: repeated(word).optional().meta({ description: 'Tags (OR).', example: ['fuel-prices'] }),
  actor: repeated(word)
    .optional()
    .meta({
      description:
        'Actor ids or keys (OR). Events where the actor takes part (in `role`, if given); statements the actor made (or, with `role=about`, is the subject of).',
      example: ['actor:amreyev'],
    }),
  role: word.optional().meta({
    description: 'With `actor`: the role taken (`participant`, `organizer`, ..., `speaker`, `about`).',
    example: 'speaker',
  }),
  place: repeated(word)
    .optional()
    .meta({ description: 'Place ids or keys (OR), including every place under them.', example: ['place:kz'] }),
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
  limit: LimitParam,
  cursor: CursorParam,
  lang: LangParam,
};

/** Query of `GET /v1/timeline`. */
export const TimelineQuery = z.object({ ...timelineFilters, ...paging }).superRefine(windowOrder);

const { actor: _actor, role: _role, ...withoutActor } = timelineFilters;
const { place: _place, ...withoutPlace } = timelineFilters;

/** Query of `GET /v1/actors/{id}/timeline`: the actor is the path's; `role` still applies. */
export const ActorTimelineQuery = z
  .object({ ...withoutActor, role: timelineFilters.role, ...paging })
  .superRefine(windowOrder);

/** Query of `GET /v1/places/{id}/timeline`. */
export const PlaceTimelineQuery = z.object({ ...withoutPlace, ...paging }).superRefine(windowOrder);
