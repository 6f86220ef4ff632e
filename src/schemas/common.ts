import { z } from 'zod';
import { tryParseEdtf } from '../dates/edtf.js';
import { PROBLEM_CODES, problemType } from './problems.js';

/** BCP 47 language tag, as used for the keys of language maps. */
export const languageTag = z
  .string()
  .regex(/^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8})*$/, 'must be a BCP 47 language tag such as "ar" or "en-GB"')
  .max(35);

export const LanguageMap = z
  .record(languageTag, z.string().min(1).max(100_000))
  .refine((map) => Object.keys(map).length > 0, 'must have at least one language')
  .meta({
    id: 'LanguageMap',
    description: 'Text per language, keyed by BCP 47 tag.',
    example: { ar: 'كازاخستان', en: 'Kazakhstan' },
  });

/** The output side of a language map: may be empty after `lang` filtering of an absent text. */
export const LanguageMapOut = z.record(z.string(), z.string()).meta({
  id: 'LanguageMapOut',
  description: 'Text per language. With `lang`, only the chosen language (or the fallback) is present.',
  example: { en: 'Kazakhstan' },
});

/**
 * External keys: client-chosen, unique across the dataset. They never consist of digits only,
 * so that a path segment is unambiguously an id (digits) or a key.
 */
export const Key = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z][A-Za-z0-9:._~-]*$/, 'must start with a letter and use only letters, digits and : . _ ~ -')
  .meta({ id: 'Key', description: 'Client-chosen external id, unique across the dataset.', example: 'actor:amreyev' });

/** A reference to another record: its numeric id or its key. */
export const Ref = z
  .union([z.number().int().positive(), z.string().min(1).max(200)])
  .meta({
    id: 'Ref',
    description: 'A reference to another record, by numeric id or by key.',
    example: 'place:kz',
  });

export const IdOrKeyParam = z
  .string()
  .min(1)
  .max(200)
  .meta({ description: 'Numeric id or external key of the record.', example: 'event:kz-protests-begin' });

export const Edtf = z
  .string()
  .max(100)
  .superRefine((value, ctx) => {
    const parsed = tryParseEdtf(value);
    if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.error });
  })
  .meta({
    id: 'Edtf',
    description:
      'An EDTF (ISO 8601-2) date of the subset Annals accepts: `2022`, `2022-01`, `2022-01-05`, ' +
      '`2022-01-05T14:30:00+06:00`, intervals `A/B` with `..` for an open end, and the qualifiers ' +
      '`?` (uncertain), `~` (approximate), `%` (both).',
    example: '2022-01-02',
  });

const DatePoint = z
  .object({
    edtf: z.string(),
    precision: z.enum(['year', 'month', 'day', 'instant']),
    earliest: z.string(),
    latest: z.string(),
    instant: z.string().optional(),
    uncertain: z.boolean(),
    approximate: z.boolean(),
  })
  .meta({ id: 'DatePoint', description: 'One side of an interval.' });

export const DateValue = z
  .object({
    edtf: z.string().meta({ description: 'The date as given, in EDTF.' }),
    precision: z.enum(['year', 'month', 'day', 'instant', 'interval']),
    earliest: z
      .string()
      .nullable()
      .meta({ description: 'First calendar day the date may fall on (inclusive); null when open.' }),
    latest: z
      .string()
      .nullable()
      .meta({ description: 'Last calendar day the date may fall on (inclusive); null when open.' }),
    instant: z.string().optional().meta({ description: 'For instants: the moment in UTC.' }),
    uncertain: z.boolean(),
    approximate: z.boolean(),
    start: DatePoint.nullable().optional(),
    end: DatePoint.nullable().optional(),
  })
  .meta({
    id: 'Date',
    description: 'A stored date: its EDTF text and the bounds the service derived from it.',
    example: {
      edtf: '2022-01',
      precision: 'month',
      earliest: '2022-01-01',
      latest: '2022-01-31',
      uncertain: false,
      approximate: false,
    },
  });

export const Timestamps = {
  createdAt: z.string().meta({ description: 'When the record was created (UTC).' }),
  updatedAt: z.string().meta({ description: 'When the record last changed (UTC).' }),
};

