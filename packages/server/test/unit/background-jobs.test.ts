import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/dialects.js';
import { DAY } from '../helpers/clock.js';
import { createTestApp, createToken, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';
import { SYSTEM_ACTOR } from '../../src/domain/models.js';
import { IDLE_WARNING } from '../../src/repositories/reminders.js';
import { IDLE_TOKENS_PER_RUN } from '../../src/services/idle-expiry.js';

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`the event jobs' tick [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    beforeAll(async () => {
      t = await createTestApp(dialect);
      admin = await setupAdmin(t);
    });
    afterAll(async () => t?.close());

    it('lets the event loop run between its steps, so requests are answered during a long tick', async () => {
      let turns = 0;
      let counting = true;
      const count = () => {
        turns++;
        if (counting) setImmediate(count);
      };
      setImmediate(count);
      expect(await t.container.jobs.runOnce()).toBe(true);
      counting = false;
      // Reminders, idle expiry, the outbox, webhooks and email notices each start after a turn.
      // On SQLite every statement answers synchronously: without those turns there is none.
      expect(turns).toBeGreaterThanOrEqual(5);
    });

    it('looks for idle tokens once an hour', async () => {
      await t.container.policy.update(SYSTEM_ACTOR, { idleRevokeDays: 30, idleWarningDays: 7 });
      const tok = await createToken(t, admin, { expiresInDays: null });
      const warned = async () =>
        (await t.container.store.db.selectFrom('token_reminders').select('pat_id').where('pat_id', '=', tok.id).where('kind', '=', IDLE_WARNING).execute()).length > 0;
      // Idle a minute short of the warning (30 − 7 days): idle expiry runs and finds nothing.
      t.clock.advance(23 * DAY - 60_000);
      await t.container.jobs.runOnce();
      // A minute past it, but within the hour: not looked at yet.
      // tick() runs a tick as the timer does (runOnce runs every step).
      t.clock.advance(2 * 60_000);
      await t.container.jobs.tick();
      expect(await warned()).toBe(false);
      t.clock.advance(60 * 60_000);
      await t.container.jobs.tick();
      expect(await warned()).toBe(true);
    });

    it('comes back a minute later, not an hour, while idle tokens are left over from a full run', async () => {
      const tokens = [];
      for (let i = 0; i <= IDLE_TOKENS_PER_RUN; i++) tokens.push(await createToken(t, admin, { expiresInDays: null }));
      const ids = tokens.map((tok) => tok.id);
      const warned = async () =>
        (await t.container.store.db.selectFrom('token_reminders').select('pat_id').where('pat_id', 'in', ids).where('kind', '=', IDLE_WARNING).execute()).length;
      // Policy set by the test before: idle after 23 days. One more idle token than a run takes.
      t.clock.advance(23 * DAY + 60_000);
      await t.container.jobs.runOnce();
      // A full run (the earlier test's token, idle since, may take one of its places).
      expect(await warned()).toBeLessThanOrEqual(IDLE_TOKENS_PER_RUN);
      t.clock.advance(2 * 60_000);
      await t.container.jobs.tick();
      expect(await warned()).toBe(IDLE_TOKENS_PER_RUN + 1);
    });

    it('starts no tick on a nudge once stopped (a webhook queued while the process shuts down)', async () => {
      const holder = () => t.container.store.db.selectFrom('job_leases').select(['holder', 'expires_at']).where('name', '=', 'events').executeTakeFirst();
      expect(await t.container.jobs.tick()).toBe(true);
      await t.container.jobs.stop();
      // stop() released the lease (expired now); a tick would take it again.
      expect(await holder()).toMatchObject({ expires_at: 0 });
      t.container.jobs.nudge();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await holder()).toMatchObject({ expires_at: 0 });
    });
  });
}
