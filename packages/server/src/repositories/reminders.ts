import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DB } from '../db/types.js';
import type { ReminderKind } from '../domain/events.js';

export interface ReminderDue {
  readonly patId: string;
  readonly expiresAt: number;
}

/** Which reminders a token has had: each kind once per token. */
export class RemindersRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /**
   * Unrevoked tokens whose expiry lies in [from, to), that lived longer than `minLifetimeMs`, and
   * that have not had this reminder.
   */
  async due(kind: ReminderKind, from: number, to: number, minLifetimeMs: number, limit: number): Promise<ReminderDue[]> {
    const rows = await this.db
      .selectFrom('pats')
      .select(['pats.id', 'pats.expires_at'])
      .where('pats.expires_at', '>=', from)
      .where('pats.expires_at', '<', to)
      .where('pats.revoked_at', 'is', null)
      .where(sql<boolean>`pats.expires_at - pats.created_at > ${minLifetimeMs}`)
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('token_reminders as r').select('r.pat_id').whereRef('r.pat_id', '=', 'pats.id').where('r.kind', '=', kind))),
      )
      .orderBy('pats.expires_at')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ patId: r.id, expiresAt: Number(r.expires_at) }));
  }

  /** Marks the reminder made; false when another instance made it first. */
  async mark(patId: string, kind: ReminderKind, now: number): Promise<boolean> {
    const result = await this.db.insertInto('token_reminders').values({ pat_id: patId, kind, created_at: now }).onConflict((oc) => oc.columns(['pat_id', 'kind']).doNothing()).executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  /** Usable tokens idle since before `idleBefore` (last use, or creation if never used) without a standing warning. */
  async idleUnwarned(window: IdleWindow, limit: number): Promise<IdleToken[]> {
    return this.#idle(window, limit, (warned) => sql<boolean>`NOT EXISTS (${warned})`);
  }

  /** Usable tokens idle since before `idleBefore` whose standing warning was made before `warnedBefore`. */
  async idleWarned(window: IdleWindow, warnedBefore: number, limit: number): Promise<IdleToken[]> {
    return this.#idle(window, limit, (warned) => sql<boolean>`EXISTS (${warned} AND r.created_at <= ${warnedBefore})`);
  }

  /** Records an idle warning now (a later one replaces it: a token used again and idle again is warned again). */
  async markIdleWarning(patId: string, now: number): Promise<void> {
    await this.db
      .insertInto('token_reminders')
      .values({ pat_id: patId, kind: IDLE_WARNING, created_at: now })
      .onConflict((oc) => oc.columns(['pat_id', 'kind']).doUpdateSet({ created_at: now }))
      .execute();
  }

  async #idle(window: IdleWindow, limit: number, warning: (warned: RawBuilder<unknown>) => RawBuilder<boolean>): Promise<IdleToken[]> {
    const activity = sql<number>`COALESCE(pats.last_used_at, pats.created_at)`;
    const warned = sql`SELECT 1 FROM token_reminders r WHERE r.pat_id = pats.id AND r.kind = ${IDLE_WARNING}
      AND r.created_at >= ${activity} + ${window.warnAfterMs} AND r.created_at >= ${window.warnedSince}`;
    const rows = await this.db
      .selectFrom('pats')
      .select(['pats.id', activity.as('activity')])
      .where('pats.revoked_at', 'is', null)
      .where((eb) => eb.or([eb('pats.expires_at', 'is', null), eb('pats.expires_at', '>', window.now)]))
      .where(sql<boolean>`${activity} < ${window.idleBefore}`)
      .where(warning(warned))
      .orderBy(activity)
      .limit(limit)
      .execute();
    return rows.map((r) => ({ patId: r.id, lastActivity: Number(r.activity) }));
  }
}

export const IDLE_WARNING = 'idle_warning';

/**
 * Which idle warning still stands: one made after the token had been idle `warnAfterMs` under the
 * policy now in force (not one announced under an older, shorter policy, or before a later use),
 * and recently (since `warnedSince`: a warning from before the policy was last switched off and on
 * again does not count).
 */
export interface IdleWindow {
  readonly now: number;
  readonly idleBefore: number;
  readonly warnAfterMs: number;
  readonly warnedSince: number;
}

export interface IdleToken {
  readonly patId: string;
  /** Last use, or creation when never used (epoch ms). */
  readonly lastActivity: number;
}
