import { sql, type Kysely, type Selectable } from 'kysely';
import type { DB, SigningKeyStatus, SigningKeysTable } from '../db/types.js';
import type { SigningKeyRecord } from '../domain/models.js';
import { decodeJsonObject, encodeJson, toDate } from './json.js';

function toKey(row: Selectable<SigningKeysTable>): SigningKeyRecord {
  return {
    kid: row.kid,
    alg: row.alg,
    publicJwk: decodeJsonObject(row.public_jwk),
    sealedPrivateKey: row.private_key,
    status: row.status,
    createdAt: new Date(row.created_at),
    activatedAt: toDate(row.activated_at),
    retiredAt: toDate(row.retired_at),
    unpublishAt: toDate(row.unpublish_at),
  };
}

export class SigningKeysRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /** Serialises key changes across instances (PostgreSQL advisory lock; SQLite has one writer). */
  async lock(dialect: 'sqlite' | 'postgres'): Promise<void> {
    if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(740021)`.execute(this.db);
  }

  async insert(key: SigningKeyRecord): Promise<void> {
    await this.db
      .insertInto('signing_keys')
      .values({
        kid: key.kid,
        alg: key.alg,
        public_jwk: encodeJson(key.publicJwk),
        private_key: key.sealedPrivateKey,
        status: key.status,
        created_at: key.createdAt.getTime(),
        activated_at: key.activatedAt?.getTime() ?? null,
        retired_at: key.retiredAt?.getTime() ?? null,
        unpublish_at: key.unpublishAt?.getTime() ?? null,
      })
      .execute();
  }

  async list(): Promise<SigningKeyRecord[]> {
    const rows = await this.db.selectFrom('signing_keys').selectAll().orderBy('created_at', 'desc').orderBy('kid', 'desc').execute();
    return rows.map(toKey);
  }

  async setStatus(kid: string, status: SigningKeyStatus, at: { activatedAt?: number; retiredAt?: number; unpublishAt?: number }): Promise<void> {
    await this.db
      .updateTable('signing_keys')
      .set({
        status,
        ...(at.activatedAt !== undefined ? { activated_at: at.activatedAt } : {}),
        ...(at.retiredAt !== undefined ? { retired_at: at.retiredAt } : {}),
        ...(at.unpublishAt !== undefined ? { unpublish_at: at.unpublishAt } : {}),
      })
      .where('kid', '=', kid)
      .execute();
  }

  /** Drops retired keys that no unexpired token can name any more. */
  async deleteUnpublished(now: number): Promise<void> {
    await this.db.deleteFrom('signing_keys').where('status', '=', 'retired').where('unpublish_at', '<=', now).execute();
  }
}

export class RevokedJwtsRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async add(jti: string, expiresAt: number): Promise<void> {
    await this.db.insertInto('revoked_jwts').values({ jti, expires_at: expiresAt }).onConflict((oc) => oc.column('jti').doNothing()).execute();
  }

  async has(jti: string): Promise<boolean> {
    return (await this.db.selectFrom('revoked_jwts').select('jti').where('jti', '=', jti).executeTakeFirst()) !== undefined;
  }

  async deleteExpired(now: number): Promise<void> {
    await this.db.deleteFrom('revoked_jwts').where('expires_at', '<=', now).execute();
  }
}
