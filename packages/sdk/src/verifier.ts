import { createHash } from 'node:crypto';
import { createRemoteJWKSet, customFetch, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { grants, parseToken } from '@keyfob/protocol';
import { compileAllowList } from '@keyfob/protocol/ip-allowlist';
import { KeyfobUnavailableError } from './errors.js';
import { PositiveCache } from './positive-cache.js';
import type { VerifiedPrincipal, Verifier, VerifyFailure, VerifyOptions, VerifyResult } from './types.js';

export interface VerifierOptions {
  /** keyfob's base URL (its issuer), such as `https://keyfob.example.com`. */
  readonly issuer: string;
  /** An OAuth client registered in keyfob (with the introspection permission). */
  readonly clientId: string;
  readonly clientSecret: string;
  /** This resource server's identifier, checked against token audiences (per-call `audience` wins). */
  readonly audience?: string;
  /**
   * How long a PAT keyfob called active is believed without asking again, in ms (default 5,000).
   * This is the revocation bound for this resource server: a token revoked in keyfob may still be
   * accepted here for up to this long. 0 turns the cache off.
   */
  readonly cacheTtlMs?: number;
  /** Most PATs held in the cache (default 10,000). */
  readonly cacheMaxEntries?: number;
  /** How long to wait for keyfob before failing closed, in ms (default 3,000). */
  readonly timeoutMs?: number;
  /** PAT prefixes this keyfob issues; tokens with others are refused without a call. Default: any prefix. */
  readonly prefixes?: readonly string[];
  /** The fetch to call keyfob with (default: the global one); for proxies and instrumentation. */
  readonly fetch?: typeof globalThis.fetch;
  /** Clock, for tests. */
  readonly now?: () => number;
}

interface Introspected {
  readonly active: true;
  readonly sub: string;
  readonly scope: string;
  readonly jti: string;
  readonly exp?: number;
  readonly aud?: string | string[];
  /** keyfob's extension member: the PAT's IP allow-list, compiled. */
  readonly allows?: (ip: string) => boolean;
}

const fail = (error: VerifyFailure['error'], description: string, scope?: string): VerifyFailure =>
  scope === undefined ? { ok: false, error, description } : { ok: false, error, description, scope };

// RFC 6750 §2.1 b64token.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * `createVerifier(options).verify(token, { scopes, audience })`: PATs by RFC 7662 introspection
 * (checked locally for format and checksum first, cached briefly, concurrent checks of one token
 * sharing one call), exchanged JWTs locally against keyfob's JWKS (RFC 9068: `typ: at+jwt`,
 * issuer, audience, expiry). keyfob unreachable → `KeyfobUnavailableError`, never a pass.
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const issuer = options.issuer.replace(/\/+$/, '');
  const doFetch = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  const ttlMs = options.cacheTtlMs ?? 5000;
  const timeoutMs = options.timeoutMs ?? 3000;
  const cache = new PositiveCache<Introspected>(ttlMs > 0 ? (options.cacheMaxEntries ?? 10_000) : 0);
  const inFlight = new Map<string, Promise<Introspected | undefined>>();
  const basic = `Basic ${Buffer.from(`${formEncode(options.clientId)}:${formEncode(options.clientSecret)}`).toString('base64')}`;
  const jwks = createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`), { timeoutDuration: timeoutMs, [customFetch]: doFetch });

  async function introspect(token: string): Promise<Introspected | undefined> {
    let body: unknown;
    try {
      const res = await doFetch(`${issuer}/oauth/introspect`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        // A redirect would carry the token (in the body) to wherever it points.
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (res.status !== 200) {
        const retry = Number(res.headers.get('retry-after'));
        await res.body?.cancel();
        const why = res.status === 401 ? 'refused this resource server’s client credentials' : `answered ${res.status}`;
        throw new KeyfobUnavailableError(`keyfob introspection ${why}`, Number.isFinite(retry) && retry > 0 ? { retryAfterSeconds: retry } : {});
      }
      body = await res.json();
    } catch (error) {
      if (error instanceof KeyfobUnavailableError) throw error;
      throw new KeyfobUnavailableError(`keyfob at ${issuer} did not answer the introspection`, { cause: error });
    }
    if (typeof body !== 'object' || body === null) throw new KeyfobUnavailableError('keyfob answered an introspection that is not a JSON object');
    const found = body as { active?: unknown } & Partial<Record<'sub' | 'jti' | 'scope' | 'exp' | 'aud' | 'kf_allowed_ips', unknown>>;
    if (found.active !== true) return undefined;
    if (typeof found.sub !== 'string' || typeof found.jti !== 'string') throw new KeyfobUnavailableError('keyfob answered an introspection without sub or jti');
    const aud = typeof found.aud === 'string' || (Array.isArray(found.aud) && found.aud.every((a) => typeof a === 'string')) ? (found.aud as string | string[]) : undefined;
    const allowed = Array.isArray(found.kf_allowed_ips) ? found.kf_allowed_ips.filter((e): e is string => typeof e === 'string') : [];
    return {
      active: true,
      sub: found.sub,
      scope: typeof found.scope === 'string' ? found.scope : '',
      jti: found.jti,
      ...(typeof found.exp === 'number' ? { exp: found.exp } : {}),
      ...(aud !== undefined ? { aud } : {}),
      ...(allowed.length > 0 ? { allows: compileAllowList(allowed)! } : {}),
    };
  }

  /** One introspection per token at a time, and its positive answer remembered for the TTL. */
  async function describePat(token: string): Promise<Introspected | undefined> {
    const key = createHash('sha256').update(token).digest('base64url');
    const at = now();
    const cached = cache.get(key, at);
    if (cached !== undefined) return cached;
    let pending = inFlight.get(key);
    if (pending === undefined) {
      pending = introspect(token).finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
      const found = await pending;
      if (found !== undefined && ttlMs > 0) cache.set(key, found, Math.min(at + ttlMs, found.exp === undefined ? Infinity : found.exp * 1000));
      return found;
    }
    return pending;
  }

  async function verifyPat(token: string, opts: VerifyOptions): Promise<VerifyResult> {
    if (!parseToken(token, options.prefixes).ok) return fail('invalid_token', 'the access token is malformed');
    const found = await describePat(token);
    if (found === undefined) return fail('invalid_token', 'the access token is not active');
    if (found.exp !== undefined && found.exp * 1000 <= now()) return fail('invalid_token', 'the access token has expired');
    const audience = opts.audience ?? options.audience;
    const audiences = found.aud === undefined ? [] : Array.isArray(found.aud) ? found.aud : [found.aud];
    // A token restricted to audiences is for those resource servers only: one that does not say
    // which it is cannot be one of them.
    if (audiences.length > 0 && (audience === undefined || !audiences.includes(audience))) return fail('invalid_token', 'the access token is not valid for this audience');
    if (found.allows !== undefined && (opts.ip === undefined || !found.allows(opts.ip))) return fail('invalid_token', 'the access token may not be used from this address');
    return checkScopes({ ok: true, subject: found.sub, scopes: splitScopes(found.scope), tokenId: found.jti, expiresAt: found.exp === undefined ? null : new Date(found.exp * 1000), kind: 'pat' }, opts);
  }

  async function verifyJwt(token: string, opts: VerifyOptions): Promise<VerifyResult> {
    const audience = opts.audience ?? options.audience;
    if (audience === undefined) return fail('invalid_token', 'this resource server has no audience to check an exchanged token against');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, { issuer, audience, typ: 'at+jwt', algorithms: ['EdDSA', 'ES256'], currentDate: new Date(now()) }));
    } catch (error) {
      if (error instanceof joseErrors.JWKSTimeout || isFetchFailure(error)) {
        throw new KeyfobUnavailableError(`keyfob's JWKS at ${issuer} could not be fetched`, { cause: error });
      }
      return fail('invalid_token', error instanceof joseErrors.JWTExpired ? 'the access token has expired' : 'the access token is not valid');
    }
    if (typeof payload.sub !== 'string' || typeof payload.jti !== 'string') return fail('invalid_token', 'the access token lacks sub or jti');
    const scope = typeof payload['scope'] === 'string' ? payload['scope'] : '';
    return checkScopes({ ok: true, subject: payload.sub, scopes: splitScopes(scope), tokenId: payload.jti, expiresAt: payload.exp === undefined ? null : new Date(payload.exp * 1000), kind: 'jwt' }, opts);
  }

  return {
    async verify(token, opts = {}) {
      if (token === '' || !B64TOKEN.test(token)) return fail('invalid_request', 'the bearer token is empty or has characters RFC 6750 does not allow');
      return token.split('.').length === 3 ? verifyJwt(token, opts) : verifyPat(token, opts);
    },
    clearCache() {
      cache.clear();
    },
  };
}

function checkScopes(principal: VerifiedPrincipal, opts: VerifyOptions): VerifyResult {
  for (const scope of opts.scopes ?? []) {
    if (!grants(principal.scopes, scope)) return fail('insufficient_scope', `this request needs the scope "${scope}"`, scope);
  }
  return principal;
}

function splitScopes(scope: string): string[] {
  return scope.split(' ').filter(Boolean);
}

function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+');
}

/**
 * A JWKS fetch that failed at the network or HTTP level (keyfob down), not a bad token. jose
 * reports a non-200 or non-JSON answer only in its message, so that is matched (if its wording
 * changed, an outage would read as a bad token: refused either way, 401 instead of 503).
 */
function isFetchFailure(error: unknown): boolean {
  // jose's own words when the JWKS answer was not 200 or not JSON (keyfob down or answering 503).
  if (error instanceof joseErrors.JOSEError) return error.code === 'ERR_JOSE_GENERIC' && /JSON Web Key Set HTTP response/.test(error.message);
  // fetch itself failed: connection refused, reset, aborted.
  return error instanceof TypeError || (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError'));
}
