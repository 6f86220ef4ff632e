import { z } from 'zod';
import { Problem } from './common.js';

const count = z.number().int().min(0);

/** Records per kind, as a full export counts them. */
const KindCounts = z
  .strictObject({ source: count, place: count, actor: count, event: count, statement: count, timeline: count })
  .meta({ id: 'KindCounts', example: { source: 1, place: 6, actor: 9, event: 19, statement: 11, timeline: 1 } });

/** The last line of a full export (`"kind":"end"`), less its kind: what the file declares it holds. */
export const EndLine = z.strictObject({
  records: count,
  counts: KindCounts.partial().optional(),
  /** The change-log sequence the export was read at: where a mirror follows the changes from (not checked by the import). */
  sequence: z.number().int().min(0).optional(),
  revision: z.string().max(100).nullable().optional(),
});

export const ImportEnd = z
  .object({
    line: z.number().int().meta({ description: 'Line number of the end line.' }),
    records: z.number().int().meta({ description: 'Records the end line declares.' }),
    counts: KindCounts.partial().nullable().meta({ description: 'Records per kind the end line declares (null when it gives none).' }),
    revision: z.string().nullable().meta({ description: 'The revision of the exported database, as declared.' }),
    read: z
      .object({ records: z.number().int(), counts: KindCounts })
      .meta({ description: 'Record lines read before the end line (stored or refused), per kind.' }),
    complete: z.boolean().meta({
      description:
        'True when the end line is the last line and what it declares is what was read before it. False when the ' +
        'file is incomplete or has lines after its end: the end line is then also refused, with the reason.',
    }),
  })
  .meta({ id: 'ImportEnd' });

export const ImportReport = z
  .object({
    lines: z.number().int().meta({ description: 'Lines read.' }),
    created: z.number().int(),
    updated: z.number().int(),
    unchanged: z.number().int(),
    refused: z.number().int(),
    dryRun: z.boolean().meta({ description: 'True for `dryRun=true`: the counts are what the import would have done; nothing was stored.' }),
    stopped: z.boolean().meta({ description: 'True when `stopOnError` ended the import at a refused line.' }),
    errors: z
      .array(
        z.object({
          line: z.number().int(),
          key: z.string().nullable(),
          kind: z.string().nullable(),
          reason: z.string(),
        }),
      )
      .meta({ description: 'Every refused line (up to 10,000), with its number and the reason.' }),
    errorsTruncated: z.boolean(),
    end: ImportEnd.nullable().meta({
      description:
        'The end line of the file (`{"kind":"end","records":N,"counts":{...},"sequence":S,"revision":"R"}`, which a full export ' +
        'writes last), checked against the record lines read; null when the file has none.',
    }),
  })
  .meta({
    id: 'ImportReport',
    example: {
      lines: 3,
      created: 1,
      updated: 0,
      unchanged: 1,
      refused: 1,
      dryRun: false,
      stopped: false,
      errors: [{ line: 3, key: 'event:x', kind: 'event', reason: '/date: "2022-02-30": February 2022 has 28 days' }],
      errorsTruncated: false,
      end: null,
    },
  });

/** A problem that ended an import after it had stored some of the body: what it stored is in `report`. */
export const ImportProblem = Problem.extend({
  report: ImportReport.optional().meta({
    description: 'What the import did before it ended: the lines it read, stored and refused. Absent when it stored nothing.',
  }),
}).meta({ id: 'ImportProblem', description: 'An RFC 9457 problem document, with the report of what was stored before it.' });

export const ImportQuery = z.object({
  stopOnError: z
    .enum(['true', 'false'])
    .default('false')
    .meta({ description: 'Stop at the first refused line (what came before it is kept).' }),
  dryRun: z
    .enum(['true', 'false'])
    .default('false')
    .meta({
      description:
        'Validate and report every line exactly as an import would, in a transaction that is rolled back: nothing ' +
        'is stored, not even the revision.',
    }),
});
