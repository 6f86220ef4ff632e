import cluster from 'node:cluster';
import { buildApp } from './app.js';
import { openStorage } from './storage/index.js';
import { ConfigError, readServerConfig, type ServerConfig } from './config.js';

/** How long a shutdown may still take once the connections in flight have been closed. */
const FORCED_EXIT_MS = 3000;

/** Reads the environment once, serves, and shuts down gracefully on SIGTERM and SIGINT. */
async function main() {
  let config;
  try {
    config = readServerConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`annals: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  if (config.workers > 1 && cluster.isPrimary) return supervise(config);
  return serve(config);
}

async function serve(config: ServerConfig) {
  const app = await buildApp({
    ...config,
    // The primary hands each worker connections in turn, so a client's requests spread evenly
    // over the workers, whose counters are their own: each holds its share of the budget.
    rateLimit: config.rateLimit === undefined || config.rateLimit === 0 ? config.rateLimit : Math.max(1, Math.ceil(config.rateLimit / config.workers)),
  });
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    const timeoutS = config.shutdownTimeoutMs / 1000;
    app.log.info({ signal, timeoutS }, 'shutting down: finishing requests in flight');
    // A request in flight may never finish on its own (an export to a client that stopped
    // reading): past the deadline its connection is closed, which aborts its response (the
    // client sees it broken, and an export lacks its trailer), and the close can complete.
    const deadline = setTimeout(() => {
      app.log.warn({ timeoutS }, 'shutdown deadline passed: closing the connections still open');
      app.server.closeAllConnections();
      // what closing the connections does not end (a stuck hook) does not hold the exit either
      setTimeout(() => {
        app.log.error('shutdown did not complete after closing the connections: exiting');
        process.exit(1);
      }, FORCED_EXIT_MS).unref();
    }, config.shutdownTimeoutMs);
    deadline.unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // a worker whose primary is gone (killed) stops too rather than serve on unsupervised
  if (cluster.isWorker) process.on('disconnect', () => shutdown('disconnect'));

  await app.listen({ port: config.port, host: config.host });
}

/**
 * Several processes on one port (node:cluster): every piece of shared state is in the
 * database (data, revision, cursor secret, keys, idempotency keys), so workers need nothing
 * from each other. The primary prepares the database first (migrations, seed, bootstrap
 * key), so that workers never race to migrate, then starts the workers, restarts one that
 * dies, and on SIGTERM or SIGINT passes the signal on and exits when they all have.
 */
async function supervise(config: ServerConfig) {
  await (await openStorage(config)).close();

  let closing = false;
  const listened = new Set<number>();
  const fork = () => cluster.fork();
  cluster.on('listening', (worker) => listened.add(worker.id));
  cluster.on('exit', (worker, code, signal) => {
    if (closing) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit();
      return;
    }
    // a worker that never listened (the port is taken, the database unreadable) would fail
    // again: stop rather than restart it forever
    if (!listened.has(worker.id)) {
      process.stderr.write(`annals: worker ${worker.process.pid} exited (${signal ?? code}) before listening; stopping\n`);
      process.exitCode = 1;
      shutdown('SIGTERM');
      return;
    }
    process.stderr.write(`annals: worker ${worker.process.pid} exited (${signal ?? code}); starting another\n`);
    setTimeout(fork, 1000);
  });
  function shutdown(signal: NodeJS.Signals) {
    if (closing) return;
    closing = true;
    const workers = Object.values(cluster.workers ?? {});
    if (workers.length === 0) process.exit();
    for (const worker of workers) worker?.process.kill(signal);
    // each worker keeps its own deadline; one that outlives it by far is stuck
    setTimeout(() => {
      process.stderr.write('annals: workers still running past the shutdown deadline; killing them\n');
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      process.exit(1);
    }, config.shutdownTimeoutMs + 2 * FORCED_EXIT_MS).unref();
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  for (let i = 0; i < config.workers; i++) fork();
}

main().catch((error: unknown) => {
  // A bulk load (npm run import into an empty database) holds the database file with a
  // rollback journal until it commits, so a server started meanwhile cannot open it.
  const hint =
    (error as { code?: string }).code === 'SQLITE_BUSY'
      ? ' (another process is writing it: an import into an empty database holds it until it has finished)'
      : '';
  process.stderr.write(`annals: failed to start: ${error instanceof Error ? error.message : String(error)}${hint}\n`);
  process.exit(1);
});
