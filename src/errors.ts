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

export const PROBLEM_BASE = 'https://annals.dev/problems/';

export class ProblemError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;
  /** Members of the problem document beyond the standard ones (documented by the operation). */
  readonly extensions: Record<string, unknown> | undefined;

  constructor(
    status: number,
    code: string,
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

export const forbidden = (detail: string) => new ProblemError(403, 'forbidden', 'Forbidden', detail);
