import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createContainer, type Container } from '../../src/container.js';
import { DIALECTS, postgres, sqlite } from '../helpers/dialects.js';
import { DAY, ManualClock } from '../helpers/clock.js';
import { mailSubject, mailText, startMailServer, startSilentAfterDataServer, startWebhookReceiver, type MailServer } from '../helpers/receivers.js';
import { NO_LIMITS, TEST_SECRET, asSession, bearer, createToken, createUser, setupAdmin, createTestApp, type Session, type TestApp } from '../helpers/test-app.js';

const SMTP_USER = 'keyfob';
const SMTP_PASS = 'smtp-p@ss word';
const smtpUrl = (port: number) => `smtp://${SMTP_USER}:${encodeURIComponent(SMTP_PASS)}@127.0.0.1:${port}`;
const FROM = 'keyfob <keyfob@example.test>';

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`email notifications [${dialect.name}]`, () => {
    let t: TestApp;
    let mail: MailServer;
    let admin: Session;
    let alice: Session;
    beforeAll(async () => {
      mail = await startMailServer({ user: SMTP_USER, pass: SMTP_PASS });
      t = await createTestApp(dialect, { KEYFOB_SMTP_URL: smtpUrl(mail.port), KEYFOB_MAIL_FROM: FROM, KEYFOB_VERIFY_CACHE: 'off' });
      admin = await setupAdmin(t);
      alice = await createUser(t, admin, 'alice');
      const res = await t.app.inject({ method: 'PATCH', url: '/api/v1/me', headers: asSession(alice), payload: { email: 'alice@example.test' } });
      expect(res.statusCode, res.body).toBe(200);
    });
    afterAll(async () => {
      await t?.close();
      await mail?.close();
    });
    beforeEach(async () => {
      await t.container.jobs.runOnce();
      mail.mails.length = 0;
      mail.refusals = [];
    });
    const run = () => t.container.jobs.runOnce();
    const setNotifications = async (session: Session, notifications: Record<string, boolean>) =>
      expect((await t.app.inject({ method: 'PATCH', url: '/api/v1/me', headers: asSession(session), payload: { notifications } })).statusCode).toBe(200);

    it('emails the owner when a token is created: from the configured sender, authenticated, never the secret', async () => {
      const tok = await createToken(t, alice, { name: 'laptop-cli', scopes: ['tokens:read'], expiresInDays: 30 });
      await run();
      expect(mail.mails).toHaveLength(1);
      const [m] = mail.mails;
      expect(m!.to).toEqual(['alice@example.test']);
      expect(m!.from).toBe('keyfob@example.test');
      expect(m!.user).toBe(SMTP_USER);
      expect(mailSubject(m!.raw)).toBe('A new personal access token: laptop-cli');
      const text = mailText(m!.raw);
      expect(text).toContain(String(tok.pat['displayHint']));
      expect(text).toContain(`/tokens/${tok.id}`);
      expect(text).not.toContain(tok.token);
      expect(text).not.toContain(tok.token.slice(-20));
      // Sent once: another round sends nothing.
      await run();
      expect(mail.mails).toHaveLength(1);
      expect(t.logs.join('')).not.toContain(SMTP_PASS);
    });

    it('leaves out kinds the user turned off, users without an address and revocations the owner made', async () => {
      await setNotifications(alice, { tokenCreated: false });
      const tok = await createToken(t, alice, { scopes: ['tokens:read'] });
      const bob = await createUser(t, admin, 'bob-no-email');
      await createToken(t, bob, { scopes: ['tokens:read'] });
      expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/me/tokens/${tok.id}`, headers: asSession(alice) })).statusCode).toBe(204);
      await run();
      expect(mail.mails).toHaveLength(0);
      await setNotifications(alice, { tokenCreated: true });
    });

    it('emails when an admin revokes a token, and once (the leak notice) when a leak report revokes one', async () => {
      const byAdmin = await createToken(t, alice, { name: 'old-ci', scopes: ['tokens:read'] });
      const leaked = await createToken(t, alice, { name: 'pasted', scopes: ['tokens:read'] });
      await run();
      mail.mails.length = 0;
      const revoke = await t.app.inject({ method: 'DELETE', url: `/api/v1/admin/tokens/${byAdmin.id}`, headers: asSession(admin), payload: { reason: 'offboarding' } });
      expect(revoke.statusCode, revoke.body).toBeLessThan(300);
      expect((await t.app.inject({ method: 'POST', url: '/credentials/revoke', payload: { credentials: [leaked.token] } })).statusCode).toBe(202);
      await run();
      const subjects = mail.mails.map((m) => mailSubject(m.raw)).sort();
      expect(subjects).toEqual(['Your token old-ci was revoked', 'Your token pasted was found in public and revoked']);
      expect(mailText(mail.mails.find((m) => mailSubject(m.raw).includes('old-ci'))!.raw)).toContain('offboarding');
      for (const m of mail.mails) expect(m.raw).not.toContain(leaked.token);
    });

    it('reminds 7 days and 1 day before expiry and when it has expired, each once; short-lived tokens skip the early reminder', async () => {
      const month = await createToken(t, alice, { name: 'monthly', scopes: ['tokens:read'], expiresInDays: 30 });
      const short = await createToken(t, alice, { name: 'three-day', scopes: ['tokens:read'], expiresInDays: 3 });
      await run();
      mail.mails.length = 0;
      const subjects = async () => {
        await run();
        await run();
        const out = mail.mails.map((m) => mailSubject(m.raw)).filter((s) => /monthly|three-day/.test(s));
        mail.mails.length = 0;
        return out.sort();
      };
      const monthlyExpiring = `Your token monthly expires on ${String(month.pat['expiresAt']).slice(0, 10)}`;
      t.clock.advance(2.5 * DAY);
      expect(await subjects()).toEqual([`Your token three-day expires on ${String(short.pat['expiresAt']).slice(0, 10)}`]);
      t.clock.advance(DAY);
      expect(await subjects()).toEqual(['Your token three-day has expired']);
      t.clock.advance(20 * DAY);
      expect(await subjects()).toEqual([monthlyExpiring]);
      t.clock.advance(DAY);
      expect(await subjects()).toEqual([]);
      t.clock.advance(5.5 * DAY);
      expect(await subjects()).toEqual([monthlyExpiring]);
      t.clock.advance(DAY);
      expect(await subjects()).toEqual(['Your token monthly has expired']);
      t.clock.advance(10 * DAY);
      expect(await subjects()).toEqual([]);
    });

    it('emails the first use of a token from each new address, once per address', async () => {
      const tok = await createToken(t, alice, { name: 'roaming', scopes: ['tokens:read'] });
      const use = (ip: string) => t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(tok.token), remoteAddress: ip });
      await run();
      mail.mails.length = 0;
      expect((await use('198.51.100.7')).statusCode).toBe(200);
      expect((await use('198.51.100.7')).statusCode).toBe(200);
      await t.container.usage.flush();
      await run();
      expect(mail.mails.map((m) => mailSubject(m.raw))).toEqual(['Your token roaming was used from a new address']);
      expect(mailText(mail.mails[0]!.raw)).toContain('198.51.100.7');
      mail.mails.length = 0;
      await use('198.51.100.7');
      await use('203.0.113.9');
      await t.container.usage.flush();
      await run();
      expect(mail.mails).toHaveLength(1);
      expect(mailText(mail.mails[0]!.raw)).toContain('203.0.113.9');
    });

    it('tries a refused email again later and sends it once', async () => {
      mail.refusals = [451];
      await createToken(t, alice, { name: 'retry-me', scopes: ['tokens:read'] });
      await run();
      expect(mail.mails).toHaveLength(0);
      await run();
      expect(mail.mails).toHaveLength(0);
      t.clock.advance(60_000);
      await run();
      expect(mail.mails.map((m) => mailSubject(m.raw))).toEqual(['A new personal access token: retry-me']);
      const row = await t.container.store.db.selectFrom('notices').selectAll().where('subject', '=', 'A new personal access token: retry-me').executeTakeFirstOrThrow();
      expect(row).toMatchObject({ status: 'sent', error: null });
      expect(Number(row.attempts)).toBe(2);
    });

    it('waits for a mail server that is down without spending attempts, and sends once it is back', async () => {
      const port = mail.port;
      await mail.close();
      await createToken(t, alice, { name: 'while-down', scopes: ['tokens:read'] });
      await run();
      await run();
      const row = () => t.container.store.db.selectFrom('notices').selectAll().where('subject', '=', 'A new personal access token: while-down').executeTakeFirstOrThrow();
      expect(await row()).toMatchObject({ status: 'pending' });
      expect(Number((await row()).attempts)).toBe(0);
      mail = await startMailServer({ user: SMTP_USER, pass: SMTP_PASS }, port);
      await run();
      expect(mail.mails.map((m) => mailSubject(m.raw))).toEqual(['A new personal access token: while-down']);
      expect((await row()).status).toBe('sent');
    });

    it('emails each owner once for a bulk revocation, whatever the number of their tokens', async () => {
      const a = await createToken(t, alice, { name: 'bulk-1', scopes: ['tokens:read'] });
      await createToken(t, alice, { name: 'bulk-2', scopes: ['tokens:read'] });
      await run();
      mail.mails.length = 0;
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/admin/tokens/revoke', headers: asSession(admin), payload: { userId: alice.userId, reason: 'laptop stolen' } });
      expect(res.statusCode, res.body).toBeLessThan(300);
      await run();
      expect(mail.mails.map((m) => mailSubject(m.raw))).toEqual(['Your tokens were revoked by an administrator']);
      expect(mailText(mail.mails[0]!.raw)).toContain('laptop stolen');
      expect((await t.app.inject({ method: 'GET', url: `/api/v1/me/tokens/${a.id}`, headers: asSession(alice) })).json().status).toBe('revoked');
    });
  });
}

describe('email notices after a send that may have gone through [sqlite]', () => {
  it('marks the notice unknown and never sends it again', async () => {
    const silent = await startSilentAfterDataServer();
    const t = await createTestApp(sqlite, { KEYFOB_SMTP_URL: `smtp://127.0.0.1:${silent.port}` });
    try {
      const admin = await setupAdmin(t);
      await t.app.inject({ method: 'PATCH', url: '/api/v1/me', headers: asSession(admin), payload: { email: 'admin@example.test' } });
      await createToken(t, admin, { name: 'in-doubt', scopes: ['tokens:read'] });
      await t.container.jobs.runOnce();
      expect(silent.messages).toBe(1);
      for (let i = 0; i < 3; i++) {
        t.clock.advance(3_600_000);
        await t.container.jobs.runOnce();
      }
      expect(silent.messages).toBe(1);
      const row = await t.container.store.db.selectFrom('notices').selectAll().executeTakeFirstOrThrow();
      expect(row.status).toBe('unknown');
      expect(row.error).toContain('not sent again');
    } finally {
      await t.close();
      await silent.close();
    }
  });
});

