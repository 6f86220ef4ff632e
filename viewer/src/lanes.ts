import { formatDate, pick, t, textElement } from './i18n.js';
import { extentOf, type Scale } from './scale.js';
import type { Entry, StatementEntry } from './types.js';

const ROW_HEIGHT = 30;
const POINT_RADIUS = 6;
const MAX_ROWS = 8;
const LABEL_CHAR_PX = 7;
const LABEL_MAX_PX = 260;
/** Speakers with a lane of their own; the others' statements are in the list below. */
const MAX_SPEAKER_LANES = 12;

export const headline = (entry: Entry) => (entry.kind === 'event' ? entry.title : entry.text);

/** The speaker's role on the statement date, as "role, organisation". */
export function roleText(entry: StatementEntry): string {
  return entry.speaker.roles.map((role) => `${role.role}, ${pick(role.of.name).text}`).join('; ');
}

interface Lane {
  id: string;
  title: string;
  titleLang: string;
  subtitle: string;
  entries: Entry[];
}

/** Events in one lane, statements in one lane per speaker, in the order the speakers first speak. */
function lanesOf(entries: Entry[]): Lane[] {
  const events: Lane = { id: 'events', title: t.events, titleLang: '', subtitle: '', entries: [] };
  const speakers = new Map<string, Lane>();
  for (const entry of entries) {
    if (entry.kind === 'event') {
      events.entries.push(entry);
      continue;
    }
    let lane = speakers.get(entry.speaker.key);
    if (!lane) {
      const name = pick(entry.speaker.name);
      lane = { id: `speaker:${entry.speaker.key}`, title: name.text, titleLang: name.lang, subtitle: roleText(entry), entries: [] };
      speakers.set(entry.speaker.key, lane);
    }
    lane.entries.push(entry);
  }
  // the speakers with most statements in view keep their lanes, in the order they first speak
  const kept = new Set(
    [...speakers.values()]
      .sort((a, b) => b.entries.length - a.entries.length)
      .slice(0, MAX_SPEAKER_LANES)
      .map((lane) => lane.id),
  );
  return [...(events.entries.length > 0 ? [events] : []), ...[...speakers.values()].filter((lane) => kept.has(lane.id))];
}

/** One mark: a dot for a day or a moment, a band as wide as its month, year or interval. */
function mark(entry: Entry, scale: Scale, onOpen: (entry: Entry) => void) {
  const extent = extentOf(entry.date, scale);
  const [bandLeft, bandRight] = scale.span(extent.start, extent.end);
  // a point is a dot centred on its moment, as wide as the dot
  const [left, right] = extent.shape === 'point' ? [bandLeft - POINT_RADIUS, bandLeft + POINT_RADIUS] : [bandLeft, bandRight];
  const date = entry.date;
  const precision = date.precision === 'interval' ? 'interval' : date.precision;
  const approximate = date.approximate || Boolean(date.start?.approximate) || Boolean(date.end?.approximate);
  const uncertain = date.uncertain || Boolean(date.start?.uncertain) || Boolean(date.end?.uncertain);
  const button = document.createElement('button');
  button.type = 'button';
  const classes = ['mark', extent.shape, `kind-${entry.kind}`];
  if (approximate) classes.push('approximate');
  if (uncertain) classes.push('uncertain');
  // fading towards the side the data leaves open, wherever time runs on the page
  if (extent.openEnd) classes.push(scale.rtl ? 'open-left' : 'open-right');
  if (extent.openStart) classes.push(scale.rtl ? 'open-right' : 'open-left');
  button.className = classes.join(' ');
  button.dataset.key = entry.key;
  button.dataset.precision = precision;
  button.dataset.approximate = String(approximate);
  button.dataset.uncertain = String(uncertain);
  const title = pick(headline(entry));
  const when = formatDate(date);
  const qualifiers = [approximate ? t.approximate : '', uncertain ? t.uncertain : '', extent.openEnd ? t.openEnd : ''].filter(Boolean);
  button.setAttribute('aria-label', `${title.text}, ${when}${qualifiers.length ? ` (${qualifiers.join(', ')})` : ''}`);
  button.title = `${when} — ${title.text}`;
  const glyph = document.createElement('span');
  glyph.className = 'glyph';
  if (approximate || uncertain) {
    const sign = document.createElement('span');
    sign.className = 'qualifier';
    sign.textContent = approximate && uncertain ? '~?' : approximate ? '~' : '?';
    sign.setAttribute('aria-hidden', 'true');
    glyph.append(sign);
  }
  const label = textElement('span', headline(entry), 'label');
  button.append(glyph, label);
  button.addEventListener('click', () => onOpen(entry));
  const labelWidth = Math.min(LABEL_MAX_PX, title.text.length * LABEL_CHAR_PX + 12);
  return { button, left: Math.max(left, -POINT_RADIUS), right: Math.min(right, scale.width + POINT_RADIUS), labelWidth };
}

const width = (placed: { left: number; right: number }) => placed.right - placed.left;

