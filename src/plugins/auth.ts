import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { forbidden, unauthorized } from '../schemas/problems.js';
import type { ApiKeyInfo, Scope, WriteContext } from '../storage/types.js';

declare module 'fastify' {
  interface FastifyRequest {
    apiKey?: ApiKeyInfo;
  }
}

/** OpenAPI security requirement of operations that need a key. */
export const bearerSecurity = [{ bearerAuth: [] as string[] }];

/** OpenAPI security requirement of public operations: none (overrides the document's default). */
export const publicSecurity: Array<Record<string, string[]>> = [];

/** A preHandler that admits only requests bearing a live key with `scope`. */
export function requireScope(scope: Scope): preHandlerAsyncHookHandler {
  return async function (this: unknown, request: FastifyRequest, _reply: FastifyReply) {
    const header = request.headers.authorization;
    if (!header) throw unauthorized('this operation needs an API key: send Authorization: Bearer <key>');
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      await request.server.countFailure(request);
      throw unauthorized('the Authorization header must be "Bearer <key>"');
    }
    const storage = request.server.storage;
    let key = await storage.knownApiKey(match[1]!);
    let counted = false;
    if (key === undefined) {
      // a secret this process has not verified costs a slow hash: it is counted against the
      // client's budget of failed authentications before the work, not after
      await request.server.countFailure(request);
      counted = true;
      key = await storage.verifySecret(match[1]!);
    }
    if (!key) {
      if (!counted) await request.server.countFailure(request);
      throw unauthorized('the API key is unknown or revoked');
    }
    if (!key.scopes.includes(scope) && !key.scopes.includes('admin')) {
      throw forbidden(`the API key lacks the "${scope}" scope`);
    }
    request.apiKey = key;
  };
}

/** Whom a write is made for: the name of the key the request authenticated with (never its secret). */
export const writeContext = (request: FastifyRequest): WriteContext => ({ author: request.apiKey?.name ?? null });
