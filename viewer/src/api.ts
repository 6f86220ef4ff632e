import type { ActorRef, Entry, Histogram, Page, PlaceRef, Source } from './types.js';

/** Reads of the public API, the same requests any client makes. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(path, { headers: { accept: 'application/json' }, signal: signal ?? null });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const problem = (await response.json()) as { detail?: string };
      detail = problem.detail ?? detail;
    } catch {
      // a body that is not a problem: the status says enough
    }
    throw new ApiError(response.status, detail);
  }
  return (await response.json()) as T;
}

export const timelineUrl = (query: URLSearchParams) => `/v1/timeline?${query.toString()}`;

export function timelinePage(query: URLSearchParams, limit: number, cursor: string | null, signal?: AbortSignal) {
  const params = new URLSearchParams(query);
  params.set('limit', String(limit));
  if (cursor) params.set('cursor', cursor);
  return getJson<Page<Entry>>(timelineUrl(params), signal);
}

export function histogram(query: URLSearchParams, interval: Histogram['interval'], signal?: AbortSignal) {
  const params = new URLSearchParams(query);
  params.set('interval', interval);
  return getJson<Histogram>(`/v1/timeline/histogram?${params.toString()}`, signal);
}

export const actors = (lang: string) => getJson<Page<ActorRef>>(`/v1/actors?limit=200&lang=${lang}`);
export const places = (lang: string) => getJson<Page<PlaceRef>>(`/v1/places?limit=200&lang=${lang}`);
export const timelines = (lang: string) => getJson<Page<{ slug: string; title: Record<string, string> }>>(`/v1/timelines?limit=1&lang=${lang}`);

export const entryPath = (entry: Pick<Entry, 'kind' | 'key'>) =>
  `/v1/${entry.kind === 'event' ? 'events' : 'statements'}/${encodeURIComponent(entry.key)}`;

/** An entry by key: events and statements share one key space, so one of the two reads finds it. */
export async function entry(key: string, lang: string): Promise<Entry> {
  try {
    return await getJson<Entry>(`/v1/events/${encodeURIComponent(key)}?lang=${lang}`);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    return getJson<Entry>(`/v1/statements/${encodeURIComponent(key)}?lang=${lang}`);
  }
}

export const source = (key: string) => getJson<Source>(`/v1/sources/${encodeURIComponent(key)}`);

/** Formats of `GET /v1/timeline` besides JSON, each a link any client can follow. */
export const EXPORT_FORMATS = ['json', 'ndjson', 'csv', 'ics', 'timelinejs', 'geojson'] as const;
