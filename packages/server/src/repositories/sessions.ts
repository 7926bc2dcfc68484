import type { Kysely } from 'kysely';
import type { DB } from '../db/types.js';

export interface SessionRecord {
  readonly idHash: string;
  readonly userId: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

export class SessionsRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async insert(s: SessionRecord & { ip: string | null; userAgent: string | null }): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({ id_hash: s.idHash, user_id: s.userId, created_at: s.createdAt, expires_at: s.expiresAt, ip: s.ip, user_agent: s.userAgent?.slice(0, 512) ?? null })
      .execute();
  }

  async find(idHash: string): Promise<SessionRecord | undefined> {
    const row = await this.db.selectFrom('sessions').selectAll().where('id_hash', '=', idHash).executeTakeFirst();
    return row && { idHash: row.id_hash, userId: row.user_id, createdAt: row.created_at, expiresAt: row.expires_at };
  }

  async delete(idHash: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
  }

  async deleteForUser(userId: string, exceptIdHash?: string): Promise<void> {
    let query = this.db.deleteFrom('sessions').where('user_id', '=', userId);
    if (exceptIdHash !== undefined) query = query.where('id_hash', '!=', exceptIdHash);
    await query.execute();
  }

  async deleteExpired(now: number): Promise<void> {
    await this.db.deleteFrom('sessions').where('expires_at', '<=', now).execute();
  }
}
