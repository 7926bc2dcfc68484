import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { unsafeDurabilitySettings } from '../../src/db/durability.js';
import { postgres, type TestDatabase } from '../helpers/dialects.js';
import { runServerToExit, storeEnv } from '../helpers/server-process.js';

describe('start-up guard: a PostgreSQL that can lose acknowledged writes', () => {
  it('names fsync=off and synchronous_commit=off, and accepts the durable settings', () => {
    expect(unsafeDurabilitySettings({ fsync: 'off', synchronousCommit: 'on' })).toEqual([expect.stringContaining('fsync=off')]);
    expect(unsafeDurabilitySettings({ fsync: 'on', synchronousCommit: 'OFF' })).toEqual([expect.stringContaining('synchronous_commit=off')]);
    expect(unsafeDurabilitySettings({ fsync: 'off', synchronousCommit: 'off' })).toHaveLength(2);
    for (const level of ['on', 'local', 'remote_write', 'remote_apply']) expect(unsafeDurabilitySettings({ fsync: 'on', synchronousCommit: level })).toEqual([]);
  });

  describe.skipIf(!postgres.available)('on a real server', () => {
    let db: TestDatabase | undefined;
    afterAll(async () => db?.drop());

    it('refuses to start when keyfob’s database runs with synchronous_commit=off', { timeout: 60_000 }, async () => {
      db = await postgres.create();
      const name = new URL(db.url).pathname.slice(1);
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        await client.query(`ALTER DATABASE "${name}" SET synchronous_commit = off`);
      } finally {
        await client.end();
      }
      const res = await runServerToExit(storeEnv('postgres', db));
      expect(res.code).not.toBe(0);
      expect(res.stderr + res.stdout).toMatch(/synchronous_commit=off/);
    });
  });
});
