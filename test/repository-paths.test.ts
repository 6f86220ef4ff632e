// The code, scripts, benchmark and tests read only files inside the repository, so that a clone
// anywhere passes: no absolute path into the machine it was written on, no relative path that
// climbs out of the checkout (the seed report lives in data/seed, not beside the repository).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FOLDERS = ['src', 'scripts', 'bench', 'test', '.ci'];
const SKIPPED = new Set(['bench/data', 'bench/profiles', 'bench/results', 'node_modules']);
const CODE = /\.(ts|mts|cts|js|mjs|cjs)$|^run$/;

function filesUnder(folder: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(path.join(repo, folder))) {
    const relative = `${folder}/${name}`;
    if (SKIPPED.has(relative)) continue;
    const full = path.join(repo, relative);
    if (statSync(full).isDirectory()) found.push(...filesUnder(relative));
    else if (CODE.test(name)) found.push(relative);
  }
  return found;
}

const files = [...FOLDERS.flatMap(filesUnder), ...['drizzle.config.ts', 'vitest.config.ts']];
const inside = (target: string) => target === repo || target.startsWith(`${repo}${path.sep}`);

describe('paths the repository reads', () => {
  it('finds the files it checks', () => {
    expect(files).toContain('test/seed-data.test.ts');
    expect(files).toContain('src/storage/sqlite/seed.ts');
    expect(files).toContain('scripts/seed-offsets.mjs');
  });

  it('names no absolute path of a machine, and no folder beside the repository', () => {
    // built from parts, so that this file does not match itself
    const forbidden = [['', 'work', ''].join('/'), ['shared', 'seeds'].join('/'), ['..', 'shared'].join('/'), ['', 'home', ''].join('/'), ['', 'root', ''].join('/')];
    const problems: string[] = [];
    for (const file of files) {
      const text = readFileSync(path.join(repo, file), 'utf8');
      for (const needle of forbidden) if (text.includes(needle)) problems.push(`${file}: ${needle}`);
    }
    expect(problems).toEqual([]);
  });

  it('resolves every relative URL and path literal to a place inside the repository', () => {
    const problems: string[] = [];
    for (const file of files) {
      const text = readFileSync(path.join(repo, file), 'utf8');
      const base = pathToFileURL(path.join(repo, file));
      // new URL('../x', import.meta.url)
      for (const m of text.matchAll(/new URL\(\s*(['"`])([^'"`]+)\1\s*,\s*import\.meta\.url\s*\)/g)) {
        const target = fileURLToPath(new URL(m[2]!, base));
        if (!inside(target)) problems.push(`${file}: ${m[0]} is ${target}`);
      }
      // path.resolve(x, '..', ...) / path.join(x, '../..') from the file's own folder or the repository
      for (const m of text.matchAll(/(?:path\.)?(?:resolve|join)\(\s*(path\.dirname\(fileURLToPath\(import\.meta\.url\)\)|repo|REPO|__dirname)\s*,\s*(['"`])([^'"`]+)\2/g)) {
        // `repo` / `REPO` is the repository's root wherever a file defines it (checked by this same rule)
        const from = m[1] === 'repo' || m[1] === 'REPO' ? repo : path.dirname(path.join(repo, file));
        const target = path.resolve(from, m[3]!);
        if (!inside(target)) problems.push(`${file}: ${m[0]} is ${target}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
