import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { findConsoleDir, registerConsole } from './http/plugins/console-static.js';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { DestinationStream } from 'pino';
import { ErrorBody } from '@keyfob/protocol';
import type { Container } from './container.js';
import { createAuthenticator } from './http/plugins/authenticate.js';
import { registerApiGuards } from './http/plugins/api-guards.js';
import { registerErrorHandler, sendError } from './http/plugins/error-handler.js';
import { KeyfobError } from './errors/keyfob-error.js';
import { registerValidation } from './http/plugins/validation.js';
import { deferredChildLogger, loggerOptions } from './http/logging.js';
import { healthRoutes } from './http/routes/ops/health.js';
import { setupAndAuthRoutes } from './http/routes/api/setup-auth.js';
import { oidcRoutes } from './http/routes/api/oidc.js';
import { meRoutes } from './http/routes/api/me.js';
import { adminRoutes } from './http/routes/api/admin.js';
import { adminUsageRoutes } from './http/routes/api/admin-usage.js';
import { adminOAuthRoutes } from './http/routes/api/admin-oauth.js';
import { adminWebhookRoutes } from './http/routes/api/admin-webhooks.js';
import { oauthRoutes } from './http/routes/oauth/oauth-routes.js';
import { wellKnownRoutes } from './http/routes/oauth/well-known.js';
import { leakRoutes } from './http/routes/leaks/leak-routes.js';
import { OAuthFormLane, type OAuthLaneEndpoint } from './http/routes/oauth/oauth-form-lane.js';
import { introspectionEndpoint, tokenEndpoint } from './http/routes/oauth/oauth-lane-endpoints.js';
import { putLanesBeforeFastify, type HttpLane } from './http/lane-server.js';
import { TokenSelfLane } from './http/routes/api/token-self-lane.js';
import type { ApiDeps } from './http/routes/api/deps.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Introspection answered before Fastify, or null with the access log on (oauth-form-lane.ts). */
    readonly introspectionLane: OAuthFormLane | null;
    /** Token exchange answered before Fastify, or null with the access log on or a proxy trusted (oauth-form-lane.ts). */
    readonly tokenLane: OAuthFormLane | null;
    /** GET /tokens/self answered before Fastify, or null with the access log on or a proxy trusted (token-self-lane.ts). */
    readonly tokenSelfLane: TokenSelfLane | null;
  }
}

export interface BuildAppOptions {
  /** Where logs go (tests capture them); defaults to stdout. */
  readonly logStream?: DestinationStream;
}

