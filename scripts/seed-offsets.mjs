#!/usr/bin/env node
// Check (default) or fill (--write) the citation offsets of an interchange NDJSON file.
//
//   node scripts/seed-offsets.mjs [--write] [--source-text KEY=PATH ...] [FILE]
//
// FILE defaults to the repository's data/seed/kazakhstan-january-2022.ndjson, wherever it is run from.
// The source text of that dataset is the report data/seed/turkpress-2022-01-11-amreyev.txt:
//   node scripts/seed-offsets.mjs --source-text src:turkpress-2022-01-11-amreyev=data/seed/turkpress-2022-01-11-amreyev.txt
// For every citation `{source, excerpt, start, end}` in an event or statement, the
// excerpt is looked up in the `text` of its source: it must occur exactly once, and
// `start`/`end` are its offsets in Unicode code points, `end` exclusive.
// --write                 rewrite FILE with the computed offsets (one record per line).
// --source-text KEY=PATH  set the `text` of source KEY to the exact content of PATH
//                         (implies --write).
// Exits with status 1 and a message per problem when anything does not match.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
let write = false;
const sourceTexts = new Map();
let file = fileURLToPath(new URL('../data/seed/kazakhstan-january-2022.ndjson', import.meta.url));
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--write') write = true;
  else if (a === '--source-text') {
    const spec = args[++i] ?? '';
    const eq = spec.indexOf('=');
    if (eq <= 0) {
      console.error(`--source-text expects KEY=PATH, got "${spec}"`);
      process.exit(2);
    }
    sourceTexts.set(spec.slice(0, eq), readFileSync(spec.slice(eq + 1), 'utf8'));
    write = true;
  } else if (a.startsWith('-')) {
    console.error(`unknown option ${a}`);
    process.exit(2);
  } else file = a;
}

const cpLength = (s) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

const raw = readFileSync(file, 'utf8');
const lines = raw.split('\n');
if (lines[lines.length - 1] === '') lines.pop();
const records = lines.map((line, i) => {
  try {
    return JSON.parse(line);
  } catch (e) {
    console.error(`${file}:${i + 1}: invalid JSON: ${e.message}`);
    process.exit(1);
  }
});

const texts = new Map();
for (const r of records) {
  if (r.kind !== 'source') continue;
  if (sourceTexts.has(r.key)) r.text = sourceTexts.get(r.key);
  if (typeof r.text === 'string') texts.set(r.key, r.text);
}
for (const key of sourceTexts.keys()) {
  if (!texts.has(key)) {
    console.error(`--source-text: no source record with key ${key}`);
    process.exit(1);
  }
}

const problems = [];
let changed = 0;
let checked = 0;
records.forEach((r, i) => {
  if (r.kind !== 'event' && r.kind !== 'statement') return;
  (r.sources ?? []).forEach((c, j) => {
    const where = `${file}:${i + 1} ${r.key} sources[${j}]`;
    const text = texts.get(c.source);
    if (text === undefined) {
      problems.push(`${where}: source ${c.source} has no text in this file`);
      return;
    }
    if (typeof c.excerpt !== 'string' || c.excerpt === '') {
      problems.push(`${where}: missing excerpt`);
      return;
    }
    const at = text.indexOf(c.excerpt);
    if (at < 0) {
      problems.push(`${where}: excerpt not found in ${c.source}: ${JSON.stringify(c.excerpt)}`);
      return;
    }
    if (text.indexOf(c.excerpt, at + 1) >= 0) {
      problems.push(`${where}: excerpt occurs more than once in ${c.source}; make it longer`);
      return;
    }
    const start = cpLength(text.slice(0, at));
    const end = start + cpLength(c.excerpt);
    checked++;
    if (c.start === start && c.end === end) return;
    if (write) {
      const { source, excerpt, start: _s, end: _e, ...rest } = c;
      r.sources[j] = { source, excerpt, start, end, ...rest };
      changed++;
    } else {
      problems.push(`${where}: offsets ${c.start}..${c.end}, expected ${start}..${end}`);
    }
  });
});

if (problems.length) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
if (write) {
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  console.log(`${file}: ${checked} citations checked, ${changed} offsets written`);
} else {
  console.log(`${file}: ${checked} citations checked, all offsets correct`);
}
