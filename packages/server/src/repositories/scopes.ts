import type { Kysely } from 'kysely';
import type { DB } from '../db/types.js';
import type { ScopeEntry } from '../domain/models.js';

export class ScopesRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async list(): Promise<ScopeEntry[]> {
    const rows = await this.db.selectFrom('scopes').selectAll().orderBy('name').execute();
    return rows.map((r) => ({ name: r.name, description: r.description, builtin: r.builtin === 1, createdAt: new Date(r.created_at) }));
  }

  async find(name: string): Promise<ScopeEntry | undefined> {
    const r = await this.db.selectFrom('scopes').selectAll().where('name', '=', name).executeTakeFirst();
    return r && { name: r.name, description: r.description, builtin: r.builtin === 1, createdAt: new Date(r.created_at) };
  }

  async names(names: readonly string[]): Promise<Set<string>> {
    if (names.length === 0) return new Set();
    const rows = await this.db.selectFrom('scopes').select('name').where('name', 'in', [...names]).execute();
    return new Set(rows.map((r) => r.name));
  }

  async insert(entry: { name: string; description: string; builtin: boolean; createdAt: number }): Promise<void> {
    await this.db
      .insertInto('scopes')
      .values({ name: entry.name, description: entry.description, builtin: entry.builtin ? 1 : 0, created_at: entry.createdAt })
      .execute();
  }

  /** Inserts the built-in scopes that are missing; existing rows are left as they are. */
  async ensure(entries: readonly { name: string; description: string }[], now: number): Promise<void> {
    const present = await this.names(entries.map((e) => e.name));
    for (const e of entries) if (!present.has(e.name)) await this.insert({ ...e, builtin: true, createdAt: now });
  }

  async delete(name: string): Promise<void> {
    await this.db.deleteFrom('scopes').where('name', '=', name).execute();
  }
}
