import { sql, type Kysely } from 'kysely';
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
}
