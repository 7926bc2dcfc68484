import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/dialects.js';
import { DAY } from '../helpers/clock.js';
import { asSession, bearer, createTestApp, createToken, createUser, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';
import { basic, createClient, exchangeParams, form, type TestClient } from '../helpers/oauth.js';

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`RFC 7662 introspection and RFC 7009 revocation [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    let client: TestClient;
    beforeAll(async () => {
      t = await createTestApp(dialect);
      admin = await setupAdmin(t);
      client = await createClient(t, admin, { allowedAudiences: ['https://api.example.com'] });
    });
    afterAll(async () => t?.close());

    const introspect = (token: string, c: TestClient = client) => form(t, '/oauth/introspect', { token }, basic(c));
    const revoke = (token: string, c: TestClient = client) => form(t, '/oauth/revoke', { token }, basic(c));
    const exchange = async (token: string, extra: Record<string, string> = {}) => (await form(t, '/oauth/token', exchangeParams(token, extra), basic(client))).json().access_token as string;

    it('describes an active PAT', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read', 'admin:read'], expiresInDays: 7, audiences: ['https://api.example.com'] });
      const res = await introspect(pat.token);
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const now = Math.floor(t.clock.now() / 1000);
      expect(res.json()).toEqual({
        active: true,
        scope: 'tokens:read admin:read',
        username: 'admin',
        sub: admin.userId,
        exp: now + 7 * 86400,
        iat: now,
        token_type: 'Bearer',
        aud: ['https://api.example.com'],
        iss: 'http://localhost:8080',
        jti: pat.id,
      });
    });

    it('describes an active exchanged JWT', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'] });
      const jwt = await exchange(pat.token);
      const now = Math.floor(t.clock.now() / 1000);
      expect((await introspect(jwt)).json()).toEqual({
        active: true,
        scope: 'tokens:read',
        client_id: client.clientId,
        username: 'admin',
        sub: admin.userId,
        exp: now + 900,
        iat: now,
        token_type: 'Bearer',
        aud: 'https://api.example.com',
        iss: 'http://localhost:8080',
        jti: expect.any(String),
      });
    });

    it('answers the end of a rotation grace period as exp, and exchanges nothing that outlives it', async () => {
      await t.app.inject({ method: 'PUT', url: '/api/v1/admin/policy', headers: asSession(admin), payload: { rotationGraceSeconds: 120 } });
      try {
        const old = await createToken(t, admin, { scopes: ['tokens:read'], expiresInDays: 7 });
        expect((await introspect(old.token)).json().exp).toBe(Math.floor(t.clock.now() / 1000) + 7 * 86400);
        const before = await exchange(old.token);
        expect((await introspect(before)).json().exp).toBe(Math.floor(t.clock.now() / 1000) + 900);
        const rotated = await t.app.inject({ method: 'POST', url: `/api/v1/me/tokens/${old.id}/rotate`, headers: asSession(admin) });
        expect(rotated.statusCode).toBe(201);
        const graceEnd = Math.floor(t.clock.now() / 1000) + 120;
        expect((await introspect(old.token)).json()).toMatchObject({ active: true, jti: old.id, exp: graceEnd });
        const jwt = await exchange(old.token);
        const claims = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { exp: number };
        expect(claims.exp).toBe(graceEnd);
        expect((await introspect(jwt)).json()).toMatchObject({ active: true, exp: graceEnd });
        // Exchanged before the rotation, with 900 s to run: reported alive only until the grace period ends.
        expect((await introspect(before)).json()).toMatchObject({ active: true, exp: graceEnd });
        // The new token keeps the old one's expiry; only the old one is cut short.
        expect((await introspect(rotated.json().token)).json().exp).toBeGreaterThan(graceEnd);
        t.clock.advance(121_000);
        try {
          expect((await introspect(old.token)).json()).toEqual({ active: false });
          expect((await introspect(jwt)).json()).toEqual({ active: false });
          expect((await introspect(before)).json()).toEqual({ active: false });
        } finally {
          t.clock.advance(-121_000);
        }
      } finally {
        await t.app.inject({ method: 'PUT', url: '/api/v1/admin/policy', headers: asSession(admin), payload: { rotationGraceSeconds: 0 } });
      }
    });

    it('answers exactly { active: false } for unknown, malformed, expired, revoked and foreign tokens', async () => {
      const expiring = await createToken(t, admin, { scopes: ['tokens:read'], expiresInDays: 1 });
      const expJwt = await exchange(expiring.token);
      const revoked = await createToken(t, admin, { scopes: ['tokens:read'] });
      await t.app.inject({ method: 'DELETE', url: `/api/v1/me/tokens/${revoked.id}`, headers: asSession(admin) });
      const forged = (await exchange((await createToken(t, admin, { scopes: ['tokens:read'] })).token)).replace(/.{4}$/, 'AAAA');
      const candidates = ['kf_pat_' + 'D'.repeat(46), 'nonsense', 'a.b.c', revoked.token, forged, 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'];
      for (const token of candidates) expect((await introspect(token)).json(), token).toEqual({ active: false });
      t.clock.advance(DAY + 1);
      try {
        expect((await introspect(expiring.token)).json()).toEqual({ active: false });
        expect((await introspect(expJwt)).json()).toEqual({ active: false });
      } finally {
        t.clock.advance(-(DAY + 1));
      }
    });

    it('reflects the PAT’s revocation, its owner being disabled, in its exchanged JWTs (D7)', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'] });
      const jwt = await exchange(pat.token);
      expect((await introspect(jwt)).json().active).toBe(true);
      await t.app.inject({ method: 'DELETE', url: `/api/v1/me/tokens/${pat.id}`, headers: asSession(admin) });
      expect((await introspect(jwt)).json()).toEqual({ active: false });

      const eve = await createUser(t, admin, 'eve');
      const evePat = await createToken(t, eve, { scopes: ['tokens:read'] });
      const eveJwt = await exchange(evePat.token);
      await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${eve.userId}`, headers: asSession(admin), payload: { disabled: true } });
      expect((await introspect(eveJwt)).json()).toEqual({ active: false });
      expect((await introspect(evePat.token)).json()).toEqual({ active: false });
    });

    it('requires client authentication and the introspection permission', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'] });
      const anonymous = await form(t, '/oauth/introspect', { token: pat.token });
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.json().error).toBe('invalid_client');
      const wrong = await introspect(pat.token, { clientId: client.clientId, clientSecret: 'wrong' });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.headers['www-authenticate']).toBe('Basic realm="keyfob"');
      const blind = await createClient(t, admin, { introspection: false });
      const refused = await introspect(pat.token, blind);
      expect(refused.statusCode).toBe(400);
      expect(refused.json().error).toBe('unauthorized_client');
      const missing = await form(t, '/oauth/introspect', {}, basic(client));
      expect(missing.json().error).toBe('invalid_request');
    });

    it('trusts a remembered Basic header only for its own client, and not once its secret is rotated or the client disabled', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'] });
      const gateway = await createClient(t, admin, { name: 'remembered' });
      const other = await createClient(t, admin, { name: 'other' });
      expect((await introspect(pat.token, gateway)).json().active).toBe(true);
      // The same header again (answered from the client cache), naming another client in the body.
      const mismatch = await form(t, '/oauth/introspect', { token: pat.token, client_id: other.clientId }, basic(gateway));
      expect(mismatch.statusCode).toBe(400);
      expect(mismatch.json().error).toBe('invalid_request');
      expect((await form(t, '/oauth/introspect', { token: pat.token, client_id: gateway.clientId }, basic(gateway))).statusCode).toBe(200);

      const rotated = await t.app.inject({ method: 'POST', url: `/api/v1/admin/clients/${gateway.clientId}/secret`, headers: asSession(admin) });
      expect(rotated.statusCode).toBe(201);
      const stale = await introspect(pat.token, gateway);
      expect(stale.statusCode).toBe(401);
      expect(stale.json().error).toBe('invalid_client');
      const renewed = { clientId: gateway.clientId, clientSecret: rotated.json().clientSecret as string };
      expect((await introspect(pat.token, renewed)).json().active).toBe(true);

      const disabled = await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/clients/${gateway.clientId}`, headers: asSession(admin), payload: { disabled: true } });
      expect(disabled.statusCode).toBe(200);
      expect((await introspect(pat.token, renewed)).statusCode).toBe(401);
    });

    it('accepts any spelling of a Basic header base64 allows, and remembers only the canonical one', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'] });
      const spelled = await createClient(t, admin, { name: 'spelled' });
      const canonical = basic(spelled).authorization!.slice('Basic '.length);
      const other = canonical.endsWith('=') ? canonical.replace(/=+$/, '') : `${canonical}==`;
      const res = await form(t, '/oauth/introspect', { token: pat.token }, { authorization: `Basic ${other}` });
      expect(res.statusCode).toBe(200);
      expect(res.json().active).toBe(true);
      expect(t.container.clients.cached(`Basic ${other}`)).toBeUndefined();
      expect((await introspect(pat.token, spelled)).statusCode).toBe(200);
      expect(t.container.clients.cached(`Basic ${canonical}`)?.id).toBe(spelled.clientId);
    });

    it('answers for the token as it is now: scope follows its owner’s role, and a revoked token is inactive at once', async () => {
      const carol = await createUser(t, admin, 'carol-introspected', 'admin');
      const pat = await createToken(t, carol, { scopes: ['tokens:read', 'admin:read'] });
      const first = await introspect(pat.token);
      expect(first.json().scope).toBe('tokens:read admin:read');
      // Asked twice: the second answer comes from the cached token and is the same text.
      expect((await introspect(pat.token)).body).toBe(first.body);
      const demoted = await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${carol.userId}`, headers: asSession(admin), payload: { role: 'user' } });
      expect(demoted.statusCode).toBe(200);
      expect((await introspect(pat.token)).json().scope).toBe('tokens:read');
      expect((await revoke(pat.token)).statusCode).toBe(200);
      expect((await introspect(pat.token)).json()).toEqual({ active: false });
    });

    it('revokes a PAT by value for any authenticated client (D3): 200, audited, and its JWTs die with it', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'] });
      const jwt = await exchange(pat.token);
      const other = await createClient(t, admin, { introspection: false });
      const res = await revoke(pat.token, other);
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toBe('');
      expect((await introspect(pat.token)).json()).toEqual({ active: false });
      expect((await introspect(jwt)).json()).toEqual({ active: false });
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(pat.token) })).statusCode).toBe(401);
      const audit = await t.app.inject({ method: 'GET', url: `/api/v1/admin/audit?targetId=${pat.id}&action=token.revoked`, headers: asSession(admin) });
      expect(audit.json().items[0].details.reason).toContain(other.clientId);
      expect((await revoke(pat.token)).statusCode).toBe(200);
    });

    it('revokes an exchanged JWT alone, leaving its PAT active', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'] });
      const jwt = await exchange(pat.token);
      expect((await revoke(jwt)).statusCode).toBe(200);
      expect((await introspect(jwt)).json()).toEqual({ active: false });
      expect((await introspect(pat.token)).json().active).toBe(true);
      const audit = await t.app.inject({ method: 'GET', url: `/api/v1/admin/audit?action=token.jwt_revoked&targetId=${pat.id}`, headers: asSession(admin) });
      expect(audit.json().items[0].details.clientId).toBe(client.clientId);
    });

    it('answers 200 for unknown tokens and refuses unauthenticated callers', async () => {
      expect((await revoke('kf_pat_' + 'E'.repeat(46))).statusCode).toBe(200);
      expect((await revoke('whatever')).statusCode).toBe(200);
      const anonymous = await form(t, '/oauth/revoke', { token: 'x' });
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.json().error).toBe('invalid_client');
    });

    it('counts introspections in /metrics', async () => {
      const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toMatch(/keyfob_oauth_introspections_total\{outcome="active"\} \d+/);
      expect(metrics).toMatch(/keyfob_oauth_introspections_total\{outcome="inactive"\} \d+/);
      expect(metrics).toMatch(/keyfob_oauth_errors_total\{endpoint="\/oauth\/introspect",error="invalid_client"\} \d+/);
    });
  });
}

describe('introspection while the store is down (D1)', () => {
  it('answers 503 temporarily_unavailable with Retry-After, never active', async () => {
    const t = await createTestApp(DIALECTS[0]!);
    try {
      const admin = await setupAdmin(t);
      const client = await createClient(t, admin);
      const pat = await createToken(t, admin, { scopes: ['tokens:read'] });
      await t.container.store.db.destroy();
      const res = await form(t, '/oauth/introspect', { token: pat.token }, basic(client));
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBeDefined();
      expect(res.json()).toMatchObject({ error: 'temporarily_unavailable' });
      expect(res.body).not.toContain('"active"');
    } finally {
      await t.close().catch(() => {});
    }
  });
});
