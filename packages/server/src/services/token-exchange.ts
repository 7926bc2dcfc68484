import { ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE, PAT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT, grants } from '@keyfob/protocol';
import { OAuthError } from '../errors/oauth-error.js';
import { newId } from '../domain/ids.js';
import { usableUntil, type OAuthClient } from '../domain/models.js';
import type { Store } from '../repositories/store.js';
import type { AuditBatcher } from './audit-batcher.js';
import type { Clock } from './clock.js';
import type { RateLimiter } from './rate-limiter.js';
import { PAT_ID_CLAIM, type ExchangedTokens } from './exchanged-tokens.js';
import type { PolicyService } from './policy-service.js';
import type { Verifier } from './verifier.js';

/** The token endpoint's parameters after form parsing; repeated parameters arrive as arrays. */
export type OAuthParams = Readonly<Record<string, string | readonly string[] | undefined>>;

export interface ExchangeResult {
  readonly access_token: string;
  readonly issued_token_type: typeof ACCESS_TOKEN_TYPE;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly scope: string;
}

/** A parameter that must appear at most once (RFC 6749 §3.2). */
export function single(params: OAuthParams, name: string): string | undefined {
  const value = params[name];
  if (Array.isArray(value)) throw new OAuthError('invalid_request', `${name} must not be repeated`);
  return value as string | undefined;
}

function many(params: OAuthParams, name: string): string[] {
  const value = params[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]) as string[];
}

/**
 * RFC 8693 token exchange: a PAT in, a short-lived RFC 9068 JWT out. The PAT is the ceiling:
 * granted scope = requested ∩ the PAT's effective scopes ∩ the client's ceiling, and asking for
 * more is invalid_scope, never a silent downgrade. Lifetime = policy, never past the PAT's expiry.
 */
export class TokenExchange {
  constructor(
    private readonly deps: {
      store: Store;
      clock: Clock;
      verifier: Verifier;
      policy: PolicyService;
      /**
       * Exchanges per PAT (KEYFOB_LIMIT_EXCHANGES). A bad subject token is not counted against
       * the address: the caller is an authenticated client (a gateway passing on its users'
       * tokens), and counting them would let any of its users lock it out.
       */
      limiter: RateLimiter;
      tokens: ExchangedTokens;
      /** Exchange events are group-committed: answered only once written. */
      audit: AuditBatcher;
      onOutcome?: (outcome: string) => void;
    },
  ) {}

  async exchange(client: OAuthClient, params: OAuthParams, ip: string, userAgent: string | null): Promise<ExchangeResult> {
    try {
      const result = await this.run(client, params, ip, userAgent);
      this.deps.onOutcome?.('ok');
      return result;
    } catch (error) {
      this.deps.onOutcome?.(error instanceof OAuthError ? error.error : 'error');
      throw error;
    }
  }

