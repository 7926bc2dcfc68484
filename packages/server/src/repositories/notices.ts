import { sql, type Kysely, type Selectable } from 'kysely';
import type { DB, NoticesTable } from '../db/types.js';
import type { Notice } from '../domain/models.js';
import { toDate } from './json.js';
import { chunks } from './sql-helpers.js';

function toNotice(row: Selectable<NoticesTable>): Notice {
  const at = (ms: number | null) => toDate(ms === null ? null : Number(ms));
  return {
    id: row.id,
    dedupeKey: row.dedupe_key,
    userId: row.user_id,
    kind: row.kind,
    recipient: row.recipient,
    subject: row.subject,
    body: row.body,
    status: row.status,
    attempts: Number(row.attempts),
    nextAttemptAt: at(row.next_attempt_at),
    createdAt: new Date(Number(row.created_at)),
    sentAt: at(row.sent_at),
  };
}

/** A notice to queue: what the sender needs, stamped with the time it was made. */
export type NewNotice = Pick<Notice, 'id' | 'dedupeKey' | 'userId' | 'kind' | 'recipient' | 'subject' | 'body'> & { readonly createdAt: number };

/** Email notices: each dedupe key is made once, and each notice leaves at most once. */
export class NoticesRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async insertMany(notices: readonly NewNotice[]): Promise<void> {
    for (const slice of chunks(notices, 500)) {
      await this.db
        .insertInto('notices')
        .values(
          slice.map((n) => ({
            id: n.id,
            dedupe_key: n.dedupeKey,
            user_id: n.userId,
            kind: n.kind,
            recipient: n.recipient,
            subject: n.subject,
            body: n.body,
            status: 'pending' as const,
            attempts: 0,
            next_attempt_at: n.createdAt,
            last_attempt_at: null,
            error: null,
            created_at: n.createdAt,
            sent_at: null,
          })),
        )
        .onConflict((oc) => oc.column('dedupe_key').doNothing())
        .execute();
    }
  }

  async due(now: number, limit: number): Promise<Notice[]> {
    const rows = await this.db.selectFrom('notices').selectAll().where('status', '=', 'pending').where('next_attempt_at', '<=', now).orderBy('next_attempt_at').orderBy('id').limit(limit).execute();
    return rows.map(toNotice);
  }

  /** Takes a pending notice for one attempt; false when another instance took it first. */
  async claim(id: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('notices')
      .set({ status: 'sending', last_attempt_at: now, attempts: sql`attempts + 1` })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async markSent(id: string, now: number): Promise<void> {
    await this.db.updateTable('notices').set({ status: 'sent', sent_at: now, error: null, next_attempt_at: null }).where('id', '=', id).execute();
  }

  /** The mail server refused or could not be reached: nothing left, so trying again cannot send it twice. */
  async markRefused(id: string, error: string, retryAt: number | undefined): Promise<void> {
    await this.db
      .updateTable('notices')
      .set({ status: retryAt === undefined ? 'failed' : 'pending', next_attempt_at: retryAt ?? null, error: error.slice(0, 500) })
      .where('id', '=', id)
      .execute();
  }

  /** The send failed after the message may have been handed over: never sent again. */
  async markUnknown(id: string, error: string): Promise<void> {
    await this.db.updateTable('notices').set({ status: 'unknown', next_attempt_at: null, error: error.slice(0, 500) }).where('id', '=', id).execute();
  }

  /**
   * A notice a stopped process was sending may have left: it is marked `unknown`, never sent
   * again. A missed email is better than a second one about the same token.
   */
  async abandonStale(startedBefore: number): Promise<number> {
    const result = await this.db
      .updateTable('notices')
      .set({ status: 'unknown', next_attempt_at: null, error: 'interrupted while sending' })
      .where('status', '=', 'sending')
      .where('last_attempt_at', '<', startedBefore)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async prune(before: number): Promise<number> {
    const result = await this.db.deleteFrom('notices').where('status', 'in', ['sent', 'failed', 'unknown']).where('created_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
