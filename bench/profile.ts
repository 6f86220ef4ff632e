/**
 * Summaries of V8 CPU profiles (`node --cpu-prof`), as `npm run bench -- --profile` writes
 * them: where a thread spent its time, by function, in self time (the function's own code,
 * native calls such as SQLite's included) and inclusive time (with what it called). The same
 * .cpuprofile files open as flame graphs in Chrome DevTools (Performance) or speedscope.
 *
 *   tsx bench/profile.ts DIR|FILE [TOP]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  /** Sampled time, idle included, in ms. */
  totalMs: number;
  /** Time not spent idle (waiting in the event loop), in ms. */
  busyMs: number;
  /** Functions by self time, then by inclusive time, each as [name, ms], longest first. */
  self: [string, number][];
  inclusive: [string, number][];
}

// the pseudo-frames V8 adds; (idle) is time the thread waited for work
const IDLE = '(idle)';
const ROOT = '(root)';

const frameName = ({ functionName, url, lineNumber }: ProfileNode['callFrame']) => {
  const where = url.split('/').slice(-2).join('/');
  // code that tsx compiled on the fly has no line numbers in the profile (0)
  const line = lineNumber > 0 ? `:${lineNumber + 1}` : '';
  return where === '' ? functionName || '(anonymous)' : `${functionName || '(anonymous)'} ${where}${line}`;
};

export function summarizeProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const timeOf = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    timeOf.set(id, (timeOf.get(id) ?? 0) + delta);
    total += delta;
  });
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, time] of timeOf) {
    const name = frameName(byId.get(id)!.callFrame);
    self.set(name, (self.get(name) ?? 0) + time);
    // a recursive function counts once per sample
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const ancestor = frameName(byId.get(at)!.callFrame);
      if (seen.has(ancestor)) continue;
      seen.add(ancestor);
      inclusive.set(ancestor, (inclusive.get(ancestor) ?? 0) + time);
    }
  }
  const longest = (times: Map<string, number>) =>
    [...times]
      .filter(([name]) => name !== IDLE && name !== ROOT)
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]): [string, number] => [name, us / 1000]);
  return {
    file,
    totalMs: total / 1000,
    busyMs: (total - (self.get(IDLE) ?? 0)) / 1000,
    self: longest(self),
    inclusive: longest(inclusive),
  };
}

/**
 * The profiles of a directory that did work (a process writes one per thread: the main
 * thread, worker threads, tsx's loader thread), busiest first. Threads busy for less than
 * `minBusyMs` are left out.
 */
export function summarizeProfiles(dir: string, top = 15, minBusyMs = 200): ProfileSummary[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => summarizeProfile(join(dir, name), top))
    .filter((summary) => summary.busyMs >= minBusyMs)
    .sort((a, b) => b.busyMs - a.busyMs);
}

export function formatSummary(summary: ProfileSummary): string {
  const share = (ms: number) => `${((100 * ms) / summary.busyMs).toFixed(1).padStart(5)}%`;
  const list = (rows: [string, number][]) => rows.map(([name, ms]) => `  ${share(ms)}  ${ms.toFixed(0).padStart(7)} ms  ${name}`).join('\n');
  return [
    `${basename(summary.file)}: ${summary.busyMs.toFixed(0)} ms busy of ${summary.totalMs.toFixed(0)} ms (shares are of the busy time)`,
    ' self:',
    list(summary.self),
    ' inclusive:',
    list(summary.inclusive),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [target, top] = process.argv.slice(2);
  if (!target) {
    process.stderr.write('usage: tsx bench/profile.ts DIR|FILE [TOP]\n');
    process.exit(2);
  }
  const summaries = statSync(target).isDirectory()
    ? summarizeProfiles(target, Number(top ?? 15))
    : [summarizeProfile(target, Number(top ?? 15))];
  process.stdout.write(`${summaries.map(formatSummary).join('\n\n')}\n`);
}
