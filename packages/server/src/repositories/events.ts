import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/types.js';

/** PostgreSQL NOTIFY inside the current transaction (delivered on commit); nothing on SQLite. */
export class EventsRepository {
  constructor(private readonly db: Kysely<DB>, private readonly dialect: 'sqlite' | 'postgres') {}

  async notify(channel: string, payload: string): Promise<void> {
    if (this.dialect === 'postgres') await sql`select pg_notify(${channel}, ${payload})`.execute(this.db);
  }
}
