// The layers of src/ (README, "Layout"): every driver, drizzle dialect and SQL statement lives
// in its engine's folder under src/storage, everything above the storage port reaches a
// database only through it, and the top of src/ holds only the app, the server and the config.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function sourcesUnder(folder: string): string[] {
  return readdirSync(path.join(repo, folder)).flatMap((name) => {
    const relative = `${folder}/${name}`;
    if (statSync(path.join(repo, relative)).isDirectory()) return sourcesUnder(relative);
    return /\.(ts|mts)$/.test(name) ? [relative] : [];
  });
}

const sources = sourcesUnder('src');
const ENGINE_FOLDERS = ['src/storage/sqlite/', 'src/storage/postgres/'];
const inEngine = (file: string) => ENGINE_FOLDERS.some((folder) => file.startsWith(folder));
const importsOf = (file: string) =>
  [...readFileSync(path.join(repo, file), 'utf8').matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]!);
const resolved = (file: string, specifier: string) =>
  specifier.startsWith('.') ? path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)) : specifier;

describe('layers of src/', () => {
  it('finds the sources it checks', () => {
    expect(sources).toContain('src/routes/timeline.ts');
    expect(sources).toContain('src/storage/sqlite/index.ts');
    expect(sources).toContain('src/storage/postgres/index.ts');
  });

  it('imports drivers and drizzle only inside an engine folder', () => {
    const offenders = sources
      .filter((file) => !inEngine(file))
      .flatMap((file) =>
        importsOf(file)
          .filter((specifier) => /^(better-sqlite3|pg|drizzle-orm)(\/|$)/.test(specifier))
          .map((specifier) => `${file} imports ${specifier}`),
      );
    expect(offenders).toEqual([]);
  });

  it('reaches an engine folder from above the port only through src/storage/index.ts', () => {
    const offenders = sources
      .filter((file) => !file.startsWith('src/storage/'))
      .flatMap((file) =>
        importsOf(file)
          .map((specifier) => resolved(file, specifier))
          .filter((target) => ENGINE_FOLDERS.some((folder) => target.startsWith(folder)))
          .map((target) => `${file} imports ${target}`),
      );
    expect(offenders).toEqual([]);
  });

  it('holds no SQL statement outside src/storage', () => {
    const statement = /(['"`])\s*(SELECT\s.+\sFROM\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|CREATE\s+(TABLE|INDEX)\s|BEGIN(\s+IMMEDIATE)?\s*\1|PRAGMA\s)/i;
    const offenders = sources
      .filter((file) => !file.startsWith('src/storage/'))
      .flatMap((file) =>
        readFileSync(path.join(repo, file), 'utf8')
          .split('\n')
          .map((line, i) => [line, i + 1] as const)
          // comments may name a statement; code may not hold one
          .filter(([line]) => !/^\s*(\/\/|\/?\*)/.test(line) && statement.test(line))
          .map(([line, n]) => `${file}:${n}: ${line.trim()}`),
      );
    expect(offenders).toEqual([]);
  });

  it('keeps only the app, the server and the config at the top of src/', () => {
    const top = readdirSync(path.join(repo, 'src')).filter((name) => !statSync(path.join(repo, 'src', name)).isDirectory());
    expect(top.sort()).toEqual(['app.ts', 'config.ts', 'server.ts']);
  });
});
