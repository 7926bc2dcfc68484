import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/dialects.js';
import { asSession, createTestApp, createToken, createUser, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';

const T0 = Date.parse('2026-11-20T23:59:00Z');

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`usage recording in batches [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    beforeAll(async () => {
      t = await createTestApp(dialect);
      admin = await setupAdmin(t);
    });
    afterAll(async () => t?.close());

    it('writes many tokens in one flush: newest use wins, a missing IP keeps the last one, counts add up per day, deleted tokens are skipped', async () => {
      const [a, b, gone] = [await createToken(t, admin), await createToken(t, admin), await createToken(t, admin)];
      const pats = t.container.store.repos.pats;
      await t.container.store.transaction((repos) =>
        repos.pats.recordUsage([
          { patId: a.id, at: T0, ip: '192.0.2.1', counts: new Map([['2026-11-20', 2]]) },
          { patId: b.id, at: T0 + 120_000, ip: '2001:db8::1', counts: new Map([['2026-11-20', 1], ['2026-11-21', 4]]) },
        ]),
      );
      // A token deleted between its use and the flush (its owner was deleted).
      await t.container.store.db.deleteFrom('pats').where('id', '=', gone.id).execute();
      await t.container.store.transaction((repos) =>
        repos.pats.recordUsage([
          { patId: a.id, at: T0 - 60_000, ip: '192.0.2.99', counts: new Map([['2026-11-20', 3]]) }, // older than what is stored
          { patId: b.id, at: T0 + 180_000, ip: null, counts: new Map([['2026-11-21', 1]]) },
          { patId: gone.id, at: T0, ip: '192.0.2.5', counts: new Map([['2026-11-20', 1]]) },
        ]),
      );
      const one = await pats.findById(a.id);
      expect(one?.lastUsedAt?.getTime()).toBe(T0);
      expect(one?.lastUsedIp).toBe('192.0.2.1');
      const two = await pats.findById(b.id);
      expect(two?.lastUsedAt?.getTime()).toBe(T0 + 180_000);
      expect(two?.lastUsedIp).toBe('2001:db8::1');
      expect(await pats.usageByDay(a.id)).toEqual([{ day: '2026-11-20', count: 5 }]);
      expect(await pats.usageByDay(b.id)).toEqual([
        { day: '2026-11-20', count: 1 },
        { day: '2026-11-21', count: 5 },
      ]);
      expect(await pats.usageByDay(gone.id)).toEqual([]);
    });

    it('shows the written use on the token', async () => {
      const c = await createToken(t, admin);
      await t.container.store.transaction((repos) => repos.pats.recordUsage([{ patId: c.id, at: T0, ip: '198.51.100.9', counts: new Map([['2026-11-20', 1]]) }]));
      const res = await t.app.inject({ method: 'GET', url: `/api/v1/me/tokens/${c.id}`, headers: asSession(admin) });
      expect(res.json()).toMatchObject({ lastUsedAt: new Date(T0).toISOString(), lastUsedIp: '198.51.100.9' });
    });
  });
}

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`verification beside an open transaction [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    beforeAll(async () => {
      t = await createTestApp(dialect, { KEYFOB_VERIFY_CACHE: 'off' });
      admin = await setupAdmin(t);
    });
    afterAll(async () => t?.close());

    it('never reads a change that is not committed (and then rolled back)', async () => {
      const owner = await createUser(t, admin, 'rolled-back');
      const tok = await createToken(t, owner);
      const disabled = await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${owner.userId}`, headers: asSession(admin), payload: { disabled: true } });
      expect(disabled.statusCode).toBe(200);
      let during: boolean | undefined;
      const rollback = t.container.store
        .transaction(async (repos) => {
          await repos.users.update(owner.userId, { disabledAt: null }, t.clock.now());
          // Something slow inside the transaction: other requests run meanwhile.
          await new Promise((resolve) => setTimeout(resolve, 50));
          throw new Error('roll back');
        })
        .catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 10));
      during = (await t.container.verifier.verify(tok.token)).ok;
      await rollback;
      expect(during).toBe(false);
      expect((await t.container.verifier.verify(tok.token)).ok).toBe(false);
    });
  });
}
