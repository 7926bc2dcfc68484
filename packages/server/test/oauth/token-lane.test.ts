import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/dialects.js';
import { asSession, createTestApp, createToken, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';
import { answerOf, expectStoreOutageAsRoute, listenOnLoopback, loopback, untilTaken, type Answer } from '../helpers/loopback.js';
import { basic, createClient, decodeJwt, exchangeParams, form, formBody, metric, type TestClient } from '../helpers/oauth.js';

/**
 * The token lane (src/http/routes/oauth/oauth-form-lane.ts with `tokenEndpoint`) answers RFC 8693
 * exchanges by a cached client on node:http, before Fastify. Each case is sent over loopback
 * (where the lane may take it) and through Fastify's inject (which never reaches the lane): errors
 * must be the same bytes, and a token issued either way the same token but for its own jti and
 * times. The lane's count of requests served tells which way a loopback request went.
 */

const formType = { 'content-type': 'application/x-www-form-urlencoded' };
const USER_AGENT = { 'user-agent': 'token-lane-test/1.0' };


function post(port: number, headers: Record<string, string>, body: string, options: { chunked?: boolean } = {}): Promise<Answer> {
  return loopback(port, { method: 'POST', path: '/oauth/token', headers, body, ...options });
}


/** An issued token without what differs from one exchange to the next (its id and times). */
function issued(answer: { body: string }): Record<string, unknown> {
  const { access_token: accessToken, ...rest } = JSON.parse(answer.body) as Record<string, unknown>;
  const { header, payload } = decodeJwt(accessToken as string);
  const { jti, iat, exp, ...claims } = payload;
  expect(typeof jti).toBe('string');
  expect(Number(exp) - Number(iat)).toBeGreaterThan(0);
  return { ...rest, header, claims };
}

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`the token lane answers as the route does [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    let client: TestClient;
    let port: number;
    beforeAll(async () => {
      // The lane exists only with the access log off (its lines are Fastify's) and no proxy trusted.
      t = await createTestApp(dialect, { KEYFOB_ACCESS_LOG: 'off' });
      admin = await setupAdmin(t);
      client = await createClient(t, admin, { allowedAudiences: ['https://api.example.com', 'https://other.example.com'], allowedScopes: ['tokens:read'] });
      port = await listenOnLoopback(t);
    });
    afterAll(async () => t?.close());

    const served = () => t.app.tokenLane!.served;
    const headersOf = (c: TestClient = client) => ({ ...formType, ...basic(c), ...USER_AGENT });

    /** The same request over loopback and through inject (from the same address); whether the lane took the first. */
    async function both(params: Record<string, string | string[]>, headers: Record<string, string> = headersOf()) {
      const before = served();
      const viaLoopback = await post(port, headers, formBody(params));
      const tookIt = served() > before;
      const res = await t.app.inject({ method: 'POST', url: '/oauth/token', headers, payload: formBody(params), remoteAddress: '127.0.0.1' });
      expect(served(), 'inject never reaches the lane').toBe(before + (tookIt ? 1 : 0));
      return { viaLoopback, injected: answerOf(res), tookIt };
    }

    it('takes a cached client\'s exchange, issues the token the route issues, and audits it alike', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read', 'tokens:write'], audiences: ['https://api.example.com'] });
      // The client's first authentication goes through the route and fills the cache.
      await form(t, '/oauth/token', exchangeParams(pat.token), basic(client));
      const { viaLoopback, injected, tookIt } = await both(exchangeParams(pat.token));
      expect(tookIt).toBe(true);
      expect(viaLoopback.status).toBe(200);
      expect(viaLoopback.headers).toEqual({ ...injected.headers, 'content-length': viaLoopback.headers['content-length'] });
      expect(viaLoopback.headers).toMatchObject({ 'cache-control': 'no-store', pragma: 'no-cache', 'content-type': 'application/json; charset=utf-8' });
      expect(issued(viaLoopback)).toEqual(issued(injected));
      expect(issued(viaLoopback)).toMatchObject({ token_type: 'Bearer', scope: 'tokens:read', claims: { sub: admin.userId, aud: 'https://api.example.com', kf_pat_id: pat.id } });
      // Both exchanges audited, with the caller's address and user agent, the newest first.
      const audit = await t.app.inject({ method: 'GET', url: `/api/v1/admin/audit?action=token.exchanged&targetId=${pat.id}`, headers: asSession(admin) });
      const [fromRoute, fromLane] = audit.json().items as Array<Record<string, unknown> & { details: Record<string, unknown> }>;
      expect(fromLane!.details.jti).toBe(decodeJwt(JSON.parse(viaLoopback.body).access_token).payload['jti']);
      expect(fromRoute!.details.jti).toBe(decodeJwt(JSON.parse(injected.body).access_token).payload['jti']);
      for (const event of [fromLane!, fromRoute!]) {
        expect(event).toMatchObject({ actorUserId: admin.userId, actorTokenId: pat.id, ip: '127.0.0.1', userAgent: USER_AGENT['user-agent'] });
      }
      const { jti: _lane, expiresAt: _laneExpiry, ...laneDetails } = fromLane!.details;
      const { jti: _route, expiresAt: _routeExpiry, ...routeDetails } = fromRoute!.details;
      expect(laneDetails).toEqual(routeDetails);
    });

    it('answers the route\'s errors with the same bytes', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'], audiences: ['https://api.example.com'] });
      await form(t, '/oauth/token', exchangeParams(pat.token), basic(client));
      const cases: Array<[Record<string, string | string[]>, number, string]> = [
        [{}, 400, 'invalid_request'],
        [{ ...exchangeParams(pat.token), grant_type: 'client_credentials' }, 400, 'unsupported_grant_type'],
        [{ ...exchangeParams(pat.token), grant_type: [exchangeParams(pat.token).grant_type as string, 'x'] }, 400, 'invalid_request'],
        [exchangeParams('kf_pat_unknown0000000000000000000000000000000'), 400, 'invalid_request'],
        [{ ...exchangeParams(pat.token), subject_token_type: 'urn:x' }, 400, 'invalid_request'],
        [{ ...exchangeParams(pat.token), actor_token: 'x' }, 400, 'invalid_request'],
        [exchangeParams(pat.token, { resource: 'https://other.example.com' }), 400, 'invalid_target'],
        [exchangeParams(pat.token, { resource: 'https://unknown.example.com' }), 400, 'invalid_target'],
        [exchangeParams(pat.token, { scope: 'tokens:write' }), 400, 'invalid_scope'],
        [{ ...exchangeParams(pat.token), client_secret: client.clientSecret }, 400, 'invalid_request'],
        [{ ...exchangeParams(pat.token), client_id: 'kfc_someone_else' }, 400, 'invalid_request'],
      ];
      for (const [params, status, error] of cases) {
        const label = JSON.stringify(params);
        const { viaLoopback, injected, tookIt } = await both(params);
        expect(tookIt, label).toBe(true);
        expect(viaLoopback, label).toEqual(injected);
        expect(viaLoopback.status, label).toBe(status);
        expect(JSON.parse(viaLoopback.body).error, label).toBe(error);
        expect(viaLoopback.headers['cache-control'], label).toBe('no-store');
      }
    });

    it('leaves to Fastify what it cannot decide from the headers, and Fastify answers it', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'], audiences: ['https://api.example.com'] });
      const body = formBody(exchangeParams(pat.token));
      const other = await createClient(t, admin, { allowedAudiences: ['https://api.example.com'] });
      // Its first request fills the cache through the route; its second is the lane's.
      expect((await both(exchangeParams(pat.token), headersOf(other))).tookIt).toBe(false);
      expect((await both(exchangeParams(pat.token), headersOf(other))).tookIt).toBe(true);
      const left = served();
      // client_secret_post, a wrong secret, another content type, a query string, a chunked body, an oversized body.
      expect((await post(port, formType, formBody({ ...exchangeParams(pat.token), client_id: other.clientId, client_secret: other.clientSecret }))).status).toBe(200);
      expect((await post(port, { ...formType, ...basic({ ...other, clientSecret: 'wrong' }) }, body)).status).toBe(401);
      expect((await post(port, { 'content-type': 'application/json', ...basic(other) }, JSON.stringify(exchangeParams(pat.token)))).status).toBe(400);
      expect((await loopback(port, { method: 'POST', path: '/oauth/token?x=1', headers: headersOf(other), body })).status).toBe(200);
      expect((await post(port, headersOf(other), body, { chunked: true })).status).toBe(200);
      expect((await post(port, headersOf(other), formBody({ ...exchangeParams(pat.token), scope: 'x'.repeat(17 * 1024) }))).status).toBe(413);
      expect(served()).toBe(left);
    });

    it('holds the PAT to its IP allow-list by the socket\'s address, as the route does', async () => {
      const elsewhere = await createToken(t, admin, { scopes: ['tokens:read'], audiences: ['https://api.example.com'], allowedIps: ['10.0.0.0/8'] });
      const here = await createToken(t, admin, { scopes: ['tokens:read'], audiences: ['https://api.example.com'], allowedIps: ['127.0.0.1/32'] });
      await form(t, '/oauth/token', exchangeParams(here.token), basic(client));
      const refused = await both(exchangeParams(elsewhere.token));
      expect(refused.tookIt).toBe(true);
      expect(refused.viaLoopback).toEqual(refused.injected);
      expect(JSON.parse(refused.viaLoopback.body).error).toBe('invalid_request');
      const allowed = await both(exchangeParams(here.token));
      expect(allowed.tookIt).toBe(true);
      expect(allowed.viaLoopback.status).toBe(200);
      expect(issued(allowed.viaLoopback)).toEqual(issued(allowed.injected));
    });

    it('hands an exchange to the route when its client is disabled between the headers and the body: no token, no audit event', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'], audiences: ['https://api.example.com'] });
      const changing = await createClient(t, admin, { allowedAudiences: ['https://api.example.com'] });
      await form(t, '/oauth/token', exchangeParams(pat.token), basic(changing));
      const before = served();
      const answer = await loopback(port, {
        method: 'POST',
        path: '/oauth/token',
        headers: headersOf(changing),
        body: formBody(exchangeParams(pat.token)),
        beforeBody: async () => {
          // The lane takes a request when its headers arrive: wait for that, then disable the client.
          await untilTaken(served, before);
          const res = await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/clients/${changing.clientId}`, headers: asSession(admin), payload: { disabled: true } });
          expect(res.statusCode).toBe(200);
        },
      });
      expect(served()).toBe(before + 1);
      const injected = await t.app.inject({ method: 'POST', url: '/oauth/token', headers: headersOf(changing), payload: formBody(exchangeParams(pat.token)), remoteAddress: '127.0.0.1' });
      expect(answer).toEqual(answerOf(injected));
      expect(answer.status).toBe(401);
      expect(JSON.parse(answer.body).error).toBe('invalid_client');
      const audit = await t.app.inject({ method: 'GET', url: `/api/v1/admin/audit?action=token.exchanged&targetId=${pat.id}`, headers: asSession(admin) });
      expect((audit.json().items as Array<{ details: { clientId: string } }>).map((event) => event.details.clientId)).toEqual([changing.clientId]);
    });

    it('counts its exchanges in /metrics under the route and by outcome, once each', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'], audiences: ['https://api.example.com'] });
      await form(t, '/oauth/token', exchangeParams(pat.token), basic(client));
      const requests = (status: number) => metric(t, new RegExp(`keyfob_http_requests_total\\{method="POST",route="/oauth/token",status="${status}"\\} (\\d+)`));
      const outcome = (name: string) => metric(t, new RegExp(`keyfob_oauth_token_exchanges_total\\{outcome="${name}"\\} (\\d+)`));
      const errors = () => metric(t, /keyfob_oauth_errors_total\{endpoint="\/oauth\/token",error="invalid_scope"\} (\d+)/);
      const before = [await requests(200), await requests(400), await outcome('ok'), await outcome('invalid_scope'), await errors(), served()];
      expect((await post(port, headersOf(), formBody(exchangeParams(pat.token)))).status).toBe(200);
      expect((await post(port, headersOf(), formBody(exchangeParams(pat.token, { scope: 'tokens:write' })))).status).toBe(400);
      expect([await requests(200), await requests(400), await outcome('ok'), await outcome('invalid_scope'), await errors(), served()]).toEqual(before.map((n, i) => n + (i === 5 ? 2 : 1)));
    });
  });
}

