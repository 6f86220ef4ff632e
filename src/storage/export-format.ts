/**
 * What every engine's export shares: the order of the kinds (each after those it refers to)
 * and the trailer line, so that both engines write the same bytes for the same data.
 */

export const KIND_RANK = { source: 0, place: 1, actor: 2, event: 3, statement: 4, timeline: 5 } as const;
export type ExportKind = keyof typeof KIND_RANK;
export const KINDS = Object.keys(KIND_RANK) as ExportKind[];

/** Records an export wrote, by kind: what its trailer counts. */
export type ExportCounts = Record<ExportKind, number>;

export const emptyExportCounts = (): ExportCounts => ({ source: 0, place: 0, actor: 0, event: 0, statement: 0, timeline: 0 });

/**
 * The last line of every export: how many records it holds, of each kind, and the data
 * revision of the snapshot it read. A file that does not end with it was cut short.
 */
export function exportTrailer(counts: ExportCounts, revision: string, sequence?: number): string {
  const records = KINDS.reduce((n, kind) => n + counts[kind], 0);
  const byKind = Object.fromEntries(KINDS.map((kind) => [kind, counts[kind]]));
  // `sequence`: the change log's position the export was read at, so that the export and the
  // changes after it (GET /v1/changes?since=) make up the live data
  return `${JSON.stringify({ kind: 'end', records, counts: byKind, sequence, revision })}\n`;
}
