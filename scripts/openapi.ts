/**
 * Writes openapi/openapi.json from the routes, without listening; with --check, fails when
 * the committed file differs from what the routes generate.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { buildApp } from '../src/app.js';
import { openapiText } from '../src/plugins/openapi.js';

export const openapiPath = new URL('../openapi/openapi.json', import.meta.url);

const app = await buildApp({ databasePath: ':memory:', seedWhenEmpty: false, logLevel: 'silent' });
const generated = openapiText(app);
await app.close();

if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(openapiPath, 'utf8');
  } catch {
    // a missing file differs like any other
  }
  if (committed !== generated) {
    process.stderr.write('openapi/openapi.json is out of date: run `npm run openapi` and commit it\n');
    process.exit(1);
  }
  process.stdout.write('openapi/openapi.json is up to date\n');
} else {
  mkdirSync(new URL('.', openapiPath), { recursive: true });
  writeFileSync(openapiPath, generated);
  process.stdout.write(`wrote ${openapiPath.pathname}\n`);
}
