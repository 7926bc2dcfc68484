import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import formbody from '@fastify/formbody';
import { KeyfobError } from '../../../errors/keyfob-error.js';
import { OAuthError } from '../../../errors/oauth-error.js';
import { isStoreUnavailableError } from '../../../errors/store-errors.js';
import { ABORTED_BODY_MESSAGE, isAbortedBody } from '../../aborted-body.js';
import type { OAuthClient } from '../../../domain/models.js';
import type { ClientService } from '../../../services/client-service.js';
import type { Introspection, IntrospectionResponse } from '../../../services/introspection.js';
import { single, type OAuthParams, type TokenExchange } from '../../../services/token-exchange.js';
import { clientIp } from '../../plugins/authenticate.js';
import { whenReady, type MaybePromise } from '../../../services/maybe-promise.js';
import { REALM } from '../../challenge.js';
import { JSON_CONTENT_TYPE, JsonTextMemo } from '../../json-text.js';
import { addressSubject } from '../../../domain/rate-limits.js';
import { rateLimited, type RateLimiter } from '../../../services/rate-limiter.js';
import { parseForm } from './form.js';

export interface OAuthDeps {
  readonly onError?: (endpoint: string, error: string) => void;
  readonly clients: ClientService;
  readonly exchange: TokenExchange;
  readonly introspection: Introspection;
  readonly limiter: RateLimiter;
}

export const OAUTH_BODY_LIMIT = 16 * 1024;
/**
 * The service hands back one answer object per cached token (and one for every inactive answer),
 * so its JSON text is written once per object, not per request.
 */
const introspectionBodies = new JsonTextMemo<IntrospectionResponse>();

/** RFC 6749 §5.1 and §5.2: token answers and their errors are never cached. */
export const NO_STORE: Readonly<Record<string, string>> = Object.freeze({ 'cache-control': 'no-store', pragma: 'no-cache' });

function noStore(reply: FastifyReply): void {
  reply.headers(NO_STORE);
}

/** What an error thrown under /oauth is answered with; `unexpected` when it is none of keyfob's own. */
export interface OAuthAnswer {
  readonly oauth: OAuthError;
  readonly status: number;
  readonly unexpected: boolean;
}

/** Maps anything thrown under /oauth to its RFC 6749 §5.2 error and status. */
export function oauthAnswerOf(error: unknown): OAuthAnswer {
  const statusCode = (error as { statusCode?: number } | null)?.statusCode;
  let oauth: OAuthError;
  let unexpected = false;
  if (error instanceof OAuthError) oauth = error;
  else if (error instanceof KeyfobError && error.code === 'rate_limited') oauth = new OAuthError('too_many_requests', error.message, { headers: error.headers });
  else if (error instanceof KeyfobError && error.code === 'store_unavailable') oauth = new OAuthError('temporarily_unavailable', error.message, { headers: error.headers });
  else if (isAbortedBody(error)) oauth = new OAuthError('invalid_request', ABORTED_BODY_MESSAGE);
  else if (isStoreUnavailableError(error)) oauth = new OAuthError('temporarily_unavailable', 'the data store is unavailable; retry later', { headers: { 'retry-after': '5' } });
  else if (statusCode === 413) oauth = new OAuthError('invalid_request', 'the request body is too large');
  else if (statusCode === 415 || statusCode === 400) oauth = new OAuthError('invalid_request', 'send parameters as application/x-www-form-urlencoded');
  else {
    oauth = new OAuthError('server_error', 'an unexpected error occurred');
    unexpected = true;
  }
  return { oauth, status: statusCode === 413 ? 413 : oauth.status, unexpected };
}

/** The headers of an OAuth error answer besides the content type: the error's own, then no-store. */
export function oauthErrorHeaders(oauth: OAuthError): Record<string, string> {
  return { ...oauth.headers, ...NO_STORE };
}

