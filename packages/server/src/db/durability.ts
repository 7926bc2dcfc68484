import { sql, type Kysely } from 'kysely';
import type { DB } from './types.js';

/**
 * The PostgreSQL settings under which an acknowledged write (a revocation, an audit event) can
 * vanish in a crash. keyfob refuses to start on them: a revoked token that comes back after a
 * restart is the one failure a token service must not have.
 */
export function unsafeDurabilitySettings(settings: { readonly fsync: string; readonly synchronousCommit: string }): string[] {
  const problems: string[] = [];
  if (settings.fsync.toLowerCase() === 'off') problems.push('fsync=off (the server does not flush writes to disk)');
  if (settings.synchronousCommit.toLowerCase() === 'off') problems.push('synchronous_commit=off (a commit is acknowledged before it is on disk)');
  return problems;
}

export class UnsafeStoreError extends Error {
  constructor(problems: readonly string[]) {
    super(
      `refusing to start: PostgreSQL runs with ${problems.join(' and ')}; an acknowledged revocation could be lost in a crash. ` +
        'Turn it on for the server, or for keyfob\'s database or role (ALTER DATABASE … SET synchronous_commit = on).',
    );
    this.name = 'UnsafeStoreError';
  }
}

/** Reads the settings as keyfob's own sessions see them (database and role settings included). */
export async function assertDurablePostgres(db: Kysely<DB>): Promise<void> {
  const { rows } = await sql<{ fsync: string; synchronous_commit: string }>`
    SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit`.execute(db);
  const row = rows[0]!;
  const problems = unsafeDurabilitySettings({ fsync: row.fsync, synchronousCommit: row.synchronous_commit });
  if (problems.length > 0) throw new UnsafeStoreError(problems);
}
