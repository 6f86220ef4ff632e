/**
 * Coded errors, rendered as RFC 9457 problem details by src/plugins/problems.ts.
 * Repositories and modules throw these; they never know about HTTP beyond the status.
 */
export interface FieldError {
  /** Where the value came from: body, query, params, headers, or line (import). */
  in: string;
  /** JSON-pointer-like path of the field, e.g. `/actors/0/actor`. */
  path: string;
  message: string;
}

/**
 * Problem `type` URIs are relative references (RFC 9457 §3.1.1) to pages this service serves
 * (src/routes/problems.ts), so they resolve against whichever host answered, and they point
 * somewhere the project controls.
 */
export const PROBLEM_BASE = '/problems/';

/**
 * Every problem type the service answers with, by code: the page at `/problems/{code}`, the
 * `type` and `code` enums of the Problem schema, and the codes `ProblemError` accepts all come
 * from here, so a new code cannot be sent without being documented.
 */
export const PROBLEM_TYPES = {
  'invalid-request': {
    title: 'Invalid request',
    status: 400,
    description:
      'The request is malformed: a value that cannot be used as given (a bad cursor, a URL with broken ' +
      'percent-encoding, an Idempotency-Key that is not visible ASCII, too many histogram buckets). Other ' +
      '4xx statuses the HTTP layer raises carry this type too. `errors` names the fields when it can.',
  },
  'validation-failed': {
    title: 'Validation failed',
    status: 400,
    description:
      'A parameter or a field of the body does not match the schema the OpenAPI document gives for it. ' +
      '`errors` lists each one: where it is (`in`: query, body, params or headers), its JSON-pointer `path` ' +
      'and what is wrong.',
  },
  'invalid-text': {
    title: 'Invalid text',
    status: 400,
    description:
      'A string of the body holds text that cannot be stored as sent: bytes that are not UTF-8, or a lone ' +
      'UTF-16 surrogate (`\\ud800` in JSON). `errors` names the field; nothing is altered or stored.',
  },
  'unknown-parameter': {
    title: 'Unknown query parameter',
    status: 400,
    description:
      'The query string names a parameter the operation does not take (a typo such as `dryrun` for `dryRun` ' +
      'would otherwise be ignored silently). `errors` names each one; the detail lists those it takes.',
  },
  'invalid-json': {
    title: 'Invalid JSON',
    status: 400,
    description: 'The body was sent as JSON but is empty or does not parse.',
  },
  'unsupported-format': {
    title: 'Unsupported format',
    status: 400,
    description: 'The `format` query parameter names a format this read does not produce; the detail lists those it does.',
  },
  unauthorized: {
    title: 'Unauthorized',
    status: 401,
    description:
      'The operation needs an API key and none was sent, or the key is unknown or revoked. Send ' +
      '`Authorization: Bearer <key>`.',
  },
  forbidden: {
    title: 'Forbidden',
    status: 403,
    description: 'The API key is valid but lacks the scope (`write`, `admin`) the operation needs.',
  },
  'not-found': {
    title: 'Not found',
    status: 404,
    description: 'No record has this id or key, or no route answers this method and path.',
  },
  'not-acceptable': {
    title: 'Not acceptable',
    status: 406,
    description:
      'None of the media types in `Accept` can be produced. The detail lists the supported ones; `format=` ' +
      'chooses one explicitly.',
  },
  conflict: {
    title: 'Conflict',
    status: 409,
    description:
      'The change conflicts with stored data: a key or slug already in use, or a delete of a record other ' +
      'records still refer to (`errors` names them).',
  },
  'idempotency-in-progress': {
    title: 'Request in progress',
    status: 409,
    description:
      'A request with the same Idempotency-Key is still being processed. Retry after `Retry-After` seconds to ' +
      'get its response.',
  },
  'cursor-expired': {
    title: 'Cursor expired',
    status: 410,
    description:
      'A `sort=relevance` cursor whose earlier pages no longer rank first: writes since it was issued changed ' +
      'the ranking, so continuing could skip or repeat a match. Start again from the first page, without `cursor`.',
  },
  'changes-pruned': {
    title: 'Changes pruned',
    status: 410,
    description:
      'The change feed no longer holds every change after `since`: older changes are pruned after the retention ' +
      'period. `resyncFrom` is the oldest `since` it still answers: take a full export (`GET /v1/export`, whose ' +
      'trailer carries the `sequence` it was read at) and follow the changes after that sequence.',
  },
  'body-too-large': {
    title: 'Body too large',
    status: 413,
    description: 'The body is larger than the operation accepts (1 MiB for JSON bodies; the import has its own limit).',
  },
  'unsupported-media-type': {
    title: 'Unsupported media type',
    status: 415,
    description: 'The body has a `Content-Type` the operation does not take: JSON for records, interchange NDJSON for the import.',
  },
  'unknown-reference': {
    title: 'Unknown reference',
    status: 422,
    description: 'The body refers (by id or key) to records that do not exist; `errors` names each reference.',
  },
  'idempotency-key-reused': {
    title: 'Idempotency-Key reused',
    status: 422,
    description:
      'The Idempotency-Key was used in the last 24 hours for a different request (another body, method or ' +
      'path). Use a new key for a new request.',
  },
  'request-timeout': {
    title: 'Request timeout',
    status: 408,
    description: 'The request line and headers did not arrive in time; the connection is closed.',
  },
  'body-timeout': {
    title: 'Request timeout',
    status: 408,
    description:
      'No part of the body arrived for longer than the server waits between chunks (`ANNALS_BODY_IDLE_TIMEOUT_S`). ' +
      'A long upload is fine as long as it keeps sending.',
  },
  'uri-too-long': {
    title: 'URI too long',
    status: 414,
    description: 'The URL is longer than the server accepts.',
  },
  'expectation-failed': {
    title: 'Expectation failed',
    status: 417,
    description: 'The request carries an `Expect` header other than `100-continue`, the only one this server meets.',
  },
  'headers-too-large': {
    title: 'Request header fields too large',
    status: 431,
    description: 'The request line and headers together are larger than the server accepts.',
  },
  'rate-limited': {
    title: 'Too many requests',
    status: 429,
    description:
      'The client sent more requests a minute than its budget (per API key, or per address without one), or ' +
      'too many failed authentications and unknown paths. Wait `Retry-After` seconds.',
  },
  internal: {
    title: 'Internal server error',
    status: 500,
    description:
      'The server failed to answer. Nothing about the failure is disclosed; it is logged under the request id ' +
      'that the detail quotes.',
  },
  overloaded: {
    title: 'Service unavailable',
    status: 503,
    description: 'The server is overloaded and sheds load. Retry after `Retry-After` seconds.',
  },
  'database-busy': {
    title: 'Service unavailable',
    status: 503,
    description:
      'Another write (or a dry-run import) held the database for longer than a write waits for it. Nothing was ' +
      'changed by this request; retry after `Retry-After` seconds.',
  },
  'database-unavailable': {
    title: 'Service unavailable',
    status: 503,
    description:
      'The connection to the database server was lost while answering (a restart, a failover) or could not be made. ' +
      'A write that answers this may or may not have been stored; retry after `Retry-After` seconds (with the same ' +
      '`Idempotency-Key`, a create is then made once).',
  },
  'shutting-down': {
    title: 'Service unavailable',
    status: 503,
    description: 'The server is shutting down and takes no new request; retry on another server or after `Retry-After` seconds.',
  },
  'not-ready': {
    title: 'Not ready',
    status: 503,
    description: 'The database is unreachable or not migrated (from `/readyz`). Retry after `Retry-After` seconds.',
  },
} as const satisfies Record<string, { title: string; status: number; description: string }>;

