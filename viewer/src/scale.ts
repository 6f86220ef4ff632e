import type { DateValue } from './types.js';
import { dayOf, momentOf } from './dates.js';

/**
 * Days to pixels over the window [from, to) (`to` exclusive). Right to left, later is further
 * left: an Arabic reader's time runs the way the text does.
 */
export class Scale {
  constructor(
    readonly from: number,
    readonly to: number,
    readonly width: number,
    readonly rtl: boolean,
  ) {}

  get days(): number {
    return this.to - this.from;
  }

  x(day: number): number {
    const offset = ((day - this.from) / this.days) * this.width;
    return this.rtl ? this.width - offset : offset;
  }

  day(x: number): number {
    const offset = this.rtl ? this.width - x : x;
    return this.from + (offset / this.width) * this.days;
  }

  /** The physical [left, right] of the days [start, end). */
  span(start: number, end: number): [number, number] {
    const a = this.x(start);
    const b = this.x(end);
    return a < b ? [a, b] : [b, a];
  }
}

/** Where an entry lies in time: a point (a day or a moment) or a band, with its open sides. */
export interface Extent {
  shape: 'point' | 'band';
  start: number;
  end: number;
  openStart: boolean;
  openEnd: boolean;
}

export function extentOf(date: DateValue, window: { from: number; to: number }): Extent {
  if (date.precision === 'instant' && date.instant) {
    const at = momentOf(date.instant);
    return { shape: 'point', start: at, end: at, openStart: false, openEnd: false };
  }
  if (date.precision === 'day' && date.earliest) {
    const at = dayOf(date.earliest) + 0.5;
    return { shape: 'point', start: at, end: at, openStart: false, openEnd: false };
  }
  if (date.precision !== 'interval') {
    return { shape: 'band', start: dayOf(date.earliest!), end: dayOf(date.latest!) + 1, openStart: false, openEnd: false };
  }
  const openStart = !date.start;
  const openEnd = !date.end;
  // an open side runs to the edge of the window (drawn fading): the data gives no bound there
  const start = date.start ? dayOf(date.start.earliest) : Math.min(window.from, date.end ? dayOf(date.end.earliest) : window.from);
  const end = date.end ? dayOf(date.end.latest) + 1 : Math.max(window.to, start + 1);
  return { shape: 'band', start, end, openStart, openEnd };
}
