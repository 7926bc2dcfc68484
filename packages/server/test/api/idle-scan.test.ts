import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemindersRepository, type IdleWindow } from '../../src/repositories/reminders.js';
import { DAY } from '../helpers/clock.js';
import { DIALECTS } from '../helpers/dialects.js';
import { bearer, createTestApp, createToken, setupAdmin, type TestApp } from '../helpers/test-app.js';

/** setImmediate callbacks run while `work` is pending: turns of the event loop it let through. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    return { result: await work(), turns };
  } finally {
    running = false;
  }
}

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`idle-token scan [${dialect.name}]`, () => {
    let t: TestApp;
    const idleIds: string[] = [];
    let window: IdleWindow;
    const kind = dialect.name === 'sqlite' ? 'sqlite' : 'postgres';

    beforeAll(async () => {
      t = await createTestApp(dialect, { KEYFOB_VERIFY_CACHE: 'off' });
      const admin = await setupAdmin(t);
      const used: string[] = [];
      for (let i = 0; i < 8; i++) {
        const created = await createToken(t, admin, { name: `scan-${i}`, expiresInDays: null });
        if (i % 4 === 1) used.push(created.token);
        else idleIds.push(created.id);
        t.clock.advance(60_000);
      }
      t.clock.advance(40 * DAY);
      for (const token of used) expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(token) })).statusCode).toBe(200);
      await t.container.usage.flush();
      const now = t.clock.now();
      window = { now, idleBefore: now - 30 * DAY, warnAfterMs: 23 * DAY, warnedSince: now - 14 * DAY };
    });
    afterAll(async () => {
      await t?.close();
    });

    it('read a row at a time, finds every idle token, the most idle first, and only those', async () => {
      // Slices of one row: every row lies on a slice boundary.
      const sliced = new RemindersRepository(t.container.store.db, kind, 1);
      const found = await sliced.idleUnwarned(window, 100);
      expect(found.map((f) => f.patId).sort()).toEqual([...idleIds].sort());
      expect(found.map((f) => f.patId)).toEqual(idleIds);
      expect(found).toEqual(await t.container.store.repos.reminders.idleUnwarned(window, 100));
    });

    it('under a limit, answers the most idle tokens of the whole table, not of the first slices', async () => {
      for (const rows of [1, 3]) {
        const found = await new RemindersRepository(t.container.store.db, kind, rows).idleUnwarned(window, 4);
        expect(found.map((f) => f.patId)).toEqual(idleIds.slice(0, 4));
      }
    });

    // PostgreSQL reads in one statement on the server; only SQLite's scan runs on the event loop.
    if (dialect.name === 'sqlite') it('lets the event loop turn between slices on SQLite, where one statement would hold it', async () => {
      const sliced = await turnsDuring(() => new RemindersRepository(t.container.store.db, 'sqlite', 3).idleUnwarned(window, 100));
      expect(sliced.result).toHaveLength(idleIds.length);
      // 8 tokens in slices of 3: three slices, two turns between them.
      expect(sliced.turns).toBeGreaterThanOrEqual(2);
      const whole = await turnsDuring(() => new RemindersRepository(t.container.store.db, 'sqlite', 1000).idleUnwarned(window, 100));
      expect(whole.result).toEqual(sliced.result);
      expect(whole.turns).toBe(0);
    });

    it('finds the tokens whose warning has stood, in slices as in one statement', async () => {
      const now = window.now;
      const warnedIds = [idleIds[2]!, idleIds[4]!];
      for (const id of warnedIds) await t.container.store.repos.reminders.markIdleWarning(id, now - 8 * DAY);
      const standing = { ...window, idleBefore: now - 37 * DAY };
      const sliced = await new RemindersRepository(t.container.store.db, kind, 1).idleWarned(standing, now - 7 * DAY, 100);
      expect(sliced.map((f) => f.patId)).toEqual(warnedIds);
      expect(sliced).toEqual(await t.container.store.repos.reminders.idleWarned(standing, now - 7 * DAY, 100));
      // A warning that has not stood long enough does not count yet.
      expect(await new RemindersRepository(t.container.store.db, kind, 1).idleWarned(standing, now - 9 * DAY, 100)).toEqual([]);
      const unwarned = await new RemindersRepository(t.container.store.db, kind, 1).idleUnwarned(window, 100);
      expect(unwarned.map((f) => f.patId)).toEqual(idleIds.filter((id) => !warnedIds.includes(id)));
    });
  });
}
