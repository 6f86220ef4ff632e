import type { DatePoint, DateValue, LanguageMap } from './types.js';
import { dateFromDay, dayOf } from './dates.js';

export type Lang = 'en' | 'ar';

const en = {
  title: 'Annals',
  skip: 'Skip to the entries',
  story: 'Curated story',
  api: 'API',
  from: 'From',
  to: 'To',
  actor: 'Actor',
  place: 'Place',
  kind: 'Kind',
  type: 'Type',
  text: 'Text',
  any: 'Any',
  events: 'Events',
  statements: 'Statements',
  apply: 'Apply',
  reset: 'Reset',
  chart: 'Timeline',
  zoom: 'Zoom and pan',
  zoomIn: 'Zoom in',
  zoomOut: 'Zoom out',
  panBack: 'Earlier',
  panForward: 'Later',
  axis: 'Time axis: arrow keys move, + and − zoom',
  histogram: 'Entries over time: drag to choose a window',
  entries: 'Entries in this window',
  more: 'Load more',
  exports: 'This view as',
  close: 'Close',
  loading: 'Loading…',
  none: 'No entries in this window.',
  shown: (n: number, more: boolean) => `${n} entries${more ? ' shown (more: zoom in or load more)' : ''}`,
  hiddenInLane: (n: number) => `+${n} more`,
  unloaded: 'More entries here: zoom in, or load more below',
  date: 'Date',
  intervalStart: 'Starts',
  intervalEnd: 'Ends',
  precision: 'Precision',
  precisions: { year: 'year', month: 'month', day: 'day', instant: 'moment', interval: 'interval' } as Record<string, string>,
  approximate: 'approximate',
  uncertain: 'uncertain',
  openEnd: 'no known end',
  openStart: 'no known start',
  actors: 'Actors',
  speaker: 'Speaker',
  roleAtTime: 'Role at the time',
  places: 'Places',
  sources: 'Sources',
  about: 'About',
  context: 'Context',
  parent: 'Part of',
  json: 'JSON',
  entryLinks: 'This entry as',
  excerpt: 'Cited excerpt',
  noText: 'The source text is not stored.',
  count: 'entries inside a bucket',
  imprecise: 'entries with coarser dates',
  bucket: (label: string, count: number, imprecise: number) => `${label}: ${count} entries, ${imprecise} with coarser dates`,
  circa: 'c.',
  live: 'Updated',
  error: 'The service did not answer',
};

type Strings = typeof en;

const ar: Strings = {
  title: 'الحوليات',
  skip: 'انتقل إلى المدخلات',
  story: 'القصة المنسقة',
  api: 'الواجهة البرمجية',
  from: 'من',
  to: 'إلى',
  actor: 'الفاعل',
  place: 'المكان',
  kind: 'النوع',
  type: 'الصنف',
  text: 'نص',
  any: 'الكل',
  events: 'الأحداث',
  statements: 'التصريحات',
  apply: 'تطبيق',
  reset: 'إعادة ضبط',
  chart: 'الخط الزمني',
  zoom: 'التكبير والتحريك',
  zoomIn: 'تكبير',
  zoomOut: 'تصغير',
  panBack: 'أقدم',
  panForward: 'أحدث',
  axis: 'محور الزمن: الأسهم للتحريك، و+ و− للتكبير والتصغير',
  histogram: 'المدخلات عبر الزمن: اسحب لاختيار فترة',
  entries: 'المدخلات في هذه الفترة',
  more: 'تحميل المزيد',
  exports: 'هذا العرض بصيغة',
  close: 'إغلاق',
  loading: 'جارٍ التحميل…',
  none: 'لا مدخلات في هذه الفترة.',
  shown: (n: number, more: boolean) => `${n.toLocaleString('ar')} مدخلا${more ? ' معروضا (للمزيد: كبّر أو حمّل المزيد)' : ''}`,
  hiddenInLane: (n: number) => `+${n.toLocaleString('ar')} أخرى`,
  unloaded: 'مدخلات أخرى هنا: كبّر، أو حمّل المزيد أدناه',
  date: 'التاريخ',
  intervalStart: 'يبدأ',
  intervalEnd: 'ينتهي',
  precision: 'الدقة',
  precisions: { year: 'سنة', month: 'شهر', day: 'يوم', instant: 'لحظة', interval: 'فترة' },
  approximate: 'تقريبي',
  uncertain: 'غير مؤكد',
  openEnd: 'لا نهاية معروفة',
  openStart: 'لا بداية معروفة',
  actors: 'الفاعلون',
  speaker: 'المتحدث',
  roleAtTime: 'منصبه حينها',
  places: 'الأماكن',
  sources: 'المصادر',
  about: 'عن',
  context: 'السياق',
  parent: 'جزء من',
  json: 'JSON',
  entryLinks: 'هذا المدخل بصيغة',
  excerpt: 'المقتطف المستشهد به',
  noText: 'نص المصدر غير محفوظ.',
  count: 'مدخلات داخل الفترة',
  imprecise: 'مدخلات بتواريخ أقل دقة',
  bucket: (label: string, count: number, imprecise: number) =>
    `${label}: ${count.toLocaleString('ar')} مدخلا، منها ${imprecise.toLocaleString('ar')} بتواريخ أقل دقة`,
  circa: 'حوالي',
  live: 'حُدّث',
  error: 'لم تُجب الخدمة',
};

