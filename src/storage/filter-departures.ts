/**
 * Whether an entry that a timeline query no longer selects was selected before an update:
 * an entry moved out of a window (its date, type, tags or links changed) touches the
 * subscribers of that window, who must hear of it to drop it, while an entry that was never
 * in it does not.
 *
 * An update's change says which fields of the entry's stored form changed
 * (src/storage/writes.ts) and its revision holds what they were. A filter reads only some
 * fields; one whose fields did not change reads the same as now, so the caller checks those
 * against the entry as it is now, and this module the changed ones against their previous
 * values. The place filter (a place and every place under it) and the actor filter of a
 * statement (its speaker and the actors it is about, which may change apart) are taken as
 * having matched: hearing of an entry that was not in the window costs the subscriber a
 * look, missing one that left it would keep a stale entry on its page.
 */
import { parseEdtf } from '../dates/edtf.js';
import { dayBounds } from './dates.js';
import type { TimelineQuery } from './types.js';

/** The filters of a timeline query, each by the stored fields it reads. */
type Filter = 'window' | 'types' | 'tags' | 'actors' | 'places';

const FIELDS: Record<Filter, readonly string[]> = {
  window: ['date'],
  types: ['type'],
  tags: ['tags'],
  actors: ['actors', 'speakerId', 'about'],
  places: ['placeIds', 'about'],
};

function filtersOf(q: TimelineQuery): Filter[] {
  const filters: Filter[] = [];
  if (q.from !== undefined || q.to !== undefined) filters.push('window');
  if (q.types?.length) filters.push('types');
  if (q.tags?.length) filters.push('tags');
  if (q.actors?.length) filters.push('actors');
  if (q.places) filters.push('places');
  return filters;
}

/** The filters of `q` that read a field of `fields`: none means the update cannot have moved the entry in or out. */
export function filtersChanged(q: TimelineQuery, fields: readonly string[]): Filter[] {
  return filtersOf(q).filter((filter) => FIELDS[filter].some((name) => fields.includes(name)));
}

/** `q` without the filters in `dropped`: what the entry as it is now must still pass. */
export function withoutFilters(q: TimelineQuery, dropped: readonly Filter[]): TimelineQuery {
  const kept: TimelineQuery = { ...q };
  for (const filter of dropped) {
    if (filter === 'window') {
      kept.from = undefined;
      kept.to = undefined;
    } else if (filter === 'actors') {
      kept.actors = undefined;
      kept.role = undefined;
    } else {
      kept[filter] = undefined;
    }
  }
  return kept;
}

/** Whether the previous values of the changed fields passed the filters `changed` of `q`. */
export function previousPassed(
  q: TimelineQuery,
  changed: readonly Filter[],
  kind: 'event' | 'statement',
  previous: Record<string, unknown>,
): boolean {
  return changed.every((filter) => {
    switch (filter) {
      case 'window': {
        if (typeof previous.date !== 'string') return true;
        const { earliest, latest } = dayBounds(parseEdtf(previous.date));
        const from = q.from ?? Number.NEGATIVE_INFINITY;
        const to = q.to ?? Number.POSITIVE_INFINITY;
        return q.match === 'within' ? earliest >= from && latest <= to : earliest <= to && latest >= from;
      }
      case 'types':
        return typeof previous.type !== 'string' || q.types!.includes(previous.type);
      case 'tags':
        return !Array.isArray(previous.tags) || previous.tags.some((tag) => q.tags!.includes(tag as string));
      case 'actors': {
        if (kind === 'statement' || !Array.isArray(previous.actors)) return true;
        const actors = previous.actors as { actorId: number; role: string }[];
        return actors.some(
          (a) => q.actors!.includes(a.actorId) && (q.role === undefined ? a.role !== 'about' : a.role === q.role),
        );
      }
      case 'places':
        return true;
    }
  });
}
