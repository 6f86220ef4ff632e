// Issue #13, items 5, 23 and 7: the histogram (and the timeline) at the calendar's edges, years
// 0000 and 9999; the histogram of open-ended entries without a window; and `sort=relevance`
// pages while others write, which must neither skip nor repeat a match, and must end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWindowBound } from '../src/dates/window.js';
import { currentRevision } from '../src/storage/sqlite/settings.js';
import { ensureSearchIndex } from '../src/storage/sqlite/search.js';
import { AUTH, buildTestApp, ndjson, type TestApp } from './helpers.js';
import { bucketFaults, weekday, type Bucket, type Histogram } from './support/histogram.js';
import { sqliteDb } from './support/sqlite.js';

type Json = any;

const windowDay = (value: string, side: 'from' | 'to') => {
  const parsed = parseWindowBound(value, side);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.day;
};

const expectWellFormed = (h: Histogram, where: string) => expect(bucketFaults(h), where).toEqual([]);

async function histogram(t: TestApp, query: string): Promise<{ status: number; body: Json }> {
  const res = await t.app.inject({ url: `/v1/timeline/histogram?${query}` });
  return { status: res.statusCode, body: res.json() };
}

async function createEvents(t: TestApp, events: { key: string; date: string; title?: string; type?: string }[]): Promise<void> {
  for (const e of events) {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: AUTH,
      payload: { key: e.key, type: e.type ?? 'edge', date: e.date, title: { en: e.title ?? e.key } },
    });
    expect(res.statusCode, res.body).toBe(201);
  }
}