/** RFC 6749 §5.2 error body for everything thrown under /oauth. */
function sendOAuthError(request: FastifyRequest, reply: FastifyReply, error: unknown, onError?: OAuthDeps['onError']): FastifyReply {
  const { oauth, status, unexpected } = oauthAnswerOf(error);
  if (unexpected) request.log.error({ err: error }, 'oauth request failed');
  onError?.(request.routeOptions.url ?? 'unmatched', oauth.error);
  reply.headers(oauthErrorHeaders(oauth));
  return reply.code(status).send({ error: oauth.error, error_description: oauth.description });
}

/** The form parameters, refusing anything that is not a form body. */
function formParams(request: FastifyRequest): OAuthParams {
  const type = request.headers['content-type'] ?? '';
  if (!/^application\/x-www-form-urlencoded/i.test(type) || typeof request.body !== 'object' || request.body === null) {
    throw new OAuthError('invalid_request', 'send parameters as application/x-www-form-urlencoded');
  }
  return request.body as OAuthParams;
}

function decodeFormComponent(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

/**
 * Client authentication by client_secret_basic or client_secret_post (RFC 6749 §2.3.1), exactly
 * one of them. Failure is invalid_client (401), with a Basic challenge when the header was used.
 * Synchronous when the client is in the authentication cache.
 */
function authenticateClient(request: FastifyRequest, params: OAuthParams, deps: OAuthDeps): MaybePromise<OAuthClient> {
  let found: MaybePromise<OAuthClient>;
  try {
    found = checkClientCredentials(request.headers, params, deps.clients);
  } catch (error) {
    return refuseClient(request, error, deps);
  }
  return found instanceof Promise ? found.catch((error: unknown) => refuseClient(request, error, deps)) : found;
}

/** A failed client authentication counts against the caller's address. */
async function refuseClient(request: FastifyRequest, error: unknown, deps: OAuthDeps): Promise<never> {
  if (error instanceof OAuthError && error.error === 'invalid_client') {
    const limited = await deps.limiter.recordFailure('authFailures', addressSubject(clientIp(request)));
    if (limited) throw limited;
  }
  throw error;
}

/**
 * The HTTP Basic credential as the client authentication cache names it (`Basic <value>`), or
 * undefined when the header is not HTTP Basic.
 */
export function basicCredentialOf(header: string): string | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=._~-]+)\s*$/i.exec(header);
  return match ? `Basic ${match[1]!}` : undefined;
}

/**
 * The client a form body names beside an HTTP Basic header that authenticated `basicClientId`:
 * no second secret (one method only, RFC 6749 §2.3), and no other client. Throws invalid_request.
 */
export function checkBodyBesideBasic(params: OAuthParams, basicClientId: string): void {
  const bodyId = single(params, 'client_id');
  if (single(params, 'client_secret') !== undefined) throw new OAuthError('invalid_request', 'use one client authentication method, not two');
  if (bodyId !== undefined && bodyId !== basicClientId) throw new OAuthError('invalid_request', 'client_id does not match the Authorization header');
}

function checkClientCredentials(headers: IncomingHttpHeaders, params: OAuthParams, clients: ClientService): MaybePromise<OAuthClient> {
  const header = headers.authorization;
  const bodyId = single(params, 'client_id');
  const bodySecret = single(params, 'client_secret');
  let id: string | undefined;
  let secret: string | undefined;
  let viaBasic = false;
  let credential: string | undefined;
  if (header !== undefined) {
    const basic = basicCredentialOf(header);
    if (basic === undefined) throw new OAuthError('invalid_client', 'client authentication must use HTTP Basic or client_secret_post', { headers: { 'www-authenticate': `Basic realm="${REALM}"` } });
    // The header as sent names the client once it has authenticated: no decoding on a cache hit.
    const cached = clients.cached(basic);
    if (cached !== undefined) {
      checkBodyBesideBasic(params, cached.id);
      return cached;
    }
    if (bodySecret !== undefined) throw new OAuthError('invalid_request', 'use one client authentication method, not two');
    const value = basic.slice('Basic '.length);
    const raw = Buffer.from(value, 'base64');
    const decoded = raw.toString('utf8');
    // Only the canonical spelling is remembered: the decoder is lenient (padding, URL-safe
    // letters), and every other spelling of one secret would take a cache slot of its own.
    if (raw.toString('base64') === value) credential = basic;
    const colon = decoded.indexOf(':');
    try {
      id = colon === -1 ? undefined : decodeFormComponent(decoded.slice(0, colon));
      secret = colon === -1 ? undefined : decodeFormComponent(decoded.slice(colon + 1));
    } catch {
      id = undefined;
    }
    viaBasic = true;
    if (bodyId !== undefined && bodyId !== id) throw new OAuthError('invalid_request', 'client_id does not match the Authorization header');
  } else {
    id = bodyId;
    secret = bodySecret;
  }
  const challenge = viaBasic ? { headers: { 'www-authenticate': `Basic realm="${REALM}"` } } : {};
  if (!id || !secret) throw new OAuthError('invalid_client', 'client authentication is required', challenge);
  return whenReady(clients.authenticate(id, secret, credential), (client) => {
    if (!client) throw new OAuthError('invalid_client', 'client authentication failed', challenge);
    return client;
  });
}

