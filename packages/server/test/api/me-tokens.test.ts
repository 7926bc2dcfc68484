import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseToken } from '@keyfob/protocol';
import { DIALECTS } from '../helpers/dialects.js';
import { DAY } from '../helpers/clock.js';
import { asSession, bearer, createTestApp, createToken, createUser, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';
import { securityCases } from '../helpers/security-cases.js';

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`own tokens API [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    let alice: Session;
    beforeAll(async () => {
      t = await createTestApp(dialect);
      admin = await setupAdmin(t);
      alice = await createUser(t, admin, 'alice');
    });
    afterAll(async () => t?.close());

    const post = (session: Session, payload: Record<string, unknown>) =>
      t.app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers: asSession(session), payload });

    describe('create', () => {
      it('answers 201 with the plaintext once and the metadata object', async () => {
        const res = await post(alice, { name: 'deploy', description: 'CI deploys', scopes: ['tokens:read'], expiresInDays: 30, audiences: ['https://api.example.com'], allowedIps: ['10.0.0.0/8'] });
        expect(res.statusCode).toBe(201);
        const body = res.json();
        expect(parseToken(body.token, ['kf_pat']).ok).toBe(true);
        expect(body.pat).toEqual({
          id: expect.any(String),
          name: 'deploy',
          description: 'CI deploys',
          scopes: ['tokens:read'],
          displayHint: `kf_pat_${body.token.slice(7, 11)}...${body.token.slice(-4)}`,
          createdAt: new Date(t.clock.now()).toISOString(),
          expiresAt: new Date(t.clock.now() + 30 * DAY).toISOString(),
          lastUsedAt: null,
          lastUsedIp: null,
          revokedAt: null,
          audiences: ['https://api.example.com'],
          allowedIps: ['10.0.0.0/8'],
          status: 'active',
          userId: alice.userId,
        });
        const read = await t.app.inject({ method: 'GET', url: `/api/v1/me/tokens/${body.pat.id}`, headers: asSession(alice) });
        expect(read.json()).toEqual(body.pat);
        expect(read.body).not.toContain(body.token);
      });

      it('applies the default expiry, expiresAt, and null for never', async () => {
        const def = await post(alice, { name: 'default', scopes: ['tokens:read'] });
        expect(def.json().pat.expiresAt).toBe(new Date(t.clock.now() + 30 * DAY).toISOString());
        const at = new Date(t.clock.now() + 3 * DAY).toISOString();
        expect((await post(alice, { name: 'at', scopes: ['tokens:read'], expiresAt: at })).json().pat.expiresAt).toBe(at);
        expect((await post(alice, { name: 'never', scopes: ['tokens:read'], expiresInDays: null })).json().pat.expiresAt).toBeNull();
      });

      it('validates fields and names them', async () => {
        const cases: [Record<string, unknown>, string, string][] = [
          [{ scopes: ['tokens:read'] }, 'invalid_request', 'name'],
          [{ name: '', scopes: ['tokens:read'] }, 'invalid_request', 'name'],
          [{ name: '   ', scopes: ['tokens:read'] }, 'invalid_request', 'name'],
          [{ name: 'x'.repeat(101), scopes: ['tokens:read'] }, 'invalid_request', 'name'],
          [{ name: 'd', description: 'x'.repeat(501), scopes: ['tokens:read'] }, 'invalid_request', 'description'],
          [{ name: 'n', scopes: [] }, 'invalid_request', 'scopes'],
          [{ name: 'n' }, 'invalid_request', 'scopes'],
          [{ name: 'n', scopes: ['Not A Scope'] }, 'invalid_request', 'scopes'],
          [{ name: 'n', scopes: ['repo:read'] }, 'invalid_scope', 'scopes'],
          [{ name: 'n', scopes: ['admin:read'] }, 'invalid_scope', 'scopes'],
          [{ name: 'n', scopes: ['tokens:read'], expiresInDays: 0 }, 'invalid_request', 'expiresInDays'],
          [{ name: 'n', scopes: ['tokens:read'], expiresInDays: 1.5 }, 'invalid_request', 'expiresInDays'],
          [{ name: 'n', scopes: ['tokens:read'], expiresAt: '2020-01-01T00:00:00Z' }, 'invalid_request', 'expiresAt'],
          [{ name: 'n', scopes: ['tokens:read'], expiresAt: 'soon-ish-maybe' }, 'invalid_request', 'expiresAt'],
          [{ name: 'n', scopes: ['tokens:read'], allowedIps: ['10.0.0.0/99'] }, 'invalid_request', 'allowedIps[0]'],
          [{ name: 'n', scopes: ['tokens:read'], colour: 'blue' }, 'invalid_request', 'colour'],
        ];
        for (const [payload, code, field] of cases) {
          const res = await post(alice, payload);
          expect(res.statusCode, JSON.stringify(payload)).toBe(400);
          expect(res.json().error, JSON.stringify(payload)).toBe(code);
          expect(res.json().message, JSON.stringify(payload)).toContain(field);
        }
      });

      it('refuses a duplicate active name with 409, and allows it again after revocation', async () => {
        const first = await post(alice, { name: 'dup', scopes: ['tokens:read'] });
        expect((await post(alice, { name: 'dup', scopes: ['tokens:read'] })).statusCode).toBe(409);
        expect((await post(admin, { name: 'dup', scopes: ['tokens:read'] })).statusCode).toBe(201);
        await t.app.inject({ method: 'DELETE', url: `/api/v1/me/tokens/${first.json().pat.id}`, headers: asSession(alice) });
        expect((await post(alice, { name: 'dup', scopes: ['tokens:read'] })).statusCode).toBe(201);
      });

      it('refuses a non-JSON body and a malformed JSON body with 4xx, never 500', async () => {
        const form = await t.app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers: { ...asSession(alice), 'content-type': 'text/plain' }, payload: 'name=x' });
        expect(form.statusCode).toBe(415);
        const broken = await t.app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers: { ...asSession(alice), 'content-type': 'application/json' }, payload: '{"name":' });
        expect(broken.statusCode).toBe(400);
        expect(broken.json().error).toBe('invalid_request');
      });

      it('lets a token create tokens only within its own scopes and lifetime', async () => {
        const limited = await createToken(t, admin, { scopes: ['tokens:write'], expiresInDays: 5 });
        const escalate = await t.app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers: bearer(limited.token), payload: { name: 'esc', scopes: ['admin:write'] } });
        expect(escalate.statusCode).toBe(403);
        expect(escalate.json().error).toBe('insufficient_scope');
        const longer = await t.app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers: bearer(limited.token), payload: { name: 'long', scopes: ['tokens:read'], expiresInDays: 30 } });
        expect(longer.statusCode).toBe(400);
        expect(longer.json().error).toBe('policy_violation');
        const ok = await t.app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers: bearer(limited.token), payload: { name: 'child', scopes: ['tokens:read'] } });
        expect(ok.statusCode).toBe(201);
        expect(ok.json().pat.expiresAt).toBe(new Date(t.clock.now() + 5 * DAY).toISOString());
      });
    });

    describe('list', () => {
      it('lists newest first with status filters and cursor pagination', async () => {
        const bob = await createUser(t, admin, 'bob');
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) {
          ids.push((await createToken(t, bob, { name: `b${i}`, expiresInDays: 1 })).id);
          t.clock.advance(1000);
        }
        await t.app.inject({ method: 'DELETE', url: `/api/v1/me/tokens/${ids[1]}`, headers: asSession(bob) });
        const page1 = await t.app.inject({ method: 'GET', url: '/api/v1/me/tokens?limit=2', headers: asSession(bob) });
        expect(page1.statusCode).toBe(200);
        expect(page1.json().items.map((p: { id: string }) => p.id)).toEqual([ids[4], ids[3]]);
        const page2 = await t.app.inject({ method: 'GET', url: `/api/v1/me/tokens?limit=2&cursor=${page1.json().nextCursor}`, headers: asSession(bob) });
        expect(page2.json().items.map((p: { id: string }) => p.id)).toEqual([ids[2], ids[1]]);
        const page3 = await t.app.inject({ method: 'GET', url: `/api/v1/me/tokens?limit=2&cursor=${page2.json().nextCursor}`, headers: asSession(bob) });
        expect(page3.json()).toMatchObject({ items: [{ id: ids[0] }], nextCursor: null });

        const revoked = await t.app.inject({ method: 'GET', url: '/api/v1/me/tokens?status=revoked', headers: asSession(bob) });
        expect(revoked.json().items.map((p: { id: string; status: string }) => [p.id, p.status])).toEqual([[ids[1], 'revoked']]);
        const active = await t.app.inject({ method: 'GET', url: '/api/v1/me/tokens?status=active', headers: asSession(bob) });
        expect(active.json().items).toHaveLength(4);
        t.clock.advance(2 * DAY);
        const expired = await t.app.inject({ method: 'GET', url: '/api/v1/me/tokens?status=expired', headers: asSession(bob) });
        expect(expired.json().items).toHaveLength(4);
        expect(expired.json().items.every((p: { status: string }) => p.status === 'expired')).toBe(true);
        t.clock.advance(-2 * DAY);
        expect((await t.app.inject({ method: 'GET', url: '/api/v1/me/tokens?status=bogus', headers: asSession(bob) })).statusCode).toBe(400);
        expect((await t.app.inject({ method: 'GET', url: '/api/v1/me/tokens?cursor=zzz', headers: asSession(bob) })).statusCode).toBe(400);
      });

      it('shows only the caller’s tokens', async () => {
        const mine = await t.app.inject({ method: 'GET', url: '/api/v1/me/tokens?status=all&limit=200', headers: asSession(alice) });
        expect(mine.json().items.every((p: { userId: string }) => p.userId === alice.userId)).toBe(true);
      });
    });

    describe('read, update, revoke, rotate', () => {
      it('answers 404 (not 403) for another user’s token id, and for unknown ids', async () => {
        const adminToken = await createToken(t, admin);
        for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
          const res = await t.app.inject({ method, url: `/api/v1/me/tokens/${adminToken.id}`, headers: asSession(alice), ...(method === 'PATCH' ? { payload: { name: 'x' } } : {}) });
          expect(res.statusCode, method).toBe(404);
          expect(res.json().error).toBe('not_found');
        }
        expect((await t.app.inject({ method: 'POST', url: `/api/v1/me/tokens/${adminToken.id}/rotate`, headers: asSession(alice) })).statusCode).toBe(404);
        expect((await t.app.inject({ method: 'GET', url: '/api/v1/me/tokens/does-not-exist', headers: asSession(alice) })).statusCode).toBe(404);
      });

      it('renames and re-describes, refusing a taken name and unknown fields', async () => {
        const a = await createToken(t, alice, { name: 'rename-me' });
        await createToken(t, alice, { name: 'taken' });
        const res = await t.app.inject({ method: 'PATCH', url: `/api/v1/me/tokens/${a.id}`, headers: asSession(alice), payload: { name: 'renamed', description: 'new words' } });
        expect(res.statusCode).toBe(200);
        expect(res.json()).toMatchObject({ id: a.id, name: 'renamed', description: 'new words' });
        expect((await t.app.inject({ method: 'PATCH', url: `/api/v1/me/tokens/${a.id}`, headers: asSession(alice), payload: { name: 'taken' } })).statusCode).toBe(409);
        const bad = await t.app.inject({ method: 'PATCH', url: `/api/v1/me/tokens/${a.id}`, headers: asSession(alice), payload: { scopes: ['admin:write'] } });
        expect(bad.statusCode).toBe(400);
        expect(bad.json().message).toContain('scopes');
      });

      it('revokes idempotently, recording who and why, and the token stops at once', async () => {
        const a = await createToken(t, alice);
        expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(a.token) })).statusCode).toBe(200);
        const first = await t.app.inject({ method: 'DELETE', url: `/api/v1/me/tokens/${a.id}`, headers: asSession(alice), payload: { reason: 'leaked in a log' } });
        expect(first.statusCode).toBe(204);
        expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/me/tokens/${a.id}`, headers: asSession(alice) })).statusCode).toBe(204);
        const after = await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(a.token) });
        expect(after.statusCode).toBe(401);
        expect(after.headers['www-authenticate']).toContain('error="invalid_token"');
        const read = await t.app.inject({ method: 'GET', url: `/api/v1/me/tokens/${a.id}`, headers: asSession(alice) });
        expect(read.json()).toMatchObject({ status: 'revoked', revokedAt: new Date(t.clock.now()).toISOString() });
        const audit = await t.app.inject({ method: 'GET', url: `/api/v1/admin/audit?targetId=${a.id}&action=token.revoked`, headers: asSession(admin) });
        expect(audit.json().items).toHaveLength(1);
        expect(audit.json().items[0]).toMatchObject({ actorUserId: alice.userId, details: { reason: 'leaked in a log' } });
      });

      it('rotates: new secret, same settings, lifetime counted from now; the old secret stops', async () => {
        const old = await createToken(t, alice, { name: 'rotating', scopes: ['tokens:read'], expiresInDays: 10, audiences: ['aud'], allowedIps: ['127.0.0.1'] });
        t.clock.advance(DAY);
        const res = await t.app.inject({ method: 'POST', url: `/api/v1/me/tokens/${old.id}/rotate`, headers: asSession(alice) });
        expect(res.statusCode).toBe(201);
        const { token, pat } = res.json();
        expect(token).not.toBe(old.token);
        expect(pat).toMatchObject({ name: 'rotating', scopes: ['tokens:read'], audiences: ['aud'], allowedIps: ['127.0.0.1'], expiresAt: new Date(t.clock.now() + 10 * DAY).toISOString(), status: 'active' });
        expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(old.token) })).statusCode).toBe(401);
        expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(token) })).statusCode).toBe(200);
        expect((await t.app.inject({ method: 'POST', url: `/api/v1/me/tokens/${old.id}/rotate`, headers: asSession(alice) })).statusCode).toBe(409);
      });

      it('keeps the old secret for the policy grace period when one is set', async () => {
        await t.app.inject({ method: 'PUT', url: '/api/v1/admin/policy', headers: asSession(admin), payload: { rotationGraceSeconds: 60 } });
        try {
          const old = await createToken(t, alice);
          const res = await t.app.inject({ method: 'POST', url: `/api/v1/me/tokens/${old.id}/rotate`, headers: asSession(alice) });
          expect(res.statusCode).toBe(201);
          const inGrace = await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(old.token) });
          expect(inGrace.statusCode).toBe(200);
          // Still usable, so described as active: the revocation is not in force yet.
          expect(inGrace.json()).toMatchObject({ id: old.id, status: 'active', revokedAt: null });
          t.clock.advance(61_000);
          expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(old.token) })).statusCode).toBe(401);
          expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(res.json().token) })).statusCode).toBe(200);
        } finally {
          await t.app.inject({ method: 'PUT', url: '/api/v1/admin/policy', headers: asSession(admin), payload: { rotationGraceSeconds: 0 } });
        }
      });

      it('does not let a token rotate a token with more scopes than it holds', async () => {
        const strong = await createToken(t, admin, { scopes: ['admin:write', 'tokens:read'] });
        const weak = await createToken(t, admin, { scopes: ['tokens:write'] });
        const res = await t.app.inject({ method: 'POST', url: `/api/v1/me/tokens/${strong.id}/rotate`, headers: bearer(weak.token) });
        expect(res.statusCode).toBe(403);
        expect(res.json().error).toBe('insufficient_scope');
        const self = await t.app.inject({ method: 'POST', url: `/api/v1/me/tokens/${weak.id}/rotate`, headers: bearer(weak.token) });
        expect(self.statusCode).toBe(201);
      });
    });

    describe('using tokens', () => {
      it('GET /tokens/self describes the presented token and records last use behind', async () => {
        const a = await createToken(t, alice, { name: 'selfie' });
        const res = await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(a.token), remoteAddress: '198.51.100.7' });
        expect(res.statusCode).toBe(200);
        expect(res.json()).toMatchObject({ id: a.id, name: 'selfie', lastUsedAt: null });
        await t.container.usage.flush();
        const again = await t.app.inject({ method: 'GET', url: `/api/v1/me/tokens/${a.id}`, headers: asSession(alice) });
        expect(again.json()).toMatchObject({ lastUsedAt: new Date(t.clock.now()).toISOString(), lastUsedIp: '198.51.100.7' });
        // Uses are counted per day, coalesced in memory and written in the same flush.
        await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(a.token) });
        await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(a.token) });
        await t.container.usage.flush();
        expect(await t.container.store.repos.pats.usageByDay(a.id)).toEqual([{ day: new Date(t.clock.now()).toISOString().slice(0, 10), count: 3 }]);
        const session = await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: asSession(alice) });
        expect(session.statusCode).toBe(401);
      });

      it('GET /tokens/self answers what its owner reads, field for field, also when the cache answers it again', async () => {
        const a = await createToken(t, alice, { name: 'self-twice', scopes: ['tokens:read'], audiences: ['https://api.example.com'], allowedIps: ['198.51.100.0/24'] });
        const read = await t.app.inject({ method: 'GET', url: `/api/v1/me/tokens/${a.id}`, headers: asSession(alice) });
        const first = await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(a.token), remoteAddress: '198.51.100.7' });
        expect(first.statusCode).toBe(200);
        expect(first.headers['content-type']).toBe('application/json; charset=utf-8');
        expect(first.headers['cache-control']).toBe('no-store');
        expect(first.json()).toEqual(read.json());
        const second = await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(a.token), remoteAddress: '198.51.100.8' });
        expect(second.body).toBe(first.body);
      });

      it('enforces the IP allow-list', async () => {
        const a = await createToken(t, alice, { allowedIps: ['203.0.113.0/24'] });
        expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(a.token), remoteAddress: '203.0.113.9' })).statusCode).toBe(200);
        const denied = await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(a.token), remoteAddress: '192.0.2.1' });
        expect(denied.statusCode).toBe(401);
        expect(denied.json().error).toBe('invalid_token');
      });

      it('answers 400 invalid_request for malformed headers and tokens in the URL or a form body', async () => {
        const a = await createToken(t, alice);
        const cases: { headers?: Record<string, string>; url?: string; payload?: string }[] = [
          { headers: { authorization: 'Bearer' } },
          { headers: { authorization: `Bearer ${a.token} extra` } },
          { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } },
          { headers: { authorization: 'Bearer a"b' } },
          { url: `/api/v1/tokens/self?access_token=${a.token}` },
          { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `access_token=${a.token}` },
        ];
        for (const c of cases) {
          const res = await t.app.inject({ method: c.payload ? 'POST' : 'GET', url: c.url ?? (c.payload ? '/api/v1/me/tokens' : '/api/v1/tokens/self'), headers: c.headers ?? {}, ...(c.payload ? { payload: c.payload } : {}) });
          expect(res.statusCode, JSON.stringify(c)).toBe(400);
          expect(res.json().error).toBe('invalid_request');
          expect(res.headers['www-authenticate']).toContain('error="invalid_request"');
        }
        const bearerLower = await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: { authorization: `bearer ${a.token}` } });
        expect(bearerLower.statusCode).toBe(200);
      });

      it('stops every token of a disabled owner at once, and admin scopes when the owner is demoted', async () => {
        const carol = await createUser(t, admin, 'carol', 'admin');
        const tok = await createToken(t, carol, { scopes: ['admin:read', 'tokens:read'] });
        expect((await t.app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: bearer(tok.token) })).statusCode).toBe(200);
        await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${carol.userId}`, headers: asSession(admin), payload: { role: 'user' } });
        const demoted = await t.app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: bearer(tok.token) });
        expect(demoted.statusCode).toBe(403);
        expect(demoted.headers['www-authenticate']).toContain('scope="admin:read"');
        expect((await t.app.inject({ method: 'GET', url: '/api/v1/me/tokens', headers: bearer(tok.token) })).statusCode).toBe(200);
        await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${carol.userId}`, headers: asSession(admin), payload: { disabled: true } });
        expect((await t.app.inject({ method: 'GET', url: '/api/v1/me/tokens', headers: bearer(tok.token) })).statusCode).toBe(401);
        expect((await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie: carol.cookie } })).statusCode).toBe(401);
      });
    });

    describe('security', () => {
      const ctx = () => ({ t, admin });
      securityCases(ctx, { method: 'GET', url: '/api/v1/me/tokens', scope: 'tokens:read' });
      securityCases(ctx, { method: 'POST', url: '/api/v1/me/tokens', scope: 'tokens:write', payload: { name: 'sec', scopes: ['tokens:read'] } });
      securityCases(ctx, { method: 'GET', url: '/api/v1/me/tokens/some-id', scope: 'tokens:read' });
      securityCases(ctx, { method: 'PATCH', url: '/api/v1/me/tokens/some-id', scope: 'tokens:write', payload: { name: 'x' } });
      securityCases(ctx, { method: 'DELETE', url: '/api/v1/me/tokens/some-id', scope: 'tokens:write' });
      securityCases(ctx, { method: 'POST', url: '/api/v1/me/tokens/some-id/rotate', scope: 'tokens:write' });
      securityCases(ctx, { method: 'GET', url: '/api/v1/me' });
      securityCases(ctx, { method: 'PATCH', url: '/api/v1/me', scope: 'tokens:write', payload: { displayName: 'x' } });
    });
  });
}
