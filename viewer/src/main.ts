import * as api from './api.js';
import { drawAxis } from './axis.js';
import { liveFeed, type ChangeFeed } from './changes.js';
import { dayOf, isoOf, momentOf, nextUnit } from './dates.js';
import { renderDetail } from './detail.js';
import { drawHistogram, installBrush, intervalFor } from './histogram.js';
import { formatDate, formatDay, lang, pick, setLang, t, textElement } from './i18n.js';
import { drawLanes, headline, roleText } from './lanes.js';
import { extentOf, Scale } from './scale.js';
import { apiQuery, readState, writeState, type ViewState } from './state.js';
import type { Entry } from './types.js';

const PAGE_SIZE = 200;
const REACHING_PAGE_SIZE = 50;
const MIN_DAYS = 3;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('filters');
const histogramBox = $('histogram');
const axisBox = $('axis');
const lanesBox = $('lanes');
const statusLine = $('status');
const list = $<HTMLOListElement>('entry-list');
const moreButton = $<HTMLButtonElement>('more');
const detail = $('detail');
const detailBody = $('detail-body');

let state: ViewState = readState();
let entries: Entry[] = [];
let nextCursor: string | null = null;
let loading: AbortController | null = null;
let firstRender = true;
const feed: ChangeFeed = liveFeed();

/** The window as days [from, to] inclusive. */
const windowDays = () => ({ from: dayOf(state.from!), to: dayOf(state.to!) });

function scale(): Scale {
  const { from, to } = windowDays();
  return new Scale(from, to + 1, Math.max(200, lanesBox.clientWidth), lang === 'ar');
}

function exportLinks(): [string, string][] {
  return api.EXPORT_FORMATS.map((format) => {
    const query = apiQuery(state);
    if (format !== 'json') query.set('format', format);
    return [format.toUpperCase(), api.timelineUrl(query)];
  });
}

function drawChart(): void {
  if (!state.from || !state.to) return;
  const current = scale();
  drawAxis(axisBox, current);
  const last = entries.at(-1);
  drawLanes(lanesBox, current, entries, openEntry, nextCursor !== null && last ? extentOf(last.date, current).start : null);
  const { from, to } = windowDays();
  $('window-label').textContent = `${formatDay(from, 'day')} – ${formatDay(to, 'day')}`;
}

function drawList(): void {
  const items = entries.map((entry) => {
    const item = document.createElement('li');
    item.dataset.key = entry.key;
    item.className = `entry kind-${entry.kind}`;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'entry-open';
    const when = document.createElement('span');
    when.className = 'entry-date';
    when.textContent = formatDate(entry.date);
    button.append(when, textElement('span', headline(entry), 'entry-title'));
    if (entry.kind === 'statement') {
      const who = document.createElement('span');
      who.className = 'entry-speaker';
      who.append(textElement('span', entry.speaker.name));
      const role = roleText(entry);
      if (role) {
        const roleSpan = document.createElement('span');
        roleSpan.className = 'entry-role';
        roleSpan.textContent = ` — ${role}`;
        who.append(roleSpan);
      }
      button.append(who);
    }
    button.addEventListener('click', () => openEntry(entry));
    item.append(button);
    return item;
  });
  list.replaceChildren(...items);
  moreButton.hidden = nextCursor === null;
  statusLine.textContent = entries.length === 0 ? t.none : t.shown(entries.length, nextCursor !== null);
  const linksBox = $('export-links');
  linksBox.replaceChildren(
    ...exportLinks().flatMap(([name, href], index) => {
      const link = document.createElement('a');
      link.href = href;
      link.textContent = name;
      return index > 0 ? [' · ', link] : [link];
    }),
  );
}

/** The data's extent under the filters, from the histogram's open window: the view when the URL gives none. */
async function ensureWindow(): Promise<void> {
  if (state.from && state.to) return;
  const extent = await api.histogram(apiQuery(state, { window: false, lang: false }), 'year');
  const today = isoOf(Math.floor(Date.now() / 86_400_000));
  state = { ...state, from: state.from ?? extent.from ?? `${today.slice(0, 4)}-01-01`, to: state.to ?? extent.to ?? today };
  writeState(state, 'replace');
}