describe('the histogram at the calendar edges (years 0000 and 9999)', () => {
  let empty: TestApp;
  let edges: TestApp;
  beforeAll(async () => {
    empty = await buildTestApp({ memory: true });
    edges = await buildTestApp({ memory: true });
    await createEvents(edges, [
      { key: 'event:first-day', date: '0000-01-01' },
      { key: 'event:first-year', date: '0000' },
      { key: 'event:first-week', date: '0000-01-01/0000-01-02' },
      { key: 'event:since-first-day', date: '0000-01-01/..' },
      { key: 'event:until-first-day', date: '../0000-01-01' },
      { key: 'event:last-day', date: '9999-12-31' },
      { key: 'event:last-week', date: '9999-12-27/9999-12-31' },
      { key: 'event:last-month', date: '9999-12' },
      { key: 'event:until-last-day', date: '../9999-12-31' },
      { key: 'event:since-last-day', date: '9999-12-31/..' },
      { key: 'event:last-instant', date: '9999-12-31T23:59:59.999+14:00' },
      { key: 'event:first-instant', date: '0000-01-01T00:00:00-14:00' },
    ]);
  });
  afterAll(async () => {
    await empty.close();
    await edges.close();
  });

  it('answers the reported windows with 200 (to=9999, from=9999-12&to=9999-12, weeks of 0000 and 9999)', async () => {
    // with the edge entries, to=9999 (by month) runs from 0000: the 400 of too many buckets
    for (const t of [empty, edges]) {
      for (const query of [
        'to=9999',
        'from=9999-12&to=9999-12',
        'interval=week&from=0000&to=0000',
        'interval=week&from=9999&to=9999',
        'interval=week&from=0000-01-01&to=0000-01-01',
        'interval=week&from=9999-12-31&to=9999-12-31',
      ]) {
        const { status, body } = await histogram(t, query);
        if (t === edges && query === 'to=9999') {
          expect(status, JSON.stringify(body)).toBe(400);
          expect(body.detail).toMatch(/^more than 10000 month buckets/);
          continue;
        }
        expect(status, `${query}: ${JSON.stringify(body)}`).toBe(200);
        expectWellFormed(body, query);
      }
    }
    expect((await histogram(edges, 'to=9999&interval=year')).status).toBe(200);
    const december = await histogram(empty, 'from=9999-12&to=9999-12');
    expect(december.body.buckets).toEqual([{ start: '9999-12-01', end: '9999-12-31', count: 0, imprecise: 0 }]);
  });

  it('cuts the first week at 0000-01-01 (a Saturday) and the last at 9999-12-31 (a Friday), and counts in them', async () => {
    expect([weekday('0000-01-01'), weekday('9999-12-31')]).toEqual([5, 4]);
    const first = await histogram(edges, 'interval=week&from=0000-01-01&to=0000-01-10');
    expect(first.status).toBe(200);
    expect(first.body.buckets.map((b: Bucket) => [b.start, b.end])).toEqual([
      ['0000-01-01', '0000-01-02'],
      ['0000-01-03', '0000-01-09'],
      ['0000-01-10', '0000-01-16'],
    ]);
    // inside the first, short week: the day, the weekend and the first instant (its date in its own offset)
    expect(first.body.buckets[0]).toMatchObject({ count: 3 });
    // the year and the open-ended intervals (one of them open until 9999-12-31)
    expect(first.body.buckets[0].imprecise).toBe(4);

    const last = await histogram(edges, 'interval=week&from=9999-12-20&to=9999');
    expect(last.status).toBe(200);
    expect(last.body.buckets.map((b: Bucket) => [b.start, b.end])).toEqual([
      ['9999-12-20', '9999-12-26'],
      ['9999-12-27', '9999-12-31'],
    ]);
    // the day, the last week (which fits the short bucket) and the last instant; the month and three open-ended
    expect(last.body.buckets[1]).toMatchObject({ count: 3, imprecise: 4 });
  });

  it('answers 200 (or a 400 for too many buckets) for every interval, precision and match at the edges', async () => {
    // each precision near each edge, paired with bounds near the same edge or an open side (a window
    // from 0000 to 9999 is all buckets and no edge: the 400 of too many, or 10,000 years)
    const low = ['0000', '0000-01', '0000-01-01', '0000-01-02', '0000-02-29', '0000-12-31', '0001', '0001-01-01'];
    const high = ['9998', '9998-12-31', '9999', '9999-01', '9999-12', '9999-12-26', '9999-12-31'];
    const pairs = [
      ['', ''],
      ...[...low, ...high].flatMap((bound) => [['', bound], [bound, '']]),
      ...[low, high].flatMap((side) => side.flatMap((from) => side.map((to) => [from, to]))),
    ].filter(([from, to]) => !from || !to || windowDay(from, 'from') <= windowDay(to, 'to'));
    const problems: string[] = [];
    for (const t of [empty, edges]) {
      for (const interval of ['day', 'week', 'month', 'year']) {
        for (const match of ['overlaps', 'within']) {
          for (const [from, to] of pairs) {
            const params = new URLSearchParams({ interval, match });
            if (from) params.set('from', from);
            if (to) params.set('to', to);
            const query = `${params}`;
            const { status, body } = await histogram(t, query);
            if (status === 400 && /more than 10000/.test(body.detail)) continue;
            if (status !== 200) {
              problems.push(`${query} -> ${status} ${body.detail}`);
              continue;
            }
            problems.push(...bucketFaults(body).map((fault) => `${query}: ${fault}`));
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('refuses instants and impossible days as window bounds with a 400 problem, never a 500', async () => {
    for (const query of [
      'from=0000-01-01T00:00:00-14:00',
      'to=9999-12-31T23:59:59%2B14:00',
      'from=0001-02-29',
      'to=9999-13',
      'to=10000',
      'from=-0001',
    ]) {
      const res = await empty.app.inject({ url: `/v1/timeline/histogram?interval=week&${query}` });
      expect(res.statusCode, `${query}: ${res.body}`).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });

  it('the timeline answers at the edges too, both orders, both matches, page by page', async () => {
    const keys = async (query: string) => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await edges.app.inject({ url: `/v1/timeline?limit=1&${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}` });
        expect(res.statusCode, `${query}: ${res.body}`).toBe(200);
        const page: { data: { key: string }[]; page: { nextCursor: string | null } } = res.json();
        seen.push(...page.data.map((e) => e.key));
        cursor = page.page.nextCursor;
      } while (cursor !== null);
      return seen.sort();
    };
    expect(await keys('from=0000&to=0000-01-01&match=within')).toEqual(
      ['event:first-day', 'event:first-instant'].sort(),
    );
    expect(await keys('from=9999-12-31&order=desc')).toEqual(
      ['event:last-day', 'event:last-instant', 'event:last-month', 'event:last-week', 'event:since-first-day', 'event:since-last-day', 'event:until-last-day'].sort(),
    );
    expect(await keys('to=0000-01-01&order=desc')).toEqual(
      ['event:first-day', 'event:first-instant', 'event:first-week', 'event:first-year', 'event:since-first-day', 'event:until-first-day', 'event:until-last-day'].sort(),
    );
    expect((await keys('from=0000&to=9999')).length).toBe(12);
  });
});

describe('the histogram of open-ended entries', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ memory: true });
  });
  afterAll(() => t.close());

  it('without a window, buckets run from the earliest known bound to the latest, and open-ended entries count in them', async () => {
    await createEvents(t, [
      { key: 'event:since', date: '2022-01-05/..' },
      { key: 'event:until', date: '../2021-11' },
    ]);
    // counted both ways: by kind only (the count tables) and with another filter (the entries)
    for (const filter of ['', '&type=edge']) {
      const { status, body } = await histogram(t, `interval=month${filter}`);
      expect(status).toBe(200);
      expect(body).toEqual({
        interval: 'month',
        from: '2021-11-01',
        to: '2022-01-31',
        buckets: [
          { start: '2021-11-01', end: '2021-11-30', count: 0, imprecise: 1 },
          { start: '2021-12-01', end: '2021-12-31', count: 0, imprecise: 0 },
          { start: '2022-01-01', end: '2022-01-31', count: 0, imprecise: 1 },
        ],
      });
    }
    // a single open-ended entry: the bucket of its known bound
    const since = await histogram(t, 'interval=year&match=within&from=2022');
    expect(since.body).toEqual({
      interval: 'year',
      from: '2022-01-01',
      to: '2022-12-31',
      buckets: [{ start: '2022-01-01', end: '2022-12-31', count: 0, imprecise: 1 }],
    });
    const until = await histogram(t, 'interval=year&to=2021');
    expect(until.body.buckets).toEqual([{ start: '2021-01-01', end: '2021-12-31', count: 0, imprecise: 1 }]);
  });

  it('an open-ended entry whose known bound lies beyond every closed entry still shows', async () => {
    await createEvents(t, [{ key: 'event:closed', date: '2021-12-10' }, { key: 'event:later', date: '2023-03-01/..' }]);
    const { status, body } = await histogram(t, 'interval=year');
    expect(status).toBe(200);
    expect(body.from).toBe('2021-01-01');
    expect(body.to).toBe('2023-12-31');
    expect(body.buckets).toEqual([
      { start: '2021-01-01', end: '2021-12-31', count: 1, imprecise: 1 },
      { start: '2022-01-01', end: '2022-12-31', count: 0, imprecise: 1 },
      { start: '2023-01-01', end: '2023-12-31', count: 0, imprecise: 2 },
    ]);
    // a window open at its end takes its end from the data the same way
    const from = await histogram(t, 'interval=year&from=2022&type=edge');
    expect(from.body.buckets.map((b: Bucket) => [b.start, b.count, b.imprecise])).toEqual([
      ['2022-01-01', 0, 1],
      ['2023-01-01', 0, 2],
    ]);
  });

  it('no match and no window: no buckets', async () => {
    const { status, body } = await histogram(t, 'type=nothing');
    expect(status).toBe(200);
    expect(body).toEqual({ interval: 'month', from: null, to: null, buckets: [] });
  });
});

