// The live change feed over real HTTP, on two server processes sharing one database (a file, or
// a PostgreSQL database): a
// subscriber of one server, filtered to a window, hears a write made through the other within a
// second and not one outside the window; after a dropped connection it resumes from
// Last-Event-ID with nothing missed or repeated; a shutdown ends its stream cleanly.
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { describeEngines, freshPgDatabase, type PgDatabase } from './support/pg.js';
import { SERVER_AUTH, startServer, type ServerProcess } from './support/server.js';

interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: any;
}

/** A minimal EventSource: the events as they arrive, and the comments (heartbeats). */
function subscribe(url: string, headers: Record<string, string> = {}) {
  const events: SseEvent[] = [];
  const waiters = new Set<() => void>();
  let response: IncomingMessage | undefined;
  let ended = false;
  const req: ClientRequest = httpRequest(url, { headers: { accept: 'text/event-stream', ...headers } });
  const opened = new Promise<IncomingMessage>((resolve, reject) => {
    req.on('response', (res) => {
      response = res;
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = new Map<string, string>();
          for (const line of block.split('\n')) {
            if (line.startsWith(':') || line === '') continue;
            const colon = line.indexOf(':');
            fields.set(line.slice(0, colon), line.slice(colon + 1).replace(/^ /, ''));
          }
          if (fields.has('data')) events.push({ id: fields.get('id'), event: fields.get('event'), data: JSON.parse(fields.get('data')!) });
          end = buffer.indexOf('\n\n');
        }
        for (const w of [...waiters]) w();
      });
      res.on('end', () => {
        ended = true;
        for (const w of [...waiters]) w();
      });
      resolve(res);
    });
    req.on('error', reject);
  });
  req.end();
  return {
    events,
    opened,
    get ended() {
      return ended;
    },
    get response() {
      return response;
    },
    /** Resolves once `n` events have arrived; rejects after `timeoutMs`. */
    waitFor(n: number, timeoutMs: number) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (events.length >= n) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`only ${events.length} of ${n} events within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    waitForEnd(timeoutMs: number) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (ended) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => reject(new Error('the stream did not end')), timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close() {
      req.destroy();
    },
  };
}

describeEngines('live changes across two servers', (engine) => {
  let dir: string | undefined;
  let database: PgDatabase | undefined;
  let writer: ServerProcess;
  let reader: ServerProcess;
  beforeAll(async () => {
    let databasePath: string;
    if (engine === 'postgres') {
      database = await freshPgDatabase();
      databasePath = database.url;
    } else {
      dir = mkdtempSync(join(tmpdir(), 'annals-live-'));
      databasePath = join(dir, 'annals.db');
    }
    writer = await startServer({ databasePath });
    reader = await startServer({ databasePath });
  }, 60_000);
  afterAll(async () => {
    if (writer && !writer.hasExited()) await writer.stop();
    if (reader && !reader.hasExited()) await reader.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    await database?.drop();
  });

  async function createEvent(key: string, date: string) {
    const res = await fetch(`${writer.url}/v1/events`, {
      method: 'POST',
      headers: { ...SERVER_AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ key, type: 'protest', date, title: { en: key } }),
    });
    expect(res.status, await res.clone().text()).toBe(201);
    return res.json();
  }

  test('a window subscriber on another server hears a write in the window within 1 s, not one outside, and resumes from Last-Event-ID', async () => {
    const feedUrl = `${reader.url}/v1/changes?from=2022-01-05&to=2022-01-06`;
    const first = subscribe(feedUrl);
    const res = await first.opened;
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.etag).toBeUndefined();

    await createEvent('event:outside-2023', '2023-03-01');
    const writtenAt = Date.now();
    await createEvent('event:inside-2022-01-05', '2022-01-05');
    await first.waitFor(1, 1000);
    expect(Date.now() - writtenAt).toBeLessThan(1000);
    // a moment more: nothing else comes (the 2023 event is outside the window)
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(first.events.map((e) => [e.event, e.data.key, e.data.operation])).toEqual([['change', 'event:inside-2022-01-05', 'create']]);
    expect(first.events[0]!.id).toBe(String(first.events[0]!.data.sequence));
    expect(first.events[0]!.data.record.date.edtf).toBe('2022-01-05');
    expect(first.events[0]!.data.author).toBe('bootstrap');

    // the connection drops; meanwhile more writes, in the window and out of it
    first.close();
    await createEvent('event:outside-2021', '2021-12-31');
    await createEvent('event:inside-2022-01-06', '2022-01-06');
    await createEvent('event:inside-2022-01-05-b', '2022-01-05');
    const resumed = subscribe(feedUrl, { 'last-event-id': first.events[0]!.id! });
    expect((await resumed.opened).statusCode).toBe(200);
    await resumed.waitFor(2, 2000);
    await createEvent('event:inside-after', '2022-01-06');
    await resumed.waitFor(3, 1000);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(resumed.events.map((e) => e.data.key)).toEqual(['event:inside-2022-01-06', 'event:inside-2022-01-05-b', 'event:inside-after']);
    const ids = resumed.events.map((e) => Number(e.id));
    expect(ids[0]).toBeGreaterThan(Number(first.events[0]!.id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);

    // a shutdown ends the stream cleanly and does not wait for it
    const stopping = Date.now();
    const exit = await reader.stop(10_000);
    expect(exit.code).toBe(0);
    await resumed.waitForEnd(2000);
    expect(Date.now() - stopping).toBeLessThan(5000);
    expect(resumed.ended).toBe(true);
  }, 60_000);
});
