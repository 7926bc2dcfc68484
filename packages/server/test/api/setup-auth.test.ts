import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/dialects.js';
import { ADMIN, asSession, createTestApp, createUser, login, sessionCookieOf, type Session, type TestApp } from '../helpers/test-app.js';
import { securityCases } from '../helpers/security-cases.js';

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`setup, sessions and profile [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    beforeAll(async () => {
      t = await createTestApp(dialect);
    });
    afterAll(async () => t?.close());

    it('reports that setup is needed, validates, creates the first admin once, then answers 409', async () => {
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/setup' })).json()).toEqual({ needed: true, setupRequired: true });
      const short = await t.app.inject({ method: 'POST', url: '/api/v1/setup', payload: { username: 'root', password: 'short' } });
      expect(short.statusCode).toBe(400);
      expect(short.json()).toMatchObject({ error: 'invalid_request', message: expect.stringContaining('password') });
      const missing = await t.app.inject({ method: 'POST', url: '/api/v1/setup', payload: { password: 'long-enough-1' } });
      expect(missing.json().message).toContain('username');

      const res = await t.app.inject({ method: 'POST', url: '/api/v1/setup', payload: ADMIN });
      expect(res.statusCode).toBe(201);
      expect(res.json()).toMatchObject({ user: { username: 'admin', role: 'admin', disabled: false }, csrfToken: expect.any(String) });
      expect(res.json().user).not.toHaveProperty('passwordHash');
      const cookie = res.cookies.find((c) => c.name === 'keyfob_session')!;
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
      admin = { cookie: sessionCookieOf(res), csrf: res.json().csrfToken, userId: res.json().user.id };

      expect((await t.app.inject({ method: 'GET', url: '/api/v1/setup' })).json().needed).toBe(false);
      const again = await t.app.inject({ method: 'POST', url: '/api/v1/setup', payload: { username: 'other', password: 'other-password-1' } });
      expect(again.statusCode).toBe(409);
      expect(again.json().error).toBe('conflict');
    });

    it('stores the password as argon2id and gives every sign-in a fresh 256-bit session', async () => {
      const stored = await t.container.store.repos.users.findByUsername('admin');
      expect(stored?.passwordHash).toMatch(/^\$argon2id\$/);
      const values = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: ADMIN });
        const value = res.cookies.find((c) => c.name === 'keyfob_session')!.value;
        expect(Buffer.from(value, 'base64url').length).toBeGreaterThanOrEqual(32);
        values.add(value);
      }
      expect(values.size).toBe(3);
    });

    it('logs in, refuses wrong passwords and unknown users alike, and audits both', async () => {
      const ok = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'ADMIN', password: ADMIN.password } });
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toMatchObject({ user: { username: 'admin' }, csrfToken: expect.any(String) });
      for (const payload of [{ username: 'admin', password: 'wrong-password' }, { username: 'nobody', password: 'whatever-1' }]) {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload });
        expect(res.statusCode).toBe(401);
        expect(res.json()).toEqual({ error: 'invalid_credentials', message: 'username or password is incorrect' });
      }
      const audit = await t.app.inject({ method: 'GET', url: '/api/v1/admin/audit?action=auth.login_failed', headers: asSession(admin) });
      expect(audit.json().items.map((e: { details: { username: string } }) => e.details.username).sort()).toEqual(['admin', 'nobody']);
      expect(JSON.stringify(audit.json())).not.toContain('wrong-password');
    });

    it('reads and changes the profile; a new password needs the current one and ends other sessions', async () => {
      const bob = await createUser(t, admin, 'bob');
      const other = await login(t, 'bob', 'bob-password-1');
      const me = await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie: bob.cookie } });
      expect(me.json()).toMatchObject({ username: 'bob', role: 'user', notifications: { tokenExpiring: true } });
      const patch = await t.app.inject({ method: 'PATCH', url: '/api/v1/me', headers: asSession(bob), payload: { displayName: 'Bob B', email: 'bob@example.com', notifications: { tokenExpiring: false } } });
      expect(patch.statusCode).toBe(200);
      expect(patch.json()).toMatchObject({ displayName: 'Bob B', email: 'bob@example.com', notifications: { tokenExpiring: false, tokenRevoked: true } });
      const noCurrent = await t.app.inject({ method: 'PATCH', url: '/api/v1/me', headers: asSession(bob), payload: { password: 'new-password-1' } });
      expect(noCurrent.statusCode).toBe(400);
      expect(noCurrent.json().message).toContain('currentPassword');
      const wrong = await t.app.inject({ method: 'PATCH', url: '/api/v1/me', headers: asSession(bob), payload: { password: 'new-password-1', currentPassword: 'nope' } });
      expect(wrong.statusCode).toBe(400);
      const bad = await t.app.inject({ method: 'PATCH', url: '/api/v1/me', headers: asSession(bob), payload: { email: 'not-an-email' } });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().message).toContain('email');
      const changed = await t.app.inject({ method: 'PATCH', url: '/api/v1/me', headers: asSession(bob), payload: { password: 'new-password-1', currentPassword: 'bob-password-1' } });
      expect(changed.statusCode).toBe(200);
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie: bob.cookie } })).statusCode).toBe(200);
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie: other.cookie } })).statusCode).toBe(401);
      await login(t, 'bob', 'new-password-1');
    });

    it('logs out (with CSRF), after which the cookie no longer works', async () => {
      const s = await login(t, 'admin', ADMIN.password);
      expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { cookie: s.cookie } })).statusCode).toBe(403);
      const out = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: asSession(s) });
      expect(out.statusCode).toBe(204);
      const after = await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie: s.cookie } });
      expect(after.statusCode).toBe(401);
      expect(after.json().error).toBe('session_expired');
    });

    it('expires sessions after their lifetime', async () => {
      const s = await login(t, 'admin', ADMIN.password);
      t.clock.advance(2161 * 3600 * 1000);
      try {
        expect((await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie: s.cookie } })).statusCode).toBe(401);
      } finally {
        t.clock.advance(-2161 * 3600 * 1000);
      }
    });

    it('refuses a disabled user at login', async () => {
      const dan = await createUser(t, admin, 'dan');
      await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${dan.userId}`, headers: asSession(admin), payload: { disabled: true } });
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'dan', password: 'dan-password-1' } });
      expect(res.statusCode).toBe(401);
    });

    describe('security', () => {
      securityCases(() => ({ t, admin }), { method: 'POST', url: '/api/v1/auth/logout' });
    });
  });
}

describe('session cookie behind an https issuer', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(DIALECTS[0]!, { KEYFOB_BASE_URL: 'https://keyfob.example.com' });
  });
  afterAll(async () => t?.close());

  it('is Secure, HttpOnly and SameSite=Lax', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/setup', payload: ADMIN });
    expect(res.cookies.find((c) => c.name === 'keyfob_session')).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Lax' });
  });
});
