import type { Kysely } from 'kysely';
import type { DB } from '../db/types.js';

/** Named leases in the database: one instance at a time runs a background job. */
export class JobLeasesRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /** Takes or renews the lease; true when `holder` holds it until `now + ttlMs`. */
  async acquire(name: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
    // Two instances racing for an expired lease: PostgreSQL re-checks the WHERE of the second
    // UPDATE after the first commits, so only one of them gets a row.
    const renewed = await this.db
      .updateTable('job_leases')
      .set({ holder, expires_at: now + ttlMs })
      .where('name', '=', name)
      .where((eb) => eb.or([eb('holder', '=', holder), eb('expires_at', '<', now)]))
      .executeTakeFirst();
    if (Number(renewed.numUpdatedRows) === 1) return true;
    const created = await this.db.insertInto('job_leases').values({ name, holder, expires_at: now + ttlMs }).onConflict((oc) => oc.column('name').doNothing()).executeTakeFirst();
    return Number(created.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async release(name: string, holder: string): Promise<void> {
    await this.db.updateTable('job_leases').set({ expires_at: 0 }).where('name', '=', name).where('holder', '=', holder).execute();
  }
}
