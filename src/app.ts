import fastifyCors from '@fastify/cors';
import fastifyUnderPressure from '@fastify/under-pressure';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { CHANGES_RETENTION_MS, type AppConfig } from './config.js';
import { CursorCodec } from './storage/cursor.js';
import { openStorage, type Storage } from './storage/index.js';
import { STATISTICS_AFTER_IMPORT_RECORDS } from './storage/port.js';
import { installCaching } from './plugins/caching.js';
import { installRateLimits } from './plugins/limits.js';
import { installProblemHandlers, sendProblem } from './plugins/problems.js';
import { clientErrorHandler, installConnectionRules } from './plugins/connections.js';
import { RUN_CACHE_LIMIT, runCacheSize } from './search/text.js';
import { actorRoutes } from './routes/actors.js';
import { changesRoutes } from './routes/changes.js';
import { eventRoutes } from './routes/events.js';
import { exportRoutes } from './routes/export.js';
import { healthRoutes } from './routes/health.js';
import { BULK_IMPORT_MIN_BYTES, importRoutes } from './routes/import.js';
import { placeRoutes } from './routes/places.js';
import { problemRoutes } from './routes/problems.js';
import { sourceRoutes } from './routes/sources.js';
import { statementRoutes } from './routes/statements.js';
import { timelineRoutes } from './routes/timeline.js';
import { timelinesRoutes } from './routes/timelines.js';
import { viewerRoutes } from './routes/viewer.js';
import { StreamBody } from './schemas/common.js';
import { declareProtocolResponses, openapiDocumentBase, openapiText, pruneUnusedSchemas } from './plugins/openapi.js';
import { installSecurityHeaders, withoutUpgradeInsecureRequests } from './plugins/security.js';
import { installJsonParsers } from './plugins/encoding.js';
import { installStrictQueries } from './plugins/query.js';
import { installStreaming } from './plugins/streaming.js';
import { installLiveFeeds } from './plugins/live.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The storage port (src/storage/port.ts): every read and write of the data goes through it. */
    storage: Storage;
    cursors: CursorCodec;
    /**
     * Every structure in this process that requests can fill, with its size and bound (in
     * entries): none grows past its bound whatever clients send.
     */
    boundedStructures(): Record<string, { size: number; limit: number }>;
    /** Longest an export may stream (AppConfig.exportTimeoutMs). */
    exportTimeoutMs: number;
    /** Records an API import must store to refresh the planner's statistics (AppConfig.statisticsAfterImportRecords). */
    statisticsAfterImportRecords: number;
  }
}

/** Default of AppConfig.exportTimeoutMs: 15 minutes, like the longest upload. */
export const EXPORT_TIMEOUT_MS = 15 * 60_000;

export const BODY_LIMIT = 1024 * 1024;

/**
 * Builds the application from a config object: opens and migrates the database, loads the
 * seed into an empty one, registers every plugin and route in order. It never listens.
 */