describe('the token lane and the exchange limit per PAT', () => {
  it('answers 429 too_many_requests past the limit, as the route does', async () => {
    const t = await createTestApp(DIALECTS[0]!, { KEYFOB_ACCESS_LOG: 'off', KEYFOB_LIMIT_EXCHANGES: '2/1m' });
    try {
      const admin = await setupAdmin(t);
      const client = await createClient(t, admin, { allowedAudiences: ['https://api.example.com'] });
      const pat = await createToken(t, admin, { scopes: ['tokens:read'], audiences: ['https://api.example.com'] });
      const port = await listenOnLoopback(t);
      const headers = { ...formType, ...basic(client) };
      const body = formBody(exchangeParams(pat.token));
      expect((await post(port, headers, body)).status).toBe(200);
      const taken = t.app.tokenLane!.served;
      expect((await post(port, headers, body)).status).toBe(200);
      const limited = await post(port, headers, body);
      expect(t.app.tokenLane!.served).toBe(taken + 2);
      const injected = await t.app.inject({ method: 'POST', url: '/oauth/token', headers, payload: body, remoteAddress: '127.0.0.1' });
      expect(limited).toEqual(answerOf(injected));
      expect(limited.status).toBe(429);
      expect(JSON.parse(limited.body).error).toBe('too_many_requests');
      expect(limited.headers['retry-after']).toBeDefined();
    } finally {
      await t.close();
    }
  });
});

