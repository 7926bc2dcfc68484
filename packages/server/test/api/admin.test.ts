import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/dialects.js';
import { DAY } from '../helpers/clock.js';
import { asSession, bearer, createTestApp, createToken, createUser, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';
import { securityCases } from '../helpers/security-cases.js';

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`admin API [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    let user: Session;
    beforeAll(async () => {
      t = await createTestApp(dialect);
      admin = await setupAdmin(t);
      user = await createUser(t, admin, 'uma');
    });
    afterAll(async () => t?.close());
    const as = (s: Session) => asSession(s);

    describe('users', () => {
      it('creates, lists, reads, changes and deletes users', async () => {
        const created = await t.app.inject({ method: 'POST', url: '/api/v1/admin/users', headers: as(admin), payload: { username: 'Victor', password: 'victor-password', role: 'user', email: 'v@example.com' } });
        expect(created.statusCode).toBe(201);
        const id = created.json().id;
        expect(created.json()).toMatchObject({ username: 'Victor', role: 'user', email: 'v@example.com', disabled: false });
        expect((await t.app.inject({ method: 'POST', url: '/api/v1/admin/users', headers: as(admin), payload: { username: 'victor', password: 'victor-password' } })).statusCode).toBe(409);
        const bad = await t.app.inject({ method: 'POST', url: '/api/v1/admin/users', headers: as(admin), payload: { username: 'x y', password: 'victor-password' } });
        expect(bad.statusCode).toBe(400);
        expect(bad.json().message).toContain('username');
        const badRole = await t.app.inject({ method: 'POST', url: '/api/v1/admin/users', headers: as(admin), payload: { username: 'z', password: 'victor-password', role: 'root' } });
        expect(badRole.statusCode).toBe(400);
        expect(badRole.json().message).toContain('role');

        const list = await t.app.inject({ method: 'GET', url: '/api/v1/admin/users?limit=2', headers: as(admin) });
        expect(list.json().items).toHaveLength(2);
        expect(list.json().nextCursor).toEqual(expect.any(String));
        const found = await t.app.inject({ method: 'GET', url: '/api/v1/admin/users?q=vic', headers: as(admin) });
        expect(found.json().items.map((u: { id: string }) => u.id)).toEqual([id]);

        const promoted = await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${id}`, headers: as(admin), payload: { role: 'admin' } });
        expect(promoted.json().role).toBe('admin');
        const disabled = await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${id}`, headers: as(admin), payload: { disabled: true } });
        expect(disabled.json()).toMatchObject({ disabled: true, disabledAt: expect.any(String) });
        expect((await t.app.inject({ method: 'GET', url: `/api/v1/admin/users/${id}`, headers: as(admin) })).json().disabled).toBe(true);
        expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/admin/users/${id}`, headers: as(admin) })).statusCode).toBe(204);
        expect((await t.app.inject({ method: 'GET', url: `/api/v1/admin/users/${id}`, headers: as(admin) })).statusCode).toBe(404);
        expect((await t.app.inject({ method: 'PATCH', url: '/api/v1/admin/users/nope', headers: as(admin), payload: { role: 'user' } })).statusCode).toBe(404);
      });

      it('never lets the last active admin be demoted, disabled or deleted', async () => {
        for (const payload of [{ role: 'user' }, { disabled: true }]) {
          const res = await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${admin.userId}`, headers: as(admin), payload });
          expect(res.statusCode).toBe(409);
        }
        expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/admin/users/${admin.userId}`, headers: as(admin) })).statusCode).toBe(409);
      });

      it('deleting a user stops their tokens', async () => {
        const wes = await createUser(t, admin, 'wes');
        const tok = await createToken(t, wes);
        await t.app.inject({ method: 'DELETE', url: `/api/v1/admin/users/${wes.userId}`, headers: as(admin) });
        expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(tok.token) })).statusCode).toBe(401);
      });

      it('refuses admin routes to a plain user, with 403 insufficient_scope', async () => {
        for (const [method, url] of [['GET', '/api/v1/admin/users'], ['GET', '/api/v1/admin/tokens'], ['GET', '/api/v1/admin/policy'], ['GET', '/api/v1/admin/audit'], ['GET', '/api/v1/admin/scopes'], ['POST', '/api/v1/admin/users'], ['PUT', '/api/v1/admin/policy']] as const) {
          const res = await t.app.inject({ method, url, headers: as(user), ...(method === 'GET' ? {} : { payload: {} }) });
          expect(res.statusCode, `${method} ${url}`).toBe(403);
          expect(res.json().error).toBe('insufficient_scope');
        }
      });
    });

    describe('tokens', () => {
      it('lists every token with filters by user, status and scope', async () => {
        await t.app.inject({ method: 'POST', url: '/api/v1/admin/scopes', headers: as(admin), payload: { name: 'reports:read', description: 'Read reports' } });
        const a = await createToken(t, user, { scopes: ['reports:read'] });
        const b = await createToken(t, user, { scopes: ['tokens:read'] });
        await createToken(t, admin, { scopes: ['reports:read'] });
        await t.app.inject({ method: 'DELETE', url: `/api/v1/admin/tokens/${b.id}`, headers: as(admin) });
        const byUser = await t.app.inject({ method: 'GET', url: `/api/v1/admin/tokens?userId=${user.userId}`, headers: as(admin) });
        expect(byUser.json().items.every((p: { userId: string }) => p.userId === user.userId)).toBe(true);
        const byName = await t.app.inject({ method: 'GET', url: '/api/v1/admin/tokens?user=uma&status=active&scope=reports:read', headers: as(admin) });
        expect(byName.json().items.map((p: { id: string }) => p.id)).toEqual([a.id]);
        const revoked = await t.app.inject({ method: 'GET', url: `/api/v1/admin/tokens?user=${user.userId}&status=revoked`, headers: as(admin) });
        expect(revoked.json().items.map((p: { id: string }) => p.id)).toEqual([b.id]);
        expect((await t.app.inject({ method: 'GET', url: `/api/v1/admin/tokens/${a.id}`, headers: as(admin) })).json().id).toBe(a.id);
        const audit = await t.app.inject({ method: 'GET', url: `/api/v1/admin/audit?targetId=${b.id}`, headers: as(admin) });
        expect(audit.json().items[0]).toMatchObject({ action: 'token.revoked', actorUserId: admin.userId, details: { reason: 'revoked by admin' } });
      });

      it('revokes all of a user’s tokens, everything issued before a time, or holding a scope', async () => {
        const zed = await createUser(t, admin, 'zed');
        const z1 = await createToken(t, zed);
        const z2 = await createToken(t, zed);
        const mine = await createToken(t, admin);
        const none = await t.app.inject({ method: 'POST', url: '/api/v1/admin/tokens/revoke', headers: as(admin), payload: {} });
        expect(none.statusCode).toBe(400);
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/admin/tokens/revoke', headers: as(admin), payload: { userId: zed.userId, reason: 'offboarding' } });
        expect(res.json()).toEqual({ revoked: 2 });
        for (const tok of [z1, z2]) expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(tok.token) })).statusCode).toBe(401);
        expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(mine.token) })).statusCode).toBe(200);

        t.clock.advance(1000);
        const cut = new Date(t.clock.now()).toISOString();
        t.clock.advance(1000);
        const fresh = await createToken(t, admin);
        const before = await t.app.inject({ method: 'POST', url: '/api/v1/admin/tokens/revoke', headers: as(admin), payload: { issuedBefore: cut } });
        expect(before.json().revoked).toBeGreaterThan(0);
        expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(mine.token) })).statusCode).toBe(401);
        expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(fresh.token) })).statusCode).toBe(200);
        const audit = await t.app.inject({ method: 'GET', url: '/api/v1/admin/audit?action=token.bulk_revoked', headers: as(admin) });
        expect(audit.json().items).toHaveLength(2);
      });
    });

    describe('policy', () => {
      it('reads defaults, updates, validates, and applies to new tokens only', async () => {
        const initial = await t.app.inject({ method: 'GET', url: '/api/v1/admin/policy', headers: as(admin) });
        expect(initial.json()).toEqual({ maxLifetimeDays: null, requireExpiry: false, expiryPresetsDays: [7, 30, 90, 365], defaultExpiryDays: 30, maxTokensPerUser: 500, rotationGraceSeconds: 0, exchangedTokenTtlSeconds: 900, idleRevokeDays: null, idleWarningDays: 7 });
        const forever = await createToken(t, user, { expiresInDays: null });
        const put = await t.app.inject({ method: 'PUT', url: '/api/v1/admin/policy', headers: as(admin), payload: { maxLifetimeDays: 90, expiryPresetsDays: [7, 30, 90], requireExpiry: true, maxTokensPerUser: 50 } });
        expect(put.statusCode).toBe(200);
        expect(put.json()).toMatchObject({ maxLifetimeDays: 90, requireExpiry: true, expiryPresetsDays: [7, 30, 90] });
        const bad = await t.app.inject({ method: 'PUT', url: '/api/v1/admin/policy', headers: as(admin), payload: { maxLifetimeDays: 10 } });
        expect(bad.statusCode).toBe(400);
        expect(bad.json().message).toContain('expiryPresetsDays');
        const wrongType = await t.app.inject({ method: 'PUT', url: '/api/v1/admin/policy', headers: as(admin), payload: { rotationGraceSeconds: -1 } });
        expect(wrongType.statusCode).toBe(400);
        expect(wrongType.json().message).toContain('rotationGraceSeconds');

        const never = await t.app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers: as(user), payload: { name: 'never2', scopes: ['tokens:read'], expiresInDays: null } });
        expect(never.statusCode).toBe(400);
        expect(never.json()).toMatchObject({ error: 'policy_violation', message: expect.stringContaining('expiresInDays') });
        const tooLong = await t.app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers: as(user), payload: { name: 'long', scopes: ['tokens:read'], expiresInDays: 91 } });
        expect(tooLong.statusCode).toBe(400);
        // The existing never-expiring token is untouched by the new maximum.
        expect((await t.app.inject({ method: 'GET', url: `/api/v1/me/tokens/${forever.id}`, headers: as(user) })).json().expiresAt).toBeNull();
        expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(forever.token) })).statusCode).toBe(200);
        const audit = await t.app.inject({ method: 'GET', url: '/api/v1/admin/audit?action=policy.updated', headers: as(admin) });
        expect(audit.json().items[0].details.after.maxLifetimeDays).toBe(90);
        await t.app.inject({ method: 'PUT', url: '/api/v1/admin/policy', headers: as(admin), payload: { maxLifetimeDays: null, requireExpiry: false, maxTokensPerUser: null, expiryPresetsDays: [7, 30, 90, 365] } });
      });

      it('enforces maxTokensPerUser', async () => {
        const kim = await createUser(t, admin, 'kim');
        await t.app.inject({ method: 'PUT', url: '/api/v1/admin/policy', headers: as(admin), payload: { maxTokensPerUser: 2 } });
        try {
          await createToken(t, kim);
          await createToken(t, kim);
          const third = await t.app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers: as(kim), payload: { name: 'third', scopes: ['tokens:read'] } });
          expect(third.statusCode).toBe(400);
          expect(third.json().error).toBe('policy_violation');
        } finally {
          await t.app.inject({ method: 'PUT', url: '/api/v1/admin/policy', headers: as(admin), payload: { maxTokensPerUser: null } });
        }
      });
    });

    describe('scopes', () => {
      it('lists built-ins, adds and removes operator scopes, and refuses to remove a scope in use', async () => {
        const list = await t.app.inject({ method: 'GET', url: '/api/v1/admin/scopes', headers: as(admin) });
        expect(list.json().items.filter((s: { builtin: boolean }) => s.builtin).map((s: { name: string }) => s.name).sort()).toEqual(['admin:read', 'admin:write', 'tokens:read', 'tokens:write']);
        const add = await t.app.inject({ method: 'POST', url: '/api/v1/admin/scopes', headers: as(admin), payload: { name: 'deploy:prod', description: 'Deploy to production' } });
        expect(add.statusCode).toBe(201);
        expect(add.json()).toMatchObject({ name: 'deploy:prod', builtin: false, adminOnly: false });
        expect((await t.app.inject({ method: 'POST', url: '/api/v1/admin/scopes', headers: as(admin), payload: { name: 'deploy:prod' } })).statusCode).toBe(409);
        expect((await t.app.inject({ method: 'POST', url: '/api/v1/admin/scopes', headers: as(admin), payload: { name: 'Bad Scope' } })).statusCode).toBe(400);
        expect((await t.app.inject({ method: 'POST', url: '/api/v1/admin/scopes', headers: as(admin), payload: { name: 'admin:everything' } })).statusCode).toBe(409);
        const catalogue = await t.app.inject({ method: 'GET', url: '/api/v1/scopes', headers: as(user) });
        expect(catalogue.json().items.map((s: { name: string }) => s.name)).toContain('deploy:prod');

        const holder = await createToken(t, user, { scopes: ['deploy:prod'] });
        const inUse = await t.app.inject({ method: 'DELETE', url: '/api/v1/admin/scopes/deploy:prod', headers: as(admin) });
        expect(inUse.statusCode).toBe(409);
        expect(inUse.json().message).toContain('1 active token');
        expect((await t.app.inject({ method: 'DELETE', url: '/api/v1/admin/scopes/tokens:read', headers: as(admin) })).statusCode).toBe(409);
        await t.app.inject({ method: 'DELETE', url: `/api/v1/me/tokens/${holder.id}`, headers: as(user) });
        expect((await t.app.inject({ method: 'DELETE', url: '/api/v1/admin/scopes/deploy:prod', headers: as(admin) })).statusCode).toBe(204);
        expect((await t.app.inject({ method: 'DELETE', url: '/api/v1/admin/scopes/deploy:prod', headers: as(admin) })).statusCode).toBe(404);
      });
    });

    describe('audit log', () => {
      it('records changes with actor, target, IP and user agent, filters and paginates', async () => {
        const tok = await createToken(t, admin, { scopes: ['admin:write', 'tokens:write'] });
        const created = await t.app.inject({ method: 'POST', url: '/api/v1/admin/users', headers: { ...bearer(tok.token), 'user-agent': 'audit-test/1.0' }, remoteAddress: '192.0.2.44', payload: { username: 'audited', password: 'audited-password' } });
        const page = await t.app.inject({ method: 'GET', url: `/api/v1/admin/audit?action=user.created&targetId=${created.json().id}`, headers: as(admin) });
        expect(page.json().items).toHaveLength(1);
        expect(page.json().items[0]).toMatchObject({ action: 'user.created', actorUserId: admin.userId, actorTokenId: tok.id, targetType: 'user', ip: '192.0.2.44', userAgent: 'audit-test/1.0' });
        const family = await t.app.inject({ method: 'GET', url: '/api/v1/admin/audit?action=token.*&limit=3', headers: as(admin) });
        expect(family.json().items).toHaveLength(3);
        expect(family.json().items.every((e: { action: string }) => e.action.startsWith('token.'))).toBe(true);
        const next = await t.app.inject({ method: 'GET', url: `/api/v1/admin/audit?action=token.*&limit=3&cursor=${family.json().nextCursor}`, headers: as(admin) });
        const seen = new Set(family.json().items.map((e: { id: string }) => e.id));
        expect(next.json().items.some((e: { id: string }) => seen.has(e.id))).toBe(false);
        const since = await t.app.inject({ method: 'GET', url: `/api/v1/admin/audit?since=${new Date(t.clock.now() + DAY).toISOString()}`, headers: as(admin) });
        expect(since.json().items).toEqual([]);
        expect((await t.app.inject({ method: 'GET', url: '/api/v1/admin/audit?since=yesterday', headers: as(admin) })).statusCode).toBe(400);
      });
    });

    describe('security', () => {
      const ctx = () => ({ t, admin });
      securityCases(ctx, { method: 'GET', url: '/api/v1/admin/users', scope: 'admin:read' });
      securityCases(ctx, { method: 'POST', url: '/api/v1/admin/users', scope: 'admin:write', payload: { username: 'sec', password: 'sec-password-1' } });
      securityCases(ctx, { method: 'PATCH', url: '/api/v1/admin/users/x', scope: 'admin:write', payload: { role: 'user' } });
      securityCases(ctx, { method: 'DELETE', url: '/api/v1/admin/users/x', scope: 'admin:write' });
      securityCases(ctx, { method: 'GET', url: '/api/v1/admin/tokens', scope: 'admin:read' });
      securityCases(ctx, { method: 'DELETE', url: '/api/v1/admin/tokens/x', scope: 'admin:write' });
      securityCases(ctx, { method: 'POST', url: '/api/v1/admin/tokens/revoke', scope: 'admin:write', payload: { userId: 'x' } });
      securityCases(ctx, { method: 'GET', url: '/api/v1/admin/policy', scope: 'admin:read' });
      securityCases(ctx, { method: 'PUT', url: '/api/v1/admin/policy', scope: 'admin:write', payload: {} });
      securityCases(ctx, { method: 'GET', url: '/api/v1/admin/scopes', scope: 'admin:read' });
      securityCases(ctx, { method: 'POST', url: '/api/v1/admin/scopes', scope: 'admin:write', payload: { name: 'sec:x' } });
      securityCases(ctx, { method: 'DELETE', url: '/api/v1/admin/scopes/sec:x', scope: 'admin:write' });
      securityCases(ctx, { method: 'GET', url: '/api/v1/admin/audit', scope: 'admin:read' });
      securityCases(ctx, { method: 'GET', url: '/api/v1/scopes' });
    });
  });
}
