import type { Lang } from './i18n.js';

/** What the page shows, all of it in the URL: a copied link reproduces the view. */
export interface ViewState {
  /** The window, as calendar days (YYYY-MM-DD); null until the data's extent is known. */
  from: string | null;
  to: string | null;
  actor: string;
  place: string;
  kind: string;
  type: string;
  q: string;
  lang: Lang;
  /** The key of the entry in the detail panel. */
  entry: string;
}

const FILTERS = ['actor', 'place', 'kind', 'type', 'q'] as const;

export function readState(search = location.search): ViewState {
  const params = new URLSearchParams(search);
  const day = (value: string | null) => (value && /^-?\d{4}-\d{2}-\d{2}$/.test(value) ? value : null);
  return {
    from: day(params.get('from')),
    to: day(params.get('to')),
    actor: params.get('actor') ?? '',
    place: params.get('place') ?? '',
    kind: params.get('kind') ?? '',
    type: params.get('type') ?? '',
    q: params.get('q') ?? '',
    lang: params.get('lang') === 'ar' ? 'ar' : 'en',
    entry: params.get('entry') ?? '',
  };
}

export function stateSearch(state: ViewState): string {
  const params = new URLSearchParams();
  if (state.from) params.set('from', state.from);
  if (state.to) params.set('to', state.to);
  for (const name of FILTERS) if (state[name]) params.set(name, state[name]);
  if (state.lang !== 'en') params.set('lang', state.lang);
  if (state.entry) params.set('entry', state.entry);
  const text = params.toString();
  return text ? `?${text}` : '';
}

/**
 * The API query of the view's filters (and window, unless left out), the same for every read;
 * `lang` only where the operation takes it (the histogram counts, it has no text).
 */
export function apiQuery(state: ViewState, options: { window?: boolean; lang?: boolean } = {}): URLSearchParams {
  const params = new URLSearchParams();
  if (options.window !== false && state.from) params.set('from', state.from);
  if (options.window !== false && state.to) params.set('to', state.to);
  for (const name of FILTERS) if (state[name]) params.set(name, state[name]);
  if (options.lang !== false) params.set('lang', state.lang);
  return params;
}

/** Writes the state to the URL: a new history entry when asked (back returns to the previous view). */
export function writeState(state: ViewState, mode: 'push' | 'replace'): void {
  const url = `${location.pathname}${stateSearch(state)}`;
  if (url === `${location.pathname}${location.search}`) return;
  if (mode === 'push') history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}
