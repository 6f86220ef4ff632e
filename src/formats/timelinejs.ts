import { Readable } from 'node:stream';
import type { EntryDto } from '../storage/types.js';
import { bodyText, displayDate, headline } from './text.js';

export const TIMELINEJS_DESCRIPTION =
  'TimelineJS3 JSON (https://timeline.knightlab.com/docs/json-format.html). `start_date`/`end_date` keep the ' +
  'precision (a month has no `day`), `display_date` is written from the precision and qualifiers ("c. 1992", ' +
  '"January 2022?") in the `lang` asked for (month names and digits of that language, e.g. "حوالي 1992" and ' +
  '"يناير 2022؟" with `lang=ar`), text is HTML-escaped, `unique_id` is the entry key, `group` is the kind (or the ' +
  'type with `group=type`), labelled in the `lang` asked for where a label is known, and intervals with both ends ' +
  'also appear as `eras`. An interval with an open end has no `end_date` (and no era): the data gives no end.';

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

const ARABIC_KINDS: Record<string, string> = { event: 'حدث', statement: 'تصريح' };

/** Arabic names of the types in the documented vocabulary; other types keep their own name. */
const ARABIC_TYPES: Record<string, string> = {
  protest: 'احتجاج',
  riot: 'أعمال شغب',
  unrest: 'اضطرابات',
  government_resignation: 'استقالة حكومة',
  state_of_emergency: 'حالة طوارئ',
  meeting: 'اجتماع',
  armed_clash: 'اشتباك مسلح',
  statement_issued: 'إصدار بيان',
  dissolution: 'تفكك دولة',
  independence: 'استقلال',
  election: 'انتخابات',
  agreement: 'اتفاق',
  seizure: 'استيلاء',
  quote: 'اقتباس مباشر',
  paraphrase: 'كلام منقول بتصرف',
  written: 'بيان مكتوب',
};

/**
 * The label of a slide's group in `lang`. English labels are the kind or type as stored (what
 * clients have always been given); a label with no translation here stays as stored.
 */
function groupLabel(entry: EntryDto, lang: string | undefined, group: 'kind' | 'type'): string {
  const value = group === 'kind' ? entry.kind : entry.type;
  if (lang?.toLowerCase().split('-')[0] !== 'ar') return value;
  return (group === 'kind' ? ARABIC_KINDS : ARABIC_TYPES)[value] ?? value;
}

function slide(entry: EntryDto, lang: string | undefined, group: 'kind' | 'type') {
  const date = entry.date;
  const startPoint = date.precision === 'interval' ? (date.start ?? date.end!) : date;
  const endPoint = date.precision === 'interval' && date.start ? date.end : null;
  return {
    start_date: timelineJsDate(startPoint, 'start'),
    ...(endPoint ? { end_date: timelineJsDate(endPoint, 'end') } : {}),
    text: { headline: escapeHtml(headline(entry, lang)), text: escapeHtml(bodyText(entry, lang)) },
    group: groupLabel(entry, lang, group),
    display_date: displayDate(date, lang),
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
    let first = true;
    for await (const page of pages) {
      const parts: string[] = [];
      for (const entry of page) {
        parts.push(`${first ? '' : ','}${JSON.stringify(slide(entry, options.lang, options.group))}`);
        first = false;
        const { date } = entry;
        // TimelineJS3 refuses an era without an end, and an open end is not a date the data gives:
        // an open interval is only its slide, drawn from its start
        if (date.precision === 'interval' && date.start && date.end) {
          eras.push({
            start_date: timelineJsDate(date.start, 'start'),
            end_date: timelineJsDate(date.end, 'end'),
            text: { headline: escapeHtml(headline(entry, options.lang)) },
          });
        }
      }
      yield parts.join('');
    }
    yield `],"eras":${JSON.stringify(eras)}}`;
  }
  return Readable.from(generate(), { objectMode: false });
}
