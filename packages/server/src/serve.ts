import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { Config } from './config/config.js';
import { openContainer } from './runtime.js';
import { tuneHeapForServing } from './heap-tuning.js';

/**
 * Starts the server: store, app, listen, and a graceful stop on SIGTERM/SIGINT that drains
 * requests and flushes pending usage writes before exit.
 */
export async function serve(config: Config): Promise<FastifyInstance> {
  tuneHeapForServing();
  let log: FastifyBaseLogger | undefined;
  const container = await openContainer(config, {
    onBusState: (state, detail) => {
      if (state === 'lost') log?.warn({ err: detail }, 'invalidation listener lost: bypassing the verification cache until it listens again');
      else log?.info('invalidation listener listening');
    },
    onBackgroundError: (error) => log?.error({ err: error }, 'background write failed; will retry'),
  });
  let app: FastifyInstance;
  try {
    app = await buildApp(container);
    log = app.log;
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await container.close();
    throw error;
  }
  if (await container.users.setupNeeded()) {
    app.log.info(
      `keyfob has no users yet. Finish setup: open ${config.baseUrl}/ or POST ${config.baseUrl}/api/v1/setup ` +
        `{"username": "...", "password": "..."}, or run "npx keyfob users create <name> --admin", ` +
        'or start with KEYFOB_ADMIN_USERNAME and KEYFOB_ADMIN_PASSWORD set.',
    );
  }
  app.log.info(`keyfob serving ${config.baseUrl} (store: ${config.database.kind}); API docs at ${config.baseUrl}/docs`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'stopping: draining requests and flushing usage');
    const timer = setTimeout(() => process.exit(1), 15_000);
    timer.unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.log.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return app;
}
