import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/dialects.js';
import { DAY } from '../helpers/clock.js';
import { asSession, bearer, createTestApp, createToken, createUser, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`verification cache in one instance [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    beforeAll(async () => {
      t = await createTestApp(dialect, { KEYFOB_HEARTBEAT_MS: '100' });
      admin = await setupAdmin(t);
      // PostgreSQL: wait until the listener trusts itself (first heartbeat back).
      for (let i = 0; i < 100 && !t.container.bus.trusted(); i++) await new Promise((r) => setTimeout(r, 20));
    });
    afterAll(async () => t?.close());
    const self = (token: string) => t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(token) });

    it('serves repeated verifications from the cache, keyed by a digest, never the token', async () => {
      const tok = await createToken(t, admin);
      expect((await self(tok.token)).statusCode).toBe(200);
      expect(t.container.cache?.size).toBeGreaterThan(0);
      expect((await self(tok.token)).statusCode).toBe(200);
      const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toMatch(/keyfob_verify_cache_lookups_total\{result="hit"\} [1-9]/);
      expect(metrics).toMatch(/keyfob_verify_cache_entries [1-9]/);
    });

    it('drops the entry before the revoking request answers', async () => {
      const tok = await createToken(t, admin);
      expect((await self(tok.token)).statusCode).toBe(200);
      expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/me/tokens/${tok.id}`, headers: asSession(admin) })).statusCode).toBe(204);
      expect((await self(tok.token)).statusCode).toBe(401);
    });

    it('drops the entry when the token is renamed, so /tokens/self shows the new name', async () => {
      const tok = await createToken(t, admin, { name: 'before-rename' });
      expect((await self(tok.token)).json().name).toBe('before-rename');
      await t.app.inject({ method: 'PATCH', url: `/api/v1/me/tokens/${tok.id}`, headers: asSession(admin), payload: { name: 'after-rename' } });
      expect((await self(tok.token)).json().name).toBe('after-rename');
    });

    it('re-checks expiry on every hit', async () => {
      const tok = await createToken(t, admin, { expiresAt: new Date(t.clock.now() + 2000).toISOString() });
      expect((await self(tok.token)).statusCode).toBe(200);
      t.clock.advance(2001);
      expect((await self(tok.token)).statusCode).toBe(401);
    });

    it('drops a user’s entries when they are disabled or demoted, and on rotation', async () => {
      const ann = await createUser(t, admin, 'ann', 'admin');
      const tok = await createToken(t, ann, { scopes: ['admin:read', 'tokens:read'] });
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: bearer(tok.token) })).statusCode).toBe(200);
      await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${ann.userId}`, headers: asSession(admin), payload: { role: 'user' } });
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: bearer(tok.token) })).statusCode).toBe(403);
      await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${ann.userId}`, headers: asSession(admin), payload: { disabled: true } });
      expect((await self(tok.token)).statusCode).toBe(401);

      const rot = await createToken(t, admin);
      expect((await self(rot.token)).statusCode).toBe(200);
      await t.app.inject({ method: 'POST', url: `/api/v1/me/tokens/${rot.id}/rotate`, headers: asSession(admin) });
      expect((await self(rot.token)).statusCode).toBe(401);
    });

    it('honours the rotation grace period for cached tokens', async () => {
      await t.app.inject({ method: 'PUT', url: '/api/v1/admin/policy', headers: asSession(admin), payload: { rotationGraceSeconds: 30 } });
      try {
        const tok = await createToken(t, admin);
        expect((await self(tok.token)).statusCode).toBe(200);
        await t.app.inject({ method: 'POST', url: `/api/v1/me/tokens/${tok.id}/rotate`, headers: asSession(admin) });
        expect((await self(tok.token)).statusCode).toBe(200);
        t.clock.advance(31_000);
        expect((await self(tok.token)).statusCode).toBe(401);
      } finally {
        await t.app.inject({ method: 'PUT', url: '/api/v1/admin/policy', headers: asSession(admin), payload: { rotationGraceSeconds: 0 } });
      }
    });

    it('bulk revocation empties the cache with one message', async () => {
      const a = await createToken(t, admin);
      expect((await self(a.token)).statusCode).toBe(200);
      await t.app.inject({ method: 'POST', url: '/api/v1/admin/tokens/revoke', headers: asSession(admin), payload: { issuedBefore: new Date(t.clock.now() + DAY).toISOString() } });
      expect((await self(a.token)).statusCode).toBe(401);
    });
  });
}

describe('KEYFOB_VERIFY_CACHE=off', () => {
  let t: TestApp;
  afterAll(async () => t?.close());
  it('keeps no cache at all', async () => {
    t = await createTestApp(DIALECTS[0]!, { KEYFOB_VERIFY_CACHE: 'off' });
    const admin = await setupAdmin(t);
    const tok = await createToken(t, admin);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(tok.token) })).statusCode).toBe(200);
    expect(t.container.cache).toBeUndefined();
  });
});

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`KEYFOB_VERIFY_CACHE=off: every verification reads the owner as stored now [${dialect.name}]`, () => {
    let t: TestApp;
    afterAll(async () => t?.close());
    it('answers a demotion, a disable and their reversal on the very next request', async () => {
      t = await createTestApp(dialect, { KEYFOB_VERIFY_CACHE: 'off' });
      const admin = await setupAdmin(t);
      const ann = await createUser(t, admin, 'ann', 'admin');
      const tok = await createToken(t, ann, { scopes: ['admin:read', 'tokens:read'] });
      const users = () => t.app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: bearer(tok.token) });
      const patch = (payload: object) => t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${ann.userId}`, headers: asSession(admin), payload });
      // The lookup remembers owners it has built; each of these must still be seen at once.
      expect((await users()).statusCode).toBe(200);
      expect((await users()).statusCode).toBe(200);
      await patch({ role: 'user' });
      expect((await users()).statusCode).toBe(403);
      await patch({ role: 'admin' });
      expect((await users()).statusCode).toBe(200);
      await patch({ disabled: true });
      expect((await users()).statusCode).toBe(401);
      await patch({ disabled: false });
      expect((await users()).statusCode).toBe(200);
      // A change to nothing but the owner's profile is seen too (GET /me answers the verified owner).
      const me = () => t.app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(tok.token) });
      expect((await me()).json().displayName).not.toBe('Ann, renamed');
      expect((await patch({ displayName: 'Ann, renamed' })).statusCode).toBe(200);
      expect((await me()).json().displayName).toBe('Ann, renamed');
    });
  });
}