describe('the token lane while an address is blocked for failed authentication', () => {
  it('leaves every exchange to the route, which refuses it 429', async () => {
    const t = await createTestApp(DIALECTS[0]!, { KEYFOB_ACCESS_LOG: 'off', KEYFOB_LIMIT_AUTH_FAILURES: '2/1m' });
    try {
      const admin = await setupAdmin(t);
      const client = await createClient(t, admin, { allowedAudiences: ['https://api.example.com'] });
      const pat = await createToken(t, admin, { scopes: ['tokens:read'], audiences: ['https://api.example.com'] });
      const port = await listenOnLoopback(t);
      const body = formBody(exchangeParams(pat.token));
      const good = { ...formType, ...basic(client) };
      expect((await post(port, good, body)).status).toBe(200);
      const lane = t.app.tokenLane!;
      const taken = lane.served;
      expect((await post(port, good, body)).status).toBe(200);
      expect(lane.served).toBe(taken + 1);
      for (let i = 0; i < 3; i++) await post(port, { ...formType, ...basic({ ...client, clientSecret: 'wrong' }) }, body);
      // The cached client notwithstanding, the route's onRequest hook answers for the blocked address.
      const blocked = await post(port, good, body);
      expect(blocked.status).toBe(429);
      expect(JSON.parse(blocked.body).error).toBe('too_many_requests');
      expect(lane.served).toBe(taken + 1);
    } finally {
      await t.close();
    }
  });
});

