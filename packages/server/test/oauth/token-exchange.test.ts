import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/dialects.js';
import { DAY } from '../helpers/clock.js';
import { asSession, createTestApp, createToken, createUser, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';
import { basic, createClient, decodeJwt, exchangeParams, form, type TestClient } from '../helpers/oauth.js';

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`RFC 8693 token exchange [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    let client: TestClient;
    let pat: { token: string; id: string };
    beforeAll(async () => {
      t = await createTestApp(dialect);
      admin = await setupAdmin(t);
      client = await createClient(t, admin, { allowedAudiences: ['https://api.example.com', 'https://other.example.com'] });
      pat = await createToken(t, admin, { scopes: ['tokens:read', 'tokens:write', 'admin:read'], expiresInDays: 30 });
    });
    afterAll(async () => t?.close());

    const exchange = (params: Record<string, string | string[]>, headers = basic(client)) => form(t, '/oauth/token', params, headers);

    it('answers RFC 8693 §2.2.1 with an RFC 9068 JWT, no-store', async () => {
      const res = await exchange(exchangeParams(pat.token, { scope: 'tokens:read' }));
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['content-type']).toContain('application/json');
      const body = res.json();
      expect(body).toEqual({ access_token: expect.any(String), issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: 900, scope: 'tokens:read' });
      const { header, payload } = decodeJwt(body.access_token);
      expect(header).toMatchObject({ typ: 'at+jwt', alg: 'EdDSA', kid: expect.any(String) });
      const now = Math.floor(t.clock.now() / 1000);
      expect(payload).toEqual({
        iss: 'http://localhost:8080',
        sub: admin.userId,
        aud: 'https://api.example.com',
        iat: now,
        exp: now + 900,
        jti: expect.any(String),
        client_id: client.clientId,
        scope: 'tokens:read',
        kf_pat_id: pat.id,
      });
      const audit = await t.app.inject({ method: 'GET', url: `/api/v1/admin/audit?action=token.exchanged&targetId=${pat.id}`, headers: asSession(admin) });
      expect(audit.json().items[0].details).toMatchObject({ jti: payload['jti'], clientId: client.clientId });
    });

    it('accepts client_secret_post and the audience parameter; grants all held scopes when none is asked', async () => {
      const res = await form(t, '/oauth/token', { ...exchangeParams(pat.token), resource: [], audience: 'https://other.example.com', client_id: client.clientId, client_secret: client.clientSecret });
      expect(res.statusCode).toBe(200);
      expect(res.json().scope.split(' ').sort()).toEqual(['admin:read', 'tokens:read', 'tokens:write']);
      expect(decodeJwt(res.json().access_token).payload['aud']).toBe('https://other.example.com');
    });

    it('never lives past the PAT', async () => {
      const short = await createToken(t, admin, { scopes: ['tokens:read'], expiresAt: new Date(t.clock.now() + 120_000).toISOString() });
      const res = await exchange(exchangeParams(short.token));
      expect(res.json().expires_in).toBe(120);
      expect(decodeJwt(res.json().access_token).payload['exp']).toBe(Math.floor(t.clock.now() / 1000) + 120);
    });

    it('uses the policy lifetime', async () => {
      await t.app.inject({ method: 'PUT', url: '/api/v1/admin/policy', headers: asSession(admin), payload: { exchangedTokenTtlSeconds: 300 } });
      try {
        expect((await exchange(exchangeParams(pat.token))).json().expires_in).toBe(300);
      } finally {
        await t.app.inject({ method: 'PUT', url: '/api/v1/admin/policy', headers: asSession(admin), payload: { exchangedTokenTtlSeconds: 900 } });
      }
    });

    describe('errors (RFC 6749 §5.2, RFC 8693 §2.2.2)', () => {
      const cases: [string, () => Promise<{ statusCode: number; json: () => { error: string }; headers: Record<string, unknown> }>, number, string][] = [
        ['no client authentication', () => form(t, '/oauth/token', exchangeParams('x')), 401, 'invalid_client'],
        ['wrong client secret (basic)', () => exchange(exchangeParams('x'), basic({ clientId: client.clientId, clientSecret: 'nope' })), 401, 'invalid_client'],
        ['unknown client (post)', () => form(t, '/oauth/token', { ...exchangeParams('x'), client_id: 'kfc_unknown', client_secret: 's' }), 401, 'invalid_client'],
        ['two authentication methods', () => exchange({ ...exchangeParams(pat.token), client_secret: client.clientSecret }), 400, 'invalid_request'],
        ['missing grant_type', () => exchange({ subject_token: pat.token }), 400, 'invalid_request'],
        ['other grant_type', () => exchange({ ...exchangeParams(pat.token), grant_type: 'client_credentials' }), 400, 'unsupported_grant_type'],
        ['missing subject_token', () => exchange({ ...exchangeParams(''), subject_token: [] }), 400, 'invalid_request'],
        ['wrong subject_token_type', () => exchange({ ...exchangeParams(pat.token), subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' }), 400, 'invalid_request'],
        ['garbage subject token', () => exchange(exchangeParams('kf_pat_' + 'C'.repeat(46))), 400, 'invalid_request'],
        ['repeated parameter', () => exchange({ ...exchangeParams(pat.token), scope: ['tokens:read', 'tokens:write'] }), 400, 'invalid_request'],
        ['two resources (D8)', () => exchange({ ...exchangeParams(pat.token), resource: ['https://api.example.com', 'https://other.example.com'] }), 400, 'invalid_target'],
        ['resource not allowed for the client', () => exchange({ ...exchangeParams(pat.token), resource: 'https://evil.example.com' }), 400, 'invalid_target'],
        ['resource with a fragment', () => exchange({ ...exchangeParams(pat.token), resource: 'https://api.example.com#x' }), 400, 'invalid_target'],
        ['no resource with several allowed', () => exchange({ ...exchangeParams(pat.token), resource: [] }), 400, 'invalid_target'],
        ['more scope than the PAT holds', () => exchange({ ...exchangeParams(pat.token), scope: 'tokens:read admin:write' }), 400, 'invalid_scope'],
        ['a JSON body', () => t.app.inject({ method: 'POST', url: '/oauth/token', headers: { ...basic(client), 'content-type': 'application/json' }, payload: exchangeParams(pat.token) }), 400, 'invalid_request'],
      ];
      for (const [name, run, status, error] of cases) {
        it(name, async () => {
          const res = await run();
          expect(res.statusCode).toBe(status);
          expect(res.json()).toMatchObject({ error, error_description: expect.any(String) });
          expect(res.headers['cache-control']).toBe('no-store');
        });
      }

      it('sends a Basic challenge on invalid_client when basic auth was used, none otherwise', async () => {
        const viaBasic = await exchange(exchangeParams('x'), basic({ clientId: client.clientId, clientSecret: 'nope' }));
        expect(viaBasic.headers['www-authenticate']).toBe('Basic realm="keyfob"');
        const viaPost = await form(t, '/oauth/token', { ...exchangeParams('x'), client_id: client.clientId, client_secret: 'nope' });
        expect(viaPost.headers['www-authenticate']).toBeUndefined();
      });

      it('treats revoked and expired subject tokens as invalid_request', async () => {
        const revoked = await createToken(t, admin, { scopes: ['tokens:read'] });
        await t.app.inject({ method: 'DELETE', url: `/api/v1/me/tokens/${revoked.id}`, headers: asSession(admin) });
        expect((await exchange(exchangeParams(revoked.token))).json().error).toBe('invalid_request');
        const expiring = await createToken(t, admin, { scopes: ['tokens:read'], expiresInDays: 1 });
        t.clock.advance(DAY + 1);
        try {
          expect((await exchange(exchangeParams(expiring.token))).json().error).toBe('invalid_request');
        } finally {
          t.clock.advance(-(DAY + 1));
        }
      });

      it('refuses disabled and deleted clients with invalid_client', async () => {
        const c = await createClient(t, admin, { allowedAudiences: ['https://api.example.com'] });
        expect((await exchange(exchangeParams(pat.token), basic(c))).statusCode).toBe(200);
        await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/clients/${c.clientId}`, headers: asSession(admin), payload: { disabled: true } });
        expect((await exchange(exchangeParams(pat.token), basic(c))).json().error).toBe('invalid_client');
        await t.app.inject({ method: 'DELETE', url: `/api/v1/admin/clients/${c.clientId}`, headers: asSession(admin) });
        expect((await exchange(exchangeParams(pat.token), basic(c))).json().error).toBe('invalid_client');
      });
    });

    describe('scope escalation: the PAT is the ceiling', () => {
      it('drops admin scopes from a demoted owner and refuses them on request', async () => {
        const ada = await createUser(t, admin, 'ada', 'admin');
        const adaPat = await createToken(t, ada, { scopes: ['admin:read', 'tokens:read'] });
        await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${ada.userId}`, headers: asSession(admin), payload: { role: 'user' } });
        const implicit = await exchange(exchangeParams(adaPat.token));
        expect(implicit.json().scope).toBe('tokens:read');
        const explicit = await exchange(exchangeParams(adaPat.token, { scope: 'admin:read' }));
        expect(explicit.json().error).toBe('invalid_scope');
      });

      it('applies the client ceiling and never silently downgrades', async () => {
        const narrow = await createClient(t, admin, { allowedAudiences: ['https://api.example.com'], allowedScopes: ['tokens:read'] });
        expect((await exchange(exchangeParams(pat.token), basic(narrow))).json().scope).toBe('tokens:read');
        expect((await exchange(exchangeParams(pat.token, { scope: 'tokens:write' }), basic(narrow))).json().error).toBe('invalid_scope');
        expect((await exchange(exchangeParams(pat.token, { scope: 'tokens:read tokens:write' }), basic(narrow))).json().error).toBe('invalid_scope');
        const none = await createClient(t, admin, { allowedAudiences: ['https://api.example.com'], allowedScopes: ['tokens:read'] });
        const writer = await createToken(t, admin, { scopes: ['tokens:write'] });
        expect((await exchange(exchangeParams(writer.token), basic(none))).json().error).toBe('invalid_scope');
      });

      it('respects the PAT’s own audiences and IP allow-list', async () => {
        const scoped = await createToken(t, admin, { scopes: ['tokens:read'], audiences: ['https://other.example.com'] });
        expect((await exchange(exchangeParams(scoped.token))).json().error).toBe('invalid_target');
        expect((await exchange({ ...exchangeParams(scoped.token), resource: 'https://other.example.com' })).statusCode).toBe(200);
        const fenced = await createToken(t, admin, { scopes: ['tokens:read'], allowedIps: ['203.0.113.0/24'] });
        expect((await exchange(exchangeParams(fenced.token))).json().error).toBe('invalid_request');
      });

      it('an exchanged JWT is not accepted as a PAT on the API', async () => {
        const jwt = (await exchange(exchangeParams(pat.token))).json().access_token;
        const res = await t.app.inject({ method: 'GET', url: '/api/v1/me/tokens', headers: { authorization: `Bearer ${jwt}` } });
        expect(res.statusCode).toBe(401);
        const again = await exchange({ ...exchangeParams(jwt) });
        expect(again.json().error).toBe('invalid_request');
      });
    });

    it('counts exchanges by outcome in /metrics', async () => {
      const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toMatch(/keyfob_oauth_token_exchanges_total\{outcome="ok"\} \d+/);
      expect(metrics).toMatch(/keyfob_oauth_token_exchanges_total\{outcome="invalid_scope"\} \d+/);
    });
  });
}
