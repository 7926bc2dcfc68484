import type { PolicyUpdate } from '@keyfob/protocol';
import { DEFAULT_POLICY, mergePolicy, type Policy } from '../domain/policy.js';
import type { Actor } from '../domain/models.js';
import type { Repositories, Store } from '../repositories/store.js';
import { recordAudit } from './audit-log.js';
import type { Clock } from './clock.js';

const KEY = 'policy';

export class PolicyService {
  constructor(private readonly deps: { store: Store; clock: Clock }) {}

  /** The stored policy over the defaults (new policy fields get their default). */
  async get(repos: Repositories = this.deps.store.repos): Promise<Policy> {
    const stored = (await repos.settings.get(KEY)) ?? {};
    return { ...DEFAULT_POLICY, ...(stored as Partial<Policy>) };
  }

  async update(actor: Actor, update: PolicyUpdate): Promise<Policy> {
    const now = this.deps.clock.now();
    return this.deps.store.transaction(async (repos) => {
      const before = await this.get(repos);
      const after = mergePolicy(before, update);
      await repos.settings.put(KEY, after, now);
      await recordAudit(repos, actor, { action: 'policy.updated', targetType: 'policy', details: { before, after } }, now);
      return after;
    });
  }
}
