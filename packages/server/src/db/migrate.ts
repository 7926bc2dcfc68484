import { Migrator, type Kysely, type Migration, type MigrationProvider, type MigrationResult } from 'kysely';
import * as initialSchema from './migrations/2026-11-22T00-00_initial-schema.js';
import * as oauth from './migrations/2026-11-23T00-00_oauth.js';
import * as usageDaily from './migrations/2026-11-23T01-00_usage-daily.js';
import * as usageHourly from './migrations/2026-11-23T06-00_usage-hourly.js';
import * as patIps from './migrations/2026-11-23T07-00_pat-ips.js';
import * as events from './migrations/2026-11-23T08-00_events.js';
import * as oidcIdentities from './migrations/2026-11-23T09-00_oidc-identities.js';
import * as patRowKeys from './migrations/2026-11-23T10-00_pat-row-keys.js';

/** Migrations are listed statically so the compiled package needs no directory scan. */
const MIGRATIONS: Record<string, Migration> = {
  '2026-11-22T00-00_initial-schema': initialSchema,
  '2026-11-23T00-00_oauth': oauth,
  '2026-11-23T01-00_usage-daily': usageDaily,
  '2026-11-23T06-00_usage-hourly': usageHourly,
  '2026-11-23T07-00_pat-ips': patIps,
  '2026-11-23T08-00_events': events,
  '2026-11-23T09-00_oidc-identities': oidcIdentities,
  '2026-11-23T10-00_pat-row-keys': patRowKeys,
};

class StaticMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

export class MigrationFailed extends Error {
  constructor(cause: unknown, readonly results: readonly MigrationResult[]) {
    super(`database migration failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'MigrationFailed';
  }
}

/** Brings the schema up to date; throws MigrationFailed so that start-up refuses to serve. */
export async function migrateToLatest(db: Kysely<any>): Promise<readonly MigrationResult[]> {
  const migrator = new Migrator({ db, provider: new StaticMigrationProvider(), migrationTableName: 'keyfob_migrations', migrationLockTableName: 'keyfob_migrations_lock' });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw new MigrationFailed(error, results ?? []);
  return results ?? [];
}
