import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEFAULT_POOL_SIZE, SQLITE_MMAP_MAX_MB, parseDatabaseTarget, readServerConfig } from '../src/config.js';
import { SqliteStorage } from '../src/storage/sqlite/index.js';
import { openStorage } from '../src/storage/index.js';

const configError = (run: () => unknown): string => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('ANNALS_DB', () => {
  it('is an SQLite path by default and for paths', () => {
    expect(readServerConfig({}).databasePath).toBe('data/annals.db');
    expect(readServerConfig({}).postgres).toBeUndefined();
    for (const path of ['data/x.db', '/var/lib/annals/annals.db', ':memory:', './postgres.db', 'C:\\data\\annals.db', 'file.db?x=y']) {
      const config = readServerConfig({ ANNALS_DB: path });
      expect(config.databasePath, path).toBe(path);
      expect(config.postgres, path).toBeUndefined();
      expect(parseDatabaseTarget(path)).toEqual({ engine: 'sqlite', path });
    }
  });

  it('names PostgreSQL with a postgres:// or postgresql:// URL, with the default pool', () => {
    for (const url of [
      'postgres://annals:secret@127.0.0.1:5432/annals',
      'postgresql://db.internal/annals?sslmode=require',
      'POSTGRES://localhost/annals',
      'postgres:///annals',
    ]) {
      const config = readServerConfig({ ANNALS_DB: url });
      expect(config.postgres, url).toEqual({ url, poolSize: DEFAULT_POOL_SIZE });
      expect(config.databasePath, url).toBe('');
    }
  });

  it('takes the pool size from ANNALS_DB_POOL', () => {
    const config = readServerConfig({ ANNALS_DB: 'postgres://localhost/annals', ANNALS_DB_POOL: '25' });
    expect(config.postgres?.poolSize).toBe(25);
    expect(readServerConfig({ ANNALS_DB: 'postgres://localhost/annals', ANNALS_DB_POOL: '' }).postgres?.poolSize).toBe(DEFAULT_POOL_SIZE);
    for (const bad of ['0', '-1', '2.5', 'ten', '100000']) {
      expect(configError(() => readServerConfig({ ANNALS_DB: 'postgres://localhost/annals', ANNALS_DB_POOL: bad })), bad).toMatch(
        /^ANNALS_DB_POOL=/,
      );
    }
  });

  it('refuses any other URL at start-up, naming its scheme', () => {
    for (const [url, scheme] of [
      ['mysql://root@localhost/annals', 'mysql'],
      ['postgress://localhost/annals', 'postgress'],
      ['sqlite://data/annals.db', 'sqlite'],
      ['file:///tmp/annals.db', 'file'],
      ['https://example.org/annals', 'https'],
    ] as const) {
      const message = configError(() => readServerConfig({ ANNALS_DB: url }));
      expect(message, url).toContain(`${scheme}://`);
      expect(message, url).toMatch(/^ANNALS_DB: /);
    }
  });

  it('refuses a PostgreSQL URL that does not parse, without repeating it (it may hold a password)', () => {
    const message = configError(() => readServerConfig({ ANNALS_DB: 'postgres://user:hunter2@[::1/annals' }));
    expect(message).toMatch(/^ANNALS_DB: not a valid PostgreSQL URL/);
    expect(message).not.toContain('hunter2');
  });
});

describe('ANNALS_SQLITE_MMAP_MB', () => {
  it('maps as much of the file as SQLite allows by default, and 0 maps none', async () => {
    expect(readServerConfig({}).sqliteMmapMb).toBe(SQLITE_MMAP_MAX_MB);
    expect(readServerConfig({ ANNALS_SQLITE_MMAP_MB: '0' }).sqliteMmapMb).toBe(0);
    for (const bad of ['-1', '1.5', 'lots', String(SQLITE_MMAP_MAX_MB + 1)]) {
      expect(configError(() => readServerConfig({ ANNALS_SQLITE_MMAP_MB: bad })), bad).toMatch(/^ANNALS_SQLITE_MMAP_MB=/);
    }
    const dir = mkdtempSync(join(tmpdir(), 'annals-mmap-'));
    try {
      for (const [mb, bytes] of [
        [undefined, SQLITE_MMAP_MAX_MB * 1024 * 1024],
        [0, 0],
        [64, 64 * 1024 * 1024],
      ] as const) {
        const storage = await SqliteStorage.open({ databasePath: join(dir, `${mb}.db`), seedWhenEmpty: false, logLevel: 'silent', sqliteMmapMb: mb });
        try {
          // what SQLite took, read back from the serving connection
          expect(storage.db.$client.pragma('mmap_size', { simple: true }), String(mb)).toBe(bytes);
          // the analysis after a large import reads past the map, which is back once it is done
          await storage.refreshStatistics({ everyTable: true });
          expect(storage.db.$client.pragma('mmap_size', { simple: true }), `${mb}, after the statistics`).toBe(bytes);
          expect(storage.db.$client.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").pluck().get()).toBe(1);
        } finally {
          await storage.close();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('openStorage on PostgreSQL', () => {
  it('opens the PostgreSQL engine for a URL: a server that does not answer is a start-up error, not an SQLite file', async () => {
    await expect(
      openStorage({ databasePath: '', postgres: { url: 'postgres://127.0.0.1:1/annals', poolSize: 1 }, seedWhenEmpty: false, logLevel: 'silent' }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/^PostgreSQL at 127\.0\.0\.1:1\/annals: /), cause: { code: 'ECONNREFUSED' } });
  });
});
