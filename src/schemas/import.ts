import { z } from 'zod';

export const ImportReport = z
  .object({
    lines: z.number().int().meta({ description: 'Lines read.' }),
    created: z.number().int(),
    updated: z.number().int(),
    unchanged: z.number().int(),
    refused: z.number().int(),
    dryRun: z.boolean(),
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
    },
  });

export const ImportQuery = z.object({
  stopOnError: z
    .enum(['true', 'false'])
    .default('false')
    .meta({ description: 'Stop at the first refused line (what came before it is kept).' }),
});