export async function buildApp(config: AppConfig): Promise<FastifyInstance> {
  const storage = await openStorage(config);

  const app = Fastify({
    logger: {
      level: config.logLevel,
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    },
    bodyLimit: BODY_LIMIT,
    // one process serves one database; a client's slow upload must not hold a socket forever
    // (and a body that stops arriving is cut sooner: see src/plugins/connections.ts)
    requestTimeout: 15 * 60_000,
    connectionTimeout: 0,
    // answered as a problem by src/plugins/connections.ts instead
    return503OnClosing: false,
    clientErrorHandler,
    trustProxy: config.trustProxy ?? false,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // errors the router raises before any route runs are problems like every other
    frameworkErrors: (error, request, reply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      void sendProblem(reply, request, {
        status: tooLong ? 404 : 400,
        code: tooLong ? 'not-found' : 'invalid-request',
        title: tooLong ? 'Not found' : 'Invalid request',
        // no id or key is longer than 200 characters, so there is no such record
        detail: tooLong ? 'no record has an id or key this long' : 'the URL is not valid (bad percent-encoding?)',
      });
    },
  }).withTypeProvider<ZodTypeProvider>();

  app.decorate('storage', storage);
  app.decorate('importLimitBytes', config.importLimitBytes ?? 1024 * 1024 * 1024);
  app.decorate('bulkImportMinBytes', config.bulkImportMinBytes ?? BULK_IMPORT_MIN_BYTES);
  app.decorate('exportTimeoutMs', config.exportTimeoutMs ?? EXPORT_TIMEOUT_MS);
  app.decorate('statisticsAfterImportRecords', config.statisticsAfterImportRecords ?? STATISTICS_AFTER_IMPORT_RECORDS);
  // a client has this long to send its headers: slow-header clients do not hold sockets
  app.server.headersTimeout = 30_000;
  app.decorate('cursors', new CursorCodec(await storage.cursorSecret()));
  app.decorate('boundedStructures', () => ({
    ...storage.boundedStructures(),
    searchRuns: { size: runCacheSize(), limit: RUN_CACHE_LIMIT },
  }));
  // changes past the retention go at intervals (any server may prune: the log is shared)
  const retentionMs = config.changesRetentionMs ?? CHANGES_RETENTION_MS;
  const pruneIntervalMs = config.changesPruneIntervalMs ?? 3600_000;
  const pruneChanges = () =>
    storage.pruneChanges(new Date(Date.now() - retentionMs).toISOString()).catch((error: unknown) => {
      app.log.warn({ err: error }, 'could not prune the change log');
    });
  const pruneTimer = pruneIntervalMs > 0 ? setInterval(() => void pruneChanges(), pruneIntervalMs).unref() : null;
  app.addHook('onClose', async () => {
    if (pruneTimer) clearInterval(pruneTimer);
    await storage.close();
  });
  // after the database's hook: onClose hooks run last first, so streams go before it
  installStreaming(app);
  installLiveFeeds(app, { pollMs: config.changesPollMs, heartbeatMs: config.changesHeartbeatMs });

  // Streamed bodies are passed through unvalidated: the handler reads and checks each line.
  app.setValidatorCompiler((route) =>
    route.schema === StreamBody
      ? (data: unknown) => ({ value: data })
      : validatorCompiler(route as Parameters<typeof validatorCompiler>[0]),
  );
  // Responses are built by the repositories to their schemas and checked against the
  // published document by the test suite (the spec-driven fuzzer validates every body); at
  // run time the zod serializer re-validated every nested object of every page, which cost
  // more than the queries. Plain JSON.stringify serialises them.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  installProblemHandlers(app);
  installConnectionRules(app, config.bodyIdleTimeoutMs ?? 30_000);
  installStrictQueries(app);
  installCaching(app);
  await installRateLimits(app, config.rateLimit ?? 600);
  installSecurityHeaders(app, {
    // the API answers JSON; only the explorer at /docs serves pages, with its own CSP
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', 'validator.swagger.io'],
        // served over plain HTTP on 127.0.0.1 by default: upgrading would break the explorer
        upgradeInsecureRequests: null,
      },
    },
    crossOriginResourcePolicy: { policy: 'cross-origin' },
  });
  await app.register(fastifyUnderPressure, {
    maxEventLoopDelay: 1000,
    retryAfter: 10,
    pressureHandler: (request, reply, type) => {
      void sendProblem(reply.header('retry-after', '10'), request, {
        status: 503,
        code: 'overloaded',
        title: 'Service unavailable',
        detail: `the server is overloaded (${type}); retry in 10 s`,
      });
    },
  });

  // bodies are JSON (or streamed NDJSON): plain text is an unsupported media type, not a string body
  app.removeContentTypeParser('text/plain');
  // JSON bodies (and RFC 7396 merge patches) whose text cannot be stored as sent are refused
  installJsonParsers(app);

  // Reads are public and writes take a bearer key, not cookies: never allow credentials.
  await app.register(fastifyCors, {
    origin: config.corsOrigins === '*' || config.corsOrigins === undefined ? '*' : config.corsOrigins,
    credentials: false,
    // a plain OPTIONS (not a preflight) is answered too, not refused as a broken preflight
    strictPreflight: false,
    methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Accept', 'Accept-Language', 'If-None-Match', 'Idempotency-Key'],
    exposedHeaders: [
      'ETag',
      'Link',
      'Location',
      'Retry-After',
      'RateLimit-Limit',
      'RateLimit-Remaining',
      'RateLimit-Reset',
      'X-RateLimit-Limit',
      'X-RateLimit-Remaining',
      'X-RateLimit-Reset',
    ],
    maxAge: 600,
  });

  await app.register(fastifySwagger, {
    openapi: openapiDocumentBase,
    transform: jsonSchemaTransform,
    transformObject: (document) => declareProtocolResponses(pruneUnusedSchemas(jsonSchemaTransformObject(document))),
  });
  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    // the explorer is served over plain HTTP too (127.0.0.1 by default, any host behind a
    // LAN): upgrading its requests to HTTPS would leave it blank wherever there is no TLS
    transformStaticCSP: withoutUpgradeInsecureRequests,
  });

  await app.register(healthRoutes);
  await app.register(viewerRoutes);
  await app.register(problemRoutes);
  await app.register(
    async (v1) => {
      await v1.register(timelineRoutes);
      await v1.register(sourceRoutes, { prefix: '/sources' });
      await v1.register(placeRoutes, { prefix: '/places' });
      await v1.register(actorRoutes, { prefix: '/actors' });
      await v1.register(eventRoutes, { prefix: '/events' });
      await v1.register(statementRoutes, { prefix: '/statements' });
      await v1.register(timelinesRoutes, { prefix: '/timelines' });
      await v1.register(importRoutes);
      await v1.register(exportRoutes);
      await v1.register(changesRoutes);
    },
    { prefix: '/v1' },
  );

  // the committed file's bytes (pretty-printed), not a re-serialisation of the object
  let documentText: string | undefined;
  app.get('/openapi.json', { schema: { hide: true } }, async (_request, reply) => {
    documentText ??= openapiText(app);
    return reply.type('application/json; charset=utf-8').send(documentText);
  });

  await app.ready();
  return app;
}
