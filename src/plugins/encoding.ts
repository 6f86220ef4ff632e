import type { FastifyInstance } from 'fastify';
import { ProblemError } from '../schemas/problems.js';
import { describeInvalidUtf8, findLoneSurrogate, firstInvalidUtf8, mayHoldLoneSurrogate } from '../import/unicode.js';

/** A body with text that cannot be stored as it was sent: the field, and why. */
export const invalidText = (pointer: string, message: string) =>
  new ProblemError(400, 'invalid-text', 'Invalid text', `body${pointer}: ${message}`, {
    errors: [{ in: 'body', path: pointer || '/', message }],
  });

/**
 * JSON bodies (`application/json`, `application/merge-patch+json`) are read as bytes and
 * refused, naming the field, when they are not UTF-8 or hold a lone surrogate (`"\ud800"`):
 * decoded as text, either would be stored as U+FFFD, not as what was sent.
 */
export function installJsonParsers(app: FastifyInstance): void {
  // typed as either a callback or a promise parser; fastify's default is the callback one
  const parseJson = app.getDefaultJsonParser('error', 'error') as (
    request: never,
    body: string,
    done: (error: Error | null, value?: unknown) => void,
  ) => void;
  const parser = (request: unknown, body: Buffer, done: (error: Error | null, value?: unknown) => void) => {
    const bad = firstInvalidUtf8(body);
    if (bad !== -1) {
      const { pointer, message } = describeInvalidUtf8(body, bad);
      done(invalidText(pointer, message));
      return;
    }
    const text = body.toString('utf8');
    parseJson(request as never, text, (error, value) => {
      if (error) return done(error);
      const found = mayHoldLoneSurrogate(text) ? findLoneSurrogate(value) : null;
      if (found) return done(invalidText(found.pointer, found.message));
      done(null, value);
    });
  };
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parser);
  // RFC 7396 merge patches are JSON too
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'buffer' }, parser);
}
