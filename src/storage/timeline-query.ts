import type { z } from 'zod';
import { parseWindowBound } from '../dates/window.js';
import { validationFailed, type FieldError } from '../schemas/problems.js';
import { buildMatchQuery } from '../search/text.js';
import type { TimelineQuery } from '../schemas/timeline.js';
import type { Storage } from './port.js';
import type { EntryDto, TimelinePosition, TimelineQuery as RepoQuery } from './types.js';

export type TimelineParams = z.infer<typeof TimelineQuery>;

/** Only the filter part of the parameters: what a cursor is bound to. */
export function timelineFilterParams(params: Partial<TimelineParams>) {
  const {
    limit: _limit,
    cursor: _cursor,
    lang: _lang,
    highlight: _highlight,
    format: _format,
    bom: _bom,
    group: _group,
    ...filters
  } = params;
  return filters;
}

/**
 * Turns validated query parameters into a repository query: window bounds to day numbers,
 * actor and place references to ids (the queries take the places under them too). An unknown
 * reference is a 400 naming it, not an empty page that looks like "no data".
 */
export async function resolveTimelineQuery(
  storage: Storage,
  params: Partial<TimelineParams>,
  scope: { actor?: number; place?: number } = {},
): Promise<RepoQuery> {
  const errors: FieldError[] = [];
  const ids = async (table: 'actor' | 'place', refs: string[] | undefined, name: string) => {
    if (refs === undefined) return undefined;
    const found = await Promise.all(refs.map((ref) => storage.findId(table, ref)));
    return found.flatMap((id, i) => {
      if (id === null) errors.push({ in: 'query', path: `/${name}/${i}`, message: `no ${table} ${JSON.stringify(refs[i])}` });
      return id === null ? [] : [id];
    });
  };
  const bound = (value: string | undefined, side: 'from' | 'to') => {
    if (value === undefined) return undefined;
    const parsed = parseWindowBound(value, side);
    return parsed.ok ? parsed.day : undefined;
  };

  const actors = await ids('actor', params.actor, 'actor');
  const placeRefs = await ids('place', params.place, 'place');
  // each engine builds its expression from the query itself: here only that it has a word
  const text = params.q;
  if (text !== undefined && buildMatchQuery(text) === null) errors.push({ in: 'query', path: '/q', message: 'q has no word to search for' });
  if (errors.length > 0) throw validationFailed(errors.map((e) => e.message).join('; '), errors);

  // a scoped timeline's path names the actor or place; its query has no such parameter
  const scopedActors = scope.actor === undefined ? actors : [scope.actor];
  const scopedPlaces = scope.place === undefined ? placeRefs : [scope.place];
  return {
    from: bound(params.from, 'from'),
    to: bound(params.to, 'to'),
    match: params.match ?? 'overlaps',
    kinds: params.kind,
    types: params.type,
    tags: params.tag,
    actors: scopedActors,
    role: params.role,
    places: scopedPlaces,
    text,
    order: params.order ?? 'asc',
  };
}

/** Entries per page when a format streams every matching entry. */
export const STREAM_PAGE_SIZE = 500;

/**
 * Every entry the query selects, a page at a time, in the query's order. Yields to the
 * event loop between pages so that a long export does not hold up other requests.
 */
export async function* allEntries(
  storage: Storage,
  query: RepoQuery,
  options: { lang?: string | undefined; relevance?: boolean } = {},
): AsyncGenerator<EntryDto[]> {
  if (options.relevance && query.text !== undefined) {
    // ranks move with every write: the order is read once, before any page is written
    yield* entriesByIds(storage, await storage.relevanceIds({ ...query, text: query.text }), options.lang);
    return;
  }
  let after: TimelinePosition | undefined;
  for (;;) {
    const page = await storage.timelinePage(query, after, STREAM_PAGE_SIZE);
    if (page.ids.length > 0) yield await storage.loadEntries(page.ids, options.lang);
    if (page.next === null) return;
    after = page.next;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The entries of a fixed list of ids (a curated timeline), a page at a time, in that order. */
export async function* entriesByIds(storage: Storage, ids: number[], lang?: string): AsyncGenerator<EntryDto[]> {
  for (let i = 0; i < ids.length; i += STREAM_PAGE_SIZE) {
    yield await storage.loadEntries(ids.slice(i, i + STREAM_PAGE_SIZE), lang);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