describe('the token lane while the store is down (D1)', () => {
  it('answers 503 temporarily_unavailable: no token is issued unaudited', async () => {
    const t = await createTestApp(DIALECTS[0]!, { KEYFOB_ACCESS_LOG: 'off' });
    try {
      const admin = await setupAdmin(t);
      const client = await createClient(t, admin, { allowedAudiences: ['https://api.example.com'] });
      const pat = await createToken(t, admin, { scopes: ['tokens:read'], audiences: ['https://api.example.com'] });
      const headers = { ...formType, ...basic(client) };
      // Client and token cached: the exchange reaches its audit write, which the store must take.
      await form(t, '/oauth/token', exchangeParams(pat.token), basic(client));
      const port = await listenOnLoopback(t);
      await t.container.store.db.destroy();
      const before = t.app.tokenLane!.served;
      const viaLane = await post(port, headers, formBody(exchangeParams(pat.token)));
      expect(t.app.tokenLane!.served).toBe(before + 1);
      const injected = await t.app.inject({ method: 'POST', url: '/oauth/token', headers, payload: formBody(exchangeParams(pat.token)), remoteAddress: '127.0.0.1' });
      expectStoreOutageAsRoute(viaLane, injected);
    } finally {
      await t.close().catch(() => {});
    }
  });
});