/**
 * Marks packed into rows so that no two labels overlap: a label goes on the side time runs
 * to, or the other side near the edge of the window. Past MAX_ROWS a lane says how many more
 * entries it holds (they are in the list below, and the lane shows them when zoomed in).
 */
export function drawLanes(
  container: HTMLElement,
  scale: Scale,
  entries: Entry[],
  onOpen: (entry: Entry) => void,
  loadedUntil: number | null,
): void {
  const fragment = document.createDocumentFragment();
  // a page that is not the last covers the window only up to its last entry: past it the
  // lanes are not empty, just not loaded
  if (loadedUntil !== null && loadedUntil < scale.to) {
    const [left, right] = scale.span(Math.max(loadedUntil, scale.from), scale.to);
    const veil = document.createElement('div');
    veil.className = 'unloaded';
    veil.style.left = `${left}px`;
    veil.style.width = `${right - left}px`;
    veil.textContent = t.unloaded;
    fragment.append(veil);
  }
  for (const lane of lanesOf(entries)) {
    const section = document.createElement('section');
    section.className = 'lane';
    section.dataset.lane = lane.id;
    const heading = document.createElement('h3');
    heading.className = 'lane-title';
    const name = document.createElement('span');
    name.textContent = lane.title;
    if (lane.titleLang) name.lang = lane.titleLang;
    name.dir = 'auto';
    heading.append(name);
    if (lane.subtitle) {
      const role = document.createElement('span');
      role.className = 'lane-role';
      role.textContent = lane.subtitle;
      role.dir = 'auto';
      heading.append(role);
    }
    const track = document.createElement('div');
    track.className = 'lane-track';
    // the shortest marks are placed first, so that days and months keep the top rows and the
    // bands that span the whole window are the ones left out when a lane is full; the marks are
    // then appended in time order, which is the order the keyboard walks them in
    const placedMarks = lane.entries.map((entry) => mark(entry, scale, onOpen));
    const rows: [number, number][][] = [];
    let hidden = 0;
    const shown = new Set<number>();
    const byWidth = placedMarks.map((_, index) => index).sort((a, b) => width(placedMarks[a]!) - width(placedMarks[b]!) || a - b);
    for (const index of byWidth) {
      const placed = placedMarks[index]!;
      const labelAfter = scale.rtl ? placed.left - placed.labelWidth >= 0 : placed.right + placed.labelWidth <= scale.width;
      // the label sits to the right in left-to-right time (or the left in right-to-left), unless
      // it would leave the track; a band wide enough for it holds it
      const labelRight = scale.rtl ? !labelAfter : labelAfter;
      const inside = width(placed) >= placed.labelWidth + 16;
      const occupied: [number, number] = inside
        ? [placed.left, placed.right]
        : labelRight
          ? [placed.left, placed.right + placed.labelWidth]
          : [placed.left - placed.labelWidth, placed.right];
      let row = rows.findIndex((taken) => taken.every(([a, b]) => occupied[1] + 4 <= a || b + 4 <= occupied[0]));
      if (row === -1) {
        if (rows.length >= MAX_ROWS) {
          hidden++;
          continue;
        }
        row = rows.length;
        rows.push([]);
      }
      rows[row]!.push(occupied);
      shown.add(index);
      placed.button.classList.add(inside ? 'label-inside' : labelRight ? 'label-right' : 'label-left');
      placed.button.style.left = `${placed.left}px`;
      placed.button.style.width = `${Math.max(0, placed.right - placed.left)}px`;
      placed.button.style.top = `${row * ROW_HEIGHT}px`;
    }
    placedMarks.forEach((placed, index) => {
      if (shown.has(index)) track.append(placed.button);
    });
    track.style.height = `${Math.max(1, rows.length) * ROW_HEIGHT}px`;
    section.append(heading, track);
    if (hidden > 0) {
      const more = document.createElement('p');
      more.className = 'lane-more';
      more.textContent = t.hiddenInLane(hidden);
      section.append(more);
    }
    fragment.append(section);
  }
  container.replaceChildren(fragment);
  // arrow keys walk the marks of a lane in time order
  container.onkeydown = (event) => {
    const target = event.target;
    if (!(target instanceof HTMLButtonElement) || !target.classList.contains('mark')) return;
    const forward = document.documentElement.dir === 'rtl' ? 'ArrowLeft' : 'ArrowRight';
    const backward = forward === 'ArrowRight' ? 'ArrowLeft' : 'ArrowRight';
    if (event.key !== forward && event.key !== backward && event.key !== 'ArrowUp' && event.key !== 'ArrowDown') return;
    event.preventDefault();
    if (event.key === 'ArrowUp' || event.key === 'ArrowDown') {
      const lanes = [...container.querySelectorAll('.lane')];
      const lane = target.closest('.lane');
      const next = lanes[lanes.indexOf(lane!) + (event.key === 'ArrowDown' ? 1 : -1)];
      next?.querySelector<HTMLButtonElement>('.mark')?.focus();
      return;
    }
    const marks = [...(target.closest('.lane-track')?.querySelectorAll<HTMLButtonElement>('.mark') ?? [])];
    marks[marks.indexOf(target) + (event.key === forward ? 1 : -1)]?.focus();
  };
}
