import type { Kysely } from 'kysely';
import type { DB } from '../db/types.js';

/** An OpenID Connect identity linked to a user. */
export interface LinkedIdentity {
  readonly issuer: string;
  readonly subject: string;
  readonly userId: string;
  readonly providerId: string;
  readonly email: string | null;
  readonly createdAt: Date;
  readonly lastLoginAt: Date;
}

export class IdentitiesRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async find(issuer: string, subject: string): Promise<LinkedIdentity | undefined> {
    const row = await this.db.selectFrom('oidc_identities').selectAll().where('issuer', '=', issuer).where('subject', '=', subject).executeTakeFirst();
    return (
      row && {
        issuer: row.issuer,
        subject: row.subject,
        userId: row.user_id,
        providerId: row.provider_id,
        email: row.email,
        createdAt: new Date(row.created_at),
        lastLoginAt: new Date(row.last_login_at),
      }
    );
  }

  async insert(identity: { issuer: string; subject: string; userId: string; providerId: string; email: string | null; now: number }): Promise<void> {
    await this.db
      .insertInto('oidc_identities')
      .values({
        issuer: identity.issuer,
        subject: identity.subject,
        user_id: identity.userId,
        provider_id: identity.providerId,
        email: identity.email,
        created_at: identity.now,
        last_login_at: identity.now,
      })
      .execute();
  }

  /** Records a sign-in: when, through which configured provider, and the email the provider gave. */
  async touch(issuer: string, subject: string, change: { providerId: string; email: string | null; now: number }): Promise<void> {
    await this.db
      .updateTable('oidc_identities')
      .set({ provider_id: change.providerId, email: change.email, last_login_at: change.now })
      .where('issuer', '=', issuer)
      .where('subject', '=', subject)
      .execute();
  }
}
