// Two server processes on one database file, each started on its own (not as workers of one
// primary), over real HTTP: what one acknowledges, the other serves on its next read, and the
// same the other way round, while both take writes at once. An entry embeds the names of the
// actors it names, so a rename through one server must show in the other's timeline entries.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_AUTH, startServer, stopAllServers, type ServerProcess } from './support/server.js';

const JSON_AUTH = { ...SERVER_AUTH, 'content-type': 'application/json' };

interface TimelineEntry {
  key: string;
  title: Record<string, string>;
  actors: { actor: { key: string; name: Record<string, string> }; role: string }[];
}

async function send(server: ServerProcess, method: string, route: string, body: unknown): Promise<Response> {
  return fetch(`${server.url}${route}`, { method, headers: JSON_AUTH, body: JSON.stringify(body) });
}

async function timeline(server: ServerProcess, query: string): Promise<TimelineEntry[]> {
  const res = await fetch(`${server.url}/v1/timeline?${query}&limit=500`);
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { data: TimelineEntry[] }).data;
}

const actorNames = (entries: TimelineEntry[], key: string) =>
  entries.flatMap((entry) => entry.actors.filter((link) => link.actor.key === key).map((link) => link.actor.name.en));

describe('two server processes on one database file', () => {
  let dir: string;
  let first: ServerProcess;
  let second: ServerProcess;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'annals-two-processes-'));
    const databasePath = path.join(dir, 'shared.db');
    // the first prepares the file (migrations, bootstrap key); the second opens it as it is
    first = await startServer({ databasePath, timeoutMs: 60_000 });
    second = await startServer({ databasePath, timeoutMs: 60_000 });
  }, 120_000);
  afterAll(async () => {
    await stopAllServers();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves an actor renamed through either server in the other one’s timeline entries at once', async () => {
    expect((await send(first, 'POST', '/v1/actors', { key: 'actor:probe', type: 'person', name: { en: 'Before' } })).status).toBe(201);
    for (let day = 10; day < 15; day++) {
      const created = await send(first, 'POST', '/v1/events', {
        key: `event:probe-${day}`,
        type: 'meeting',
        date: `2022-03-${day}`,
        title: { en: `Meeting ${day}` },
        actors: [{ actor: 'actor:probe', role: 'participant' }],
      });
      expect(created.status).toBe(201);
    }
    const week = 'from=2022-03-10&to=2022-03-16';
    // both servers read the page as it is before the rename, as often as a warm cache would keep it
    for (let i = 0; i < 10; i++) {
      expect(actorNames(await timeline(second, week), 'actor:probe')).toEqual(Array(5).fill('Before'));
      expect(actorNames(await timeline(first, week), 'actor:probe')).toEqual(Array(5).fill('Before'));
    }

    const renamed = await send(first, 'PATCH', '/v1/actors/actor:probe', { name: { en: 'After' } });
    expect(renamed.status, await renamed.clone().text()).toBe(200);
    expect(actorNames(await timeline(second, week), 'actor:probe')).toEqual(Array(5).fill('After'));
    const single = (await (await fetch(`${second.url}/v1/events/event:probe-12`)).json()) as TimelineEntry;
    expect(single.actors[0]!.actor.name.en).toBe('After');

    const back = await send(second, 'PATCH', '/v1/actors/actor:probe', { name: { en: 'Again' } });
    expect(back.status).toBe(200);
    expect(actorNames(await timeline(first, week), 'actor:probe')).toEqual(Array(5).fill('Again'));
    expect(actorNames(await timeline(first, `${week}&actor=actor:probe`), 'actor:probe')).toEqual(Array(5).fill('Again'));
  }, 60_000);

  it('serves every write acknowledged by one server through the other on the next read, with both writing at once', async () => {
    const servers = [first, second];
    const writers = 4;
    const perWriter = 15;
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: writers }, async (_, writer) => {
        for (let i = 0; i < perWriter; i++) {
          const through = servers[(writer + i) % 2]!;
          const other = servers[(writer + i + 1) % 2]!;
          const key = `event:concurrent-${writer}-${i}`;
          const day = String(1 + ((writer * perWriter + i) % 28)).padStart(2, '0');
          const created = await send(through, 'POST', '/v1/events', { key, type: 'protest', date: `2021-02-${day}`, title: { en: key } });
          if (created.status !== 201) {
            failures.push(`${key}: ${created.status} ${await created.text()}`);
            continue;
          }
          const onDay = await timeline(other, `from=2021-02-${day}&to=2021-02-${day}`);
          if (!onDay.some((entry) => entry.key === key)) failures.push(`${key} missing from the other server's timeline`);
          const patched = await send(other, 'PATCH', `/v1/events/${key}`, { title: { en: `${key} (edited)` } });
          if (patched.status !== 200) {
            failures.push(`${key} patch: ${patched.status}`);
            continue;
          }
          const again = await timeline(through, `from=2021-02-${day}&to=2021-02-${day}`);
          if (again.find((entry) => entry.key === key)?.title.en !== `${key} (edited)`) failures.push(`${key} edit not served back`);
        }
      }),
    );
    expect(failures).toEqual([]);
    // and all of it, through each
    for (const server of servers) {
      const all = await timeline(server, 'from=2021-02-01&to=2021-02-28');
      expect(all.filter((entry) => entry.key.startsWith('event:concurrent-'))).toHaveLength(writers * perWriter);
    }
  }, 120_000);
});