const strings: Record<Lang, Strings> = { en, ar };

export let lang: Lang = 'en';
export let t: Strings = en;

export function setLang(next: Lang): void {
  lang = next;
  t = strings[next];
  document.documentElement.lang = next;
  document.documentElement.dir = next === 'ar' ? 'rtl' : 'ltr';
  for (const element of document.querySelectorAll<HTMLElement>('[data-i18n]')) {
    const value = t[element.dataset.i18n as keyof Strings];
    if (typeof value === 'string') element.textContent = value;
  }
  for (const element of document.querySelectorAll<HTMLElement>('[data-i18n-label]')) {
    const value = t[element.dataset.i18nLabel as keyof Strings];
    if (typeof value === 'string') {
      element.setAttribute('aria-label', value);
      element.title = value;
    }
  }
  document.title = t.title;
}

/** The text of a language map in the page's language, else English, else any. */
export function pick(map: LanguageMap | null | undefined): { text: string; lang: string } {
  if (!map) return { text: '', lang };
  const chosen = map[lang] !== undefined ? lang : map.en !== undefined ? 'en' : Object.keys(map)[0];
  return chosen === undefined ? { text: '', lang } : { text: map[chosen] ?? '', lang: chosen };
}

/** A text node's element with its own language and direction, so that Arabic is shaped and aligned as Arabic. */
export function textElement(tag: string, map: LanguageMap | null | undefined, className?: string): HTMLElement {
  const { text, lang: textLang } = pick(map);
  const element = document.createElement(tag);
  element.textContent = text;
  element.lang = textLang;
  element.dir = 'auto';
  if (className) element.className = className;
  return element;
}

const locale = () => (lang === 'ar' ? 'ar' : 'en-GB');

export function formatDay(day: number, precision: 'year' | 'month' | 'day'): string {
  const options: Intl.DateTimeFormatOptions =
    precision === 'year'
      ? { year: 'numeric', timeZone: 'UTC' }
      : precision === 'month'
        ? { year: 'numeric', month: 'long', timeZone: 'UTC' }
        : { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' };
  return new Intl.DateTimeFormat(locale(), options).format(dateFromDay(day));
}

export function formatShort(day: number, unit: 'year' | 'month' | 'day'): string {
  const options: Intl.DateTimeFormatOptions =
    unit === 'year' ? { year: 'numeric', timeZone: 'UTC' } : unit === 'month' ? { month: 'short', timeZone: 'UTC' } : { day: 'numeric', timeZone: 'UTC' };
  return new Intl.DateTimeFormat(locale(), options).format(dateFromDay(day));
}

function formatPoint(point: DatePoint | DateValue): string {
  if (point.precision === 'instant' && point.instant) {
    return new Intl.DateTimeFormat(locale(), { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' }).format(new Date(point.instant)) + ' UTC';
  }
  if (point.earliest === null) return '…';
  const precision = point.precision === 'interval' ? 'day' : point.precision === 'instant' ? 'day' : point.precision;
  let text = formatDay(dayOf(point.earliest), precision);
  if (point.approximate) text = `${t.circa} ${text}`;
  if (point.uncertain) text = `${text}${lang === 'ar' ? '؟' : '?'}`;
  return text;
}

/** A date as people read it: "c. 1992", "5 January 2022?", "2 January 2022 – …". */
export function formatDate(date: DateValue | DatePoint): string {
  if (date.precision !== 'interval') return formatPoint(date);
  const start = date.start ? formatPoint(date.start) : '…';
  const end = date.end ? formatPoint(date.end) : '…';
  return `${start} – ${end}`;
}
