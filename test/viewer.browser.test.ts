// The viewer in a real browser: Debian's chromium driven by playwright-core against the real
// server on a seeded database. Every page a test opens is watched: it must make no request to
// another host and log no console error (CSP violations and failed loads are console errors).
// Screenshots of the main views go to test/screenshots/ (not committed).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REPO, SERVER_AUTH, startServer, stopAllServers, type ServerProcess } from './support/server.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.join(REPO, 'test/screenshots');
const JSON_AUTH = { ...SERVER_AUTH, 'content-type': 'application/json' };

type Json = any;

interface Watched {
  page: Page;
  foreign: string[];
  errors: string[];
  /** Every request to the API's timeline reads, in order. */
  timelineReads: URL[];
  /** Every change feed the page opened (Server-Sent Events on /v1/changes), in order. */
  feeds: URL[];
}

describe('the viewer in chromium', () => {
  let dir: string;
  let server: ServerProcess;
  let context: BrowserContext;
  const opened: Watched[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'annals-viewer-'));
    mkdirSync(SHOTS, { recursive: true });
    server = await startServer({ databasePath: path.join(dir, 'seed.db'), env: { ANNALS_SEED: 'auto' }, timeoutMs: 60_000 });
    context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
      viewport: { width: 1280, height: 900 },
    });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await stopAllServers();
    rmSync(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    for (const { page, foreign, errors } of opened.splice(0)) {
      await page.close();
      expect(foreign, 'requests to another host').toEqual([]);
      expect(errors, 'console errors').toEqual([]);
    }
  });

  /** Opens a page of the server, watched, and waits until the viewer has drawn its data. */
  async function open(route: string, options: { width?: number; ready?: string } = {}): Promise<Page> {
    const page = await context.newPage();
    const watched: Watched = { page, foreign: [], errors: [], timelineReads: [], feeds: [] };
    opened.push(watched);
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.origin !== server.url && url.protocol !== 'data:') watched.foreign.push(request.url());
      if (url.pathname === '/v1/timeline' && url.searchParams.get('format') === null) watched.timelineReads.push(url);
      if (url.pathname === '/v1/changes' && request.headers()['accept'] === 'text/event-stream') watched.feeds.push(url);
    });
    page.on('console', (message) => {
      if (message.type() === 'error') watched.errors.push(message.text());
    });
    page.on('pageerror', (error) => watched.errors.push(error.message));
    if (options.width) await page.setViewportSize({ width: options.width, height: 800 });
    await page.goto(`${server.url}${route}`);
    await page.waitForSelector(options.ready ?? 'body[data-ready="true"]', { timeout: 15_000 });
    return page;
  }

  const query = (page: Page) => new URL(page.url()).searchParams;
  const watching = (page: Page) => opened.find((watched) => watched.page === page)!;
  const listText = (page: Page, key: string) => page.locator(`#entry-list li[data-key="${key}"]`).innerText();

  it('shows the protests of 2 January and the resignation and state of emergency of 5 January on the seed view', async () => {
    const page = await open('/');
    // the view with no window in its URL is the data's extent, written back to the URL
    expect(query(page).get('from')).toBe('1992-01-01');
    expect(query(page).get('to')).toBe('2022-12-31');
    for (const [key, title, date] of [
      ['event:kz-protests-2022-01-02', 'Protests break out in Kazakhstan over higher gas prices', '2 January 2022'],
      ['event:kz-government-resignation-2022-01-05', 'The government of Kazakhstan announces its resignation', '5 January 2022'],
      ['event:kz-state-of-emergency-2022-01-05', 'State of emergency imposed in Kazakhstan', '5 January 2022?'],
    ] as const) {
      const text = await listText(page, key);
      expect(text).toContain(title);
      expect(text).toContain(date);
      // and drawn on the axis, in the events lane, as a day: a point
      const mark = page.locator(`[data-lane="events"] .mark[data-key="${key}"]`);
      expect(await mark.isVisible()).toBe(true);
      expect(await mark.getAttribute('data-precision')).toBe('day');
      expect(await mark.getAttribute('class')).toContain('point');
    }
    // the state of emergency's date is uncertain (2022-01-05?), and marked so
    expect(await page.locator('.mark[data-key="event:kz-state-of-emergency-2022-01-05"]').getAttribute('data-uncertain')).toBe('true');
    // the open-ended unrest fades towards its open end
    expect(await page.locator('.mark[data-key="event:kz-unrest-2022"]').getAttribute('class')).toContain('open-right');

    const firstRender: number = await page.evaluate(
      () => performance.getEntriesByName('annals:first-render', 'measure')[0]?.duration ?? -1,
    );
    expect(firstRender).toBeGreaterThan(0);
    console.log(`viewer: time to first render of the seed view ${firstRender.toFixed(0)} ms`);
    // the JavaScript the page loads before it draws, gzipped as a server would send it
    const scripts: string[] = await page.evaluate(() =>
      performance.getEntriesByType('resource').filter((r) => r.name.endsWith('.js')).map((r) => new URL(r.name).pathname),
    );
    expect(scripts.length).toBeGreaterThan(0);
    let gzipped = 0;
    for (const script of scripts) gzipped += gzipSync(Buffer.from(await (await fetch(`${server.url}${script}`)).arrayBuffer())).length;
    console.log(`viewer: initial JavaScript ${scripts.length} file(s), ${(gzipped / 1024).toFixed(1)} KB gzipped`);
    expect(gzipped).toBeLessThan(250 * 1024);
    await page.screenshot({ path: path.join(SHOTS, 'seed.png'), fullPage: true });
  });

  it('draws the 1992 independence entry as a year band marked approximate', async () => {
    const page = await open('/?from=1990-01-01&to=1995-12-31');
    const mark = page.locator('.mark[data-key="event:kz-independence"]');
    expect(await mark.getAttribute('data-precision')).toBe('year');
    expect(await mark.getAttribute('data-approximate')).toBe('true');
    const classes = (await mark.getAttribute('class'))!.split(' ');
    expect(classes).toEqual(expect.arrayContaining(['band', 'approximate']));
    expect(await mark.locator('.qualifier').innerText()).toBe('~');
    // a band as wide as 1992 (366 days) out of the window's 2191 days
    const band = (await mark.boundingBox())!;
    const track = (await page.locator('[data-lane="events"] .lane-track').boundingBox())!;
    expect(band.width / track.width).toBeCloseTo(366 / 2191, 2);
    // starting where 1992 starts on the axis
    const year = (await page.locator('.axis-minor .axis-cell', { hasText: '1992' }).boundingBox())!;
    expect(Math.abs(band.x - year.x)).toBeLessThan(2);
    expect(await listText(page, 'event:kz-independence')).toContain('c. 1992');
    await page.screenshot({ path: path.join(SHOTS, 'independence.png') });
  });

  it('lists Amreyev’s statements with his role at the time when filtered to him', async () => {
    const page = await open('/?from=2022-01-01&to=2022-01-31');
    await page.selectOption('select[name="actor"]', 'actor:amreyev');
    await page.waitForURL((url) => url.searchParams.get('actor') === 'actor:amreyev');
    await page.waitForSelector('#entry-list li.kind-statement');
    const expected: Json = await (await fetch(`${server.url}/v1/timeline?actor=actor:amreyev&kind=statement&limit=200`)).json();
    expect(expected.data.length).toBeGreaterThan(10);
    const statements = page.locator('#entry-list li.kind-statement');
    expect(await statements.count()).toBe(expected.data.length);
    const role = expected.data[0].speaker.roles[0];
    const roleText = `${role.role}, ${role.of.name.en}`;
    for (const text of await statements.allInnerTexts()) {
      expect(text).toContain('Baghdad Amreyev');
      expect(text).toContain(roleText);
    }
    // one lane for him, titled with his role
    const lane = page.locator('[data-lane="speaker:actor:amreyev"] .lane-title');
    expect(await lane.innerText()).toContain(roleText);

    // the detail panel: the speaker's role, the cited excerpt marked in the source text, links
    await statements.first().locator('button').click();
    const detail = page.locator('#detail');
    await detail.waitFor({ state: 'visible' });
    expect(await page.locator(`.mark[data-key="${expected.data[0].key}"]`).getAttribute('aria-current')).toBe('true');
    expect(await detail.innerText()).toContain(roleText);
    const entry = expected.data[0];
    const excerpt: string = entry.sources[0].excerpt;
    const mark = detail.locator('.source-text mark');
    await mark.waitFor();
    expect(await mark.innerText()).toBe(excerpt);
    const links = await detail.locator('.links a').evaluateAll((anchors) => anchors.map((a) => (a as HTMLAnchorElement).getAttribute('href')));
    expect(links).toContain(`/v1/statements/${encodeURIComponent(entry.key)}?lang=en`);
    for (const format of ['ndjson', 'csv', 'ics', 'timelinejs', 'geojson']) {
      expect(links.some((href) => href?.includes(`format=${format}`) && href.includes('actor=actor%3Aamreyev'))).toBe(true);
    }
    expect(query(page).get('entry')).toBe(entry.key);
    await page.screenshot({ path: path.join(SHOTS, 'amreyev.png') });
    // back closes the panel and forward opens it again
    await page.goBack();
    await detail.waitFor({ state: 'hidden' });
    await page.goForward();
    await detail.waitFor({ state: 'visible' });
  });

  it('filters by a place with the places under it, kind and text, and a copied link reproduces the view', async () => {
    const page = await open('/?from=2022-01-01&to=2022-01-31');
    const keys = (p: Page) => p.locator('#entry-list li').evaluateAll((items) => items.map((item) => (item as HTMLElement).dataset.key));
    const api = async (search: string) =>
      ((await (await fetch(`${server.url}/v1/timeline?from=2022-01-01&to=2022-01-31&limit=200&${search}`)).json())).data.map(
        (entry: Json) => entry.key,
      );
    await page.selectOption('select[name="place"]', 'place:kz');
    await page.waitForURL((url) => url.searchParams.get('place') === 'place:kz');
    await page.waitForFunction(() => !document.querySelector('#entry-list li[data-key="event:ots-cfm-extraordinary-2022-01-11"]'));
    const inKazakhstan = await keys(page);
    // the riots in Almaty are filed under Almaty, a city of Kazakhstan
    expect(inKazakhstan).toContain('event:almaty-riots-2022-01');
    expect(inKazakhstan).toEqual(await api('place=place%3Akz'));

    await page.selectOption('select[name="kind"]', 'event');
    await page.waitForURL((url) => url.searchParams.get('kind') === 'event');
    await page.fill('input[name="q"]', 'gas');
    await page.press('input[name="q"]', 'Enter');
    await page.waitForURL((url) => url.searchParams.get('q') === 'gas');
    await page.waitForFunction(() => document.querySelectorAll('#entry-list li').length < 5);
    const filtered = await keys(page);
    expect(filtered).toEqual(await api('place=place%3Akz&kind=event&q=gas'));
    expect(filtered).toContain('event:kz-protests-2022-01-02');

    // the same URL in another page shows the same entries, with the form filled in
    const copy = await open(new URL(page.url()).pathname + new URL(page.url()).search);
    expect(await keys(copy)).toEqual(filtered);
    expect(await copy.inputValue('select[name="place"]')).toBe('place:kz');
    expect(await copy.inputValue('input[name="q"]')).toBe('gas');
    // back undoes one filter at a time
    await page.goBack();
    await page.waitForURL((url) => url.searchParams.get('q') === null && url.searchParams.get('kind') === 'event');
    await page.waitForFunction((count) => document.querySelectorAll('#entry-list li').length > count, filtered.length);
  });

  it('lays the page out right to left with lang=ar, Arabic text and time running leftwards', async () => {
    const page = await open('/?from=2021-12-28&to=2022-01-14&lang=ar');
    expect(await page.evaluate(() => [document.documentElement.dir, document.documentElement.lang])).toEqual(['rtl', 'ar']);
    expect(await page.evaluate(() => getComputedStyle(document.body).direction)).toBe('rtl');
    expect(await page.locator('h1').innerText()).toBe('الحوليات');
    const protests = await listText(page, 'event:kz-protests-2022-01-02');
    expect(protests).toContain('اندلاع احتجاجات في كازاخستان بسبب زيادة أسعار الغاز');
    expect(protests).toContain('يناير');
    const earlier = (await page.locator('.mark[data-key="event:kz-protests-2022-01-02"]').boundingBox())!;
    const later = (await page.locator('.mark[data-key="event:kz-government-resignation-2022-01-05"]').boundingBox())!;
    expect(later.x).toBeLessThan(earlier.x);
    // switching back to English is one control away
    await page.click('#lang-switch');
    await page.waitForFunction(() => document.documentElement.dir === 'ltr');
    expect(query(page).get('lang')).toBeNull();
    await page.goBack();
    await page.waitForFunction(() => document.documentElement.dir === 'rtl');
    await page.screenshot({ path: path.join(SHOTS, 'arabic.png'), fullPage: true });
  });

  it('narrows the axis and the URL to the range brushed on the histogram, and back returns', async () => {
    const page = await open('/?from=2021-12-01&to=2022-01-31');
    const before = page.url();
    const box = (await page.locator('#histogram').boundingBox())!;
    // from a third to two thirds of the window
    await page.mouse.move(box.x + box.width / 3, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 4 });
    await page.mouse.move(box.x + (2 * box.width) / 3, box.y + box.height / 2, { steps: 4 });
    await page.mouse.up();
    await page.waitForURL((url) => url.searchParams.get('from') !== '2021-12-01');
    const from = query(page).get('from')!;
    const to = query(page).get('to')!;
    expect(from > '2021-12-01' && to < '2022-01-31' && from < to).toBe(true);
    const days = (Date.parse(to) - Date.parse(from)) / 86_400_000 + 1;
    expect(days).toBeGreaterThan(17);
    expect(days).toBeLessThan(24);
    // the axis shows the new window: its first day cell is the window's first day
    await page.waitForFunction((first) => document.querySelector('#filters input[name="from"]') instanceof HTMLInputElement
      && (document.querySelector('#filters input[name="from"]') as HTMLInputElement).value === first, from);
    expect(await page.locator('.axis-minor .axis-cell').count()).toBe(days);
    // the entries were read again for the new window, a page at a time: never the whole set
    const reads = watching(page).timelineReads.filter((url) => url.searchParams.has('from'));
    expect(reads.some((url) => url.searchParams.get('from') === from && url.searchParams.get('to') === to)).toBe(true);
    for (const url of reads) expect(Number(url.searchParams.get('limit'))).toBeLessThanOrEqual(200);
    await page.goBack();
    await page.waitForURL(before);
    await page.waitForFunction(() => (document.querySelector('#filters input[name="from"]') as HTMLInputElement).value === '2021-12-01');
  });

  it('pans when the axis is dragged, and shows each side of an interval with its precision', async () => {
    const page = await open('/?from=2022-01-01&to=2022-01-20');
    const box = (await page.locator('#axis').boundingBox())!;
    // 20 days over the axis: dragging it leftwards by a quarter brings 5 later days in
    await page.mouse.move(box.x + box.width * 0.6, box.y + 10);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.35, box.y + 10, { steps: 5 });
    await page.mouse.up();
    await page.waitForURL((url) => url.searchParams.get('from') !== '2022-01-01');
    expect([query(page).get('from'), query(page).get('to')]).toEqual(['2022-01-06', '2022-01-25']);

    await page.locator('#entry-list li[data-key="event:almaty-riots-2022-01"] button').click();
    const facts = page.locator('#detail .date-facts');
    await facts.waitFor();
    const text = await facts.innerText();
    expect(text).toContain('interval');
    expect(text).toMatch(/Starts\s+2 January 2022 \(day\)/);
    expect(text).toMatch(/Ends\s+11 January 2022 \(day\)/);
  });

  it('shows an entry written through the API on an open page within 2 s, and removes it when deleted', async () => {
    const page = await open('/?from=2022-01-01&to=2022-01-31');
    const key = 'event:viewer-live-probe';
    const created = await fetch(`${server.url}/v1/events`, {
      method: 'POST',
      headers: JSON_AUTH,
      body: JSON.stringify({ key, type: 'meeting', date: '2022-01-07', title: { en: 'Live probe meeting' } }),
    });
    expect(created.status).toBe(201);
    const start = Date.now();
    await page.locator(`.mark[data-key="${key}"]`).waitFor({ timeout: 2000 });
    const shownAfter = Date.now() - start;
    console.log(`viewer: a created entry appeared after ${shownAfter} ms`);
    expect(shownAfter).toBeLessThan(2000);
    expect(await listText(page, key)).toContain('Live probe meeting');
    // pushed by the changes feed, which follows the view's window
    const feeds = watching(page).feeds;
    expect(feeds.length).toBeGreaterThan(0);
    expect(feeds.at(-1)!.searchParams.get('from')).toBe('2022-01-01');
    expect(feeds.at(-1)!.searchParams.get('to')).toBe('2022-01-31');
    expect(watching(page).timelineReads.filter((url) => !url.searchParams.has('from'))).toEqual([]);

    // a write outside the window is not heard: the page reads nothing again
    await page.waitForTimeout(300);
    const readsBefore = watching(page).timelineReads.length;
    const outside = await fetch(`${server.url}/v1/events`, {
      method: 'POST',
      headers: JSON_AUTH,
      body: JSON.stringify({ key: 'event:viewer-live-elsewhere', type: 'meeting', date: '2023-06-01', title: { en: 'Outside the window' } }),
    });
    expect(outside.status).toBe(201);
    await page.waitForTimeout(800);
    expect(watching(page).timelineReads.length).toBe(readsBefore);

    const patched = await fetch(`${server.url}/v1/events/${key}`, { method: 'PATCH', headers: JSON_AUTH, body: JSON.stringify({ title: { en: 'Live probe renamed' } }) });
    expect(patched.status).toBe(200);
    await page.locator(`#entry-list li[data-key="${key}"]`, { hasText: 'Live probe renamed' }).waitFor({ timeout: 2000 });

    const deleted = await fetch(`${server.url}/v1/events/${key}`, { method: 'DELETE', headers: SERVER_AUTH });
    expect(deleted.status).toBe(204);
    await page.locator(`.mark[data-key="${key}"]`).waitFor({ state: 'detached', timeout: 2000 });
  });

  it('is driven from the keyboard: arrows walk the marks, Enter opens an entry, Escape closes it', async () => {
    const page = await open('/?from=2021-12-28&to=2022-01-14');
    const first = page.locator('[data-lane="events"] .mark').first();
    await first.focus();
    const firstKey = await first.getAttribute('data-key');
    await page.keyboard.press('ArrowRight');
    const focused = await page.evaluate(() => (document.activeElement as HTMLElement).dataset.key);
    expect(focused).not.toBe(firstKey);
    await page.keyboard.press('Enter');
    await page.locator('#detail').waitFor({ state: 'visible' });
    expect(await page.locator('#detail-title').innerText()).not.toBe('');
    await page.keyboard.press('Escape');
    await page.locator('#detail').waitFor({ state: 'hidden' });
    // every control is labelled
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('button, input, select')]
        .filter((control) => !(control as HTMLElement).hidden && (control as HTMLElement).offsetParent !== null)
        .filter((control) => !control.getAttribute('aria-label') && !control.closest('label') && !control.textContent?.trim())
        .map((control) => control.outerHTML),
    );
    expect(unlabelled).toEqual([]);
    // the axis zooms with + from the keyboard
    await page.focus('#axis');
    await page.keyboard.press('+');
    await page.waitForURL((url) => url.searchParams.get('from') !== '2021-12-28');
  });

  it('is usable at a phone’s width: nothing wider than the screen', async () => {
    const page = await open('/?from=2022-01-01&to=2022-01-15', { width: 390 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.locator('#entry-list li button').first().click();
    const panel = (await page.locator('#detail').boundingBox())!;
    expect(panel.width).toBeLessThanOrEqual(390);
    await page.screenshot({ path: path.join(SHOTS, 'phone.png') });
  });

  it('shows a curated timeline as a TimelineJS3 story, served from this host', async () => {
    const page = await open('/timelines/kazakhstan-january-2022', { ready: '.tl-slide' });
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.locator('#story-title').innerText()).toContain('Kazakhstan, January 2022');
    expect(await page.locator('.tl-timeline').count()).toBe(1);
    await page.screenshot({ path: path.join(SHOTS, 'story.png') });
    // in Arabic: TimelineJS3's own Arabic locale, from this host too
    const arabic = await open('/timelines/kazakhstan-january-2022?lang=ar', { ready: '.tl-slide' });
    await arabic.waitForSelector('body[data-ready="true"]');
    expect(await arabic.locator('#story-title').innerText()).toContain('كازاخستان');
    expect(await arabic.evaluate(() => document.documentElement.dir)).toBe('rtl');
    const missing = await fetch(`${server.url}/timelines/no-such-story`);
    expect(missing.status).toBe(404);
  });
});
