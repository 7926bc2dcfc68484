import type { Kysely } from 'kysely';

// Frozen in time: the addresses each token was used from (first and last seen, uses), written
// behind by the usage recorder and pruned with the usage counts.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('pat_ips')
    .addColumn('pat_id', 'varchar(40)', (c) => c.notNull().references('pats.id').onDelete('cascade'))
    .addColumn('ip', 'varchar(64)', (c) => c.notNull())
    .addColumn('first_seen', 'bigint', (c) => c.notNull())
    .addColumn('last_seen', 'bigint', (c) => c.notNull())
    .addColumn('uses', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('pat_ips_pk', ['pat_id', 'ip'])
    .execute();
  await db.schema.createIndex('pat_ips_last_seen').on('pat_ips').column('last_seen').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('pat_ips').execute();
}