/** Builds the HTTP application on a container. Never listens: main.ts and tests decide that. */
export async function buildApp(container: Container, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const { config } = container;
  const app = Fastify({
    logger: loggerOptions(config.logLevel, options.logStream),
    // A hop count is spelled as a number in the environment; Fastify takes it as one too.
    trustProxy: config.trustProxy as boolean | string,
    bodyLimit: config.bodyLimitBytes,
    http: { maxHeaderSize: config.maxHeaderBytes },
    return503OnClosing: true,
    logController: new LogController({ disableRequestLogging: !config.accessLog }),
    childLoggerFactory: deferredChildLogger,
    routerOptions: { maxParamLength: 200 },
    // Malformed URLs and over-long path parameters answer in the one error shape too.
    frameworkErrors: (error, request, reply) => {
      sendError(request, reply, new KeyfobError('invalid_request', `the request URL is malformed (${error.code})`));
    },
  });

  let consoleFallback: ((request: FastifyRequest, reply: FastifyReply) => boolean) | undefined;
  registerErrorHandler(app, () => consoleFallback);
  registerValidation(app);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'keyfob', description: 'Personal access tokens: REST API v1', version: '1.0.0' },
      servers: [{ url: config.baseUrl }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'A personal access token' },
          session: { type: 'apiKey', in: 'cookie', name: 'keyfob_session', description: 'Console session; unsafe methods also need X-CSRF-Token' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
  });
  app.addSchema(ErrorBody);
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // A callback hook: an async one would cost every request a promise and a microtask.
  app.addHook('onResponse', (request, reply, done) => {
    container.metrics.http.observe(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  healthRoutes(app, { store: container.store, metrics: container.metrics });

  const deps: ApiDeps = {
    auth: createAuthenticator({ verifier: container.verifier, sessions: container.sessions, limiter: container.limiter, clock: container.clock }),
    clock: container.clock,
    audit: container.audit,
    users: container.users,
    sessions: container.sessions,
    pats: container.pats,
    policy: container.policy,
    scopes: container.scopes,
    secureCookies: config.baseUrl.startsWith('https:'),
  };
  await app.register(
    async (api) => {
      // Cookies belong to the console's session, which only /api/v1 reads and sets; outside it the
      // plugin's onSend hook would be one more step in every OAuth answer. Read only where a
      // session is checked (authenticate), not on every request.
      await api.register(cookie, { hook: false });
      registerApiGuards(api);
      setupAndAuthRoutes(api, deps);
      oidcRoutes(api, { oidc: container.oidc, secureCookies: deps.secureCookies });
      meRoutes(api, deps);
      adminRoutes(api, deps);
      adminUsageRoutes(api, { ...deps, reports: container.usageReports });
      adminOAuthRoutes(api, { ...deps, clients: container.clients, keys: container.signingKeys });
      adminWebhookRoutes(api, { ...deps, webhooks: container.webhooks });
    },
    { prefix: '/api/v1' },
  );
  await app.register(leakRoutes, {
    issuer: config.baseUrl, acceptedPrefixes: config.acceptedPrefixes, leaks: container.leaks, limiter: container.limiter, githubKeys: config.githubScanningKeys });
  wellKnownRoutes(app, { issuer: config.baseUrl, keys: container.signingKeys, scopes: container.scopes, jwksMaxAgeSeconds: config.jwksMaxAgeSeconds });
  const onOAuthError = (endpoint: string, error: string) => container.metrics.oauthErrors.inc({ endpoint, error });
  await app.register(oauthRoutes, {
    onError: onOAuthError, clients: container.clients, exchange: container.exchange, introspection: container.introspection, limiter: container.limiter });
  // Introspection and token exchange by a cached client, and GET /tokens/self with a cached token,
  // answered before Fastify (oauth-form-lane.ts, token-self-lane.ts). Not with the access log on:
  // its lines are Fastify's. The exchange and token-self lanes need the caller's address, which is
  // the socket's only when no proxy is trusted.
  let introspectionLane: OAuthFormLane | undefined;
  let tokenLane: OAuthFormLane | undefined;
  let tokenSelfLane: TokenSelfLane | undefined;
  if (!config.accessLog) {
    const observe = (method: string, route: string, status: number, seconds: number) => container.metrics.http.observe(method, route, status, seconds);
    const laneFailed = (error: unknown) => app.log.error({ err: error }, 'a request lane failed; the connection was closed');
    const oauthLane = (endpoint: OAuthLaneEndpoint) =>
      new OAuthFormLane({ endpoint, clients: container.clients, limiter: container.limiter, log: app.log, observe, onError: onOAuthError, route: (request) => app.inject(request) });
    introspectionLane = oauthLane(introspectionEndpoint(container.introspection));
    const lanes: HttpLane[] = [introspectionLane];
    if (config.trustProxy === false) {
      tokenLane = oauthLane(tokenEndpoint(container.exchange));
      tokenSelfLane = new TokenSelfLane({ verifier: container.verifier, limiter: container.limiter, clock: container.clock, observe, onError: laneFailed });
      lanes.push(tokenLane, tokenSelfLane);
    }
    const dispatcher = putLanesBeforeFastify(app.server, lanes, laneFailed);
    app.addHook('preClose', (done) => {
      dispatcher.close();
      done();
    });
  }
  app.decorate('introspectionLane', introspectionLane ?? null);
  app.decorate('tokenLane', tokenLane ?? null);
  app.decorate('tokenSelfLane', tokenSelfLane ?? null);

  const consoleDir = findConsoleDir(config.consoleDir);
  if (consoleDir) consoleFallback = await registerConsole(app, consoleDir);
  else app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.type('text/plain; charset=utf-8').send('keyfob is running. The web console has not been built (npm run build); the API is at /api/v1 and documented at /docs.\n'));

  // Node closes the server's idle connections once, when it begins to close. A connection busy
  // then (a request in flight) stays open after its answer until the keep-alive timeout (72 s), and
  // held close() that long: past `keyfob serve`'s 15 s the process exited 1 without flushing usage.
  // Idle connections are closed as they come until the server has closed.
  app.addHook('preClose', (done) => {
    const reaper = setInterval(() => app.server.closeIdleConnections(), 100);
    reaper.unref();
    app.server.once('close', () => clearInterval(reaper));
    done();
  });
  app.addHook('onClose', async () => {
    await container.close();
  });
  return app;
}
