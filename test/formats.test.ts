// Timeline formats on the seeded app, each read back by a real parser: iCalendar (ical.js),
// CSV (csv-parse), GeoJSON (check-geojson), TimelineJS3 JSON (field by field), NDJSON; and
// format negotiation through `format=` and `Accept`.
import { check, getIssues } from '@placemarkio/check-geojson';
import { parse as parseCsv } from 'csv-parse/sync';
import ICAL from 'ical.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AUTH, buildTestApp, ndjson, type TestApp } from './helpers.js';
import { describeEngines, type Engine } from './support/pg.js';

type Json = Record<string, any>;

const CURATED = 'kazakhstan-january-2022';

/** The documented CSV columns (CSV_DESCRIPTION in the OpenAPI document). */
const CSV_COLUMNS = [
  'kind', 'id', 'key', 'type', 'date', 'precision', 'earliest', 'latest', 'uncertain', 'approximate',
  'title', 'text', 'original_lang', 'speaker', 'actors', 'places', 'tags', 'parent', 'context', 'sources',
];

/** Events the tests add to the seed, each for one thing a format must get right. */
const TEXT_TITLE = 'Commas, semicolons; a backslash \\ and "quotes"\nover two lines';
const QUOTE_TITLE = 'He said "enough"\nand left, "quietly"';
const HTML_TITLE = '<script>alert("x")</script> & <b>bold</b> it\'s';
const LONG_AR =
  'قال أمين عام منظمة الدول التركية بغداد أمرييف، إن استقرار وازدهار كازاخستان جزء لا يتجزأ من رفاهية العالم التركي؛ ' +
  'مشددًا على ضرورة وقوف المنظمة إلى جانب سلطات كازاخستان، وتقديم الدعم المطلق للقيادة الشرعية فيها.\nجاء ذلك في كلمة 🌍 ألقاها.';
const ADDED: Json[] = [
  {
    key: 'event:fmt-month',
    type: 'meeting',
    date: '2022-03',
    title: { en: 'A meeting some time in March 2022', ar: 'اجتماع في مارس 2022' },
    places: ['place:kz-other-cities'],
  },
  { key: 'event:fmt-instant', type: 'meeting', date: '2022-01-05T14:30:00+06:00', title: { en: 'A meeting at 14:30 in Almaty time' }, places: ['place:almaty'] },
  // 02:00 on the 5th in Almaty is 20:00 UTC on the 4th
  { key: 'event:fmt-instant-midnight', type: 'meeting', date: '2022-01-05T02:00:00+06:00', title: { en: 'A meeting at night' } },
  {
    key: 'event:fmt-instant-interval',
    type: 'meeting',
    date: '2022-01-06T10:00:00Z/2022-01-06T12:30:00+01:00',
    title: { en: 'A meeting from 10:00 to 11:30 UTC' },
  },
  {
    key: 'event:fmt-text',
    type: 'statement_issued',
    date: '2022-01-07',
    title: { en: TEXT_TITLE, ar: 'عنوان، بفاصلة؛ وفاصلة منقوطة\nوسطر ثان' },
    description: { en: 'First line; second, third\\fourth\n\nafter a blank line', ar: LONG_AR },
    places: ['place:almaty', 'place:kz'],
  },
  { key: 'event:fmt-quotes', type: 'protest', date: '2022-01-08', title: { en: QUOTE_TITLE, ar: 'قال "كفى"\nوغادر' } },
  { key: 'event:fmt-html', type: 'protest', date: '2022-01-09', title: { en: HTML_TITLE }, description: { en: '<i>x</i> & y' } },
  { key: 'event:fmt-cr', type: 'protest', date: '2022-01-10', title: { en: 'old\rMac line end and a\r\nWindows one\u0007' } },
];
const BULK = 60;

let t: TestApp;

async function get(url: string, headers: Record<string, string> = {}) {
  return t.app.inject({ url, headers });
}

