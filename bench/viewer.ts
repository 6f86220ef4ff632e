/**
 * Time to first render of the viewer on a database, from the browser's performance timeline
 * (the viewer's `annals:first-render` measure: from navigation to its first page of entries
 * and histogram drawn), in Debian's chromium driven by playwright-core.
 *
 *   tsx bench/viewer.ts --db FILE [--from 2010-03-01 --to 2010-03-07] [--runs 5]
 *
 * FILE is any Annals database, such as the benchmark's (bench/data, kept with --keep-data):
 * a copy is not needed, the server only reads it. Each run opens the page in a fresh browser
 * context (nothing cached); the median and every run are printed.
 */
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { startServer, stopAllServers } from '../test/support/server.js';

const { values: args } = parseArgs({
  options: {
    db: { type: 'string' },
    from: { type: 'string', default: '2010-03-01' },
    to: { type: 'string', default: '2010-03-07' },
    runs: { type: 'string', default: '5' },
  },
});
if (!args.db) {
  process.stderr.write('usage: tsx bench/viewer.ts --db FILE [--from DAY --to DAY] [--runs N]\n');
  process.exit(2);
}

const server = await startServer({ databasePath: args.db, env: { ANNALS_SEED: 'off' }, timeoutMs: 120_000 });
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
try {
  const times: number[] = [];
  let shown = '';
  for (let run = 0; run < Number(args.runs); run++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${server.url}/?from=${args.from}&to=${args.to}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    times.push(await page.evaluate(() => performance.getEntriesByName('annals:first-render', 'measure')[0]?.duration ?? -1));
    shown = await page.locator('#status').innerText();
    await context.close();
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  process.stdout.write(
    `first render of ${args.from}..${args.to}: median ${median.toFixed(0)} ms over ${times.length} runs ` +
      `(${times.map((t) => t.toFixed(0)).join(', ')}); the page said "${shown}"\n`,
  );
} finally {
  await browser.close();
  await stopAllServers();
}
