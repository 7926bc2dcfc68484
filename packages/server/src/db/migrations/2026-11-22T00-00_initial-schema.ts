import type { Kysely } from 'kysely';

// Frozen in time: this file must keep working as written; later changes get a new migration.
// Times are epoch milliseconds in bigint columns; lists are JSON text; booleans are integers.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('username', 'varchar(100)', (c) => c.notNull())
    .addColumn('username_key', 'varchar(100)', (c) => c.notNull().unique())
    .addColumn('display_name', 'varchar(200)', (c) => c.notNull())
    .addColumn('email', 'varchar(254)')
    .addColumn('password_hash', 'text')
    .addColumn('role', 'varchar(16)', (c) => c.notNull())
    .addColumn('disabled_at', 'bigint')
    .addColumn('notifications', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('user_id', 'varchar(40)', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('ip', 'varchar(64)')
    .addColumn('user_agent', 'varchar(512)')
    .execute();
  await db.schema.createIndex('sessions_user_id').on('sessions').column('user_id').execute();

  await db.schema
    .createTable('pats')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('user_id', 'varchar(40)', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('description', 'varchar(500)', (c) => c.notNull())
    .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('pepper_key_id', 'varchar(32)', (c) => c.notNull())
    .addColumn('display_hint', 'varchar(40)', (c) => c.notNull())
    .addColumn('prefix', 'varchar(16)', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('audiences', 'text', (c) => c.notNull())
    .addColumn('allowed_ips', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('last_used_at', 'bigint')
    .addColumn('last_used_ip', 'varchar(64)')
    .addColumn('revoked_at', 'bigint')
    .addColumn('revoked_by', 'varchar(40)')
    .addColumn('revoke_reason', 'varchar(500)')
    .addColumn('rotated_from_id', 'varchar(40)')
    .addColumn('created_by_token_id', 'varchar(40)')
    .execute();
  await db.schema.createIndex('pats_user_created').on('pats').columns(['user_id', 'created_at', 'id']).execute();
  await db.schema.createIndex('pats_created').on('pats').columns(['created_at', 'id']).execute();

  await db.schema
    .createTable('pat_scopes')
    .addColumn('pat_id', 'varchar(40)', (c) => c.notNull().references('pats.id').onDelete('cascade'))
    .addColumn('scope', 'varchar(100)', (c) => c.notNull())
    .addPrimaryKeyConstraint('pat_scopes_pk', ['pat_id', 'scope'])
    .execute();
  await db.schema.createIndex('pat_scopes_scope').on('pat_scopes').column('scope').execute();

  await db.schema
    .createTable('scopes')
    .addColumn('name', 'varchar(100)', (c) => c.primaryKey())
    .addColumn('description', 'varchar(500)', (c) => c.notNull())
    .addColumn('builtin', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('settings')
    .addColumn('key', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('action', 'varchar(64)', (c) => c.notNull())
    .addColumn('actor_user_id', 'varchar(40)')
    .addColumn('actor_token_id', 'varchar(40)')
    .addColumn('target_type', 'varchar(32)')
    .addColumn('target_id', 'varchar(100)')
    .addColumn('ip', 'varchar(64)')
    .addColumn('user_agent', 'varchar(512)')
    .addColumn('details', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_created').on('audit_events').columns(['created_at', 'id']).execute();
  await db.schema.createIndex('audit_target').on('audit_events').columns(['target_id']).execute();
  await db.schema.createIndex('audit_actor').on('audit_events').columns(['actor_user_id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['audit_events', 'settings', 'scopes', 'pat_scopes', 'pats', 'sessions', 'users']) {
    await db.schema.dropTable(table).execute();
  }
}
