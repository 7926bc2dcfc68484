import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { BUILTIN_SCOPE_NAMES, grants, isAdminScope } from '@keyfob/protocol';
import { InsufficientScope, KeyfobError } from '../../errors/keyfob-error.js';
import type { Principal } from '../../services/principal.js';
import type { SessionService } from '../../services/session-service.js';
import type { Verifier, VerifyFailureReason, VerifyOutcome } from '../../services/verifier.js';
import { rateLimited, type RateLimiter } from '../../services/rate-limiter.js';
import { addressSubject } from '../../domain/rate-limits.js';
import type { Clock } from '../../services/clock.js';

export const SESSION_COOKIE = 'keyfob_session';
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
// RFC 6750 §2.1 b64token
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

const FAILURE_MESSAGES: Record<Exclude<VerifyFailureReason, 'insufficient_scope'>, string> = {
  malformed: 'the access token is malformed',
  unknown: 'the access token is not recognised',
  expired: 'the access token has expired',
  revoked: 'the access token has been revoked',
  owner_disabled: 'the access token is not valid',
  ip_denied: 'the access token may not be used from this address',
  audience_mismatch: 'the access token is not valid for this audience',
};

export interface AuthOptions {
  /** Scope the route needs; omit for routes any authenticated caller may use. */
  readonly scope?: string;
  /** The route describes the presented bearer token itself. */
  readonly bearerOnly?: boolean;
}

export interface Authenticator {
  (options?: AuthOptions): onRequestHookHandler;
}

/** The caller's address without the IPv4-mapped IPv6 prefix. */
export function clientIp(request: FastifyRequest): string {
  return plainAddress(request.ip);
}

/** An address as keyfob records and compares it: an IPv4-mapped IPv6 address as plain IPv4. */
function plainAddress(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** Who sent a request, as the routes record it (`clientIp`, the user agent). */
export interface Caller {
  readonly ip: string;
  readonly userAgent: string | null;
}

/**
 * The caller's address of a request answered on node:http before Fastify (the request lanes): the
 * socket's, which is Fastify's with no proxy trusted (the only case the app makes such a lane in),
 * spelled as `clientIp` spells it. Undefined once the socket is gone.
 */
export function socketAddressOf(req: IncomingMessage): string | undefined {
  const address = req.socket.remoteAddress;
  return address === undefined ? undefined : plainAddress(address);
}

/** The caller of a request a lane answers, as the routes record it (`socketAddressOf`). */
export function callerOf(req: IncomingMessage): Caller | undefined {
  const ip = socketAddressOf(req);
  return ip === undefined ? undefined : { ip, userAgent: req.headers['user-agent'] ?? null };
}

/** The token of an `Authorization: Bearer <token>` value, or the error a malformed one is answered with. */
export function bearerOf(header: string): string | KeyfobError {
  const match = /^(\S+)[ ]+(\S+)$/.exec(header.trim());
  if (!match || match[1]!.toLowerCase() !== 'bearer') return new KeyfobError('invalid_request', 'the Authorization header must be "Bearer <token>"');
  if (!B64TOKEN.test(match[2]!)) return new KeyfobError('invalid_request', 'the bearer token contains characters RFC 6750 does not allow');
  return match[2]!;
}

/** Reads `Authorization: Bearer <token>`; undefined when absent, KeyfobError when malformed. */
export function bearerTokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const token = bearerOf(header);
  if (typeof token === 'string') return token;
  request.authFailure = true;
  throw token;
}

/**
 * The `Keyfob-Token-Expiration` value for an answer to a PAT that expires within the warning
 * window, so that CI logs show it before it breaks (as GitHub's GitHub-Authentication-Token-Expiration does).
 */
export function expiryWarningOf(expiresAtMs: number, now: number): string | undefined {
  return expiresAtMs - now < EXPIRY_WARNING_MS ? new Date(expiresAtMs).toISOString() : undefined;
}

function sessionScopes(role: 'admin' | 'user'): Set<string> {
  return new Set(BUILTIN_SCOPE_NAMES.filter((s) => role === 'admin' || !isAdminScope(s)));
}

/**
 * Builds the per-route authentication hook: a bearer PAT (checked by the verifier against the
 * route's scope) or a console session cookie (with the CSRF header on unsafe methods). Sets
 * `request.principal`.
 *
 * A callback hook rather than an async one: a PAT found in the verification cache is checked
 * synchronously, and the request goes on without a promise or an extra turn of the event loop.
 */
/** Answers to a PAT that expires within this window name its expiry (`Keyfob-Token-Expiration`). */
export const EXPIRY_WARNING_MS = 7 * 86_400_000;
export const EXPIRY_HEADER = 'keyfob-token-expiration';

