import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { DIALECTS } from '../helpers/dialects.js';
import { asSession, bearer, createTestApp, createToken, createUser, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';
import { basic, createClient, decodeJwt, exchangeParams, form, type TestClient } from '../helpers/oauth.js';
import { securityCases } from '../helpers/security-cases.js';

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`signing keys and JWKS [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    let client: TestClient;
    let pat: { token: string };
    beforeAll(async () => {
      t = await createTestApp(dialect);
      admin = await setupAdmin(t);
      client = await createClient(t, admin, { allowedAudiences: ['https://api.example.com'] });
      pat = await createToken(t, admin, { scopes: ['tokens:read'] });
    });
    afterAll(async () => t?.close());

    const jwks = async () => (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as JSONWebKeySet;
    const keys = async () => (await t.app.inject({ method: 'GET', url: '/api/v1/admin/signing-keys', headers: asSession(admin) })).json().items as { kid: string; status: string }[];
    const exchange = async () => (await form(t, '/oauth/token', exchangeParams(pat.token), basic(client))).json().access_token as string;
    const verify = async (token: string, set: JSONWebKeySet) =>
      jwtVerify(token, createLocalJWKSet(set), { issuer: 'http://localhost:8080', audience: 'https://api.example.com', typ: 'at+jwt', currentDate: new Date(t.clock.now()) });
    const rotate = () => t.app.inject({ method: 'POST', url: '/api/v1/admin/signing-keys/rotate', headers: asSession(admin) });

    it('publishes the active key and the next key before it signs', async () => {
      const list = await keys();
      expect(list.map((k) => k.status).sort()).toEqual(['active', 'next']);
      const set = await jwks();
      expect(set.keys.map((k) => k.kid).sort()).toEqual(list.map((k) => k.kid).sort());
      for (const k of set.keys) {
        expect(k).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
        expect(k).not.toHaveProperty('d');
      }
      const listed = JSON.stringify(await t.app.inject({ method: 'GET', url: '/api/v1/admin/signing-keys', headers: asSession(admin) }).then((r) => r.json()));
      expect(listed).not.toMatch(/"d":|PRIVATE KEY|private/);
    });

    it('rotates without downtime: old tokens still verify, the pre-published key signs next', async () => {
      const before = await keys();
      const next = before.find((k) => k.status === 'next')!;
      const oldActive = before.find((k) => k.status === 'active')!;
      const cachedSet = await jwks();
      const oldToken = await exchange();
      expect(decodeJwt(oldToken).header['kid']).toBe(oldActive.kid);

      // The next key has only just been published: resource servers may not have it yet.
      const early = await rotate();
      expect(early.statusCode).toBe(409);
      expect(early.json().message).toContain('60 s');
      t.clock.advance(61_000);
      const res = await rotate();
      expect(res.statusCode).toBe(200);
      const after = await keys();
      expect(after.find((k) => k.kid === next.kid)?.status).toBe('active');
      expect(after.find((k) => k.kid === oldActive.kid)?.status).toBe('retired');
      expect(after.filter((k) => k.status === 'next')).toHaveLength(1);

      const newToken = await exchange();
      expect(decodeJwt(newToken).header['kid']).toBe(next.kid);
      // A resource server that fetched the JWKS before the rotation already knows the new key.
      await expect(verify(newToken, cachedSet)).resolves.toBeDefined();
      const fresh = await jwks();
      await expect(verify(oldToken, fresh)).resolves.toBeDefined();
      expect((await form(t, '/oauth/introspect', { token: oldToken }, basic(client))).json().active).toBe(true);
      const audit = await t.app.inject({ method: 'GET', url: '/api/v1/admin/audit?action=signing_key.rotated', headers: asSession(admin) });
      expect(audit.json().items).toHaveLength(1);
    });

    it('unpublishes a retired key only after every token it signed has expired', async () => {
      const retired = (await keys()).find((k) => k.status === 'retired')!;
      t.clock.advance(86_400_000 - 1000);
      expect((await jwks()).keys.map((k) => k.kid)).toContain(retired.kid);
      t.clock.advance(2000);
      expect((await jwks()).keys.map((k) => k.kid)).not.toContain(retired.kid);
      t.clock.advance(-86_400_000 - 1000);
    });

    it('stores private keys sealed, never in plaintext', async () => {
      const rows = await t.container.store.db.selectFrom('signing_keys').select(['private_key']).execute();
      for (const row of rows) {
        expect(row.private_key).toMatch(/^v1\./);
        expect(row.private_key).not.toContain('PRIVATE KEY');
      }
    });

    it('publishes RFC 8414 metadata', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' });
      expect(res.json()).toMatchObject({
        issuer: 'http://localhost:8080',
        token_endpoint: 'http://localhost:8080/oauth/token',
        introspection_endpoint: 'http://localhost:8080/oauth/introspect',
        revocation_endpoint: 'http://localhost:8080/oauth/revoke',
        jwks_uri: 'http://localhost:8080/.well-known/jwks.json',
        grant_types_supported: ['urn:ietf:params:oauth:grant-type:token-exchange'],
        response_types_supported: [],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      });
    });

    describe('security', () => {
      securityCases(() => ({ t, admin }), { method: 'GET', url: '/api/v1/admin/signing-keys', scope: 'admin:read' });
      securityCases(() => ({ t, admin }), { method: 'POST', url: '/api/v1/admin/signing-keys/rotate', scope: 'admin:write' });
    });
  });
}

describe('ES256 signing keys', () => {
  let t: TestApp;
  afterAll(async () => t?.close());
  it('signs with ES256 when KEYFOB_JWT_ALG=ES256', async () => {
    t = await createTestApp(DIALECTS[0]!, { KEYFOB_JWT_ALG: 'ES256' });
    const admin = await setupAdmin(t);
    const client = await createClient(t, admin, { allowedAudiences: ['https://api.example.com'] });
    const pat = await createToken(t, admin, { scopes: ['tokens:read'] });
    const token = (await form(t, '/oauth/token', exchangeParams(pat.token), basic(client))).json().access_token;
    expect(decodeJwt(token).header['alg']).toBe('ES256');
    const set = (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    expect(set.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
    await expect(jwtVerify(token, createLocalJWKSet(set), { typ: 'at+jwt', currentDate: new Date(t.clock.now()) })).resolves.toBeDefined();
  });
});

describe('admin OAuth clients API', () => {
  let t: TestApp;
  let admin: Session;
  beforeAll(async () => {
    t = await createTestApp(DIALECTS[0]!);
    admin = await setupAdmin(t);
  });
  afterAll(async () => t?.close());

  it('registers, lists, updates, rotates the secret and deletes clients; the secret is shown once', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/admin/clients', headers: asSession(admin), payload: { name: 'ci-gateway', allowedAudiences: ['https://api.example.com'], allowedScopes: ['tokens:read'], introspection: false } });
    expect(res.statusCode).toBe(201);
    const created = res.json();
    expect(created).toMatchObject({ clientId: expect.stringMatching(/^kfc_/), clientSecret: expect.stringMatching(/^kf_cs_/), name: 'ci-gateway', allowedScopes: ['tokens:read'], introspection: false, disabled: false });
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/admin/clients', headers: asSession(admin) });
    expect(list.json().items[0]).not.toHaveProperty('clientSecret');
    expect(list.body).not.toContain(created.clientSecret);
    const one = await t.app.inject({ method: 'GET', url: `/api/v1/admin/clients/${created.clientId}`, headers: asSession(admin) });
    expect(one.json()).not.toHaveProperty('clientSecret');
    const patched = await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/clients/${created.clientId}`, headers: asSession(admin), payload: { name: 'renamed', allowedScopes: null } });
    expect(patched.json()).toMatchObject({ name: 'renamed', allowedScopes: null });
    const rotated = await t.app.inject({ method: 'POST', url: `/api/v1/admin/clients/${created.clientId}/secret`, headers: asSession(admin) });
    expect(rotated.statusCode).toBe(201);
    expect(rotated.json().clientSecret).not.toBe(created.clientSecret);
    expect(await t.container.clients.authenticate(created.clientId, created.clientSecret)).toBeUndefined();
    expect(await t.container.clients.authenticate(created.clientId, rotated.json().clientSecret)).toBeDefined();
    const bad = await t.app.inject({ method: 'POST', url: '/api/v1/admin/clients', headers: asSession(admin), payload: { name: 'x', allowedScopes: ['nope:nope'] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('allowedScopes');
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/admin/clients/${created.clientId}`, headers: asSession(admin) })).statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/admin/clients/${created.clientId}`, headers: asSession(admin) })).statusCode).toBe(404);
    const audit = await t.app.inject({ method: 'GET', url: '/api/v1/admin/audit?action=client.*', headers: asSession(admin) });
    expect(audit.json().items.map((e: { action: string }) => e.action)).toEqual(['client.deleted', 'client.secret_rotated', 'client.updated', 'client.created']);
    expect(audit.body).not.toContain(created.clientSecret);
  });

  it('ends a remembered client authentication at once when the secret is rotated, the client disabled or deleted', async () => {
    const make = async (name: string) => (await t.app.inject({ method: 'POST', url: '/api/v1/admin/clients', headers: asSession(admin), payload: { name } })).json();
    const clients = t.container.clients;
    const rotatedClient = await make('cache-rotate');
    expect(await clients.authenticate(rotatedClient.clientId, rotatedClient.clientSecret)).toBeDefined();
    expect(await clients.authenticate(rotatedClient.clientId, rotatedClient.clientSecret)).toBeDefined(); // from the cache now
    await t.app.inject({ method: 'POST', url: `/api/v1/admin/clients/${rotatedClient.clientId}/secret`, headers: asSession(admin) });
    expect(await clients.authenticate(rotatedClient.clientId, rotatedClient.clientSecret)).toBeUndefined();

    const disabled = await make('cache-disable');
    expect(await clients.authenticate(disabled.clientId, disabled.clientSecret)).toBeDefined();
    await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/clients/${disabled.clientId}`, headers: asSession(admin), payload: { disabled: true } });
    expect(await clients.authenticate(disabled.clientId, disabled.clientSecret)).toBeUndefined();

    const deleted = await make('cache-delete');
    expect(await clients.authenticate(deleted.clientId, deleted.clientSecret)).toBeDefined();
    await t.app.inject({ method: 'DELETE', url: `/api/v1/admin/clients/${deleted.clientId}`, headers: asSession(admin) });
    expect(await clients.authenticate(deleted.clientId, deleted.clientSecret)).toBeUndefined();
    // A wrong secret is never remembered as right.
    const other = await make('cache-wrong');
    expect(await clients.authenticate(other.clientId, rotatedClient.clientSecret)).toBeUndefined();
    expect(await clients.authenticate(other.clientId, other.clientSecret)).toBeDefined();
  });

  it('keeps client routes to admins', async () => {
    const user = await createUser(t, admin, 'plain');
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/admin/clients', headers: asSession(user) })).statusCode).toBe(403);
    const tok = await createToken(t, admin, { scopes: ['tokens:read'] });
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/admin/clients', headers: bearer(tok.token), payload: { name: 'x' } })).statusCode).toBe(403);
  });

  describe('security', () => {
    securityCases(() => ({ t, admin }), { method: 'GET', url: '/api/v1/admin/clients', scope: 'admin:read' });
    securityCases(() => ({ t, admin }), { method: 'POST', url: '/api/v1/admin/clients', scope: 'admin:write', payload: { name: 'sec' } });
    securityCases(() => ({ t, admin }), { method: 'PATCH', url: '/api/v1/admin/clients/x', scope: 'admin:write', payload: { name: 'sec' } });
    securityCases(() => ({ t, admin }), { method: 'POST', url: '/api/v1/admin/clients/x/secret', scope: 'admin:write' });
    securityCases(() => ({ t, admin }), { method: 'DELETE', url: '/api/v1/admin/clients/x', scope: 'admin:write' });
  });
});
