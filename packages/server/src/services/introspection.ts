import { effectiveScopes, grants, parseToken } from '@keyfob/protocol';
import { StoreUnavailable } from '../errors/keyfob-error.js';
import { patStatus, usableUntil, type Actor, type OAuthClient } from '../domain/models.js';
import type { Store } from '../repositories/store.js';
import { recordAudit } from './audit-log.js';
import type { Clock } from './clock.js';
import { ExchangedTokens, PAT_ID_CLAIM } from './exchanged-tokens.js';
import type { PatService } from './pat-service.js';
import type { Verifier, VerifyOutcome } from './verifier.js';
import type { VerifiedToken } from '../domain/verified-token.js';
import { whenReady, type MaybePromise } from './maybe-promise.js';

/** RFC 7662 §2.2 response. Inactive is exactly `{ active: false }`. */
export type IntrospectionResponse =
  | { readonly active: false }
  | {
      readonly active: true;
      readonly scope: string;
      readonly client_id?: string;
      readonly username: string;
      readonly sub: string;
      readonly exp?: number;
      readonly iat: number;
      readonly token_type: 'Bearer';
      readonly aud?: string | string[];
      readonly iss: string;
      readonly jti: string;
      /**
       * Extension member (RFC 7662 §2.2 allows them): the PAT's IP allow-list, when it has one.
       * keyfob cannot check it here (the caller's address is not in the request), so the resource
       * server must; @keyfob/sdk does.
       */
      readonly kf_allowed_ips?: readonly string[];
    };

const INACTIVE = Object.freeze({ active: false as const });

/**
 * Introspection and revocation for both kinds of keyfob token: PATs (through the verifier) and
 * exchanged JWTs (signature, expiry, not revoked — and the PAT behind them still good, D7).
 * A store failure throws StoreUnavailable: never `active: true`, never a cached "inactive" (D1).
 */
export class Introspection {
  constructor(
    private readonly deps: {
      store: Store;
      clock: Clock;
      verifier: Verifier;
      tokens: ExchangedTokens;
      pats: PatService;
      issuer: string;
      acceptedPrefixes: readonly string[];
      onOutcome?: (outcome: string) => void;
    },
  ) {}

  /** Synchronous for a cached PAT (no promise on the hot path); a promise when the store is asked. */
  introspect(token: string): MaybePromise<IntrospectionResponse> {
    return whenReady(this.check(token), (result) => {
      this.deps.onOutcome?.(result.active ? 'active' : 'inactive');
      return result;
    });
  }

  private check(token: string): MaybePromise<IntrospectionResponse> {
    // A JWT always has dots and a PAT never does. The verifier checks the PAT format itself, after
    // its cache, so a cached PAT costs no parse here.
    if (!token.includes('.')) return whenReady(this.deps.verifier.verify(token), (outcome) => this.describePat(outcome));
    return this.checkJwt(token);
  }

  /**
   * The answer for a verified PAT is the same for as long as the verification cache holds it (it
   * names no time but the token's own), so it is built once per cached token: a WeakMap keyed by
   * the cache's object, which goes when the entry is evicted or invalidated.
   */
  readonly #patAnswers = new WeakMap<VerifiedToken, IntrospectionResponse>();

  private describePat(outcome: VerifyOutcome): IntrospectionResponse {
    if (!outcome.ok) return INACTIVE;
    let answer = this.#patAnswers.get(outcome);
    if (answer === undefined) this.#patAnswers.set(outcome, (answer = this.patAnswer(outcome)));
    return answer;
  }

  private patAnswer({ pat, user, grant }: VerifiedToken): IntrospectionResponse {
    const until = usableUntil(pat);
    return Object.freeze({
      active: true,
      scope: grant.text,
      username: user.username,
      sub: user.id,
      ...(until !== null ? { exp: Math.floor(until / 1000) } : {}),
      iat: Math.floor(pat.createdAt.getTime() / 1000),
      token_type: 'Bearer',
      ...(pat.audiences.length > 0 ? { aud: [...pat.audiences] } : {}),
      iss: this.deps.issuer,
      jti: pat.id,
      ...(pat.allowedIps.length > 0 ? { kf_allowed_ips: [...pat.allowedIps] } : {}),
    });
  }

  private async checkJwt(token: string): Promise<IntrospectionResponse> {
    if (!ExchangedTokens.looksLikeJwt(token)) return INACTIVE;
    const claims = await this.storeCall(() => this.deps.tokens.verify(token));
    if (!claims) return INACTIVE;
    const live = await this.storeCall(async () => {
      if (await this.deps.store.repos.revokedJwts.has(claims.jti)) return undefined;
      const found = await this.deps.store.repos.pats.findById(claims[PAT_ID_CLAIM]);
      if (!found || patStatus(found, this.deps.clock.now()) !== 'active') return undefined;
      const owner = await this.deps.store.repos.users.findById(found.userId);
      return owner && owner.disabledAt === null ? { owner, pat: found } : undefined;
    });
    if (!live) return INACTIVE;
    // The token carries the scope granted at exchange; only what the PAT may still use counts now.
    const usable = effectiveScopes(live.pat.scopes, live.owner.role === 'admin');
    const scope = claims.scope.split(' ').filter((s) => s !== '' && grants(usable, s));
    if (scope.length === 0) return INACTIVE;
    return {
      active: true,
      scope: scope.join(' '),
      client_id: claims.client_id,
      username: live.owner.username,
      sub: claims.sub,
      // A JWT exchanged before its PAT was rotated must not be reported alive past the grace period.
      exp: Math.min(claims.exp, Math.floor((usableUntil(live.pat) ?? Infinity) / 1000)),
      iat: claims.iat,
      token_type: 'Bearer',
      aud: claims.aud,
      iss: claims.iss,
      jti: claims.jti,
    };
  }

  /**
   * RFC 7009 revocation by any authenticated client (D3). A PAT is revoked with everything minted
   * from it; an exchanged JWT is put on the deny list until it expires. Unknown tokens change
   * nothing; the caller always answers 200.
   */
  async revoke(client: OAuthClient, token: string, meta: Pick<Actor, 'ip' | 'userAgent'>): Promise<void> {
    const actor: Actor = { userId: null, tokenId: null, ...meta };
    if (parseToken(token, this.deps.acceptedPrefixes).ok) {
      const id = await this.deps.verifier.findId(token);
      if (id !== undefined) await this.deps.pats.revoke(actor, id, `revoked through OAuth revocation by client ${client.id}`);
      return;
    }
    if (!ExchangedTokens.looksLikeJwt(token)) return;
    const claims = await this.storeCall(() => this.deps.tokens.verify(token));
    if (!claims) return;
    const now = this.deps.clock.now();
    await this.deps.store.transaction(async (repos) => {
      await repos.revokedJwts.add(claims.jti, claims.exp * 1000);
      await recordAudit(repos, actor, { action: 'token.jwt_revoked', targetType: 'token', targetId: claims[PAT_ID_CLAIM], details: { jti: claims.jti, clientId: client.id } }, now);
    });
  }

  private async storeCall<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw new StoreUnavailable(error);
    }
  }
}
