import type { Kysely } from 'kysely';
import { up as createUsageDaily } from './2026-11-23T01-00_usage-daily.js';

// Frozen in time: use counts per token by UTC hour and outcome (ok, or why a use was refused),
// replacing the daily counts; those become the first hour of their day, as successful uses.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('usage_hourly')
    .addColumn('pat_id', 'varchar(40)', (c) => c.notNull().references('pats.id').onDelete('cascade'))
    .addColumn('hour', 'bigint', (c) => c.notNull())
    .addColumn('outcome', 'varchar(32)', (c) => c.notNull())
    .addColumn('count', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('usage_hourly_pk', ['pat_id', 'hour', 'outcome'])
    .execute();
  await db.schema.createIndex('usage_hourly_hour').on('usage_hourly').column('hour').execute();
  const daily = (await db.selectFrom('usage_daily').select(['pat_id', 'day', 'count']).execute()) as { pat_id: string; day: string; count: number | string }[];
  for (let from = 0; from < daily.length; from += 500) {
    const rows = daily.slice(from, from + 500).map((r) => ({ pat_id: r.pat_id, hour: Date.parse(`${r.day}T00:00:00Z`), outcome: 'ok', count: Number(r.count) }));
    await db.insertInto('usage_hourly').values(rows).execute();
  }
  await db.schema.dropTable('usage_daily').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await createUsageDaily(db);
  await db.schema.dropTable('usage_hourly').execute();
}