/** Every entry of a timeline query, through the JSON pages. */
async function allEntries(query: string): Promise<Json[]> {
  const entries: Json[] = [];
  let cursor: string | null = null;
  do {
    const res = await get(`/v1/timeline?${query}${query ? '&' : ''}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.statusCode).toBe(200);
    entries.push(...res.json().data);
    cursor = res.json().page.nextCursor;
  } while (cursor);
  return entries;
}

/** Inside a describe block: the seeded app on `engine` with the events above added, for its tests. */
function formatsApp(engine: Engine) {
  beforeAll(async () => {
    t = await buildTestApp({ seed: true, memory: true, engine });
    for (const event of ADDED) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/events', headers: AUTH, payload: event });
      expect(res.statusCode, res.body).toBe(201);
    }
    const bulk = Array.from({ length: BULK }, (_, i) => ({
      kind: 'event',
      key: `event:fmt-bulk-${i}`,
      type: 'protest',
      date: `2023-02-${String((i % 28) + 1).padStart(2, '0')}`,
      title: { en: `Bulk event ${i}`, ar: `حدث ${i}` },
      tags: ['bulk'],
    }));
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/import',
      headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
      payload: ndjson(bulk),
    });
    expect(res.json()).toMatchObject({ created: BULK, refused: 0 });
  });
  afterAll(() => t?.close());
}

/* ------------------------------------------------------------------------------------------ */

describeEngines('format=ics (RFC 5545, read with ical.js)', (engine) => {
  formatsApp(engine);
  let body: string;
  let entries: Json[];
  let vevents: ICAL.Component[];
  const byUid = new Map<string, ICAL.Event>();
  beforeAll(async () => {
    const res = await get('/v1/timeline?format=ics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/calendar; charset=utf-8');
    body = res.body;
    entries = await allEntries('');
    const calendar = new ICAL.Component(ICAL.parse(body));
    expect(calendar.name).toBe('vcalendar');
    expect(calendar.getFirstPropertyValue('version')).toBe('2.0');
    expect(calendar.getFirstPropertyValue('prodid')).toBeTruthy();
    vevents = calendar.getAllSubcomponents('vevent');
    for (const vevent of vevents) {
      const event = new ICAL.Event(vevent);
      byUid.set(event.uid, event);
    }
  });
  const event = (key: string) => {
    const found = byUid.get(`${key}@annals`);
    expect(found, key).toBeDefined();
    return found!;
  };

  it('has one VEVENT per entry, each with a unique UID, DTSTAMP and DTSTART', () => {
    expect(vevents).toHaveLength(entries.length);
    expect(byUid.size).toBe(entries.length);
    for (const vevent of vevents) {
      expect(vevent.getFirstPropertyValue('uid')).toBeTruthy();
      expect(vevent.getFirstPropertyValue('dtstart')).toBeTruthy();
      expect(vevent.getFirstPropertyValue('dtstamp')).toBeTruthy();
    }
    expect(entries.map((e) => `${e.key}@annals`)).toEqual(vevents.map((v) => v.getFirstPropertyValue('uid')));
  });

  it('ends every line with CRLF and folds every line at 75 octets', async () => {
    expect(body.endsWith('END:VCALENDAR\r\n')).toBe(true);
    expect(body).not.toMatch(/[^\r]\n/);
    expect(body).not.toMatch(/\r(?!\n)/);
    const lines = body.split('\r\n').slice(0, -1);
    expect(lines.filter((line) => Buffer.byteLength(line, 'utf8') > 75)).toEqual([]);
    expect(lines.some((line) => line.startsWith(' '))).toBe(true); // folding did happen
    // an Arabic calendar: multi-byte characters are never split by a fold
    const ar = (await get('/v1/timeline?format=ics&lang=ar')).body;
    expect(ar.split('\r\n').filter((line) => Buffer.byteLength(line, 'utf8') > 75)).toEqual([]);
    expect(ar).not.toContain('\uFFFD');
    const calendar = new ICAL.Component(ICAL.parse(ar));
    const text = calendar
      .getAllSubcomponents('vevent')
      .map((v) => new ICAL.Event(v))
      .find((e) => e.uid === 'event:fmt-text@annals')!;
    expect(text.summary).toBe('عنوان، بفاصلة؛ وفاصلة منقوطة\nوسطر ثان');
    expect(text.description.startsWith(`${LONG_AR}\nDate: `)).toBe(true);
  });

  it('makes day, month and year precision all-day events with an exclusive end', () => {
    const month = event('event:fmt-month');
    expect(month.startDate.isDate).toBe(true);
    expect(month.startDate.toString()).toBe('2022-03-01');
    expect(month.endDate.isDate).toBe(true);
    expect(month.endDate.toString()).toBe('2022-04-01');
    expect(body).toContain('DTSTART;VALUE=DATE:20220301\r\nDTEND;VALUE=DATE:20220401\r\n');

    const year = event('event:soviet-union-collapse');
    expect([year.startDate.toString(), year.endDate.toString(), year.startDate.isDate]).toEqual(['1992-01-01', '1993-01-01', true]);
    const day = event('event:kz-protests-2022-01-02');
    expect([day.startDate.toString(), day.endDate.toString()]).toEqual(['2022-01-02', '2022-01-03']);
    const interval = event('event:almaty-riots-2022-01');
    expect([interval.startDate.toString(), interval.endDate.toString()]).toEqual(['2022-01-02', '2022-01-12']);
    const open = event('event:kz-unrest-2022');
    expect([open.startDate.toString(), open.endDate.toString()]).toEqual(['2022-01-02', '2022-01-03']);
  });

  it('writes instants as UTC date-times', () => {
    const instant = event('event:fmt-instant');
    expect(instant.startDate.isDate).toBe(false);
    expect(instant.startDate.zone?.tzid).toBe('UTC');
    expect(instant.startDate.toString()).toBe('2022-01-05T08:30:00Z');
    expect(body).toContain('DTSTART:20220105T083000Z\r\n');
    expect(instant.description).toBe('Date: 5 January 2022, 08:30 UTC');
    const night = event('event:fmt-instant-midnight');
    expect(night.startDate.toString()).toBe('2022-01-04T20:00:00Z');
    expect(night.description).toBe('Date: 4 January 2022, 20:00 UTC');
    const interval = event('event:fmt-instant-interval');
    expect(interval.startDate.toString()).toBe('2022-01-06T10:00:00Z');
    expect(interval.endDate.toString()).toBe('2022-01-06T11:30:00Z');
    expect(interval.endDate.zone?.tzid).toBe('UTC');
    for (const vevent of vevents) expect(String(vevent.getFirstPropertyValue('dtstamp'))).toMatch(/Z$/);
  });

  it('escapes text so that commas, semicolons, backslashes and newlines round-trip', () => {
    const text = event('event:fmt-text');
    expect(text.summary).toBe(TEXT_TITLE);
    expect(text.description.split('\nDate: ')[0]).toBe('First line; second, third\\fourth\n\nafter a blank line');
    expect(text.location).toBe('Almaty; Kazakhstan');
    expect(event('event:fmt-quotes').summary).toBe(QUOTE_TITLE);
    expect(event('event:fmt-html').summary).toBe(HTML_TITLE);
    expect(event('event:soviet-union-collapse').description).toContain('Date: c. 1992');
    // the raw lines hold escaped text only
    expect(body).toContain('SUMMARY:Commas\\, semicolons\\; a backslash \\\\ and "quotes"\\nover two lines\r\n');
  });

  it('turns a bare carriage return into a newline and drops other control characters', () => {
    expect(event('event:fmt-cr').summary).toBe('old\nMac line end and a\nWindows one');
  });

  it('gives every entry its kind and type as categories and keeps the EDTF date', () => {
    for (const entry of entries) {
      const vevent = vevents.find((v) => v.getFirstPropertyValue('uid') === `${entry.key}@annals`)!;
      expect(vevent.getFirstProperty('categories')!.getValues()).toEqual([entry.kind, entry.type]);
      expect(vevent.getFirstPropertyValue('x-annals-date')).toBe(entry.date.edtf);
    }
  });

  it('names a curated timeline calendar after the timeline', async () => {
    const res = await get(`/v1/timelines/${CURATED}?format=ics`);
    expect(res.statusCode).toBe(200);
    const calendar = new ICAL.Component(ICAL.parse(res.body));
    const curated = (await get(`/v1/timelines/${CURATED}`)).json();
    // ical.js does not know X-WR-CALNAME and leaves its TEXT escaped
    const name = String(calendar.getFirstPropertyValue('x-wr-calname')).replace(/\\([\\;,])/g, '$1');
    expect(name).toBe(curated.title.en);
    expect(curated.title.en).toContain(',');
    expect(calendar.getAllSubcomponents('vevent').map((v) => v.getFirstPropertyValue('uid'))).toEqual(
      curated.entries.map((e: Json) => `${e.key}@annals`),
    );
  });
});

/* ------------------------------------------------------------------------------------------ */

describeEngines('format=csv (RFC 4180, read with csv-parse)', (engine) => {
  formatsApp(engine);
  let entries: Json[];
  let rows: string[][];
  beforeAll(async () => {
    const res = await get('/v1/timeline?format=csv');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.body.charCodeAt(0)).not.toBe(0xfeff);
    rows = parseCsv(res.body, {});
    entries = await allEntries('');
  });
  const rowOf = (key: string) => {
    const row = rows.find((r) => r[2] === key);
    expect(row, key).toBeDefined();
    return Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, row![i]])) as Record<string, string>;
  };

  it('has the documented header and one row per entry, in timeline order', () => {
    expect(rows[0]).toEqual(CSV_COLUMNS);
    expect(rows.slice(1)).toHaveLength(entries.length);
    expect(rows.slice(1).map((r) => r[2])).toEqual(entries.map((e) => e.key));
    for (const row of rows) expect(row).toHaveLength(CSV_COLUMNS.length);
  });

  it('fills the columns of events and statements', () => {
    const protest = rowOf('event:kz-protests-2022-01-02');
    const json = entries.find((e) => e.key === 'event:kz-protests-2022-01-02')!;
    expect(protest).toMatchObject({
      kind: 'event',
      id: String(json.id),
      type: 'protest',
      date: '2022-01-02',
      precision: 'day',
      earliest: '2022-01-02',
      latest: '2022-01-02',
      uncertain: 'false',
      approximate: 'false',
      title: json.title.en,
      text: json.description.en,
      places: json.places.map((p: Json) => p.key).join('|'),
      tags: json.tags.join('|'),
      parent: 'event:kz-unrest-2022',
      sources: json.sources.map((c: Json) => c.source.key).join('|'),
    });
    expect(rowOf('event:soviet-union-collapse')).toMatchObject({ precision: 'year', approximate: 'true', earliest: '1992-01-01', latest: '1992-12-31' });
    expect(rowOf('event:kz-unrest-2022')).toMatchObject({ precision: 'interval', earliest: '2022-01-02', latest: '' });
    expect(rowOf('event:kz-state-of-emergency-2022-01-05')).toMatchObject({ precision: 'day', earliest: '2022-01-05', latest: '2022-01-05', uncertain: 'true' });
    const statement = entries.find((e) => e.kind === 'statement')!;
    expect(rowOf(statement.key)).toMatchObject({
      kind: 'statement',
      speaker: statement.speaker.key,
      original_lang: statement.originalLang,
      context: statement.context?.key ?? '',
      actors: statement.about.actors.map((a: Json) => `${a.key}=about`).join('|'),
    });
  });

  it('keeps Arabic text intact with lang=ar', async () => {
    const res = await get('/v1/timeline?format=csv&lang=ar');
    const arRows = parseCsv<Record<string, string>>(res.body, { columns: true });
    const arEntries = await allEntries('lang=ar');
    expect(arRows).toHaveLength(arEntries.length);
    arEntries.forEach((entry, i) => {
      const row = arRows[i]!;
      expect(row.key).toBe(entry.key);
      const title = entry.kind === 'event' ? entry.title : entry.text;
      expect(row.title).toBe(Object.values(title)[0]);
    });
    expect(arRows.find((r) => r.key === 'event:kz-independence')!.title).toBe('استقلال كازاخستان');
    expect(arRows.find((r) => r.key === 'event:fmt-text')!.text).toBe(LONG_AR);
    expect(arRows.find((r) => r.key === 'event:fmt-quotes')!.title).toBe('قال "كفى"\nوغادر');
  });

  it('keeps embedded quotes, commas and newlines intact', () => {
    expect(rowOf('event:fmt-quotes').title).toBe(QUOTE_TITLE);
    expect(rowOf('event:fmt-text').title).toBe(TEXT_TITLE);
    expect(rowOf('event:fmt-text').places).toBe('place:almaty|place:kz');
  });

  it('starts with a byte order mark with bom=true', async () => {
    const res = await get('/v1/timeline?format=csv&bom=true');
    expect([...res.rawPayload.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(res.body.startsWith('\uFEFFkind,id,key,')).toBe(true);
    const withBom = parseCsv(res.body, { bom: true });
    expect(withBom[0]).toEqual(CSV_COLUMNS);
    expect(withBom).toEqual(rows);
  });
});

/* ------------------------------------------------------------------------------------------ */

describeEngines('format=geojson (RFC 7946, checked with check-geojson)', (engine) => {
  formatsApp(engine);
  let collection: Json;
  let entries: Json[];
  let places: Map<string, Json>;
  beforeAll(async () => {
    const res = await get('/v1/timeline?format=geojson');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/geo+json');
    expect(getIssues(res.body)).toEqual([]);
    collection = check(res.body) as Json;
    entries = await allEntries('');
    const list = (await get('/v1/places?limit=500')).json();
    places = new Map(list.data.map((p: Json) => [p.key, p]));
  });

  /** A place's coordinates, or its nearest ancestor's. */
  const coordinates = (key: string): [number, number] | null => {
    for (let place = places.get(key); place; place = place.parent ? places.get(place.parent.key) : undefined) {
      if (place.lat !== null) return [place.lon, place.lat];
    }
    return null;
  };

  it('is a FeatureCollection with a Point or MultiPoint for every entry that has coordinates through its places', () => {
    expect(collection.type).toBe('FeatureCollection');
    const expected = entries.flatMap((entry) => {
      const keys: string[] = (entry.kind === 'event' ? entry.places : entry.about.places).map((p: Json) => p.key);
      const points: [number, number][] = [];
      for (const point of keys.map(coordinates)) {
        if (point && !points.some((p) => p[0] === point[0] && p[1] === point[1])) points.push(point);
      }
      if (points.length === 0) return [];
      return [
        {
          key: entry.key,
          geometry: points.length === 1 ? { type: 'Point', coordinates: points[0] } : { type: 'MultiPoint', coordinates: points },
        },
      ];
    });
    expect(expected.length).toBeGreaterThan(10);
    expect(collection.features.map((f: Json) => ({ key: f.id, geometry: f.geometry }))).toEqual(expected);
    for (const feature of collection.features) {
      expect(feature.type).toBe('Feature');
      expect(feature.properties.key).toBe(feature.id);
      const [lon, lat] = feature.geometry.type === 'Point' ? feature.geometry.coordinates : feature.geometry.coordinates[0];
      expect(Math.abs(lon)).toBeLessThanOrEqual(180);
      expect(Math.abs(lat)).toBeLessThanOrEqual(90);
    }
  });

  it('gives a place without coordinates its parent\'s', () => {
    expect(places.get('place:kz-other-cities')!.lat).toBeNull();
    const kz = places.get('place:kz')!;
    const month = collection.features.find((f: Json) => f.id === 'event:fmt-month');
    expect(month.geometry).toEqual({ type: 'Point', coordinates: [kz.lon, kz.lat] });
    expect(month.properties).toMatchObject({ kind: 'event', key: 'event:fmt-month', date: '2022-03', precision: 'month', earliest: '2022-03-01', latest: '2022-03-31', places: ['place:kz-other-cities'] });
  });

  it('writes several places as a MultiPoint of [lon, lat]', () => {
    const almaty = places.get('place:almaty')!;
    const kz = places.get('place:kz')!;
    const text = collection.features.find((f: Json) => f.id === 'event:fmt-text');
    expect(text.geometry).toEqual({ type: 'MultiPoint', coordinates: [[almaty.lon, almaty.lat], [kz.lon, kz.lat]] });
  });
});

/* ------------------------------------------------------------------------------------------ */

// https://timeline.knightlab.com/docs/json-format.html
const TLJS_DATE_FIELDS = ['year', 'month', 'day', 'hour', 'minute', 'second', 'millisecond', 'display_date', 'format'];
const TLJS_SLIDE_FIELDS = ['start_date', 'end_date', 'text', 'media', 'group', 'display_date', 'background', 'autolink', 'unique_id'];

function expectTimelineJsDate(date: Json, where: string): void {
  expect(typeof date, where).toBe('object');
  for (const field of Object.keys(date)) expect(TLJS_DATE_FIELDS, `${where}.${field}`).toContain(field);
  expect(Number.isInteger(date.year), `${where}.year`).toBe(true);
  const ranges: Record<string, [number, number]> = { month: [1, 12], day: [1, 31], hour: [0, 23], minute: [0, 59], second: [0, 59] };
  for (const [field, [lo, hi]] of Object.entries(ranges)) {
    if (date[field] === undefined) continue;
    expect(Number.isInteger(date[field]), `${where}.${field}`).toBe(true);
    expect(date[field], `${where}.${field}`).toBeGreaterThanOrEqual(lo);
    expect(date[field], `${where}.${field}`).toBeLessThanOrEqual(hi);
  }
  // components are given from the largest down, without gaps
  const present = ['year', 'month', 'day', 'hour', 'minute', 'second'].map((f) => date[f] !== undefined);
  expect(present.indexOf(false) === -1 || present.slice(present.indexOf(false)).every((p) => !p), where).toBe(true);
}

const dateKey = (d: Json) =>
  [d.year, d.month ?? 1, d.day ?? 1, d.hour ?? 0, d.minute ?? 0, d.second ?? 0].map((n: number) => String(n).padStart(4, '0')).join('-');
/** The last moment a TimelineJS date can stand for, as a sortable text (a month ends after its last day). */
const dateEndKey = (d: Json) =>
  [d.year, d.month ?? 12, d.day ?? 31, d.hour ?? 23, d.minute ?? 59, d.second ?? 59].map((n: number) => String(n).padStart(4, '0')).join('-');

function expectTimelineJs(doc: Json): void {
  for (const field of Object.keys(doc)) expect(['events', 'title', 'eras', 'scale']).toContain(field);
  expect(Array.isArray(doc.events)).toBe(true);
  const ids = new Set<string>();
  doc.events.forEach((slide: Json, i: number) => {
    const where = `events[${i}] ${slide.unique_id}`;
    for (const field of Object.keys(slide)) expect(TLJS_SLIDE_FIELDS, `${where}.${field}`).toContain(field);
    expectTimelineJsDate(slide.start_date, `${where}.start_date`);
    if (slide.end_date !== undefined) {
      expectTimelineJsDate(slide.end_date, `${where}.end_date`);
      expect(dateEndKey(slide.end_date) >= dateKey(slide.start_date), `${where}: end before start`).toBe(true);
    }
    expect(Object.keys(slide.text).sort()).toEqual(['headline', 'text']);
    expect(typeof slide.text.headline).toBe('string');
    expect(typeof slide.text.text).toBe('string');
    expect(typeof slide.group).toBe('string');
    expect(typeof slide.display_date).toBe('string');
    expect(typeof slide.unique_id).toBe('string');
    expect(ids.has(slide.unique_id), `${where}: unique_id repeated`).toBe(false);
    ids.add(slide.unique_id);
  });
  if (doc.title !== undefined) {
    for (const field of Object.keys(doc.title)) expect(TLJS_SLIDE_FIELDS).toContain(field);
    expect(typeof doc.title.text.headline).toBe('string');
  }
  expect(Array.isArray(doc.eras ?? [])).toBe(true);
  (doc.eras ?? []).forEach((era: Json, i: number) => {
    const where = `eras[${i}] ${era.text?.headline}`;
    for (const field of Object.keys(era)) expect(['start_date', 'end_date', 'text'], where).toContain(field);
    expectTimelineJsDate(era.start_date, `${where}.start_date`);
    expectTimelineJsDate(era.end_date, `${where}.end_date`);
    expect(dateEndKey(era.end_date) >= dateKey(era.start_date), `${where}: ends before it starts`).toBe(true);
    expect(typeof era.text.headline).toBe('string');
  });
}

describeEngines('format=timelinejs (TimelineJS3 JSON)', (engine) => {
  formatsApp(engine);
  let doc: Json;
  let entries: Json[];
  const slide = (key: string) => {
    const found = doc.events.find((s: Json) => s.unique_id === key);
    expect(found, key).toBeDefined();
    return found;
  };
  beforeAll(async () => {
    const res = await get('/v1/timeline?format=timelinejs');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/vnd.timelinejs+json');
    doc = JSON.parse(res.body);
    entries = await allEntries('');
  });

  it('follows the TimelineJS3 JSON format, one slide per entry', () => {
    expectTimelineJs(doc);
    expect(doc.title).toBeUndefined();
    expect(doc.events.map((s: Json) => s.unique_id)).toEqual(entries.map((e) => e.key));
    for (const entry of entries) expect(slide(entry.key).group).toBe(entry.kind);
  });

  it('keeps the precision: a month has no day, a year no month, an instant its time in UTC', () => {
    expect(slide('event:fmt-month').start_date).toEqual({ year: 2022, month: 3 });
    expect(slide('event:fmt-month').end_date).toBeUndefined();
    expect(slide('event:fmt-month').display_date).toBe('March 2022');
    expect(slide('event:kz-independence').start_date).toEqual({ year: 1992 });
    expect(slide('event:kz-protests-2022-01-02').start_date).toEqual({ year: 2022, month: 1, day: 2 });
    expect(slide('event:fmt-instant').start_date).toEqual({ year: 2022, month: 1, day: 5, hour: 8, minute: 30, second: 0 });
    expect(slide('event:fmt-instant').display_date).toBe('5 January 2022, 08:30 UTC');
    // the day of the display date is the UTC day, like the time beside it and the start_date
    expect(slide('event:fmt-instant-midnight').start_date).toEqual({ year: 2022, month: 1, day: 4, hour: 20, minute: 0, second: 0 });
    expect(slide('event:fmt-instant-midnight').display_date).toBe('4 January 2022, 20:00 UTC');
    expect(slide('event:almaty-riots-2022-01')).toMatchObject({
      start_date: { year: 2022, month: 1, day: 2 },
      end_date: { year: 2022, month: 1, day: 11 },
    });
  });

  it('writes "c. 1992" for the approximate 1992~ events', () => {
    const approximate = entries.filter((e) => e.date.edtf === '1992~');
    expect(approximate).toHaveLength(2);
    for (const entry of approximate) expect(slide(entry.key).display_date).toBe('c. 1992');
  });

  it('escapes HTML in headlines and texts', () => {
    expect(slide('event:fmt-html').text).toEqual({
      headline: '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt; it&#39;s',
      text: '&lt;i&gt;x&lt;/i&gt; &amp; y',
    });
    for (const s of doc.events) expect(s.text.headline).not.toMatch(/<|>/);
  });

  it('shows intervals with both ends as eras', () => {
    const headlines = doc.eras.map((e: Json) => e.text.headline);
    expect(headlines).toContain('Casualties, looting and rioting in Almaty');
    const riots = doc.eras.find((e: Json) => e.text.headline === 'Casualties, looting and rioting in Almaty');
    expect(riots).toEqual({
      start_date: { year: 2022, month: 1, day: 2 },
      end_date: { year: 2022, month: 1, day: 11 },
      text: { headline: 'Casualties, looting and rioting in Almaty' },
    });
  });

  it('gives an open interval no end: a slide from its start, no end_date, no era', async () => {
    // the unrest began on 2 January and the data gives no end; later entries must not lend it one
    expect(slide('event:kz-unrest-2022').start_date).toEqual({ year: 2022, month: 1, day: 2 });
    expect(slide('event:kz-unrest-2022').end_date).toBeUndefined();
    expect(slide('event:kz-unrest-2022').display_date).toBe('from 2 January 2022');
    expect(doc.eras.map((e: Json) => e.text.headline)).not.toContain('2022 Kazakh unrest');
    const res = await get('/v1/timeline?format=timelinejs&type=unrest&type=dissolution');
    const filtered = JSON.parse(res.body);
    expect(filtered.events.map((s: Json) => s.unique_id)).toEqual(['event:soviet-union-collapse', 'event:kz-unrest-2022']);
    expectTimelineJs(filtered);
    expect(filtered.eras).toEqual([]);
  });

  it('groups by type with group=type, and writes one language with lang=ar', async () => {
    const byType = JSON.parse((await get('/v1/timeline?format=timelinejs&group=type')).body);
    expect(byType.events.find((s: Json) => s.unique_id === 'event:kz-protests-2022-01-02').group).toBe('protest');
    const ar = JSON.parse((await get('/v1/timeline?format=timelinejs&lang=ar')).body);
    expectTimelineJs(ar);
    expect(ar.events.find((s: Json) => s.unique_id === 'event:kz-independence').text.headline).toBe('استقلال كازاخستان');
  });

  it('gives a curated timeline a title slide and its entries in curator order', async () => {
    const res = await get(`/v1/timelines/${CURATED}?format=timelinejs`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/vnd.timelinejs+json');
    const curatedDoc = JSON.parse(res.body);
    expectTimelineJs(curatedDoc);
    const curated = (await get(`/v1/timelines/${CURATED}`)).json();
    expect(curatedDoc.title.text.headline).toBe(curated.title.en);
    expect(curatedDoc.title.text.text).toBe(curated.description.en.replace(/'/g, '&#39;'));
    expect(curatedDoc.events.map((s: Json) => s.unique_id)).toEqual(curated.entries.map((e: Json) => e.key));
    expect(curated.entries.length).toBeGreaterThan(10);
    // curator order is not simply the chronological order
    const chronological = (await allEntries('')).map((e) => e.key).filter((k) => curated.entries.some((e: Json) => e.key === k));
    expect(curatedDoc.events.map((s: Json) => s.unique_id)).not.toEqual(chronological);
  });
});

/* ------------------------------------------------------------------------------------------ */

describeEngines('format=ndjson', (engine) => {
  formatsApp(engine);
  it('streams every entry, one JSON object a line, as the JSON pages have them', async () => {
    const res = await get('/v1/timeline?format=ndjson');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-ndjson');
    expect(res.body.endsWith('\n')).toBe(true);
    const lines = res.body.slice(0, -1).split('\n').map((line) => JSON.parse(line));
    const entries = await allEntries('');
    expect(entries.length).toBeGreaterThan(50);
    expect(lines).toEqual(entries);
  });

  it('ignores paging: more than a JSON page, whatever the limit', async () => {
    const page = (await get('/v1/timeline?tag=bulk')).json();
    expect(page.data).toHaveLength(50);
    expect(page.page.nextCursor).not.toBeNull();
    for (const url of ['/v1/timeline?tag=bulk&format=ndjson', '/v1/timeline?tag=bulk&format=ndjson&limit=5']) {
      const res = await get(url);
      const lines = res.body.trim().split('\n').map((line) => JSON.parse(line));
      expect(lines).toHaveLength(BULK);
      expect(new Set(lines.map((e) => e.key)).size).toBe(BULK);
      expect(res.headers.link).toBeUndefined();
    }
  });
});

/* ------------------------------------------------------------------------------------------ */

describeEngines('format negotiation', (engine) => {
  formatsApp(engine);
  const TYPES: Record<string, string> = {
    'application/json': 'application/json; charset=utf-8',
    'application/x-ndjson': 'application/x-ndjson',
    'text/csv': 'text/csv; charset=utf-8',
    'text/calendar': 'text/calendar; charset=utf-8',
    'application/vnd.timelinejs+json': 'application/vnd.timelinejs+json',
    'application/geo+json': 'application/geo+json',
  };

  it.each(Object.entries(TYPES))('Accept: %s gets that format', async (accept, contentType) => {
    const res = await get('/v1/timeline?tag=bulk', { accept });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(contentType);
    expect(res.headers.vary).toMatch(/accept/i);
  });

  it('Accept: text/csv gives CSV', async () => {
    const res = await get('/v1/timeline', { accept: 'text/csv' });
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(parseCsv(res.body, {})[0]).toEqual(CSV_COLUMNS);
    const curated = await get(`/v1/timelines/${CURATED}`, { accept: 'text/csv' });
    expect(curated.headers['content-type']).toBe('text/csv; charset=utf-8');
    const actor = await get('/v1/actors/actor:amreyev/timeline', { accept: 'text/csv' });
    expect(actor.headers['content-type']).toBe('text/csv; charset=utf-8');
  });

  it('weighs preferences and falls back to JSON for */*', async () => {
    expect((await get('/v1/timeline', { accept: 'text/csv;q=0.5, application/json' })).headers['content-type']).toMatch(/^application\/json/);
    expect((await get('/v1/timeline', { accept: 'text/csv, application/json;q=0.5' })).headers['content-type']).toMatch(/^text\/csv/);
    expect((await get('/v1/timeline', { accept: '*/*' })).headers['content-type']).toMatch(/^application\/json/);
    expect((await get('/v1/timeline')).headers['content-type']).toMatch(/^application\/json/);
  });

  it('lets format= win over Accept', async () => {
    const res = await get('/v1/timeline?format=csv', { accept: 'application/json' });
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
  });

  it.each(['/v1/timeline', `/v1/timelines/${CURATED}`, '/v1/places/place:kz/timeline'])(
    'Accept: image/png on %s is a 406 problem listing the supported formats',
    async (url) => {
      const res = await get(url, { accept: 'image/png' });
      expect(res.statusCode).toBe(406);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = res.json();
      expect(problem.status).toBe(406);
      for (const type of Object.keys(TYPES)) expect(problem.detail).toContain(type);
    },
  );

  it('format=xml is a 400 problem naming the supported formats', async () => {
    for (const url of ['/v1/timeline?format=xml', `/v1/timelines/${CURATED}?format=xml`]) {
      const res = await get(url);
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = res.json();
      expect(problem.errors[0]).toMatchObject({ in: 'query', path: '/format' });
      for (const name of ['json', 'ndjson', 'csv', 'ics', 'timelinejs', 'geojson']) expect(problem.detail).toContain(name);
    }
  });
});
