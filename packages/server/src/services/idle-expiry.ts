import { idleWarningEventId } from '../domain/events.js';
import { SYSTEM_ACTOR } from '../domain/models.js';
import { DAY_MS } from '../domain/policy.js';
import type { Store } from '../repositories/store.js';
import type { Clock } from './clock.js';
import type { PatService } from './pat-service.js';
import type { PolicyService } from './policy-service.js';

/** Tokens warned, and tokens revoked, per run at most. */
export const IDLE_TOKENS_PER_RUN = 200;

/**
 * The idle-expiry policy: a token unused for `idleRevokeDays` is revoked, and its owner is warned
 * `idleWarningDays` before (a `token.idle` event: webhook and email). Nothing is revoked without a
 * warning that has stood for the full warning period, also for tokens already long idle when an
 * admin turns the policy on. A use after the warning resets the clock.
 */
export class IdleExpiry {
  constructor(private readonly deps: { store: Store; clock: Clock; policy: PolicyService; pats: PatService }) {}

  /** Returns how many tokens were warned and revoked. */
  async run(limit = IDLE_TOKENS_PER_RUN): Promise<{ warned: number; revoked: number }> {
    const policy = await this.deps.policy.get();
    if (policy.idleRevokeDays === null) return { warned: 0, revoked: 0 };
    const { store, clock } = this.deps;
    const now = clock.now();
    const warnAfterMs = (policy.idleRevokeDays - policy.idleWarningDays) * DAY_MS;
    const warningMs = policy.idleWarningDays * DAY_MS;
    // A warning older than twice its period (the job was down, or the policy was off) is made again.
    const standing = { now, warnAfterMs, warnedSince: now - 2 * warningMs };

    const revocable = await store.repos.reminders.idleWarned({ ...standing, idleBefore: now - policy.idleRevokeDays * DAY_MS }, now - warningMs, limit);
    const reason = `idle: unused for ${policy.idleRevokeDays} days`;
    for (const token of revocable) await this.deps.pats.revoke(SYSTEM_ACTOR, token.patId, reason);

    const unwarned = await store.repos.reminders.idleUnwarned({ ...standing, idleBefore: now - warnAfterMs }, limit);
    if (unwarned.length > 0) {
      await store.transaction(async (repos) => {
        for (const token of unwarned) {
          await repos.reminders.markIdleWarning(token.patId, now);
          const revokeAt = Math.max(token.lastActivity + policy.idleRevokeDays! * DAY_MS, now + warningMs);
          await repos.outbox.insertMany([
            {
              id: idleWarningEventId(token.patId, token.lastActivity, policy.idleRevokeDays!, now),
              type: 'token.idle',
              createdAt: now,
              record: {
                actor: null,
                target: { type: 'token', id: token.patId },
                details: { lastActivityAt: new Date(token.lastActivity).toISOString(), revokeAt: new Date(revokeAt).toISOString(), idleRevokeDays: policy.idleRevokeDays },
              },
            },
          ]);
        }
      });
    }
    return { warned: unwarned.length, revoked: revocable.length };
  }
}