describe.skipIf(!postgres.available)('notifications across instances and restarts [postgresql]', () => {
  let t: TestApp;
  let mail: MailServer;
  const extra: Container[] = [];
  beforeAll(async () => {
    mail = await startMailServer({ user: SMTP_USER, pass: SMTP_PASS });
    t = await createTestApp(postgres, { KEYFOB_SMTP_URL: smtpUrl(mail.port) });
  });
  afterAll(async () => {
    for (const c of extra) await c.close().catch(() => {});
    await t?.close();
    await mail?.close();
  });
  const another = async (clock: ManualClock) => {
    const config = loadConfig({ DATABASE_URL: t.db.url, KEYFOB_DATA_DIR: t.db.dir, KEYFOB_SECRET: TEST_SECRET, KEYFOB_LOG_LEVEL: 'silent', KEYFOB_SMTP_URL: smtpUrl(mail.port), ...NO_LIMITS });
    const c = await createContainer(config, { clock, startJobs: false });
    extra.push(c);
    return c;
  };

  it('sends each notice and each webhook delivery once while three instances run the jobs at the same time', async () => {
    const admin = await setupAdmin(t);
    const users = await Promise.all(['u1', 'u2', 'u3'].map((name) => createUser(t, admin, name)));
    for (const [i, u] of users.entries()) await t.app.inject({ method: 'PATCH', url: '/api/v1/me', headers: asSession(u), payload: { email: `u${i}@example.test` } });
    const receiver = await startWebhookReceiver();
    try {
      const hook = await t.app.inject({ method: 'POST', url: '/api/v1/admin/webhooks', headers: asSession(admin), payload: { url: receiver.url, events: ['token.created'] } });
      expect(hook.statusCode).toBe(201);
      const b = await another(t.clock);
      const c = await another(t.clock);
      const created = [];
      for (let i = 0; i < 30; i++) created.push(await createToken(t, users[i % 3]!, { name: `tok-${i}`, scopes: ['tokens:read'] }));
      // Every instance runs rounds concurrently; a lease lapse is forced halfway by moving the clock past it.
      const rounds = async (container: Container) => {
        for (let i = 0; i < 6; i++) {
          await container.jobs.runOnce();
          if (i === 2) t.clock.advance(60_000);
        }
      };
      await Promise.all([rounds(t.container), rounds(b), rounds(c)]);
      for (let i = 0; i < 3; i++) await Promise.all([t.container.jobs.runOnce(), b.jobs.runOnce(), c.jobs.runOnce()]);
      const subjects = mail.mails.map((m) => mailSubject(m.raw)).filter((s) => s.startsWith('A new personal access token: tok-'));
      expect(subjects).toHaveLength(30);
      expect(new Set(subjects).size).toBe(30);
      const delivered = receiver.received.map((r) => JSON.parse(r.body).id as string);
      expect(delivered).toHaveLength(30);
      expect(new Set(delivered).size).toBe(30);
    } finally {
      await receiver.close();
    }
  });

  it('keeps pending notices across a restart: a new instance sends what a stopped one queued', async () => {
    // Past the lease the instances of the test before hold.
    const clock = new ManualClock(t.clock.now() + 60_000);
    const first = await another(clock);
    const session = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'u1', password: 'u1-password-1' } });
    const cookie = `keyfob_session=${session.cookies.find((k) => k.name === 'keyfob_session')!.value}`;
    const headers = { cookie, 'x-csrf-token': session.json().csrfToken };
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers, payload: { name: 'survivor', scopes: ['tokens:read'] } })).statusCode).toBe(201);
    mail.refusals = [421];
    expect(await first.jobs.runOnce()).toBe(true);
    await first.close();
    expect(mail.mails.filter((m) => mailSubject(m.raw).endsWith('survivor'))).toHaveLength(0);

    const second = await another(clock);
    // The refused notice is due again a minute later, from the instance that runs now.
    clock.advance(60_000);
    expect(await second.jobs.runOnce()).toBe(true);
    expect(mail.mails.filter((m) => mailSubject(m.raw).endsWith('survivor'))).toHaveLength(1);
  });
});
