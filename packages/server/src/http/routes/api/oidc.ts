import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ErrorBody, SignInOptions } from '@keyfob/protocol';
import type { OidcSignIn } from '../../../services/oidc-sign-in.js';
import { FLOW_TTL_MS } from '../../../services/sign-in-flows.js';
import { toKeyfobError } from '../../plugins/error-handler.js';
import { requestMeta, setSessionCookie } from './common.js';

/** The sign-in flow cookie: sent only to the start and callback routes, gone after ten minutes. */
export const FLOW_COOKIE = 'keyfob_oidc_flow';
const FLOW_COOKIE_PATH = '/api/v1/auth/oidc/';

// Anything is taken here and judged by the service (an unknown provider, a malformed answer), so
// that a person always lands on the login page with a reason, never on a JSON body.
const ProviderParams = Type.Object({ provider: Type.String() });
const StartQuery = Type.Object({ next: Type.Optional(Type.Unknown({ description: 'a console path to land on once signed in (default /)' })) });
// Providers add their own parameters (session_state, iss…): the callback takes any, and
// openid-client reads the raw query itself (and refuses repeated parameters).
const CallbackQuery = Type.Object(
  {
    code: Type.Optional(Type.Unknown({ description: 'the authorization code' })),
    state: Type.Optional(Type.Unknown()),
    error: Type.Optional(Type.Unknown()),
    error_description: Type.Optional(Type.Unknown()),
    iss: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: true },
);
const Redirect = Type.Null({ description: 'A redirect (Location); on failure to the console login page with ?error=<code>' });

/**
 * OpenID Connect sign-in. Both routes are browser navigations, so they always answer with a
 * redirect: on success to the console (the `next` path), on failure to `/login?error=<code>` with
 * one of the `oidc_*` codes of docs/errors.md (or `store_unavailable` / `server_error`), which the
 * login page shows. Never a JSON body a person would be left looking at.
 */
export function oidcRoutes(app: FastifyInstance, deps: { oidc: OidcSignIn; secureCookies: boolean }): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.get(
    '/auth/providers',
    { schema: { tags: ['auth'], summary: 'How people may sign in: the OpenID Connect providers and whether password sign-in is on', security: [], response: { 200: SignInOptions } } },
    async () => deps.oidc.options(),
  );

  api.get(
    '/auth/oidc/:provider/start',
    {
      schema: {
        tags: ['auth'], summary: 'Start signing in with an OpenID Connect provider (redirects to it)', security: [],
        params: ProviderParams, querystring: StartQuery, response: { 302: Redirect, 400: ErrorBody },
      },
    },
    async (request, reply) => {
      try {
        const next = request.query.next;
        const { location, sealedFlow } = await deps.oidc.start(request.params.provider, typeof next === 'string' ? next : undefined);
        reply.setCookie(FLOW_COOKIE, sealedFlow, { path: FLOW_COOKIE_PATH, httpOnly: true, sameSite: 'lax', secure: deps.secureCookies, maxAge: FLOW_TTL_MS / 1000 });
        return reply.redirect(location, 302);
      } catch (error) {
        return toLoginPage(request, reply, error);
      }
    },
  );

  api.get(
    '/auth/oidc/:provider/callback',
    {
      schema: {
        tags: ['auth'], summary: "The provider's redirect back: signs in and redirects to the console", security: [],
        params: ProviderParams, querystring: CallbackQuery, response: { 302: Redirect, 400: ErrorBody },
      },
    },
    async (request, reply) => {
      const header = request.headers.cookie;
      const sealed = header === undefined ? undefined : request.server.parseCookie(header)[FLOW_COOKIE];
      // One use: whatever happens next, this browser's flow is over.
      reply.clearCookie(FLOW_COOKIE, { path: FLOW_COOKIE_PATH });
      try {
        const { session, returnTo } = await deps.oidc.finish(request.params.provider, rawQuery(request), sealed, requestMeta(request));
        setSessionCookie(reply, session, deps.secureCookies);
        return reply.redirect(returnTo, 302);
      } catch (error) {
        return toLoginPage(request, reply, error);
      }
    },
  );
}

/** The query string as sent (openid-client reads the parameters itself). */
function rawQuery(request: FastifyRequest): string {
  const at = request.url.indexOf('?');
  return at < 0 ? '' : request.url.slice(at + 1);
}

function toLoginPage(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  const kf = toKeyfobError(error);
  const provider = (request.params as { provider?: string }).provider?.slice(0, 40);
  // The cause of a provider failure is a summary made for the log (no tokens, no claims).
  if (kf.code === 'server_error') request.log.error({ err: error, provider }, 'sign-in failed');
  else request.log.warn({ provider, code: kf.code, reason: kf.message, cause: kf.code.startsWith('oidc_') ? kf.cause : undefined }, 'sign-in refused');
  return reply.redirect(`/login?error=${encodeURIComponent(kf.code)}`, 302);
}
