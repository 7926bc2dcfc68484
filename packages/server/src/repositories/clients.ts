import type { Kysely, Selectable } from 'kysely';
import type { DB, OAuthClientsTable } from '../db/types.js';
import type { OAuthClient } from '../domain/models.js';
import { decodeJsonArray, encodeJson, toDate } from './json.js';

function toClient(row: Selectable<OAuthClientsTable>): OAuthClient {
  return {
    id: row.id,
    name: row.name,
    secretHash: row.secret_hash,
    secretKeyId: row.secret_key_id,
    grantTypes: decodeJsonArray(row.grant_types),
    allowedAudiences: decodeJsonArray(row.allowed_audiences),
    allowedScopes: row.allowed_scopes === null ? null : decodeJsonArray(row.allowed_scopes),
    canIntrospect: row.can_introspect === 1,
    disabledAt: toDate(row.disabled_at),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export interface ClientChanges {
  name?: string;
  allowedAudiences?: readonly string[];
  allowedScopes?: readonly string[] | null;
  canIntrospect?: boolean;
  disabledAt?: number | null;
  secretHash?: string;
  secretKeyId?: string;
}

export class ClientsRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async insert(client: OAuthClient): Promise<void> {
    await this.db
      .insertInto('oauth_clients')
      .values({
        id: client.id,
        name: client.name,
        secret_hash: client.secretHash,
        secret_key_id: client.secretKeyId,
        grant_types: encodeJson(client.grantTypes),
        allowed_audiences: encodeJson(client.allowedAudiences),
        allowed_scopes: client.allowedScopes === null ? null : encodeJson(client.allowedScopes),
        can_introspect: client.canIntrospect ? 1 : 0,
        disabled_at: client.disabledAt?.getTime() ?? null,
        created_at: client.createdAt.getTime(),
        updated_at: client.updatedAt.getTime(),
      })
      .execute();
  }

  async findById(id: string): Promise<OAuthClient | undefined> {
    const row = await this.db.selectFrom('oauth_clients').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toClient(row);
  }

  async list(): Promise<OAuthClient[]> {
    const rows = await this.db.selectFrom('oauth_clients').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
    return rows.map(toClient);
  }

  async update(id: string, changes: ClientChanges, now: number): Promise<OAuthClient | undefined> {
    const set: Partial<Selectable<OAuthClientsTable>> = { updated_at: now };
    if (changes.name !== undefined) set.name = changes.name;
    if (changes.allowedAudiences !== undefined) set.allowed_audiences = encodeJson(changes.allowedAudiences);
    if (changes.allowedScopes !== undefined) set.allowed_scopes = changes.allowedScopes === null ? null : encodeJson(changes.allowedScopes);
    if (changes.canIntrospect !== undefined) set.can_introspect = changes.canIntrospect ? 1 : 0;
    if (changes.disabledAt !== undefined) set.disabled_at = changes.disabledAt;
    if (changes.secretHash !== undefined) set.secret_hash = changes.secretHash;
    if (changes.secretKeyId !== undefined) set.secret_key_id = changes.secretKeyId;
    await this.db.updateTable('oauth_clients').set(set).where('id', '=', id).execute();
    return this.findById(id);
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('oauth_clients').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
