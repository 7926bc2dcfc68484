import { effectiveScopes, grants, parseToken } from '@keyfob/protocol';
import { hash } from 'node:crypto';
import { KeyfobError, StoreUnavailable } from '../errors/keyfob-error.js';
import type { VerificationCache } from '../cache/verification-cache.js';
import type { InvalidationBus } from '../cache/invalidation-bus.js';
import type { TokenHasher } from '../crypto/token-hasher.js';
import { compileAllowList } from '../domain/ip-allowlist.js';
import type { Pat, User } from '../domain/models.js';
import type { Store } from '../repositories/store.js';
import type { Clock } from './clock.js';
import type { UsageRecorder } from './usage-recorder.js';

export type VerifyFailureReason =
  | 'malformed'
  | 'unknown'
  | 'expired'
  | 'revoked'
  | 'owner_disabled'
  | 'insufficient_scope'
  | 'ip_denied'
  | 'audience_mismatch';

export type VerifyOutcome =
  | { readonly ok: true; readonly pat: Pat; readonly user: User; readonly scopes: readonly string[] }
  | { readonly ok: false; readonly reason: VerifyFailureReason; readonly missingScope?: string };

export interface VerifyRequirements {
  /** Every one of these scopes must be granted. */
  readonly scopes?: readonly string[];
  /** When given, a token restricted to audiences must list it. */
  readonly audience?: string;
  /**
   * The address the token is being used from, checked against its allow-list and recorded as
   * last used. Leave it out where keyfob cannot see the user's address (introspection by a
   * resource server): the allow-list is then not checked.
   */
  readonly ip?: string | null;
}

export interface VerifierDeps {
  readonly store: Store;
  /** Undefined when KEYFOB_VERIFY_CACHE=off. */
  readonly cache: VerificationCache | undefined;
  readonly bus: InvalidationBus;
  /** Store lookups allowed in flight; beyond it a verification fails fast with 503. */
  readonly maxPendingLookups: number;
  readonly clock: Clock;
  readonly hasher: TokenHasher;
  readonly acceptedPrefixes: readonly string[];
  readonly usage: UsageRecorder;
  readonly onOutcome?: (reason: VerifyFailureReason | 'ok', seconds: number) => void;
  readonly onCache?: (result: 'hit' | 'miss' | 'bypass') => void;
}

/**
 * The hot path, in DESIGN's order: format + checksum → HMAC → lookup → not revoked, not expired,
 * owner active → effective scopes → required scope, audience and IP → record use (write-behind).
 *
 * Returns an outcome for every answer about the token; throws StoreUnavailable only when the
 * store fails, so callers fail closed (503) and never treat a fault as "inactive".
 */
export class Verifier {
  #pending = 0;

  constructor(private readonly deps: VerifierDeps) {}

  async verify(token: string, need: VerifyRequirements = {}): Promise<VerifyOutcome> {
    const started = process.hrtime.bigint();
    const outcome = await this.check(token, need);
    this.deps.onOutcome?.(outcome.ok ? 'ok' : outcome.reason, Number(process.hrtime.bigint() - started) / 1e9);
    if (outcome.ok) this.deps.usage.record(outcome.pat.id, this.deps.clock.now(), need.ip ?? null);
    return outcome;
  }

  private async check(token: string, need: VerifyRequirements): Promise<VerifyOutcome> {
    if (!parseToken(token, this.deps.acceptedPrefixes).ok) return { ok: false, reason: 'malformed' };
    const found = await this.cachedLookup(token);
    if (!found) return { ok: false, reason: 'unknown' };
    const { pat, user } = found;
    const now = this.deps.clock.now();
    if (pat.revokedAt !== null && pat.revokedAt.getTime() <= now) return { ok: false, reason: 'revoked' };
    if (pat.expiresAt !== null && pat.expiresAt.getTime() <= now) return { ok: false, reason: 'expired' };
    if (user.disabledAt !== null) return { ok: false, reason: 'owner_disabled' };
    const scopes = effectiveScopes(pat.scopes, user.role === 'admin');
    const missingScope = need.scopes?.find((s) => !grants(scopes, s));
    if (missingScope !== undefined) return { ok: false, reason: 'insufficient_scope', missingScope };
    if (need.audience !== undefined && pat.audiences.length > 0 && !pat.audiences.includes(need.audience)) {
      return { ok: false, reason: 'audience_mismatch' };
    }
    const allowed = compileAllowList(pat.allowedIps);
    if (need.ip !== undefined && allowed && (need.ip === null || !allowed(need.ip))) return { ok: false, reason: 'ip_denied' };
    return { ok: true, pat, user, scopes };
  }

  /** The id of the token with this secret, whatever its state; for revocation by value. */
  async findId(token: string): Promise<string | undefined> {
    if (!parseToken(token, this.deps.acceptedPrefixes).ok) return undefined;
    return (await this.storeLookup(token))?.pat.id;
  }

  /**
   * The cache first (keyed by a SHA-256 of the token, only while the invalidation bus is
   * trusted), then HMAC + store. Only successful lookups are cached, never a store error, and a
   * lookup that raced an invalidation is not stored.
   */
  private async cachedLookup(token: string): Promise<{ pat: Pat; user: User } | undefined> {
    const cache = this.deps.cache;
    if (!cache || !this.deps.bus.trusted()) {
      this.deps.onCache?.('bypass');
      return this.storeLookup(token);
    }
    const key = hash('sha256', token, 'base64url');
    const hit = cache.get(key, this.deps.clock.now());
    this.deps.onCache?.(hit ? 'hit' : 'miss');
    if (hit) return hit;
    const epoch = cache.epoch;
    const found = await this.storeLookup(token);
    if (found) cache.set(key, found, this.deps.clock.now(), epoch);
    return found;
  }

  /** Fails closed: a store error, or too many lookups already waiting, is a 503. */
  private async storeLookup(token: string): Promise<{ pat: Pat; user: User } | undefined> {
    if (this.#pending >= this.deps.maxPendingLookups) {
      throw new KeyfobError('store_unavailable', 'keyfob is overloaded; retry shortly', { headers: { 'retry-after': '1' } });
    }
    this.#pending++;
    try {
      return await this.lookup(token);
    } catch (error) {
      throw new StoreUnavailable(error);
    } finally {
      this.#pending--;
    }
  }

  private async lookup(token: string): Promise<{ pat: Pat; user: User } | undefined> {
    for (const digest of this.deps.hasher.candidates(token)) {
      const found = await this.deps.store.repos.pats.findByHashWithOwner(digest.hash);
      if (found && found.pat.pepperKeyId === digest.keyId) return { pat: found.pat, user: found.owner };
    }
    return undefined;
  }
}
