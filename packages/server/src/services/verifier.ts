import { parseToken } from '@keyfob/protocol';
import { hash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { KeyfobError, StoreUnavailable } from '../errors/keyfob-error.js';
import type { VerificationCache } from '../cache/verification-cache.js';
import type { InvalidationBus } from '../cache/invalidation-bus.js';
import type { TokenHasher } from '../crypto/token-hasher.js';
import {
  VerifiedTokenBuilder,
  failure,
  judge,
  type VerifiedToken,
  type VerifyFailureReason,
  type VerifyOutcome,
  type VerifyRequirements,
} from '../domain/verified-token.js';
import type { Store } from '../repositories/store.js';
import type { Clock } from './clock.js';
import { changesLastUse, type UsageRecorder } from './usage-recorder.js';

export type { VerifyFailureReason, VerifyOutcome, VerifyRequirements } from '../domain/verified-token.js';

/**
 * Plain counters the hot path bumps; /metrics reads them at scrape time, so a verification costs
 * an integer increment instead of a labelled metric update.
 */
export class VerificationStats {
  readonly outcomes: Record<VerifyFailureReason | 'ok', number> = {
    ok: 0,
    malformed: 0,
    unknown: 0,
    expired: 0,
    revoked: 0,
    owner_disabled: 0,
    insufficient_scope: 0,
    ip_denied: 0,
    audience_mismatch: 0,
  };
  readonly cache: Record<'hit' | 'miss' | 'bypass', number> = { hit: 0, miss: 0, bypass: 0 };
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
  /** Seconds spent by each verification that went to the store (cache hits are only counted). */
  readonly onStoreLatency?: (seconds: number) => void;
}

const NO_REQUIREMENTS: VerifyRequirements = Object.freeze({});

/** The cache key of a token: its SHA-256 as 32 one-byte characters, the smallest string a map keys on. */
function cacheKeyOf(token: string): string {
  return hash('sha256', token, 'binary');
}

/**
 * The hot path, in DESIGN's order: format + checksum → HMAC → lookup → not revoked, not expired,
 * owner active → effective scopes → required scope, audience and IP → record use (write-behind).
 *
 * A cache hit answers synchronously (only a SHA-256 of the token, a map read and the checks);
 * everything that touches the store returns a promise. Callers `await` either. Returns an
 * outcome for every answer about the token; throws StoreUnavailable only when the store fails, so
 * callers fail closed (503) and never treat a fault as "inactive".
 */
export class Verifier {
  readonly stats = new VerificationStats();
  readonly #builder = new VerifiedTokenBuilder();
  #pending = 0;

  constructor(private readonly deps: VerifierDeps) {}

  verify(token: string, need: VerifyRequirements = NO_REQUIREMENTS): VerifyOutcome | Promise<VerifyOutcome> {
    const cache = this.deps.cache;
    if (cache === undefined || !this.deps.bus.trusted()) {
      this.stats.cache.bypass++;
      return this.#fromStore(token, need, undefined, 0);
    }
    // Only lookups of well-formed tokens are ever stored, so a hit needs no format check.
    const key = cacheKeyOf(token);
    const now = this.deps.clock.now();
    const hit = cache.get(key, now);
    if (hit !== undefined) {
      this.stats.cache.hit++;
      return this.#settle(hit, need, now);
    }
    this.stats.cache.miss++;
    return this.#fromStore(token, need, key, cache.epoch);
  }

  /**
   * `verify` for a caller that answers only what the cache holds: the verified token when the
   * cache has it, it passes now and `accept` takes it, counted and recorded exactly as `verify`
   * records it; otherwise undefined, with nothing counted or recorded, and the caller leaves the
   * request to a path that calls `verify` (the token-self lane). One look at the cache and one
   * judgement at one moment, so the answer and what is recorded cannot disagree.
   */
  verifyCachedOnly(token: string, need: VerifyRequirements, accept: (verified: VerifiedToken) => boolean): VerifiedToken | undefined {
    const cache = this.deps.cache;
    if (cache === undefined || !this.deps.bus.trusted()) return undefined;
    const now = this.deps.clock.now();
    const hit = cache.get(cacheKeyOf(token), now);
    if (hit === undefined) return undefined;
    const outcome = judge(hit, need, now);
    if (!outcome.ok || !accept(outcome)) return undefined;
    this.stats.cache.hit++;
    this.#record(hit, this.#count(outcome), need, now);
    return outcome;
  }

  /** The id of the token with this secret, whatever its state; for revocation by value. */
  async findId(token: string): Promise<string | undefined> {
    if (!parseToken(token, this.deps.acceptedPrefixes).ok) return undefined;
    return (await this.#storeLookup(token))?.pat.id;
  }

  async #fromStore(token: string, need: VerifyRequirements, key: string | undefined, epoch: number): Promise<VerifyOutcome> {
    if (!parseToken(token, this.deps.acceptedPrefixes).ok) return this.#count(failure('malformed'));
    const started = performance.now();
    const found = await this.#storeLookup(token);
    const now = this.deps.clock.now();
    this.deps.onStoreLatency?.((performance.now() - started) / 1000);
    if (found === undefined) return this.#count(failure('unknown'));
    // Only successful lookups are cached, never a store error; a lookup that raced an
    // invalidation is not stored (the cache checks the epoch).
    if (key !== undefined) this.deps.cache?.set(key, found, now, epoch);
    return this.#settle(found, need, now);
  }

  #settle(token: VerifiedToken, need: VerifyRequirements, now: number): VerifyOutcome {
    return this.#record(token, this.#count(judge(token, need, now)), need, now);
  }

  /** The use of a known token, written behind. */
  #record(token: VerifiedToken, outcome: VerifyOutcome, need: VerifyRequirements, now: number): VerifyOutcome {
    const ip = need.ip ?? null;
    if (outcome.ok) this.deps.usage.record(token.pat.id, now, ip, 1, changesLastUse(token.lastUsedAtMs, token.pat.lastUsedIp, now, ip));
    // A refused use of a known token is counted by its reason (usage charts), never as a last use.
    else this.deps.usage.record(token.pat.id, now, ip, 1, false, outcome.reason);
    return outcome;
  }

  #count(outcome: VerifyOutcome): VerifyOutcome {
    this.stats.outcomes[outcome.ok ? 'ok' : outcome.reason]++;
    return outcome;
  }

  /** Fails closed: a store error, or too many lookups already waiting, is a 503. */
  async #storeLookup(token: string): Promise<VerifiedToken | undefined> {
    if (this.#pending >= this.deps.maxPendingLookups) {
      throw new KeyfobError('store_unavailable', 'keyfob is overloaded; retry shortly', { headers: { 'retry-after': '1' } });
    }
    this.#pending++;
    try {
      for (const digest of this.deps.hasher.candidates(token)) {
        const found = await this.deps.store.repos.pats.findByHashWithOwner(digest.hash);
        if (found && found.pat.pepperKeyId === digest.keyId) return this.#builder.build(found.pat, found.owner);
      }
      return undefined;
    } catch (error) {
      throw new StoreUnavailable(error);
    } finally {
      this.#pending--;
    }
  }
}