function insideQuery(): URLSearchParams {
  const query = apiQuery(state);
  query.set('match', 'within');
  return query;
}

/**
 * Where an entry sorts in the API's chronological order: by when it may start, then end (an
 * open side is the earliest or latest there is), then id; an instant at its moment, after the day it falls in begins.
 */
function chronological(entry: Entry): [number, number, number] {
  const { date } = entry;
  if (date.instant) return [momentOf(date.instant), momentOf(date.instant), entry.id];
  return [date.earliest ? dayOf(date.earliest) : -Infinity, date.latest ? dayOf(date.latest) + 1 : Infinity, entry.id];
}

/** Entries of several pages, each once, in the API's chronological order. */
function merged(...pages: Entry[][]): Entry[] {
  const byKey = new Map<string, Entry>();
  for (const page of pages) for (const entry of page) byKey.set(entry.key, entry);
  return [...byKey.values()]
    .map((entry) => ({ entry, at: chronological(entry) }))
    .sort((a, b) => a.at[0] - b.at[0] || a.at[1] - b.at[1] || a.at[2] - b.at[2])
    .map(({ entry }) => entry);
}

/** Fetches the window's first page and its histogram; a newer load aborts an older one. */
async function load(): Promise<void> {
  loading?.abort();
  const controller = new AbortController();
  loading = controller;
  statusLine.textContent = t.loading;
  try {
    await ensureWindow();
    if (controller.signal.aborted) return;
    // before the reads: the feed starts at the log's newest sequence, so what they miss it brings
    feed.watch(apiQuery(state, { lang: false }));
    fillForm();
    drawChart();
    const current = scale();
    // Entries inside the window, a page at a time, and the first few that reach past it: read in
    // one chronological order, the years, months and long intervals that overlap a week would
    // fill a whole page before the week's own days
    const [inside, reaching, counts] = await Promise.all([
      api.timelinePage(insideQuery(), PAGE_SIZE, null, controller.signal),
      api.timelinePage(apiQuery(state), REACHING_PAGE_SIZE, null, controller.signal),
      api.histogram(apiQuery(state, { lang: false }), intervalFor(current), controller.signal),
    ]);
    if (controller.signal.aborted) return;
    entries = merged(reaching.data, inside.data);
    nextCursor = inside.page.nextCursor;
    drawHistogram(histogramBox, scale(), counts);
    drawChart();
    drawList();
    markSelected();
    if (firstRender) {
      firstRender = false;
      performance.mark('annals:first-render');
      performance.measure('annals:first-render', { start: 0, end: 'annals:first-render' });
    }
    document.body.dataset.ready = 'true';
  } catch (error) {
    if (controller.signal.aborted) return;
    statusLine.textContent = `${t.error}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

async function loadMore(): Promise<void> {
  if (!nextCursor) return;
  const page = await api.timelinePage(insideQuery(), PAGE_SIZE, nextCursor);
  entries = merged(entries, page.data);
  nextCursor = page.page.nextCursor;
  drawChart();
  drawList();
}

function update(next: Partial<ViewState>, mode: 'push' | 'replace' = 'push'): void {
  state = { ...state, ...next };
  writeState(state, mode);
  void load();
}

/** Moves the window to [from, to] (inclusive days), at least MIN_DAYS wide. */
function setWindow(from: number, to: number, mode: 'push' | 'replace' = 'push'): void {
  let a = Math.round(from);
  let b = Math.round(to);
  if (b - a + 1 < MIN_DAYS) {
    const middle = Math.round((a + b) / 2);
    a = middle - 1;
    b = middle + 1;
  }
  update({ from: isoOf(a), to: isoOf(b) }, mode);
}

function zoom(factor: number, centerDay?: number): void {
  const { from, to } = windowDays();
  const center = centerDay ?? (from + to) / 2;
  setWindow(center - (center - from) * factor, center + (to - center) * factor);
}

function pan(fraction: number): void {
  const { from, to } = windowDays();
  const shift = Math.round((to - from + 1) * fraction) || Math.sign(fraction);
  setWindow(from + shift, to + shift);
}

function openEntry(entry: Entry, push = true, focus = true): void {
  if (push && state.entry !== entry.key) {
    state = { ...state, entry: entry.key };
    writeState(state, 'push');
  }
  detail.hidden = false;
  renderDetail(detailBody, entry, exportLinks());
  markSelected();
  if (focus) detail.focus();
}

async function openEntryByKey(key: string, focus = true): Promise<void> {
  const known = entries.find((entry) => entry.key === key);
  try {
    openEntry(known ?? (await api.entry(key, lang)), false, focus);
  } catch {
    closeDetail(false);
  }
}

/** The open entry's mark and list item are shown as selected (and say so). */
function markSelected(): void {
  const key = detail.hidden ? '' : state.entry;
  for (const element of document.querySelectorAll<HTMLElement>('.mark[data-key], #entry-list li[data-key]')) {
    const selected = element.dataset.key === key;
    element.classList.toggle('selected', selected);
    const control = element instanceof HTMLButtonElement ? element : element.querySelector('button');
    control?.setAttribute('aria-current', String(selected));
  }
}

function closeDetail(push = true): void {
  detail.hidden = true;
  markSelected();
  if (push && state.entry) update({ entry: '' });
}

function fillForm(): void {
  const fields = form.elements;
  const set = (name: string, value: string) => {
    const field = fields.namedItem(name);
    if (field instanceof HTMLInputElement || field instanceof HTMLSelectElement) field.value = value;
  };
  set('from', state.from ?? '');
  set('to', state.to ?? '');
  set('actor', state.actor);
  set('place', state.place);
  set('kind', state.kind);
  set('type', state.type);
  set('q', state.q);
}

/** A window bound typed as a year or month, widened to its first or last day. */
function boundDay(value: string, side: 'from' | 'to'): string | null {
  const match = /^(-?\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$/.exec(value.trim());
  if (!match) return null;
  const [, year, month, day] = match;
  if (day) return `${year}-${month}-${day}`;
  if (side === 'from') return `${year}-${month ?? '01'}-01`;
  if (month) return isoOf(nextUnit(dayOf(`${year}-${month}-01`), 'month') - 1);
  return `${year}-12-31`;
}

async function fillChoices(): Promise<void> {
  const [actorPage, placePage, timelinePage] = await Promise.all([
    api.actors(lang).catch(() => null),
    api.places(lang).catch(() => null),
    api.timelines(lang).catch(() => null),
  ]);
  const fill = (name: string, records: { key: string; name: Record<string, string> }[]) => {
    const select = form.elements.namedItem(name);
    if (!(select instanceof HTMLSelectElement)) return;
    const options = records.map((record) => {
      const option = document.createElement('option');
      option.value = record.key;
      const label = pick(record.name);
      option.textContent = label.text || record.key;
      option.lang = label.lang;
      return option;
    });
    select.replaceChildren(select.options[0]!, ...options);
  };
  if (actorPage) fill('actor', actorPage.data);
  if (placePage) fill('place', placePage.data);
  const story = timelinePage?.data[0];
  const storyLink = $<HTMLAnchorElement>('story-link');
  if (story) {
    storyLink.href = `/timelines/${encodeURIComponent(story.slug)}${lang === 'ar' ? '?lang=ar' : ''}`;
    storyLink.hidden = false;
  }
  fillForm();
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const text = (name: string) => {
    const value = data.get(name);
    return typeof value === 'string' ? value.trim() : '';
  };
  const from = boundDay(text('from'), 'from') ?? state.from;
  const to = boundDay(text('to'), 'to') ?? state.to;
  update({ from, to, actor: text('actor'), place: text('place'), kind: text('kind'), type: text('type'), q: text('q') });
});
form.addEventListener('change', (event) => {
  if (event.target instanceof HTMLSelectElement) form.requestSubmit();
});
$('reset').addEventListener('click', () => update({ from: null, to: null, actor: '', place: '', kind: '', type: '', q: '', entry: '' }));
$('zoom-in').addEventListener('click', () => zoom(0.5));
$('zoom-out').addEventListener('click', () => zoom(2));
/** How far the left arrow moves the window: back in time, or forward where time runs right to left. */
const leftward = () => (lang === 'ar' ? 0.25 : -0.25);
$('pan-back').addEventListener('click', () => pan(-0.25));
$('pan-forward').addEventListener('click', () => pan(0.25));
moreButton.addEventListener('click', () => void loadMore());
$('detail-close').addEventListener('click', () => closeDetail());
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && !detail.hidden) closeDetail();
});
$('lang-switch').addEventListener('click', () => {
  update({ lang: lang === 'ar' ? 'en' : 'ar' });
  applyLang();
  void fillChoices();
});

axisBox.addEventListener('keydown', (event) => {
  const keys: Record<string, () => void> = {
    ArrowLeft: () => pan(leftward()),
    ArrowRight: () => pan(-leftward()),
    '+': () => zoom(0.5),
    '=': () => zoom(0.5),
    '-': () => zoom(2),
  };
  const action = keys[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
});
// the wheel zooms around the pointer's day
let wheelTimer: number | undefined;
let wheelFactor = 1;
let wheelDay = 0;
for (const box of [axisBox, lanesBox]) {
  box.addEventListener(
    'wheel',
    (event) => {
      if (!event.ctrlKey && Math.abs(event.deltaY) < Math.abs(event.deltaX)) return;
      event.preventDefault();
      wheelFactor *= event.deltaY > 0 ? 1.25 : 0.8;
      wheelDay = scale().day(event.clientX - box.getBoundingClientRect().left);
      window.clearTimeout(wheelTimer);
      wheelTimer = window.setTimeout(() => {
        const factor = wheelFactor;
        wheelFactor = 1;
        zoom(factor, wheelDay);
      }, 120);
    },
    { passive: false },
  );
}
installBrush(histogramBox, scale, (from, to) => setWindow(from, to));
// dragging the axis pans: the days under the pointer follow it, read again when it is let go
let dragFrom: { x: number; scale: Scale } | null = null;
axisBox.addEventListener('pointerdown', (event) => {
  dragFrom = { x: event.clientX, scale: scale() };
  axisBox.setPointerCapture(event.pointerId);
});
axisBox.addEventListener('pointerup', (event) => {
  if (!dragFrom) return;
  const { x, scale: at } = dragFrom;
  dragFrom = null;
  const shift = at.day(x) - at.day(event.clientX);
  if (Math.abs(event.clientX - x) < 4) return;
  const { from, to } = windowDays();
  setWindow(from + shift, to + shift);
});
axisBox.addEventListener('pointercancel', () => {
  dragFrom = null;
});

window.addEventListener('popstate', () => {
  const previousLang = state.lang;
  state = readState();
  if (state.lang !== previousLang) {
    applyLang();
    void fillChoices();
  }
  void load().then(() => (state.entry ? openEntryByKey(state.entry) : closeDetail(false)));
});
let resizeTimer: number | undefined;
window.addEventListener('resize', () => {
  window.clearTimeout(resizeTimer);
  resizeTimer = window.setTimeout(() => void load(), 200);
});

function applyLang(): void {
  setLang(state.lang);
  const switcher = $('lang-switch');
  switcher.textContent = state.lang === 'ar' ? 'English' : 'العربية';
  switcher.lang = state.lang === 'ar' ? 'en' : 'ar';
}

// live: whatever is written that touches the view, it is read again (its window, filters and panel stay)
feed.subscribe(() => {
  void load().then(() => {
    if (!detail.hidden && state.entry) void openEntryByKey(state.entry, false);
  });
});

applyLang();
void fillChoices();
void load().then(() => (state.entry ? openEntryByKey(state.entry) : undefined));
