import type { Kysely } from 'kysely';
import type { DB } from '../db/types.js';
import { decodeJsonObject, encodeJson } from './json.js';

/** Small JSON documents by key (the policy lives under "policy"). */
export class SettingsRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async get(key: string): Promise<Record<string, unknown> | undefined> {
    const row = await this.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
    return row && decodeJsonObject(row.value);
  }

  async put(key: string, value: unknown, now: number): Promise<void> {
    const text = encodeJson(value);
    await this.db
      .insertInto('settings')
      .values({ key, value: text, updated_at: now })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: text, updated_at: now }))
      .execute();
  }
}