describe('the token lane while Fastify closes', () => {
  it('answers an exchange it can no longer hand to the route 503 temporarily_unavailable, and closes the connection', async () => {
    const t = await createTestApp(DIALECTS[0]!, { KEYFOB_ACCESS_LOG: 'off' });
    let closing: Promise<void> | undefined;
    try {
      const admin = await setupAdmin(t);
      const client = await createClient(t, admin, { allowedAudiences: ['https://api.example.com'] });
      const pat = await createToken(t, admin, { scopes: ['tokens:read'], audiences: ['https://api.example.com'] });
      await form(t, '/oauth/token', exchangeParams(pat.token), basic(client));
      const port = await listenOnLoopback(t);
      const lane = t.app.tokenLane!;
      const before = lane.served;
      const body = formBody(exchangeParams(pat.token));
      const answer = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/oauth/token', headers: { ...formType, ...basic(client), 'content-length': String(body.length) } }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
        });
        req.on('error', reject);
        req.flushHeaders();
        void (async () => {
          // Taken on its headers; then its client changes (the route must judge it) and Fastify begins to close.
          await untilTaken(() => lane.served, before);
          const res = await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/clients/${client.clientId}`, headers: asSession(admin), payload: { disabled: true } });
          expect(res.statusCode).toBe(200);
          closing = t.app.close();
          for (let tries = 0; ; tries++) {
            const refused = await t.app.inject({ method: 'GET', url: '/healthz' }).then(() => false, (error: { code?: string }) => error.code === 'FST_ERR_REOPENED_CLOSE_SERVER');
            if (refused) break;
            if (tries > 500) throw new Error('Fastify did not begin to close');
            await new Promise((r) => setTimeout(r, 2));
          }
          req.end(body);
        })().catch(reject);
      });
      expect(lane.served).toBe(before + 1);
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'temporarily_unavailable' });
      expect(answer.headers['retry-after']).toBe('1');
      expect(answer.headers['cache-control']).toBe('no-store');
      expect(answer.headers.connection).toBe('close');
      expect(t.logs.join('')).not.toContain('could not answer');
      await closing;
    } finally {
      if (closing === undefined) await t.close();
      else {
        await closing.catch(() => {});
        await t.db.drop();
      }
    }
  });
});

describe('the token lane where it must not exist', () => {
  it('is absent behind a trusted proxy (the caller\'s address is Fastify\'s to work out) and with the access log on', async () => {
    for (const env of [{ KEYFOB_ACCESS_LOG: 'off', KEYFOB_TRUST_PROXY: 'loopback' }, { KEYFOB_ACCESS_LOG: 'on' }]) {
      const t = await createTestApp(DIALECTS[0]!, env);
      try {
        expect(t.app.tokenLane, JSON.stringify(env)).toBeNull();
      } finally {
        await t.close();
      }
    }
  });
});