describe('sort=relevance pages while others write', () => {
  const MATCHES = 3000;
  let t: TestApp;
  let all: string[];

  type Page = { data: { key: string }[]; page: { nextCursor: string | null } };
  const page = async (cursor: string | null, limit = 50) =>
    t.app.inject({ url: `/v1/timeline?q=needle&sort=relevance&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}` });
  let written = 0;
  const write = async (title: string) => {
    written++;
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: AUTH,
      payload: { key: `event:written-${written}`, type: 'write', date: '2022-02-01', title: { en: title } },
    });
    expect(res.statusCode, res.body).toBe(201);
  };

  /**
   * Follows nextCursor to the end with `between` run before each next page, starting again on a
   * 410: the keys of the pass that ended, how many passes there were, and how many pages in all.
   */
  async function follow(between: () => Promise<void>, limit = 50) {
    let passes = 0;
    let pages = 0;
    for (;;) {
      passes++;
      const keys: string[] = [];
      let cursor: string | null = null;
      let expired = false;
      do {
        if (cursor !== null) await between();
        const res = await page(cursor, limit);
        pages++;
        if (pages > 4 * (MATCHES / limit) + 20) throw new Error(`still paging after ${pages} pages`);
        if (res.statusCode === 410) {
          expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
          expect(res.json()).toMatchObject({ status: 410, code: 'cursor-expired' });
          expired = true;
          break;
        }
        expect(res.statusCode, res.body).toBe(200);
        const body = res.json<Page>();
        keys.push(...body.data.map((e) => e.key));
        cursor = body.page.nextCursor;
      } while (cursor !== null);
      if (!expired) return { keys, passes, pages };
      if (passes >= 5) throw new Error('expired 5 times in a row');
    }
  }

  beforeAll(async () => {
    t = await buildTestApp({ memory: true });
    // titles of one length, the word once or twice: writes elsewhere change every score, not this order
    const lines = Array.from({ length: MATCHES }, (_, i) => ({
      kind: 'event',
      key: `event:match-${i}`,
      type: 'match',
      date: `2022-01-${String((i % 28) + 1).padStart(2, '0')}`,
      title: { en: i % 3 === 0 ? 'needle needle thread' : 'needle thread cloth' },
    }));
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/import',
      headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
      payload: ndjson(lines),
    });
    expect(res.statusCode, res.body.slice(0, 500)).toBe(200);
    all = lines.map((l) => l.key).sort();
  }, 60_000);
  afterAll(() => t.close());

  /** No key twice, and the imported matches all there (with the needles written by earlier tests, if any). */
  const expectEachOnce = (keys: string[]) => {
    expect(keys.length).toBe(new Set(keys).size);
    expect(keys.filter((key) => key.startsWith('event:match-')).sort()).toEqual(all);
  };

  it('an unrelated write between pages skips nothing and repeats nothing', async () => {
    const { keys, passes } = await follow(() => write('unrelated words of another story'));
    expectEachOnce(keys);
    expect(passes).toBe(1);
  });

  it('under a matching write before every page, the pages end, each match of the first page’s data once', async () => {
    const { keys, passes } = await follow(() => write('a needle of a new story'));
    expectEachOnce(keys);
    // the needles written while it paged are not part of these pages
    expect(keys.filter((key) => !key.startsWith('event:match-'))).toEqual([]);
    expect(passes).toBe(1);
  });

  it('a cursor whose pages no longer rank first answers 410 cursor-expired (a returned entry deleted)', async () => {
    const first = (await page(null, 10)).json<Page>();
    const del = await t.app.inject({ method: 'DELETE', url: `/v1/events/${first.data[0]!.key}`, headers: AUTH });
    expect(del.statusCode).toBe(204);
    const res = await page(first.page.nextCursor, 10);
    expect(res.statusCode, res.body).toBe(410);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 410, code: 'cursor-expired', errors: [{ in: 'query', path: '/cursor' }] });
    expect(res.json().detail).toMatch(/restart from the first page/);
    all = all.filter((key) => key !== first.data[0]!.key);
  });

  it('an edit that moves an entry not yet returned above the cursor answers 410 rather than skipping it', async () => {
    const first = (await page(null, 10)).json<Page>();
    const keys = new Set(first.data.map((e) => e.key));
    const unseen = all.find((key) => !keys.has(key) && Number(key.split('-')[1]) % 3 !== 0)!;
    const edit = await t.app.inject({
      method: 'PATCH',
      url: `/v1/events/${unseen}`,
      headers: AUTH,
      payload: { title: { en: 'needle needle needle' } },
    });
    expect(edit.statusCode, edit.body).toBe(200);
    const res = await page(first.page.nextCursor, 10);
    expect(res.statusCode, res.body).toBe(410);
    // started again, the edited entry comes first
    expect((await page(null, 1)).json<Page>().data[0]!.key).toBe(unseen);
  });

  it('a cursor still continues exactly when nothing was written', async () => {
    const { keys, passes } = await follow(async () => {});
    expectEachOnce(keys);
    expect(passes).toBe(1);
  });

  it('a relevance export (NDJSON) holds every match once while others write during the stream', async () => {
    let streaming = true;
    const exported = t.app.inject({ url: '/v1/timeline?q=needle&sort=relevance&format=ndjson' }).finally(() => {
      streaming = false;
    });
    let writes = 0;
    while (streaming && writes < 200) {
      await write('unrelated words of another story');
      writes++;
    }
    const res = await exported;
    expect(res.statusCode).toBe(200);
    expect(writes).toBeGreaterThan(0);
    const keys = res.body
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { key: string }).key)
      .filter((key) => key.startsWith('event:match-'));
    expectEachOnce(keys);
  });

  it('rebuilding the search index bumps the data revision (its answers and cursors change with it)', () => {
    const db = sqliteDb(t.app);
    const before = Number(currentRevision(db));
    db.$client.prepare("UPDATE settings SET value = 'old' WHERE name = 'search_index_version'").run();
    expect(ensureSearchIndex(db)).toBe(true);
    expect(Number(currentRevision(db))).toBe(before + 1);
  });
});