export type ProblemCode = keyof typeof PROBLEM_TYPES;

export const PROBLEM_CODES = Object.keys(PROBLEM_TYPES) as ProblemCode[];

/** The `type` URI of a problem code. */
export const problemType = (code: ProblemCode) => `${PROBLEM_BASE}${code}`;

export class ProblemError extends Error {
  readonly status: number;
  readonly code: ProblemCode;
  readonly title: string;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;
  /** Members of the problem document beyond the standard ones (documented by the operation). */
  readonly extensions: Record<string, unknown> | undefined;

  constructor(
    status: number,
    code: ProblemCode,
    title: string,
    detail: string,
    options: { errors?: FieldError[]; headers?: Record<string, string>; extensions?: Record<string, unknown> } = {},
  ) {
    super(detail);
    this.name = 'ProblemError';
    this.status = status;
    this.code = code;
    this.title = title;
    this.errors = options.errors;
    this.headers = options.headers;
    this.extensions = options.extensions;
  }
}

export const badRequest = (detail: string, errors?: FieldError[]) =>
  new ProblemError(400, 'invalid-request', 'Invalid request', detail, errors ? { errors } : {});

export const validationFailed = (detail: string, errors: FieldError[]) =>
  new ProblemError(400, 'validation-failed', 'Validation failed', detail, { errors });

export const notFound = (detail: string) => new ProblemError(404, 'not-found', 'Not found', detail);

export const conflict = (detail: string, errors?: FieldError[]) =>
  new ProblemError(409, 'conflict', 'Conflict', detail, errors ? { errors } : {});

export const unknownReference = (detail: string, errors: FieldError[]) =>
  new ProblemError(422, 'unknown-reference', 'Unknown reference', detail, { errors });

export const unauthorized = (detail: string) =>
  new ProblemError(401, 'unauthorized', 'Unauthorized', detail, {
    headers: { 'www-authenticate': 'Bearer realm="annals"' },
  });

/** Another connection held the database's write lock for longer than a write waits for it. */
export const databaseBusy = () =>
  new ProblemError(503, 'database-busy', 'Service unavailable', 'the database is busy with another write; retry in a few seconds', {
    headers: { 'retry-after': '2' },
  });

/** The database server ended the request's connection, or could not be reached. */
export const databaseUnavailable = () =>
  new ProblemError(503, 'database-unavailable', 'Service unavailable', 'the connection to the database was lost; retry in a few seconds', {
    headers: { 'retry-after': '2' },
  });

export const forbidden = (detail: string) => new ProblemError(403, 'forbidden', 'Forbidden', detail);

/** An `Idempotency-Key` sent again with another request. */
export const idempotencyKeyReused = () =>
  new ProblemError(
    422,
    'idempotency-key-reused',
    'Idempotency-Key reused',
    'this Idempotency-Key was used for a different request (another body, method or path) in the last 24 hours',
  );

/** A change feed asked for from before what the log still holds. */
export const changesPruned = (since: number, resyncFrom: number) =>
  new ProblemError(
    410,
    'changes-pruned',
    'Changes pruned',
    `changes after ${since} are no longer all kept (the log holds those after ${resyncFrom}): take an export and follow the changes after its trailer's sequence`,
    { extensions: { resyncFrom } },
  );
