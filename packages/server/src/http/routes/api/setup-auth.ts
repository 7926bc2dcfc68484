import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { LoginBody, SessionResponse, SetupBody, SetupStatus } from '@keyfob/protocol';
import { SYSTEM_ACTOR } from '../../../domain/models.js';
import { KeyfobError } from '../../../errors/keyfob-error.js';
import { SESSION_COOKIE } from '../../plugins/authenticate.js';
import { actorOf } from '../../../services/principal.js';
import type { ApiDeps } from './deps.js';
import { NoContent, errorResponses, requestMeta, setSessionCookie } from './common.js';
import { presentUser } from '../../presenters.js';

export function setupAndAuthRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.get('/setup', { schema: { tags: ['setup'], summary: 'Whether first-run setup is needed', response: { 200: SetupStatus } } }, async () => {
    const needed = await deps.users.setupNeeded();
    return { needed, setupRequired: needed };
  });

  api.post(
    '/setup',
    { schema: { tags: ['setup'], summary: 'Create the first admin (only while no user exists) and sign in', body: SetupBody, response: { 201: SessionResponse, ...errorResponses } } },
    async (request, reply) => {
      const meta = requestMeta(request);
      const user = await deps.users.setup({ ...SYSTEM_ACTOR, ...meta }, request.body);
      const session = await deps.sessions.start(user, meta, { method: 'setup' });
      setSessionCookie(reply, session, deps.secureCookies);
      return reply.code(201).send({ user: presentUser(user), csrfToken: session.csrfToken });
    },
  );

  api.post(
    '/auth/login',
    { schema: { tags: ['auth'], summary: 'Start a console session', body: LoginBody, response: { 200: SessionResponse, ...errorResponses } } },
    async (request, reply) => {
      const session = await deps.sessions.login(request.body.username, request.body.password, requestMeta(request));
      setSessionCookie(reply, session, deps.secureCookies);
      return { user: presentUser(session.user), csrfToken: session.csrfToken };
    },
  );

  api.get(
    '/auth/session',
    { onRequest: deps.auth(), schema: { tags: ['auth'], summary: 'The console session behind the cookie and its CSRF token (for a reloaded page)', response: { 200: SessionResponse, ...errorResponses } } },
    async (request) => {
      const principal = request.principal;
      if (principal.sessionIdHash === null) throw new KeyfobError('invalid_request', 'this route describes a console session; a bearer token has none');
      return { user: presentUser(principal.user), csrfToken: deps.sessions.csrfTokenFor(principal.sessionIdHash) };
    },
  );

  api.post(
    '/auth/logout',
    { onRequest: deps.auth(), schema: { tags: ['auth'], summary: 'End the console session', response: { 204: NoContent, ...errorResponses } } },
    async (request, reply) => {
      const principal = request.principal;
      if (principal.sessionIdHash !== null) await deps.sessions.logout(actorOf(principal), principal.sessionIdHash);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send(null);
    },
  );
}