export function createAuthenticator(deps: { verifier: Verifier; sessions: SessionService; limiter: RateLimiter; clock: Clock }): Authenticator {
  /** Unknown and malformed tokens are what guessing looks like; they count against the address. */
  function answerFailure(error: KeyfobError, outcome: VerifyOutcome, meta: RequestMeta, done: (error?: Error) => void): void {
    if (outcome.ok || (outcome.reason !== 'unknown' && outcome.reason !== 'malformed')) {
      done(error);
      return;
    }
    deps.limiter.recordFailure('authFailures', addressSubject(meta.ip)).then((limited) => done(limited ?? error), done);
  }

  async function bySession(request: FastifyRequest, reply: FastifyReply, options: AuthOptions, meta: RequestMeta): Promise<void> {
    if (options.bearerOnly) throw new KeyfobError('unauthorized', 'this route needs an Authorization: Bearer token');
    const header = request.headers.cookie;
    const cookie = header === undefined ? undefined : request.server.parseCookie(header)[SESSION_COOKIE];
    if (cookie === undefined || cookie === '') throw new KeyfobError('unauthorized', 'sign in or send an Authorization: Bearer token');
    const session = await deps.sessions.resolve(cookie);
    if (!session) {
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      throw new KeyfobError('session_expired', 'your session has expired; sign in again');
    }
    if (!SAFE_METHODS.has(request.method) && !deps.sessions.checkCsrf(session.idHash, headerValue(request.headers[CSRF_HEADER]))) {
      throw new KeyfobError('invalid_csrf_token', 'this request needs a valid X-CSRF-Token header');
    }
    const scopes = sessionScopes(session.user.role);
    if (options.scope && !grants(scopes, options.scope)) throw new InsufficientScope(options.scope);
    request.principal = { kind: 'session', user: session.user, scopes, pat: null, sessionIdHash: session.idHash, ip: meta.ip, userAgent: meta.userAgent };
  }

  return (options = {}) => {
    const required = options.scope ? [options.scope] : undefined;

    /** Sets the principal of a verified PAT, or the error the request must answer with. */
    function admit(request: FastifyRequest, outcome: VerifyOutcome, meta: RequestMeta): KeyfobError | undefined {
      if (!outcome.ok) {
        if (outcome.reason === 'insufficient_scope') return new InsufficientScope(outcome.missingScope ?? options.scope ?? '');
        return new KeyfobError('invalid_token', FAILURE_MESSAGES[outcome.reason]);
      }
      request.principal = { kind: 'pat', user: outcome.user, scopes: outcome.grant.set, pat: outcome.pat, sessionIdHash: null, ip: meta.ip, userAgent: meta.userAgent };
      return undefined;
    }

    return function authenticate(request, reply, done) {
      const meta: RequestMeta = { ip: clientIp(request), userAgent: request.headers['user-agent'] ?? null };
      // An address past its failed-authentication limit is refused before its credentials are looked at.
      const wait = deps.limiter.hasBlocks ? deps.limiter.blockedFor('authFailures', addressSubject(meta.ip)) : undefined;
      if (wait !== undefined) {
        done(rateLimited('authFailures', wait));
        return;
      }
      let token: string | undefined;
      try {
        token = bearerTokenOf(request);
      } catch (error) {
        done(error as KeyfobError);
        return;
      }
      if (token === undefined) {
        bySession(request, reply, options, meta).then(() => done(), done);
        return;
      }
      let verified: VerifyOutcome | Promise<VerifyOutcome>;
      try {
        verified = deps.verifier.verify(token, required === undefined ? { ip: meta.ip } : { scopes: required, ip: meta.ip });
      } catch (error) {
        done(error as Error);
        return;
      }
      const settle = (outcome: VerifyOutcome) => {
        const error = admit(request, outcome, meta);
        if (error !== undefined) {
          answerFailure(error, outcome, meta, done);
          return;
        }
        const warning = outcome.ok ? expiryWarningOf(outcome.expiresAtMs, deps.clock.now()) : undefined;
        if (warning !== undefined) reply.header(EXPIRY_HEADER, warning);
        done();
      };
      if (verified instanceof Promise) verified.then(settle, done);
      else settle(verified);
    };
  };
}

interface RequestMeta {
  readonly ip: string;
  readonly userAgent: string | null;
}

/** The first value of a header that may have been sent more than once. */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

/** The principal set by the route's authentication hook (routes without one never call this). */
export function principalOf(request: FastifyRequest): Principal {
  return request.principal;
}
