import { nextUnit, startOfUnit } from './dates.js';
import { formatShort } from './i18n.js';
import type { Scale } from './scale.js';

type Unit = 'year' | 'month' | 'day';

interface Level {
  unit: Unit;
  step: number;
}

const YEAR_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

/** The finest ticks that leave room for their labels, and the bands above them. */
function levels(scale: Scale): { minor: Level; major: Level | null } {
  const perDay = scale.width / scale.days;
  if (perDay >= 18) return { minor: { unit: 'day', step: 1 }, major: { unit: 'month', step: 1 } };
  if (perDay * 30 >= 34) return { minor: { unit: 'month', step: 1 }, major: { unit: 'year', step: 1 } };
  const step = YEAR_STEPS.find((s) => perDay * 365 * s >= 44) ?? 1000;
  return { minor: { unit: 'year', step }, major: null };
}

function walk(scale: Scale, level: Level, visit: (start: number, end: number) => void) {
  let day = startOfUnit(Math.floor(scale.from), level.unit, level.step);
  for (let guard = 0; day < scale.to && guard < 2000; guard++) {
    const next = nextUnit(day, level.unit, level.step);
    visit(day, next);
    day = next;
  }
}

/** The time axis: a row of bands (months or years) over a row of ticks. */
export function drawAxis(container: HTMLElement, scale: Scale): void {
  const { minor, major } = levels(scale);
  const fragment = document.createDocumentFragment();
  const row = (className: string, level: Level, label: (day: number) => string) => {
    const element = document.createElement('div');
    element.className = `axis-row ${className}`;
    walk(scale, level, (start, end) => {
      const [left, right] = scale.span(Math.max(start, scale.from), Math.min(end, scale.to));
      const cell = document.createElement('div');
      cell.className = 'axis-cell';
      cell.style.left = `${left}px`;
      cell.style.width = `${Math.max(0, right - left)}px`;
      cell.textContent = label(start);
      cell.dataset.start = String(start);
      element.append(cell);
    });
    fragment.append(element);
  };
  if (major) row('axis-major', major, (day) => formatShort(day, major.unit === 'month' ? 'month' : 'year') + (major.unit === 'month' ? ` ${formatShort(day, 'year')}` : ''));
  row('axis-minor', minor, (day) => formatShort(day, minor.unit));
  container.replaceChildren(fragment);
  container.dataset.unit = minor.unit;
}
