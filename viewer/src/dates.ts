/** Calendar days as integers (days since 1970-01-01, UTC), which the axis is drawn in. */
const MS_PER_DAY = 86_400_000;

export function dayOf(iso: string): number {
  const [y, m, d] = iso.slice(0, 10).split('-').map(Number) as [number, number, number];
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999
  date.setUTCFullYear(y, (m || 1) - 1, d || 1);
  return Math.round(date.getTime() / MS_PER_DAY);
}

export function isoOf(day: number): string {
  const date = new Date(Math.round(day) * MS_PER_DAY);
  const y = date.getUTCFullYear();
  const year = y < 0 ? `-${String(-y).padStart(4, '0')}` : String(y).padStart(4, '0');
  return `${year}-${String(date.getUTCMonth() + 1).padStart(2, '0')}-${String(date.getUTCDate()).padStart(2, '0')}`;
}

/** A moment (ISO with time) as a fractional day. */
export function momentOf(instant: string): number {
  return new Date(instant).getTime() / MS_PER_DAY;
}

export const yearOf = (day: number) => new Date(day * MS_PER_DAY).getUTCFullYear();
export const monthOf = (day: number) => new Date(day * MS_PER_DAY).getUTCMonth();

/** The first day of the year, month or day after `day`'s, for walking the axis. */
export function nextUnit(day: number, unit: 'year' | 'month' | 'day', step = 1): number {
  const date = new Date(day * MS_PER_DAY);
  if (unit === 'year') date.setUTCFullYear(date.getUTCFullYear() + step, 0, 1);
  else if (unit === 'month') date.setUTCMonth(date.getUTCMonth() + step, 1);
  else date.setUTCDate(date.getUTCDate() + step);
  return Math.round(date.getTime() / MS_PER_DAY);
}

export function startOfUnit(day: number, unit: 'year' | 'month' | 'day', step = 1): number {
  const date = new Date(day * MS_PER_DAY);
  if (unit === 'year') {
    const y = date.getUTCFullYear();
    date.setUTCFullYear(y - (((y % step) + step) % step), 0, 1);
  } else if (unit === 'month') date.setUTCDate(1);
  return Math.round(date.getTime() / MS_PER_DAY);
}

export const dateFromDay = (day: number) => new Date(day * MS_PER_DAY);
