import { Readable } from 'node:stream';
import type { EntryDto } from '../repositories/entries.js';
import { bodyText, displayDate, headline } from './text.js';

export const TIMELINEJS_DESCRIPTION =
  'TimelineJS3 JSON (https://timeline.knightlab.com/docs/json-format.html). `start_date`/`end_date` keep the ' +
  'precision (a month has no `day`), `display_date` is written from the precision and qualifiers ("c. 1992", ' +
  '"January 2022?"), text is HTML-escaped, `unique_id` is the entry key, `group` is the kind (or the type with ' +
  '`group=type`), and intervals also appear as `eras`.';

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

interface TimelineJsDate {
  year: number;
  month?: number;
  day?: number;
  hour?: number;
  minute?: number;
  second?: number;
  display_date?: string;
}

interface Point {
  precision: string;
  earliest: string | null;
  latest: string | null;
  instant?: string | undefined;
}

/** A TimelineJS date with exactly the components the precision has. */
export function timelineJsDate(point: Point, side: 'start' | 'end' = 'start'): TimelineJsDate {
  if (point.precision === 'instant' && point.instant) {
    const [date, time] = point.instant.split('T') as [string, string];
    const [y, m, d] = date.split('-').map(Number) as [number, number, number];
    const [hh, mm, ss] = time.slice(0, 8).split(':').map(Number) as [number, number, number];
    return { year: y, month: m, day: d, hour: hh, minute: mm, second: ss };
  }
  const iso = (side === 'start' ? point.earliest : point.latest) ?? point.earliest ?? point.latest!;
  const [y, m, d] = iso.split('-').map(Number) as [number, number, number];
  if (point.precision === 'year') return { year: y };
  if (point.precision === 'month') return { year: y, month: m };
  return { year: y, month: m, day: d };
}

function slide(entry: EntryDto, lang: string | undefined, group: 'kind' | 'type') {
  const date = entry.date;
  const startPoint = date.precision === 'interval' ? (date.start ?? date.end!) : date;
  const endPoint = date.precision === 'interval' && date.start ? date.end : null;
  return {
    start_date: timelineJsDate(startPoint, 'start'),
    ...(endPoint ? { end_date: timelineJsDate(endPoint, 'end') } : {}),
    text: { headline: escapeHtml(headline(entry, lang)), text: escapeHtml(bodyText(entry, lang)) },
    group: group === 'kind' ? entry.kind : entry.type,
    display_date: displayDate(date),
    unique_id: entry.key,
  };
}

export function timelineJsStream(
  pages: AsyncIterable<EntryDto[]>,
  options: { lang?: string | undefined; group: 'kind' | 'type'; title?: { headline: string; text: string } | undefined },
): Readable {
  async function* generate() {
    yield '{';
    if (options.title) {
      yield `"title":${JSON.stringify({ text: { headline: escapeHtml(options.title.headline), text: escapeHtml(options.title.text) } })},`;
    }
    yield '"events":[';
    const eras: object[] = [];
    let lastDay: string | null = null;
    let first = true;
    for await (const page of pages) {
      const parts: string[] = [];
      for (const entry of page) {
        parts.push(`${first ? '' : ','}${JSON.stringify(slide(entry, options.lang, options.group))}`);
        first = false;
        const { date } = entry;
        if (date.latest && (lastDay === null || date.latest > lastDay)) lastDay = date.latest;
        if (date.precision === 'interval' && date.start) {
          eras.push({ entry, start: date.start, end: date.end });
        }
      }
      yield parts.join('');
    }
    // an era needs an end: an open one runs to the last day the timeline shows, or to the end of
    // its start when nothing shown comes later (never ending before it starts)
    const openEnd = (start: Point) => (lastDay !== null && (start.latest === null || lastDay > start.latest) ? lastDay : start.latest);
    const eraJson = (eras as { entry: EntryDto; start: Point; end: Point | null }[]).map(({ entry, start, end }) => ({
      start_date: timelineJsDate(start, 'start'),
      end_date: end
        ? timelineJsDate(end, 'end')
        : timelineJsDate({ precision: 'day', earliest: openEnd(start), latest: openEnd(start) }),
      text: { headline: escapeHtml(headline(entry, options.lang)) },
    }));
    yield `],"eras":${JSON.stringify(eraJson)}}`;
  }
  return Readable.from(generate(), { objectMode: false });
}
