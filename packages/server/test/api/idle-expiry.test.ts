import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/dialects.js';
import { DAY } from '../helpers/clock.js';
import { mailSubject, mailText, startMailServer, type MailServer } from '../helpers/receivers.js';
import { ADMIN, asSession, bearer, createToken, createUser, login, setupAdmin, createTestApp, type Session, type TestApp } from '../helpers/test-app.js';

const subjectsOf = (mail: MailServer) => mail.mails.map((m) => mailSubject(m.raw)).sort();

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`idle-expiry policy [${dialect.name}]`, () => {
    let t: TestApp;
    let mail: MailServer;
    let admin: Session;
    let alice: Session;
    beforeAll(async () => {
      mail = await startMailServer();
      t = await createTestApp(dialect, { KEYFOB_SMTP_URL: `smtp://keyfob:smtp-secret@127.0.0.1:${mail.port}`, KEYFOB_VERIFY_CACHE: 'off' });
      admin = await setupAdmin(t);
      alice = await createUser(t, admin, 'alice');
      await t.app.inject({ method: 'PATCH', url: '/api/v1/me', headers: asSession(alice), payload: { email: 'alice@example.test', notifications: { tokenCreated: false, newIpUse: false } } });
    });
    afterAll(async () => {
      await t?.close();
      await mail?.close();
    });
    const policy = (payload: Record<string, unknown>) => t.app.inject({ method: 'PUT', url: '/api/v1/admin/policy', headers: asSession(admin), payload });
    const statusOf = async (id: string) => (await t.app.inject({ method: 'GET', url: `/api/v1/me/tokens/${id}`, headers: asSession(alice) })).json() as { status: string; revokedAt: string | null };
    // Sessions last 90 days in the tests; the clock moves further.
    const signInAgain = async () => {
      admin = await login(t, ADMIN.username, ADMIN.password);
      alice = await login(t, 'alice', 'alice-password-1');
    };
    const round = async () => {
      await t.container.usage.flush();
      await t.container.jobs.runOnce();
    };

    it('checks the policy: off by default, the warning shorter than the idle period', async () => {
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/admin/policy', headers: asSession(admin) })).json()).toMatchObject({ idleRevokeDays: null, idleWarningDays: 7 });
      const bad = await policy({ idleRevokeDays: 10, idleWarningDays: 10 });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().message).toContain('idleWarningDays');
      expect((await policy({ idleRevokeDays: 1 })).statusCode).toBe(400);
      expect((await policy({ idleRevokeDays: 'soon' })).statusCode).toBe(400);
    });

    it('warns the owner of a token unused for the period minus the warning, revokes it after the warning stood, and spares one used since', async () => {
      const idle = await createToken(t, alice, { name: 'forgotten', scopes: ['tokens:read'], expiresInDays: null });
      const busy = await createToken(t, alice, { name: 'busy', scopes: ['tokens:read'], expiresInDays: null });
      const revived = await createToken(t, alice, { name: 'revived', scopes: ['tokens:read'], expiresInDays: null });
      const use = async (token: string) => expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(token) })).statusCode).toBe(200);
      expect((await policy({ idleRevokeDays: 30, idleWarningDays: 7 })).statusCode).toBe(200);

      t.clock.advance(20 * DAY);
      await use(busy.token);
      await round();
      mail.mails.length = 0;
      t.clock.advance(3 * DAY + 60_000);
      await round();
      // Idle 23 days: the two never used get the warning; the one used three days ago does not.
      expect(subjectsOf(mail)).toEqual([expect.stringMatching(/^Your token forgotten will be revoked on \d{4}-\d{2}-\d{2} unless it is used$/), expect.stringMatching(/^Your token revived will be revoked on/)]);
      mail.mails.length = 0;
      await round();
      expect(mail.mails).toHaveLength(0);

      t.clock.advance(6 * DAY);
      await use(revived.token);
      await round();
      expect((await statusOf(idle.id)).status).toBe('active');
      t.clock.advance(DAY);
      await round();
      expect(await statusOf(idle.id)).toMatchObject({ status: 'revoked' });
      expect((await statusOf(revived.id)).status).toBe('active');
      expect((await statusOf(busy.id)).status).toBe('active');
      expect(subjectsOf(mail)).toEqual(['Your token forgotten was revoked']);
      expect(mailText(mail.mails[0]!.raw)).toContain('revoked by keyfob (reason: idle: unused for 30 days)');
      const audit = (await t.app.inject({ method: 'GET', url: `/api/v1/admin/audit?targetId=${idle.id}&action=token.revoked`, headers: asSession(admin) })).json();
      expect(audit.items[0]).toMatchObject({ actorUserId: null, details: { reason: 'idle: unused for 30 days' } });

      // Used after its warning and idle again: warned again before it goes.
      mail.mails.length = 0;
      t.clock.advance(23 * DAY + 60_000);
      await round();
      expect(subjectsOf(mail).filter((s) => s.includes('revived'))).toEqual([expect.stringMatching(/^Your token revived will be revoked on/)]);
    });

    it('turned on over tokens idle for long, or turned off and on again, warns first and revokes only after the warning period', async () => {
      expect((await policy({ idleRevokeDays: null })).statusCode).toBe(200);
      const ancient = await createToken(t, alice, { name: 'ancient', scopes: ['tokens:read'], expiresInDays: null });
      const tokens = (await t.app.inject({ method: 'GET', url: '/api/v1/me/tokens?status=active&limit=200', headers: asSession(alice) })).json().items as { id: string; name: string }[];
      // 'revived' and 'busy' carry warnings made under the 30-day policy of the test before.
      const warnedBefore = tokens.filter((k) => k.name === 'revived' || k.name === 'busy');
      expect(warnedBefore).toHaveLength(2);
      t.clock.advance(200 * DAY);
      await signInAgain();
      await round();
      expect((await statusOf(ancient.id)).status).toBe('active');
      mail.mails.length = 0;
      expect((await policy({ idleRevokeDays: 90, idleWarningDays: 14 })).statusCode).toBe(200);
      await round();
      const warned = subjectsOf(mail);
      for (const name of ['ancient', 'revived', 'busy']) expect(warned.filter((s) => s.includes(`token ${name} will be revoked`)), name).toHaveLength(1);
      for (const k of [ancient, ...warnedBefore]) expect((await statusOf(k.id)).status).toBe('active');
      t.clock.advance(13 * DAY);
      await round();
      expect((await statusOf(ancient.id)).status).toBe('active');
      t.clock.advance(DAY);
      await round();
      for (const k of [ancient, ...warnedBefore]) expect((await statusOf(k.id)).status).toBe('revoked');
      await policy({ idleRevokeDays: null });
    });

    it('does not revoke on a warning announced under a shorter policy', async () => {
      await policy({ idleRevokeDays: 30, idleWarningDays: 7 });
      const tok = await createToken(t, alice, { name: 'lengthened', scopes: ['tokens:read'], expiresInDays: null });
      t.clock.advance(23 * DAY + 60_000);
      mail.mails.length = 0;
      await round();
      expect(subjectsOf(mail)).toEqual([expect.stringMatching(/^Your token lengthened will be revoked on/)]);
      await policy({ idleRevokeDays: 365, idleWarningDays: 7 });
      t.clock.advance(8 * DAY);
      await round();
      expect((await statusOf(tok.id)).status).toBe('active');
      // Warned again once idle 358 days; revoked at 365.
      mail.mails.length = 0;
      t.clock.advance(327 * DAY);
      await signInAgain();
      await round();
      expect(subjectsOf(mail)).toEqual([expect.stringMatching(/^Your token lengthened will be revoked on/)]);
      expect((await statusOf(tok.id)).status).toBe('active');
      t.clock.advance(7 * DAY);
      await round();
      expect((await statusOf(tok.id)).status).toBe('revoked');
      await policy({ idleRevokeDays: null });
    });
  });
}
