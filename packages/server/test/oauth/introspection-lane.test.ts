import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/dialects.js';
import { asSession, createTestApp, createToken, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';
import { answerOf, expectStoreOutageAsRoute, listenOnLoopback, loopback, untilTaken, type Answer } from '../helpers/loopback.js';
import { basic, createClient, exchangeParams, form, formBody, metric, type TestClient } from '../helpers/oauth.js';

/**
 * The introspection lane (src/http/routes/oauth/oauth-form-lane.ts) answers POST
 * /oauth/introspect from a cached client on node:http, before Fastify. Each case here is sent
 * twice, once over loopback (where the lane may take it) and once through Fastify's inject
 * (which never reaches the lane), and the two answers must be the same bytes. The lane's count of
 * requests served tells which way a loopback request went.
 */


/** A POST over loopback, to /oauth/introspect unless `path` says otherwise. */
function raw(port: number, options: { path?: string; headers: Record<string, string>; body: string; chunked?: boolean; beforeBody?: () => Promise<void> }): Promise<Answer> {
  return loopback(port, { ...options, method: 'POST', path: options.path ?? '/oauth/introspect' });
}

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`the introspection lane answers as the route does [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    let client: TestClient;
    let port: number;
    beforeAll(async () => {
      // The lane exists only with the access log off (its lines are Fastify's); the suites' apps log.
      t = await createTestApp(dialect, { KEYFOB_ACCESS_LOG: 'off' });
      admin = await setupAdmin(t);
      client = await createClient(t, admin, { allowedAudiences: ['https://api.example.com'] });
      port = await listenOnLoopback(t);
    });
    afterAll(async () => t?.close());

    const served = () => t.app.introspectionLane!.served;
    const formType = { 'content-type': 'application/x-www-form-urlencoded' };

    /** The same request over loopback and through inject; returns the loopback answer and whether the lane took it. */
    async function both(params: Record<string, string | string[]>, headers: Record<string, string> = { ...formType, ...basic(client) }) {
      const before = served();
      const viaLoopback = await raw(port, { headers, body: formBody(params) });
      const tookIt = served() > before;
      const injected = await t.app.inject({ method: 'POST', url: '/oauth/introspect', headers, payload: formBody(params) });
      expect(served(), 'inject never reaches the lane').toBe(before + (tookIt ? 1 : 0));
      expect(viaLoopback).toEqual(answerOf(injected));
      return { answer: viaLoopback, tookIt };
    }

    it('takes a cached client\'s request and answers an active PAT with the route\'s bytes', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'], audiences: ['https://api.example.com'] });
      // The first authentication of the client goes through the route and fills the cache.
      await form(t, '/oauth/introspect', { token: pat.token }, basic(client));
      const { answer, tookIt } = await both({ token: pat.token });
      expect(tookIt).toBe(true);
      expect(answer.status).toBe(200);
      expect(answer.headers['cache-control']).toBe('no-store');
      expect(JSON.parse(answer.body)).toMatchObject({ active: true, jti: pat.id, scope: 'tokens:read' });
    });

    it('answers unknown tokens, exchanged JWTs and revoked tokens as the route does', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'], audiences: ['https://api.example.com'] });
      const jwt = (await form(t, '/oauth/token', exchangeParams(pat.token), basic(client))).json().access_token as string;
      expect((await both({ token: 'kf_pat_unknown0000000000000000000000000000000' })).answer.body).toBe('{"active":false}');
      const exchanged = await both({ token: jwt, token_type_hint: 'access_token' });
      expect(exchanged.tookIt).toBe(true);
      expect(JSON.parse(exchanged.answer.body)).toMatchObject({ active: true, aud: 'https://api.example.com' });
      // A token the cache has not seen: the lane waits for the store.
      const fresh = await createToken(t, admin, { scopes: ['tokens:read'] });
      expect(JSON.parse((await both({ token: fresh.token })).answer.body)).toMatchObject({ active: true, jti: fresh.id });
      expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/me/tokens/${fresh.id}`, headers: asSession(admin) })).statusCode).toBe(204);
      expect((await both({ token: fresh.token })).answer.body).toBe('{"active":false}');
    });

    it('answers the route\'s errors for a body it cannot take, with the same bytes', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'] });
      await form(t, '/oauth/introspect', { token: pat.token }, basic(client));
      const cases: Array<[Record<string, string | string[]>, string]> = [
        [{}, 'token is required'],
        [{ token: '' }, 'token is required'],
        [{ token: [pat.token, pat.token] }, 'token must not be repeated'],
        [{ token: pat.token, token_type_hint: ['a', 'b'] }, 'token_type_hint must not be repeated'],
        [{ token: pat.token, client_secret: client.clientSecret }, 'use one client authentication method, not two'],
        [{ token: pat.token, client_id: 'kfc_someone_else' }, 'client_id does not match the Authorization header'],
        [{ token: pat.token, client_id: [client.clientId, client.clientId] }, 'client_id must not be repeated'],
      ];
      for (const [params, description] of cases) {
        const { answer, tookIt } = await both(params);
        expect(tookIt, description).toBe(true);
        expect(answer.status, description).toBe(400);
        expect(JSON.parse(answer.body), description).toEqual({ error: 'invalid_request', error_description: description });
        expect(answer.headers['cache-control']).toBe('no-store');
      }
      // The client naming itself in the body as well is allowed.
      expect((await both({ token: pat.token, client_id: client.clientId })).answer.status).toBe(200);
    });

    it('leaves to Fastify what it cannot decide from the headers, and Fastify answers it', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'] });
      await form(t, '/oauth/introspect', { token: pat.token }, basic(client));
      const body = formBody({ token: pat.token });
      const before = served();
      // A client not yet in the cache (its first request), and one that may not introspect.
      const other = await createClient(t, admin, { allowedAudiences: ['https://api.example.com'] });
      expect((await both({ token: pat.token }, { ...formType, ...basic(other) })).tookIt).toBe(false);
      expect((await both({ token: pat.token }, { ...formType, ...basic(other) })).tookIt).toBe(true);
      const noIntrospection = await createClient(t, admin, { introspection: false });
      await form(t, '/oauth/introspect', { token: pat.token }, basic(noIntrospection));
      const refused = await both({ token: pat.token }, { ...formType, ...basic(noIntrospection) });
      expect(refused).toMatchObject({ tookIt: false, answer: { status: 400 } });
      expect(JSON.parse(refused.answer.body).error).toBe('unauthorized_client');
      const left = served();
      // No credentials, a wrong secret, another content type, a query string, a chunked body.
      expect((await raw(port, { headers: formType, body })).status).toBe(401);
      expect((await raw(port, { headers: { ...formType, ...basic({ ...client, clientSecret: 'wrong' }) }, body })).status).toBe(401);
      expect((await raw(port, { headers: { 'content-type': 'application/json', ...basic(client) }, body: JSON.stringify({ token: pat.token }) })).status).toBe(400);
      expect((await raw(port, { path: '/oauth/introspect?x=1', headers: { ...formType, ...basic(client) }, body })).status).toBe(200);
      expect((await raw(port, { headers: { 'content-type': 'application/x-www-form-urlencoded; charset=latin1', ...basic(client) }, body })).status).toBe(200);
      const chunked = await raw(port, { headers: { ...formType, ...basic(client) }, body, chunked: true });
      expect(chunked.status).toBe(200);
      expect(JSON.parse(chunked.body)).toMatchObject({ active: true, jti: pat.id });
      // Over the route's 16 KiB limit: Fastify's 413.
      expect((await raw(port, { headers: { ...formType, ...basic(client) }, body: formBody({ token: 'x'.repeat(17 * 1024) }) })).status).toBe(413);
      expect(served()).toBe(left);
      expect(left).toBe(before + 1);
    });

    it('hands a request to the route when its client changed between the headers and the body', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'] });
      const changing = await createClient(t, admin);
      const headers = { ...formType, ...basic(changing) };
      await form(t, '/oauth/introspect', { token: pat.token }, basic(changing));
      const before = served();
      const failuresBefore = await metric(t, /keyfob_oauth_errors_total\{endpoint="\/oauth\/introspect",error="invalid_client"\} (\d+)/);
      const requestsBefore = await metric(t, /keyfob_http_requests_total\{method="POST",route="\/oauth\/introspect",status="401"\} (\d+)/);
      // Taken on its headers while the client was cached; the client is disabled before its body.
      const answer = await raw(port, {
        headers,
        body: formBody({ token: pat.token }),
        beforeBody: async () => {
          // The lane takes a request when its headers arrive: wait for that, then change the client.
          await untilTaken(served, before);
          const res = await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/clients/${changing.clientId}`, headers: asSession(admin), payload: { disabled: true } });
          expect(res.statusCode).toBe(200);
        },
      });
      expect(served()).toBe(before + 1);
      const injected = await t.app.inject({ method: 'POST', url: '/oauth/introspect', headers, payload: formBody({ token: pat.token }) });
      expect(answer).toEqual(answerOf(injected));
      expect(answer.status).toBe(401);
      expect(JSON.parse(answer.body).error).toBe('invalid_client');
      // Counted once each, by the route (through Fastify), for both requests.
      expect(await metric(t, /keyfob_oauth_errors_total\{endpoint="\/oauth\/introspect",error="invalid_client"\} (\d+)/)).toBe(failuresBefore + 2);
      expect(await metric(t, /keyfob_http_requests_total\{method="POST",route="\/oauth\/introspect",status="401"\} (\d+)/)).toBe(requestsBefore + 2);
    });

    it('counts its answers in /metrics under the route, as Fastify does', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'] });
      await form(t, '/oauth/introspect', { token: pat.token }, basic(client));
      const count = (status: number) => metric(t, new RegExp(`keyfob_http_requests_total\\{method="POST",route="/oauth/introspect",status="${status}"\\} (\\d+)`));
      const errors = () => metric(t, /keyfob_oauth_errors_total\{endpoint="\/oauth\/introspect",error="invalid_request"\} (\d+)/);
      const [ok, bad, errorCount, before] = [await count(200), await count(400), await errors(), served()];
      await raw(port, { headers: { ...formType, ...basic(client) }, body: formBody({ token: pat.token }) });
      await raw(port, { headers: { ...formType, ...basic(client) }, body: formBody({}) });
      expect(served()).toBe(before + 2);
      expect(await count(200)).toBe(ok + 1);
      expect(await count(400)).toBe(bad + 1);
      expect(await errors()).toBe(errorCount + 1);
    });
  });
}


describe('the introspection lane while an address is blocked for failed authentication', () => {
  it('leaves every introspection to the route, and takes them again once the block is over', async () => {
    const t = await createTestApp(DIALECTS[0]!, { KEYFOB_ACCESS_LOG: 'off', KEYFOB_LIMIT_AUTH_FAILURES: '2/1m' });
    try {
      const admin = await setupAdmin(t);
      const client = await createClient(t, admin);
      const pat = await createToken(t, admin, { scopes: ['tokens:read'] });
      const port = await listenOnLoopback(t);
      const good = { 'content-type': 'application/x-www-form-urlencoded', ...basic(client) };
      const body = formBody({ token: pat.token });
      expect((await raw(port, { headers: good, body })).status).toBe(200);
      const lane = t.app.introspectionLane!;
      const taken = lane.served;
      expect((await raw(port, { headers: good, body })).status).toBe(200);
      expect(lane.served).toBe(taken + 1);
      const wrong = { 'content-type': 'application/x-www-form-urlencoded', ...basic({ ...client, clientSecret: 'wrong' }) };
      for (let i = 0; i < 3; i++) await raw(port, { headers: wrong, body });
      // The address is blocked: the route's onRequest hook answers, the cached client notwithstanding.
      const blocked = await raw(port, { headers: good, body });
      expect(blocked.status).toBe(429);
      expect(lane.served).toBe(taken + 1);
      t.clock.advance(61_000);
      // The block is over; the client's cache entry too, so its first request goes through the route again.
      expect((await raw(port, { headers: good, body })).status).toBe(200);
      expect((await raw(port, { headers: good, body })).status).toBe(200);
      expect(lane.served).toBe(taken + 2);
    } finally {
      await t.close();
    }
  });
});

describe('the introspection lane while the store is down (D1)', () => {
  it('answers a token the cache has not seen 503 temporarily_unavailable with Retry-After, as the route does', async () => {
    const t = await createTestApp(DIALECTS[0]!, { KEYFOB_ACCESS_LOG: 'off' });
    try {
      const admin = await setupAdmin(t);
      const client = await createClient(t, admin);
      const seen = await createToken(t, admin, { scopes: ['tokens:read'] });
      const unseen = await createToken(t, admin, { scopes: ['tokens:read'] });
      await form(t, '/oauth/introspect', { token: seen.token }, basic(client));
      const port = await listenOnLoopback(t);
      await t.container.store.db.destroy();
      const headers = { 'content-type': 'application/x-www-form-urlencoded', ...basic(client) };
      const before = t.app.introspectionLane!.served;
      const viaLane = await raw(port, { headers, body: formBody({ token: unseen.token }) });
      expect(t.app.introspectionLane!.served).toBe(before + 1);
      const injected = await t.app.inject({ method: 'POST', url: '/oauth/introspect', headers, payload: formBody({ token: unseen.token }) });
      expectStoreOutageAsRoute(viaLane, injected);
    } finally {
      await t.close().catch(() => {});
    }
  });
});

describe('the introspection lane with the access log on', () => {
  it('does not exist: every request is Fastify\'s, which logs it', async () => {
    const t = await createTestApp(DIALECTS[0]!, { KEYFOB_ACCESS_LOG: 'on' });
    try {
      expect(t.app.introspectionLane).toBeNull();
    } finally {
      await t.close();
    }
  });
});
