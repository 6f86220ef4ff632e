/**
 * Builds the viewer (viewer/ sources) into viewer/dist, which is committed so that
 * `npm ci && npm start` serves it with no build step; with --check, builds into a temporary
 * folder and fails when its files differ from the committed ones, byte for byte.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../viewer');
const committed = path.join(root, 'dist');
const check = process.argv.includes('--check');
const outDir = check ? mkdtempSync(path.join(tmpdir(), 'annals-viewer-')) : committed;

function files(folder: string, prefix = ''): string[] {
  return readdirSync(folder, { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory() ? files(path.join(folder, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
    )
    .sort();
}

try {
  await build({ configFile: path.join(root, 'vite.config.ts'), build: { outDir, emptyOutDir: true } });
  if (check) {
    const built = files(outDir);
    let present: string[] = [];
    try {
      present = files(committed);
    } catch {
      // no committed build differs like any other
    }
    const differing = [...new Set([...built, ...present])].filter(
      (name) =>
        !built.includes(name) ||
        !present.includes(name) ||
        !readFileSync(path.join(outDir, name)).equals(readFileSync(path.join(committed, name))),
    );
    if (differing.length > 0) {
      process.stderr.write(`viewer/dist is out of date (${differing.join(', ')}): run \`npm run viewer:build\` and commit it\n`);
      process.exitCode = 1;
    } else process.stdout.write('viewer/dist is up to date\n');
  } else process.stdout.write(`built ${committed}\n`);
} finally {
  if (check) rmSync(outDir, { recursive: true, force: true });
}
