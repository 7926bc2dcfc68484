import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/dialects.js';
import { DAY } from '../helpers/clock.js';
import { answerOf, listenOnLoopback, loopback, type Answer } from '../helpers/loopback.js';
import { asSession, bearer, createTestApp, createToken, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';

/**
 * The token-self lane (src/http/routes/api/token-self-lane.ts) answers GET /api/v1/tokens/self
 * with a cached token on node:http, before Fastify, with the text the route wrote for it. Each
 * case is sent over loopback (where the lane may take it) and through inject (which never
 * reaches it), and the answers must be the same bytes; the lane's count tells which way a
 * loopback request went, and the verifier's counts that each request was verified once.
 */

function get(port: number, path: string, headers: Record<string, string>): Promise<Answer> {
  return loopback(port, { method: 'GET', path, headers });
}

const PATH = '/api/v1/tokens/self';

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`the token-self lane answers as the route does [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    let port: number;
    beforeAll(async () => {
      // The lane exists only with the access log off (its lines are Fastify's); the suites' apps log.
      t = await createTestApp(dialect, { KEYFOB_ACCESS_LOG: 'off' });
      admin = await setupAdmin(t);
      port = await listenOnLoopback(t);
    });
    afterAll(async () => t?.close());

    const served = () => t.app.tokenSelfLane!.served;
    const verified = () => t.container.verifier.stats.outcomes.ok;

    /** The same request over loopback and through inject; returns the loopback answer and whether the lane took it. */
    async function both(headers: Record<string, string>, path = PATH) {
      const before = served();
      const viaLoopback = await get(port, path, headers);
      const tookIt = served() > before;
      const injected = await t.app.inject({ method: 'GET', url: path, headers });
      expect(served(), 'inject never reaches the lane').toBe(before + (tookIt ? 1 : 0));
      expect(viaLoopback).toEqual(answerOf(injected));
      return { answer: viaLoopback, tookIt };
    }

    it('leaves a token\'s first request to the route, and answers the next ones with the route\'s bytes', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'], expiresInDays: 30 });
      const first = await both(bearer(pat.token));
      expect(first.tookIt).toBe(false);
      const before = verified();
      const next = await both(bearer(pat.token));
      expect(next.tookIt).toBe(true);
      expect(next.answer.status).toBe(200);
      expect(next.answer.headers['cache-control']).toBe('no-store');
      expect(JSON.parse(next.answer.body)).toMatchObject({ id: pat.id, status: 'active' });
      // Verified once on each way: the lane's request and the injected one.
      expect(verified()).toBe(before + 2);
    });

    it('says when a token is about to expire, as the route does', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'], expiresInDays: 3 });
      await both(bearer(pat.token));
      const { answer, tookIt } = await both(bearer(pat.token));
      expect(tookIt).toBe(true);
      expect(answer.headers['keyfob-token-expiration']).toBe(new Date(t.clock.now() + 3 * DAY).toISOString());
    });

    it('leaves every failure to the route, which verifies it once', async () => {
      const revoked = await createToken(t, admin, { scopes: ['tokens:read'] });
      await both(bearer(revoked.token));
      expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/me/tokens/${revoked.id}`, headers: asSession(admin) })).statusCode).toBe(204);
      const elsewhere = await createToken(t, admin, { scopes: ['tokens:read'], allowedIps: ['10.0.0.0/8'] });
      const expiring = await createToken(t, admin, { scopes: ['tokens:read'], expiresInDays: 1 });
      await both(bearer(expiring.token));
      await both(bearer(expiring.token));
      t.clock.advance(2 * DAY);
      const cases: Array<[Record<string, string>, number]> = [
        [bearer(revoked.token), 401],
        [bearer(elsewhere.token), 401],
        [bearer(expiring.token), 401],
        [bearer('kf_pat_unknown0000000000000000000000000000000'), 401],
        [{ authorization: 'Token abc' }, 400],
        [{}, 401],
      ];
      for (const [headers, status] of cases) {
        const failedBefore = Object.values(t.container.verifier.stats.outcomes).reduce((a, b) => a + b, 0);
        const { answer, tookIt } = await both(headers);
        expect(tookIt, JSON.stringify(headers)).toBe(false);
        expect(answer.status, JSON.stringify(headers)).toBe(status);
        const failedAfter = Object.values(t.container.verifier.stats.outcomes).reduce((a, b) => a + b, 0);
        // Twice (loopback and inject) for a bearer token the verifier looked at, never more.
        expect(failedAfter - failedBefore).toBeLessThanOrEqual(2);
      }
    });

    it('leaves to Fastify what the API guard or the route must judge', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'] });
      await both(bearer(pat.token));
      expect((await both(bearer(pat.token))).tookIt).toBe(true);
      const left = served();
      // A query string, a body's content type, a session instead of a token.
      expect((await both(bearer(pat.token), `${PATH}?access_token=x`)).answer.status).toBe(400);
      expect((await both({ ...bearer(pat.token), 'content-type': 'application/x-www-form-urlencoded' })).answer.status).toBe(400);
      expect((await both(asSession(admin))).answer.status).toBe(401);
      expect(served()).toBe(left);
    });

    it('takes a token allowed from this address only, and records the use with the address', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'], allowedIps: ['127.0.0.1/32'] });
      await both(bearer(pat.token));
      const before = served();
      expect((await get(port, PATH, bearer(pat.token))).status).toBe(200);
      expect(served()).toBe(before + 1);
      await t.container.usage.flush();
      const listed = await t.app.inject({ method: 'GET', url: `/api/v1/me/tokens/${pat.id}`, headers: asSession(admin) });
      expect(listed.json().lastUsedIp).toBe('127.0.0.1');
    });

    it('counts its answers in /metrics under the route, as Fastify does', async () => {
      const pat = await createToken(t, admin, { scopes: ['tokens:read'] });
      await both(bearer(pat.token));
      const count = async () => {
        const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
        return Number(/keyfob_http_requests_total\{method="GET",route="\/api\/v1\/tokens\/self",status="200"\} (\d+)/.exec(text)?.[1] ?? 0);
      };
      const [ok, before] = [await count(), served()];
      await get(port, PATH, bearer(pat.token));
      expect(served()).toBe(before + 1);
      expect(await count()).toBe(ok + 1);
    });
  });
}

