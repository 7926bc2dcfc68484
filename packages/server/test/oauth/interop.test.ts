/**
 * Interoperability of keyfob's OAuth surface with an independent client library: openid-client v6
 * (panva) performs every OAuth call against a REAL listening server, and jose verifies the
 * exchanged RFC 9068 JWT against the published JWKS, the way a resource server would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClientSecretBasic,
  ClientSecretPost,
  ResponseBodyError,
  WWWAuthenticateChallengeError,
  allowInsecureRequests,
  discovery,
  genericGrantRequest,
  tokenIntrospection,
  tokenRevocation,
  type Configuration,
} from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { DIALECTS } from '../helpers/dialects.js';
import { freePort } from '../helpers/server-process.js';
import { asSession, createTestApp, createToken, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const PAT_TYPE = 'urn:keyfob:params:oauth:token-type:personal_access_token';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const RESOURCE = 'https://api.example.com';

type AuthMethod = 'client_secret_basic' | 'client_secret_post';
const AUTH_METHODS: readonly AuthMethod[] = ['client_secret_basic', 'client_secret_post'];

/** Runs `fn`, expecting it to throw; returns what it threw. */
async function thrown(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`OAuth interop with openid-client + jose [${dialect.name}]`, () => {
    let t: TestApp;
    let issuer: string;
    let admin: Session;
    let clientId: string;
    let clientSecret: string;

    beforeAll(async () => {
      // The issuer (KEYFOB_BASE_URL) must name the port before the app is built.
      const port = await freePort();
      issuer = `http://127.0.0.1:${port}`;
      t = await createTestApp(dialect, { KEYFOB_BASE_URL: issuer });
      // jose and openid-client check exp/iat against the real time: run the manual clock at now.
      t.clock.advance(Date.now() - t.clock.now());
      await t.app.listen({ port, host: '127.0.0.1' });
      admin = await setupAdmin(t);
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/admin/clients',
        headers: asSession(admin),
        payload: { name: 'interop client', allowedAudiences: [RESOURCE] },
      });
      expect(res.statusCode, res.body).toBe(201);
      clientId = res.json().clientId;
      clientSecret = res.json().clientSecret;
      expect(clientId).toEqual(expect.any(String));
      expect(clientSecret).toEqual(expect.any(String));
    });
    afterAll(async () => t?.close());

    /** RFC 8414 discovery by openid-client, authenticating with `method`. */
    function discover(method: AuthMethod, secret = clientSecret): Promise<Configuration> {
      const auth = method === 'client_secret_basic' ? ClientSecretBasic(secret) : ClientSecretPost(secret);
      return discovery(new URL(issuer), clientId, undefined, auth, { algorithm: 'oauth2', execute: [allowInsecureRequests] });
    }

    function exchange(config: Configuration, subjectToken: string, scope: string) {
      return genericGrantRequest(config, TOKEN_EXCHANGE, {
        subject_token: subjectToken,
        subject_token_type: PAT_TYPE,
        resource: RESOURCE,
        scope,
      });
    }

    it('publishes RFC 8414 metadata that openid-client discovers and accepts', async () => {
      const config = await discover('client_secret_basic');
      const meta = config.serverMetadata();
      expect(meta.issuer).toBe(issuer);
      expect(meta.token_endpoint).toBe(`${issuer}/oauth/token`);
      expect(meta.introspection_endpoint).toBe(`${issuer}/oauth/introspect`);
      expect(meta.revocation_endpoint).toBe(`${issuer}/oauth/revoke`);
      expect(meta.jwks_uri).toBe(`${issuer}/.well-known/jwks.json`);
      expect(meta.grant_types_supported).toEqual([TOKEN_EXCHANGE]);
      expect(meta.response_types_supported).toEqual([]);
      expect(meta.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining([...AUTH_METHODS]));
      expect(meta.introspection_endpoint_auth_methods_supported).toEqual(expect.arrayContaining([...AUTH_METHODS]));
      expect(meta.revocation_endpoint_auth_methods_supported).toEqual(expect.arrayContaining([...AUTH_METHODS]));
      expect(meta.scopes_supported).toEqual(expect.arrayContaining(['tokens:read', 'tokens:write', 'admin:read', 'admin:write']));
      expect(meta['access_token_signing_alg_values_supported']).toEqual(expect.arrayContaining([expect.stringMatching(/^(EdDSA|Ed25519|ES256)$/)]));
    });

    for (const method of AUTH_METHODS) {
      it(`exchanges a PAT, verifies the JWT, introspects and revokes with ${method}`, async () => {
        const pat = await createToken(t, admin, { scopes: ['tokens:read', 'tokens:write'] });
        const config = await discover(method);
        const meta = config.serverMetadata();

        // RFC 8693 token exchange.
        const before = Math.floor(Date.now() / 1000);
        const response = await exchange(config, pat.token, 'tokens:read');
        expect(response.token_type).toBe('bearer'); // openid-client normalises the case
        expect(response['issued_token_type']).toBe(ACCESS_TOKEN_TYPE);
        expect(response.expires_in).toBe(900);
        expect(response.scope).toBe('tokens:read');
        expect(response.refresh_token).toBeUndefined();
        const jwt = response.access_token;
        expect(jwt.split('.')).toHaveLength(3);

        // A resource server verifying locally with jose against the published JWKS.
        const header = decodeProtectedHeader(jwt);
        expect(header.typ).toBe('at+jwt');
        expect(header.kid).toEqual(expect.any(String));
        expect(meta['access_token_signing_alg_values_supported']).toContain(header.alg);
        const jwks = createRemoteJWKSet(new URL(meta.jwks_uri!));
        const { payload, protectedHeader } = await jwtVerify(jwt, jwks, {
          issuer,
          audience: RESOURCE,
          typ: 'at+jwt',
          algorithms: meta['access_token_signing_alg_values_supported'] as string[],
        });
        expect(protectedHeader.alg).toBe(header.alg);
        expect(payload.iss).toBe(issuer);
        expect(payload.aud).toBe(RESOURCE);
        expect(payload.sub).toBe(admin.userId);
        expect(payload['client_id']).toBe(clientId);
        expect(payload['scope']).toBe('tokens:read');
        expect(payload.jti).toEqual(expect.any(String));
        expect(payload.exp! - payload.iat!).toBe(response.expires_in);
        expect(Math.abs(payload.iat! - before)).toBeLessThanOrEqual(5);

        // RFC 7662 introspection of the JWT and of the PAT.
        const jwtInfo = await tokenIntrospection(config, jwt);
        expect(jwtInfo).toMatchObject({
          active: true,
          scope: 'tokens:read',
          client_id: clientId,
          sub: admin.userId,
          aud: RESOURCE,
          iss: issuer,
          jti: payload.jti,
          exp: payload.exp,
          iat: payload.iat,
          username: 'admin',
        });
        expect(String(jwtInfo.token_type).toLowerCase()).toBe('bearer');
        const patInfo = await tokenIntrospection(config, pat.token);
        expect(patInfo).toMatchObject({ active: true, sub: admin.userId, iss: issuer, jti: pat.id, username: 'admin' });
        expect(String(patInfo.scope).split(' ').sort()).toEqual(['tokens:read', 'tokens:write']);

        // RFC 7009 revocation of the PAT takes the JWT minted from it down too (D7).
        await expect(tokenRevocation(config, pat.token)).resolves.toBeUndefined();
        expect(await tokenIntrospection(config, pat.token)).toEqual({ active: false });
        expect(await tokenIntrospection(config, jwt)).toEqual({ active: false });
        // The revoked PAT can no longer be exchanged: RFC 8693 §2.2.2 invalid_request.
        const refused = await thrown(() => exchange(config, pat.token, 'tokens:read'));
        expect(refused).toBeInstanceOf(ResponseBodyError);
        expect((refused as ResponseBodyError).error).toBe('invalid_request');
        expect((refused as ResponseBodyError).status).toBe(400);
      });
    }

    it('revokes an exchanged JWT on its own, leaving the PAT active', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read', 'tokens:write'] });
      const config = await discover('client_secret_post');
      const { access_token: jwt } = await exchange(config, pat.token, 'tokens:read tokens:write');
      expect((await tokenIntrospection(config, jwt)).active).toBe(true);
      await tokenRevocation(config, jwt, { token_type_hint: 'access_token' });
      expect(await tokenIntrospection(config, jwt)).toEqual({ active: false });
      expect((await tokenIntrospection(config, pat.token)).active).toBe(true);
    });

    it('answers invalid_scope through openid-client when the PAT lacks the scope', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read', 'tokens:write'] });
      for (const method of AUTH_METHODS) {
        const config = await discover(method);
        const error = await thrown(() => exchange(config, pat.token, 'admin:write'));
        expect(error).toBeInstanceOf(ResponseBodyError);
        const body = error as ResponseBodyError;
        expect(body.error).toBe('invalid_scope');
        expect(body.status).toBe(400);
        expect(body.error_description).toEqual(expect.any(String));
        // Never a silent downgrade: the PAT is untouched and still exchanges for what it holds.
        const ok = await exchange(config, pat.token, 'tokens:read');
        expect(ok.scope).toBe('tokens:read');
      }
    });

    it('answers invalid_client (401) through openid-client for a wrong client secret', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'] });
      const wrong = `${clientSecret.slice(0, -4)}XXXX`;

      // client_secret_post: a plain RFC 6749 §5.2 error body.
      const post = await discover('client_secret_post', wrong);
      const postError = await thrown(() => exchange(post, pat.token, 'tokens:read'));
      expect(postError).toBeInstanceOf(ResponseBodyError);
      expect((postError as ResponseBodyError).error).toBe('invalid_client');
      expect((postError as ResponseBodyError).status).toBe(401);
      const introspectError = await thrown(() => tokenIntrospection(post, pat.token));
      expect(introspectError).toBeInstanceOf(ResponseBodyError);
      expect((introspectError as ResponseBodyError).error).toBe('invalid_client');
      expect((introspectError as ResponseBodyError).status).toBe(401);
      const revokeError = await thrown(() => tokenRevocation(post, pat.token));
      expect(revokeError).toBeInstanceOf(ResponseBodyError);
      expect((revokeError as ResponseBodyError).error).toBe('invalid_client');
      expect((revokeError as ResponseBodyError).status).toBe(401);

      // client_secret_basic: RFC 6749 §5.2 requires a WWW-Authenticate challenge with the 401, and
      // openid-client surfaces a challenge as WWWAuthenticateChallengeError (before reading the
      // body), so the invalid_client body is read from the response it carries.
      const basic = await discover('client_secret_basic', wrong);
      const basicError = await thrown(() => exchange(basic, pat.token, 'tokens:read'));
      expect(basicError).toBeInstanceOf(WWWAuthenticateChallengeError);
      const challenge = basicError as WWWAuthenticateChallengeError;
      expect(challenge.status).toBe(401);
      expect(challenge.cause.map((c) => c.scheme)).toEqual(['basic']);
      expect(challenge.cause[0]!.parameters['realm']).toEqual(expect.any(String));
      expect(await challenge.response.json()).toMatchObject({ error: 'invalid_client', error_description: expect.any(String) });

      // The PAT was not revoked by the failed calls.
      const good = await discover('client_secret_basic');
      expect((await tokenIntrospection(good, pat.token)).active).toBe(true);
    });
  });
}