export const Problem = z
  .object({
    type: z.enum(PROBLEM_CODES.map(problemType) as [string, ...string[]]).meta({
      description:
        'The problem type: a URI reference relative to this service, whose page (`GET /problems/{code}`) ' +
        'explains it. Every type is listed under the Problems tag.',
    }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().meta({ description: 'What was wrong with this request.' }),
    instance: z.string().optional().meta({ description: 'The path of the request.' }),
    code: z.enum(PROBLEM_CODES).optional().meta({ description: 'The last segment of `type`.' }),
    errors: z
      .array(z.object({ in: z.string(), path: z.string(), message: z.string() }))
      .optional()
      .meta({ description: 'The fields at fault: where (`in`), which (`path`, JSON pointer) and why.' }),
  })
  .meta({
    id: 'Problem',
    description: 'An RFC 9457 problem document.',
    example: {
      type: problemType('validation-failed'),
      title: 'Validation failed',
      status: 400,
      detail: 'query/from: "2022-02-30": February 2022 has 28 days',
      instance: '/v1/timeline',
      code: 'validation-failed',
      errors: [{ in: 'query', path: '/from', message: '"2022-02-30": February 2022 has 28 days' }],
    },
  });

export const PageInfo = z
  .object({
    nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last.' }),
    limit: z.number().int(),
  })
  .meta({ id: 'PageInfo' });

export const listOf = <T extends z.ZodType>(item: T, id: string) =>
  z.object({ data: z.array(item), page: PageInfo }).meta({ id });

export const LimitParam = z.coerce
  .number()
  .int()
  .min(1)
  .max(500)
  .default(50)
  .meta({ description: 'Page size, 1 to 500.' });

export const CursorParam = z
  .string()
  .max(2000)
  .optional()
  .meta({ description: 'The `page.nextCursor` of the previous page; opaque.' });

// Optional query parameters carry no `example`: the explorer pre-fills every example into the
// query it sends, and filters that were never meant to be combined then select nothing.
export const LangParam = languageTag.optional().meta({
  description: 'Return text in this language only (a BCP 47 tag such as `ar`), falling back to the original language.',
});

/** A query parameter that may be repeated (`?actor=a&actor=b`). */
export const repeated = <T extends z.ZodType>(item: T) =>
  z.preprocess((value) => (value === undefined || Array.isArray(value) ? value : [value]), z.array(item).max(50));

const problemDescriptions: Record<number, string> = {
  400: 'The request is malformed or a value is invalid.',
  401: 'No valid API key was given.',
  403: 'The API key lacks the scope this operation needs.',
  404: 'No such record.',
  406: 'None of the accepted media types can be produced.',
  408: 'The body stopped arriving (nothing for the idle timeout).',
  409: 'The change conflicts with stored data.',
  410: 'The cursor has expired: the data under it changed. Start again from the first page, without a cursor.',
  413: 'The body is too large.',
  415: 'The body has an unsupported media type.',
  422: 'The request refers to records that do not exist.',
  429: 'Too many requests: wait as long as `Retry-After` says.',
  503: 'The service is overloaded or not ready, or the database is busy with another write: retry after `Retry-After` seconds.',
};

/** A JSON success response, with what it holds said in words (not the generator's "Default Response"). */
export const jsonResponse = (description: string, schema: z.ZodType) => ({
  description,
  content: { 'application/json': { schema } },
});

/** Response entries for the problem statuses an operation can return. */
export const problemResponses = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: problemDescriptions[status] ?? 'Problem',
        content: { 'application/problem+json': { schema: Problem } },
      },
    ]),
  );

/**
 * The body of a streamed upload: documented as text, handed to the handler as the request
 * stream unvalidated (see the validator compiler in src/app.ts).
 */
export const StreamBody = z.string().meta({
  description: 'Interchange NDJSON: one record per line (see the interchange format).',
  example:
    '{"kind":"place","key":"place:kz","type":"country","name":{"en":"Kazakhstan","ar":"كازاخستان"},"countryCode":"KZ"}\n',
});

/** Headers of writes that can be retried safely. */
export const IdempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .min(1)
    .max(255)
    .optional()
    // no example: the explorer would send one shared key with every write, and each write after
    // the first (another body under the same key) would be refused as a reused key
    .meta({
      description:
        'A client-chosen key, 1 to 255 visible ASCII characters (a fresh UUID per write is a good choice), that ' +
        'makes retries of this write safe for 24 hours. Use a new key for each new request.',
    }),
});