/**
 * RFC 7662: the JSON text that answers an introspection request from an authenticated client.
 * Shared by the route and the OAuth lane (oauth-lane-endpoints.ts).
 */
export function introspectionText(client: OAuthClient, params: OAuthParams, introspection: Introspection): MaybePromise<string> {
  if (!client.canIntrospect) throw new OAuthError('unauthorized_client', 'this client may not use introspection');
  const token = single(params, 'token');
  if (!token) throw new OAuthError('invalid_request', 'token is required');
  single(params, 'token_type_hint');
  return whenReady(introspection.introspect(token), (result) => introspectionBodies.text(result, JSON.stringify));
}

/**
 * RFC 8693: the JSON text that answers a token exchange by an authenticated client. Shared by the
 * route and the OAuth lane (oauth-lane-endpoints.ts), so that both send the same bytes.
 */
export async function exchangeText(exchange: TokenExchange, client: OAuthClient, params: OAuthParams, ip: string, userAgent: string | null): Promise<string> {
  return JSON.stringify(await exchange.exchange(client, params, ip, userAgent));
}

export async function oauthRoutes(app: FastifyInstance, deps: OAuthDeps): Promise<void> {
  await app.register(formbody, { parser: parseForm });
  app.setErrorHandler((error, request, reply) => sendOAuthError(request, reply, error, deps.onError));
  // An address past its failed-authentication limit is refused before anything is checked.
  app.addHook('onRequest', (request, _reply, done) => {
    const wait = deps.limiter.hasBlocks ? deps.limiter.blockedFor('authFailures', addressSubject(clientIp(request))) : undefined;
    done(wait === undefined ? undefined : rateLimited('authFailures', wait));
  });
  const hidden = { schema: { hide: true }, bodyLimit: OAUTH_BODY_LIMIT } as const;
  const meta = (request: FastifyRequest) => ({ ip: clientIp(request), userAgent: request.headers['user-agent'] ?? null });

  app.post('/oauth/token', hidden, (request, reply) => {
    const params = formParams(request);
    return whenReady(authenticateClient(request, params, deps), async (client) => {
      const text = await exchangeText(deps.exchange, client, params, clientIp(request), meta(request).userAgent);
      noStore(reply);
      reply.type(JSON_CONTENT_TYPE);
      return text;
    });
  });

  // Not an async function: with the client and the token both cached, the answer is sent without
  // a promise (Fastify sends a plain return value at once and awaits a promise).
  app.post('/oauth/introspect', hidden, (request, reply) => {
    const params = formParams(request);
    return whenReady(authenticateClient(request, params, deps), (client) =>
      whenReady(introspectionText(client, params, deps.introspection), (text) => {
        noStore(reply);
        reply.type(JSON_CONTENT_TYPE);
        return text;
      }),
    );
  });

  app.post('/oauth/revoke', hidden, async (request, reply) => {
    const params = formParams(request);
    const client = await authenticateClient(request, params, deps);
    const token = single(params, 'token');
    if (!token) throw new OAuthError('invalid_request', 'token is required');
    single(params, 'token_type_hint');
    await deps.introspection.revoke(client, token, meta(request));
    noStore(reply);
    return reply.code(200).send();
  });
}
