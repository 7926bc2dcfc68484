import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/dialects.js';
import { DAY } from '../helpers/clock.js';
import { ADMIN, asSession, bearer, createTestApp, createToken, createUser, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';
import { basic, createClient, exchangeParams, form } from '../helpers/oauth.js';

/** Paths by which a caller could get more than it holds, and inputs that must not slip through. */
for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`hardening [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    beforeAll(async () => {
      t = await createTestApp(dialect);
      admin = await setupAdmin(t);
    });
    afterAll(async () => t?.close());

    it('a token cannot rotate a never-expiring token into a secret that outlives itself', async () => {
      const never = await createToken(t, admin, { scopes: ['tokens:write'], expiresInDays: null });
      const shortLived = await createToken(t, admin, { scopes: ['tokens:write'], expiresInDays: 1 });
      const res = await t.app.inject({ method: 'POST', url: `/api/v1/me/tokens/${never.id}/rotate`, headers: bearer(shortLived.token) });
      expect(res.statusCode).toBe(201);
      expect(res.json().pat.expiresAt).toBe(new Date(t.clock.now() + DAY).toISOString());
    });

    it('rotating an expired token re-checks the scope catalogue', async () => {
      await t.app.inject({ method: 'POST', url: '/api/v1/admin/scopes', headers: asSession(admin), payload: { name: 'legacy:x' } });
      const old = await createToken(t, admin, { scopes: ['legacy:x'], expiresInDays: 1 });
      t.clock.advance(DAY + 1);
      try {
        expect((await t.app.inject({ method: 'DELETE', url: '/api/v1/admin/scopes/legacy:x', headers: asSession(admin) })).statusCode).toBe(204);
        const res = await t.app.inject({ method: 'POST', url: `/api/v1/me/tokens/${old.id}/rotate`, headers: asSession(admin) });
        expect(res.statusCode).toBe(400);
        expect(res.json().error).toBe('invalid_scope');
      } finally {
        t.clock.advance(-(DAY + 1));
      }
    });

    it('tokens made by a restricted token inherit its IP allow-list and audiences', async () => {
      const fenced = await createToken(t, admin, { scopes: ['tokens:write', 'tokens:read'], allowedIps: ['127.0.0.1'], audiences: ['https://api.example.com'] });
      const child = await t.app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers: bearer(fenced.token), remoteAddress: '127.0.0.1', payload: { name: 'child', scopes: ['tokens:read'] } });
      expect(child.statusCode).toBe(201);
      expect(child.json().pat).toMatchObject({ allowedIps: ['127.0.0.1'], audiences: ['https://api.example.com'] });
      const wider = await t.app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers: bearer(fenced.token), remoteAddress: '127.0.0.1', payload: { name: 'wider', scopes: ['tokens:read'], allowedIps: ['0.0.0.0/0'] } });
      expect(wider.statusCode).toBe(403);
      expect(wider.json().message).toContain('allowedIps');
    });

    it('a token may change the display name but not email, password or notifications', async () => {
      const tok = await createToken(t, admin, { scopes: ['tokens:write'] });
      expect((await t.app.inject({ method: 'PATCH', url: '/api/v1/me', headers: bearer(tok.token), payload: { displayName: 'Boss' } })).statusCode).toBe(200);
      for (const payload of [{ email: 'attacker@example.com' }, { notifications: { tokenCreated: false } }, { password: 'new-password-1', currentPassword: ADMIN.password }]) {
        const res = await t.app.inject({ method: 'PATCH', url: '/api/v1/me', headers: bearer(tok.token), payload });
        expect(res.statusCode, JSON.stringify(payload)).toBe(403);
        expect(res.json().error).toBe('forbidden');
      }
    });

    it('introspecting an exchanged JWT drops admin scopes once the owner is demoted', async () => {
      const carol = await createUser(t, admin, 'carol', 'admin');
      const client = await createClient(t, admin, { allowedAudiences: ['https://api.example.com'] });
      const pat = await createToken(t, carol, { scopes: ['admin:read', 'tokens:read'] });
      const both = (await form(t, '/oauth/token', exchangeParams(pat.token), basic(client))).json().access_token;
      const adminOnly = (await form(t, '/oauth/token', exchangeParams(pat.token, { scope: 'admin:read' }), basic(client))).json().access_token;
      await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${carol.userId}`, headers: asSession(admin), payload: { role: 'user' } });
      expect((await form(t, '/oauth/introspect', { token: both }, basic(client))).json()).toMatchObject({ active: true, scope: 'tokens:read' });
      expect((await form(t, '/oauth/introspect', { token: adminOnly }, basic(client))).json()).toEqual({ active: false });
    });

    it('a write scope satisfies a requested read scope at exchange, as on the API', async () => {
      const client = await createClient(t, admin, { allowedAudiences: ['https://api.example.com'] });
      const writer = await createToken(t, admin, { scopes: ['tokens:write'] });
      const res = await form(t, '/oauth/token', exchangeParams(writer.token, { scope: 'tokens:read' }), basic(client));
      expect(res.json().scope).toBe('tokens:read');
    });

    it('treats an empty body announced as JSON as no body', async () => {
      const tok = await createToken(t, admin);
      const res = await t.app.inject({ method: 'DELETE', url: `/api/v1/me/tokens/${tok.id}`, headers: { ...asSession(admin), 'content-type': 'application/json' } });
      expect(res.statusCode).toBe(204);
      const proto = await t.app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers: { ...asSession(admin), 'content-type': 'application/json' }, payload: '{"__proto__":{"x":1},"name":"p","scopes":["tokens:read"]}' });
      expect(proto.statusCode).toBe(400);
    });

    it('never lets API answers be cached', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers: asSession(admin), payload: { name: 'nocache', scopes: ['tokens:read'] } });
      expect(res.headers['cache-control']).toBe('no-store');
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: asSession(admin) })).headers['cache-control']).toBe('no-store');
    });

    it('answers malformed URLs and long ids in the error shape', async () => {
      for (const url of ['/api/v1/me/tokens/%ZZ', `/api/v1/me/tokens/${'x'.repeat(300)}`]) {
        const res = await t.app.inject({ method: 'GET', url, headers: asSession(admin) });
        expect(res.statusCode, url).toBeGreaterThanOrEqual(400);
        expect(res.statusCode, url).toBeLessThan(500);
        expect(Object.keys(res.json()).sort(), url).toEqual(['error', 'message']);
      }
    });

    it('refuses dates that do not exist and blank client audiences', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers: asSession(admin), payload: { name: 'feb', scopes: ['tokens:read'], expiresAt: '2026-02-31T00:00:00Z' } });
      expect(res.statusCode).toBe(400);
      expect(res.json().message).toContain('expiresAt');
      const client = await t.app.inject({ method: 'POST', url: '/api/v1/admin/clients', headers: asSession(admin), payload: { name: 'blank', allowedAudiences: [' '] } });
      expect(client.statusCode).toBe(400);
      expect(client.json().message).toContain('allowedAudiences');
    });

    it('records a failed login against its target, not as its actor', async () => {
      await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: 'not-the-password' } });
      const audit = await t.app.inject({ method: 'GET', url: '/api/v1/admin/audit?action=auth.login_failed', headers: asSession(admin) });
      expect(audit.json().items[0]).toMatchObject({ actorUserId: null, targetId: admin.userId });
    });
  });
}