describe('the token-self lane while an address is blocked for failed authentication', () => {
  it('leaves the request to the route, which refuses it, and verifies nothing', async () => {
    const t = await createTestApp(DIALECTS[0]!, { KEYFOB_ACCESS_LOG: 'off', KEYFOB_LIMIT_AUTH_FAILURES: '2/1m' });
    try {
      const admin = await setupAdmin(t);
      const pat = await createToken(t, admin, { scopes: ['tokens:read'] });
      const port = await listenOnLoopback(t);
      expect((await get(port, PATH, bearer(pat.token))).status).toBe(200);
      expect((await get(port, PATH, bearer(pat.token))).status).toBe(200);
      const lane = t.app.tokenSelfLane!;
      const taken = lane.served;
      expect(taken).toBeGreaterThan(0);
      for (let i = 0; i < 3; i++) await get(port, PATH, bearer('kf_pat_unknown0000000000000000000000000000000'));
      const ok = t.container.verifier.stats.outcomes.ok;
      expect((await get(port, PATH, bearer(pat.token))).status).toBe(429);
      expect(lane.served).toBe(taken);
      expect(t.container.verifier.stats.outcomes.ok).toBe(ok);
    } finally {
      await t.close();
    }
  });
});

describe('the token-self lane behind a trusted proxy', () => {
  it('does not exist: the caller\'s address is Fastify\'s to work out', async () => {
    const t = await createTestApp(DIALECTS[0]!, { KEYFOB_ACCESS_LOG: 'off', KEYFOB_TRUST_PROXY: 'loopback' });
    try {
      expect(t.app.tokenSelfLane).toBeNull();
      expect(t.app.introspectionLane).not.toBeNull();
    } finally {
      await t.close();
    }
  });
});
