import { dayOf } from './dates.js';
import { formatDay, t } from './i18n.js';
import type { Scale } from './scale.js';
import type { Histogram } from './types.js';

const SVG = 'http://www.w3.org/2000/svg';
const HEIGHT = 64;

/** A bucket size that gives bars a few pixels wide over the window. */
export function intervalFor(scale: Scale): Histogram['interval'] {
  const perDay = scale.width / scale.days;
  if (perDay >= 4) return 'day';
  if (perDay * 7 >= 4) return 'week';
  if (perDay * 30 >= 4) return 'month';
  return 'year';
}

const svg = <K extends keyof SVGElementTagNameMap>(name: K, attributes: Record<string, string | number>) => {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  return element;
};

/**
 * Bars per bucket: `count` (entries inside the bucket) with `imprecise` (entries that only
 * overlap it) stacked above it, drawn differently, so that coarse dates show as such.
 */
export function drawHistogram(container: HTMLElement, scale: Scale, data: Histogram): void {
  const root = svg('svg', { width: scale.width, height: HEIGHT, viewBox: `0 0 ${scale.width} ${HEIGHT}`, role: 'img' });
  root.setAttribute('aria-label', t.histogram);
  const max = Math.max(1, ...data.buckets.map((b) => b.count + b.imprecise));
  const precision = data.interval === 'year' ? 'year' : data.interval === 'month' ? 'month' : 'day';
  for (const bucket of data.buckets) {
    const [left, right] = scale.span(dayOf(bucket.start), dayOf(bucket.end) + 1);
    const width = Math.max(1, right - left - 1);
    const countHeight = (bucket.count / max) * (HEIGHT - 4);
    const impreciseHeight = (bucket.imprecise / max) * (HEIGHT - 4);
    const group = svg('g', { class: 'bucket' });
    const title = svg('title', {});
    title.textContent = t.bucket(formatDay(dayOf(bucket.start), precision), bucket.count, bucket.imprecise);
    group.append(title);
    if (bucket.count > 0) {
      group.append(svg('rect', { class: 'bar-count', x: left, width, y: HEIGHT - countHeight, height: countHeight }));
    }
    if (bucket.imprecise > 0) {
      group.append(
        svg('rect', { class: 'bar-imprecise', x: left, width, y: HEIGHT - countHeight - impreciseHeight, height: impreciseHeight }),
      );
    }
    root.append(group);
  }
  root.append(svg('rect', { class: 'brush', x: 0, y: 0, width: 0, height: HEIGHT, visibility: 'hidden' }));
  container.replaceChildren(root);
}

/** Dragging over the histogram selects a range of days, handed to `onBrush` when the drag ends. */
export function installBrush(container: HTMLElement, scale: () => Scale, onBrush: (from: number, to: number) => void): void {
  let startX: number | null = null;
  const brush = () => container.querySelector<SVGRectElement>('.brush');
  const localX = (event: PointerEvent) => event.clientX - container.getBoundingClientRect().left;
  container.addEventListener('pointerdown', (event) => {
    startX = localX(event);
    container.setPointerCapture(event.pointerId);
    event.preventDefault();
  });
  container.addEventListener('pointermove', (event) => {
    if (startX === null) return;
    const x = localX(event);
    const rect = brush();
    if (!rect) return;
    rect.setAttribute('visibility', 'visible');
    rect.setAttribute('x', String(Math.min(startX, x)));
    rect.setAttribute('width', String(Math.abs(x - startX)));
  });
  const end = (event: PointerEvent) => {
    if (startX === null) return;
    const x = localX(event);
    const from = startX;
    startX = null;
    brush()?.setAttribute('visibility', 'hidden');
    if (Math.abs(x - from) < 4) return;
    const current = scale();
    const a = current.day(Math.max(0, Math.min(from, x)));
    const b = current.day(Math.min(current.width, Math.max(from, x)));
    onBrush(Math.floor(Math.min(a, b)), Math.ceil(Math.max(a, b)) - 1);
  };
  container.addEventListener('pointerup', end);
  container.addEventListener('pointercancel', () => {
    startX = null;
    brush()?.setAttribute('visibility', 'hidden');
  });
}
