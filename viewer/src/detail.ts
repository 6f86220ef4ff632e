import * as api from './api.js';
import { formatDate, lang, pick, t, textElement } from './i18n.js';
import { headline } from './lanes.js';
import type { Citation, DatePoint, DateValue, Entry } from './types.js';

const element = <K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string) => {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
};

function section(title: string, ...children: Node[]): HTMLElement {
  const node = element('section');
  node.append(element('h3', title), ...children);
  return node;
}

function dateBlock(date: DateValue): HTMLElement {
  const list = element('dl', undefined, 'date-facts');
  const add = (term: string, value: string) => list.append(element('dt', term), element('dd', value));
  add(t.date, formatDate(date));
  add(t.precision, t.precisions[date.precision] ?? date.precision);
  // each side of an interval has its own precision: "from a day to a month"
  if (date.precision === 'interval') {
    const side = (point: DatePoint | null | undefined, missing: string) =>
      point ? `${formatDate(point)} (${t.precisions[point.precision] ?? point.precision})` : missing;
    add(t.intervalStart, side(date.start, t.openStart));
    add(t.intervalEnd, side(date.end, t.openEnd));
  }
  add('EDTF', date.edtf);
  const qualifiers = [
    date.approximate || date.start?.approximate || date.end?.approximate ? t.approximate : '',
    date.uncertain || date.start?.uncertain || date.end?.uncertain ? t.uncertain : '',
    date.precision === 'interval' && !date.end ? t.openEnd : '',
    date.precision === 'interval' && !date.start ? t.openStart : '',
  ].filter(Boolean);
  if (qualifiers.length > 0) add('', qualifiers.join(', '));
  return list;
}

/** The source text with the cited excerpt marked, from its code-point offsets (or found by its words). */
function highlighted(text: string, citation: Citation): HTMLElement {
  const container = element('blockquote', undefined, 'source-text');
  container.dir = 'auto';
  const points = Array.from(text);
  let start = citation.start;
  let end = citation.end;
  if ((start === null || end === null) && citation.excerpt) {
    const at = text.indexOf(citation.excerpt);
    if (at >= 0) {
      start = Array.from(text.slice(0, at)).length;
      end = start + Array.from(citation.excerpt).length;
    }
  }
  if (start === null || end === null) {
    container.textContent = text;
    return container;
  }
  const mark = element('mark', points.slice(start, end).join(''));
  mark.setAttribute('aria-label', t.excerpt);
  container.append(points.slice(0, start).join(''), mark, points.slice(end).join(''));
  return container;
}

function citationBlock(citation: Citation): HTMLElement {
  const item = element('li');
  const title = pick(citation.source.title).text || citation.source.outlet || citation.source.key;
  const heading = citation.source.url ? element('a', title) : element('span', title);
  if (heading instanceof HTMLAnchorElement) {
    heading.href = citation.source.url!;
    heading.rel = 'noreferrer';
  }
  item.append(heading);
  if (citation.source.outlet && title !== citation.source.outlet) item.append(' — ', element('span', citation.source.outlet));
  if (citation.excerpt) {
    const excerpt = element('q', citation.excerpt, 'excerpt');
    excerpt.dir = 'auto';
    item.append(excerpt);
  }
  const text = element('div', t.loading, 'source-body');
  item.append(text);
  api
    .source(citation.source.key)
    .then((source) => {
      if (source.text) {
        const body = highlighted(source.text, citation);
        if (source.lang) body.lang = source.lang;
        text.replaceChildren(body);
        // the excerpt in view inside the text's own box (its offset parent), without moving the panel or the page
        const mark = body.querySelector('mark');
        if (mark) body.scrollTop = Math.max(0, mark.offsetTop - 24);
      } else text.textContent = t.noText;
    })
    .catch(() => {
      text.textContent = t.error;
    });
  return item;
}

function links(label: string, hrefs: [string, string][]): HTMLElement {
  const paragraph = element('p', `${label} `, 'links');
  hrefs.forEach(([name, href], index) => {
    const link = element('a', name);
    link.href = href;
    paragraph.append(...(index > 0 ? [' · '] : []), link);
  });
  return paragraph;
}

/** The panel for one entry: everything the API says about it, with links to its JSON and this view's exports. */
export function renderDetail(body: HTMLElement, entry: Entry, exportLinks: [string, string][]): void {
  const title = textElement('h2', headline(entry));
  title.id = 'detail-title';
  const kind = element('p', `${entry.kind === 'event' ? t.events : t.statements} · ${entry.type}`, 'detail-kind');
  const parts: Node[] = [title, kind, dateBlock(entry.date)];
  if (entry.kind === 'event') {
    if (entry.description) parts.push(textElement('p', entry.description, 'description'));
    if (entry.actors.length > 0) {
      const list = element('ul');
      for (const { actor, role } of entry.actors) {
        const item = element('li');
        item.append(textElement('span', actor.name), element('span', ` — ${role}`, 'role'));
        list.append(item);
      }
      parts.push(section(t.actors, list));
    }
    if (entry.parent) parts.push(section(t.parent, textElement('p', entry.parent.title)));
  } else {
    const speaker = element('p', undefined, 'speaker');
    speaker.append(textElement('strong', entry.speaker.name));
    const roles = element('ul', undefined, 'speaker-roles');
    for (const role of entry.speaker.roles) {
      const item = element('li');
      item.append(element('span', `${role.role}, `), textElement('span', role.of.name));
      roles.append(item);
    }
    parts.push(section(t.speaker, speaker, ...(entry.speaker.roles.length > 0 ? [element('h4', t.roleAtTime), roles] : [])));
    if (entry.context) parts.push(section(t.context, textElement('p', entry.context.title)));
    if (entry.about.actors.length > 0) {
      const list = element('ul');
      for (const actor of entry.about.actors) list.append(textElement('li', actor.name));
      parts.push(section(t.about, list));
    }
  }
  const places = entry.kind === 'event' ? entry.places : entry.about.places;
  if (places.length > 0) {
    const list = element('ul');
    for (const place of places) list.append(textElement('li', place.name));
    parts.push(section(t.places, list));
  }
  if (entry.sources.length > 0) {
    const list = element('ul', undefined, 'citations');
    for (const citation of entry.sources) list.append(citationBlock(citation));
    parts.push(section(t.sources, list));
  }
  parts.push(links(t.entryLinks, [[t.json, `${api.entryPath(entry)}?lang=${lang}`]]));
  parts.push(links(t.exports, exportLinks));
  body.replaceChildren(...parts);
}