  private async run(client: OAuthClient, params: OAuthParams, ip: string, userAgent: string | null): Promise<ExchangeResult> {
    const grantType = single(params, 'grant_type');
    if (!grantType) throw new OAuthError('invalid_request', 'grant_type is required');
    if (grantType !== TOKEN_EXCHANGE_GRANT) throw new OAuthError('unsupported_grant_type', `grant_type must be ${TOKEN_EXCHANGE_GRANT}`);
    if (!client.grantTypes.includes(TOKEN_EXCHANGE_GRANT)) throw new OAuthError('unauthorized_client', 'this client may not use token exchange');

    const subjectToken = single(params, 'subject_token');
    const subjectTokenType = single(params, 'subject_token_type');
    if (!subjectToken) throw new OAuthError('invalid_request', 'subject_token is required');
    if (!subjectTokenType) throw new OAuthError('invalid_request', 'subject_token_type is required');
    if (subjectTokenType !== PAT_TOKEN_TYPE) throw new OAuthError('invalid_request', `subject_token_type must be ${PAT_TOKEN_TYPE}`);
    const requested = single(params, 'requested_token_type');
    if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE && requested !== JWT_TOKEN_TYPE) {
      throw new OAuthError('invalid_request', `requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
    }
    if (single(params, 'actor_token') !== undefined) throw new OAuthError('invalid_request', 'delegation (actor_token) is not supported');

    const audience = this.resolveAudience(client, params);
    // Values that are already here are not awaited: each await is a turn of the microtask queue,
    // and the cached token, policy and signing key make three of them on every exchange.
    const verified = this.deps.verifier.verify(subjectToken, { audience, ip });
    const outcome = verified instanceof Promise ? await verified : verified;
    if (!outcome.ok) {
      if (outcome.reason === 'audience_mismatch') throw new OAuthError('invalid_target', 'the subject token may not be used for this resource');
      throw new OAuthError('invalid_request', 'subject_token is invalid, expired or revoked');
    }
    const { pat, user, grant } = outcome;
    await this.deps.limiter.consume('exchanges', pat.id);
    const scope = this.grantScope(client, grant.list, single(params, 'scope'));

    const now = this.deps.clock.now();
    const nowSeconds = Math.floor(now / 1000);
    const current = this.deps.policy.current();
    const policy = current instanceof Promise ? await current : current;
    let exp = nowSeconds + policy.exchangedTokenTtlSeconds;
    // Never past the PAT's own end: its expiry, or the end of its rotation grace period.
    const until = usableUntil(pat);
    if (until !== null) exp = Math.min(exp, Math.floor(until / 1000));
    if (exp <= nowSeconds) throw new OAuthError('invalid_request', 'subject_token expires too soon to exchange');

    const jti = newId(now);
    const minted = this.deps.tokens.mint({ sub: user.id, aud: audience, exp, jti, client_id: client.id, scope: scope.join(' '), [PAT_ID_CLAIM]: pat.id });
    const accessToken = minted instanceof Promise ? await minted : minted;
    await this.deps.audit.append({ userId: user.id, tokenId: pat.id, ip, userAgent }, {
      action: 'token.exchanged',
      targetType: 'token',
      targetId: pat.id,
      details: { jti, clientId: client.id, audience, scope: scope.join(' '), expiresAt: new Date(exp * 1000).toISOString() },
    }, now);
    return { access_token: accessToken, issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', expires_in: exp - nowSeconds, scope: scope.join(' ') };
  }

  /** One target per request (D8): `resource` (RFC 8707) or `audience`; both must agree. */
  private resolveAudience(client: OAuthClient, params: OAuthParams): string {
    const resources = many(params, 'resource');
    const audiences = many(params, 'audience');
    if (resources.length > 1 || audiences.length > 1) throw new OAuthError('invalid_target', 'ask for one resource or audience per request');
    const [resource] = resources;
    const [audience] = audiences;
    if (resource !== undefined) {
      let url: URL | undefined;
      try {
        url = new URL(resource);
      } catch {
        url = undefined;
      }
      if (!url || url.hash) throw new OAuthError('invalid_target', 'resource must be an absolute URI without a fragment');
    }
    if (resource !== undefined && audience !== undefined && resource !== audience) {
      throw new OAuthError('invalid_target', 'resource and audience name different targets');
    }
    const target = resource ?? audience ?? (client.allowedAudiences.length === 1 ? client.allowedAudiences[0] : undefined);
    if (target === undefined || target === '') throw new OAuthError('invalid_target', 'name the resource (or audience) the token is for');
    if (client.allowedAudiences.length > 0 && !client.allowedAudiences.includes(target)) {
      throw new OAuthError('invalid_target', 'this client may not obtain tokens for that resource');
    }
    return target;
  }

  private grantScope(client: OAuthClient, effective: readonly string[], requestedRaw: string | undefined): string[] {
    const ceiling = client.allowedScopes;
    if (requestedRaw === undefined) {
      const granted = effective.filter((s) => ceiling === null || ceiling.includes(s));
      if (granted.length === 0) throw new OAuthError('invalid_scope', 'the subject token holds no scope this client may receive');
      return granted;
    }
    const requested = [...new Set(requestedRaw.split(' ').filter(Boolean))];
    if (requested.length === 0) throw new OAuthError('invalid_scope', 'scope must name at least one scope');
    for (const s of requested) {
      if (!grants(effective, s)) throw new OAuthError('invalid_scope', `the subject token does not hold "${s}"`);
      if (ceiling !== null && !ceiling.includes(s)) throw new OAuthError('invalid_scope', `this client may not receive "${s}"`);
    }
    return requested;
  }
}
