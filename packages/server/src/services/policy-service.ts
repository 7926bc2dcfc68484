import type { PolicyUpdate } from '@keyfob/protocol';
import type { MaybePromise } from './maybe-promise.js';
import { isFresh } from '../cache/freshness.js';
import type { Invalidation, InvalidationBus } from '../cache/invalidation-bus.js';
import { DEFAULT_POLICY, mergePolicy, type Policy } from '../domain/policy.js';
import type { Actor } from '../domain/models.js';
import type { Repositories, Store } from '../repositories/store.js';
import { recordAudit } from './audit-log.js';
import type { Clock } from './clock.js';

const KEY = 'policy';

const POLICY_CHANGED: Invalidation = Object.freeze({ kind: 'policy' });

export class PolicyService {
  #cached: { readonly policy: Policy; readonly at: number; readonly epoch: number } | undefined;
  #epoch = 0;

  constructor(
    private readonly deps: {
      store: Store;
      clock: Clock;
      bus?: InvalidationBus;
      /** How long `current()` may answer from memory; 0 reads the store every time. */
      cacheTtlMs?: number;
    },
  ) {}

  /** The stored policy over the defaults (new policy fields get their default). */
  async get(repos: Repositories = this.deps.store.repos): Promise<Policy> {
    const stored = (await repos.settings.get(KEY)) ?? {};
    return { ...DEFAULT_POLICY, ...(stored as Partial<Policy>) };
  }

  /**
   * The policy for a hot path (token exchange): from memory for a short TTL while the
   * invalidation bus is trusted, dropped on every policy change here or on any instance.
   */
  current(): MaybePromise<Policy> {
    const ttl = this.deps.cacheTtlMs ?? 0;
    const now = this.deps.clock.now();
    const trusted = ttl > 0 && this.deps.bus?.trusted() === true;
    const cached = this.#cached;
    if (trusted && cached !== undefined && cached.epoch === this.#epoch && isFresh(cached.at, now, ttl)) return cached.policy;
    return this.#load(trusted, now);
  }

  async #load(trusted: boolean, now: number): Promise<Policy> {
    const epoch = this.#epoch;
    const policy = await this.get();
    if (trusted && epoch === this.#epoch) this.#cached = { policy, at: now, epoch };
    return policy;
  }

  /** Drops the remembered policy (an invalidation from this or another instance). */
  forget(): void {
    this.#epoch++;
    this.#cached = undefined;
  }

  async update(actor: Actor, update: PolicyUpdate): Promise<Policy> {
    const now = this.deps.clock.now();
    return this.deps.store.transaction(async (repos) => {
      const before = await this.get(repos);
      const after = mergePolicy(before, update);
      await repos.settings.put(KEY, after, now);
      await recordAudit(repos, actor, { action: 'policy.updated', targetType: 'policy', details: { before, after } }, now);
      await this.deps.bus?.publishIn(repos, POLICY_CHANGED);
      return after;
    }).finally(() => this.deps.bus?.applyLocal(POLICY_CHANGED));
  }
}
