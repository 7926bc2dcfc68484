import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '@keyfob/protocol';
import { sqlite } from '../helpers/dialects.js';
import { basic, createClient, exchangeParams, form, type TestClient } from '../helpers/oauth.js';
import { asSession, bearer, createToken, createUser, createTestApp, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';

const MINUTE = 60_000;

function unknownToken(): string {
  return generateToken('kf_pat').token;
}

function expectLimited(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, shape: 'api' | 'oauth' = 'api'): void {
  expect(res.statusCode).toBe(429);
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  if (shape === 'api') expect(res.json()).toMatchObject({ error: 'rate_limited', message: expect.any(String) });
  else expect(res.json()).toMatchObject({ error: 'too_many_requests', error_description: expect.any(String) });
}

describe('abuse limits: failed verifications per address', () => {
  let t: TestApp;
  let admin: Session;
  let good: string;
  beforeAll(async () => {
    // Behind a proxy at 127.0.0.1 (light-my-request's address): X-Forwarded-For names the client.
    t = await createTestApp(sqlite, { KEYFOB_LIMIT_AUTH_FAILURES: '5/1m', KEYFOB_TRUST_PROXY: '127.0.0.1' });
    admin = await setupAdmin(t);
    good = (await createToken(t, admin)).token;
  });
  afterAll(async () => t?.close());

  const self = (token: string, from: string) => t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: { ...bearer(token), 'x-forwarded-for': from } });

  it('answers 429 with Retry-After once an address has guessed too often, also for its good tokens; other addresses go on', async () => {
    for (let i = 0; i < 5; i++) expect((await self(unknownToken(), '203.0.113.9')).statusCode).toBe(401);
    expectLimited(await self(unknownToken(), '203.0.113.9'));
    expectLimited(await self(good, '203.0.113.9'));
    // A session from that address is refused too: the block is on the address, not the method.
    const blockedSession = await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { ...asSession(admin), 'x-forwarded-for': '203.0.113.9' } });
    expect(blockedSession.statusCode).toBe(429);

    expect((await self(good, '203.0.113.10')).statusCode).toBe(200);
    expect((await self(unknownToken(), '203.0.113.10')).statusCode).toBe(401);

    t.clock.advance(MINUTE + 1000);
    expect((await self(good, '203.0.113.9')).statusCode).toBe(200);
  });

  it('counts an IPv6 /64 as one address, so rotating inside it does not help', async () => {
    for (let i = 0; i < 5; i++) expect((await self(unknownToken(), `2001:db8:aa:bb::${i + 1}`)).statusCode).toBe(401);
    expectLimited(await self(good, '2001:db8:aa:bb:ffff:1:2:3'));
    expect((await self(good, '2001:db8:aa:cc::1')).statusCode).toBe(200);
  });

  it('does not count expired, revoked or under-scoped tokens (they are not guesses)', async () => {
    const revoked = await createToken(t, admin);
    await t.app.inject({ method: 'DELETE', url: `/api/v1/me/tokens/${revoked.id}`, headers: asSession(admin) });
    const narrow = await createToken(t, admin, { scopes: ['tokens:read'] });
    const shortLived = await createToken(t, admin, { expiresInDays: 1 });
    const from = '198.51.100.77';
    for (let i = 0; i < 4; i++) {
      expect((await self(revoked.token, from)).statusCode).toBe(401);
      const underScoped = await t.app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: { ...bearer(narrow.token), 'x-forwarded-for': from } });
      expect(underScoped.statusCode).toBe(403);
    }
    t.clock.advance(86_400_000 + 1);
    for (let i = 0; i < 4; i++) expect((await self(shortLived.token, from)).statusCode).toBe(401);
    expect((await self(good, from)).statusCode).toBe(200);
  });
});

describe('abuse limits: X-Forwarded-For from an untrusted peer', () => {
  let t: TestApp;
  let good: string;
  beforeAll(async () => {
    t = await createTestApp(sqlite, { KEYFOB_LIMIT_AUTH_FAILURES: '3/1m' });
    good = (await createToken(t, await setupAdmin(t))).token;
  });
  afterAll(async () => t?.close());

  it('is ignored: a client cannot spread its failures over addresses it makes up', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: { ...bearer(unknownToken()), 'x-forwarded-for': `192.0.2.${i + 1}` } });
      expect(res.statusCode).toBe(401);
    }
    expectLimited(await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: { ...bearer(good), 'x-forwarded-for': '192.0.2.200' } }));
  });
});

describe('abuse limits: sign-in', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(sqlite, { KEYFOB_LIMIT_LOGIN_PER_USER: '3/15m', KEYFOB_LIMIT_LOGIN_PER_IP: '6/15m' });
    const admin = await setupAdmin(t);
    for (const name of ['carol', 'dave', 'erin']) await createUser(t, admin, name);
  });
  afterAll(async () => t?.close());

  const login = (username: string, password: string, from: string) =>
    t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password }, remoteAddress: from });

  it('refuses a username after too many failures, even with the right password, until the window ends', async () => {
    for (let i = 0; i < 3; i++) expect((await login('carol', 'wrong-password', `192.0.2.${i + 1}`)).statusCode).toBe(401);
    expectLimited(await login('carol', 'carol-password-1', '192.0.2.50'));
    expectLimited(await login('CAROL', 'carol-password-1', '192.0.2.51'));
    expect((await login('dave', 'dave-password-1', '192.0.2.50')).statusCode).toBe(200);
    t.clock.advance(15 * MINUTE + 1000);
    expect((await login('carol', 'carol-password-1', '192.0.2.50')).statusCode).toBe(200);
  });

  it('holds for attempts made in parallel: no more than the limit are checked at all', async () => {
    const attempts = await Promise.all(Array.from({ length: 20 }, (_, i) => login('dave', `wrong-${i}`, `192.0.2.${100 + i}`)));
    const statuses = attempts.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 401)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(17);
    expectLimited(await login('dave', 'dave-password-1', '192.0.2.200'));
  });

  it('refuses an address that fails for many usernames', async () => {
    const from = '198.51.100.60';
    for (let i = 0; i < 6; i++) expect((await login(`nobody-${i}`, 'wrong-password', from)).statusCode).toBe(401);
    expectLimited(await login('erin', 'erin-password-1', from));
    expect((await login('erin', 'erin-password-1', '198.51.100.61')).statusCode).toBe(200);
  });
});

describe('abuse limits: token creation and exchange', () => {
  let t: TestApp;
  let admin: Session;
  let client: TestClient;
  beforeAll(async () => {
    t = await createTestApp(sqlite, { KEYFOB_LIMIT_TOKEN_CREATIONS: '3/1h', KEYFOB_LIMIT_EXCHANGES: '2/1m', KEYFOB_LIMIT_AUTH_FAILURES: '4/1m' });
    admin = await setupAdmin(t);
    client = await createClient(t, admin, { allowedAudiences: ['https://api.example.com'] });
  });
  afterAll(async () => t?.close());

  it('limits creations (and rotations) per user per hour, writing nothing past the limit', async () => {
    const user = await createUser(t, admin, 'maker');
    const first = await createToken(t, user);
    await createToken(t, user);
    const rotated = await t.app.inject({ method: 'POST', url: `/api/v1/me/tokens/${first.id}/rotate`, headers: asSession(user) });
    expect(rotated.statusCode).toBe(201);
    const refused = await t.app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers: asSession(user), payload: { name: 'one-too-many', scopes: ['tokens:read'] } });
    expectLimited(refused);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/me/tokens?status=all', headers: asSession(user) });
    expect(list.json().items.map((p: { name: string }) => p.name)).not.toContain('one-too-many');
    expect(list.json().items).toHaveLength(3);
    // Another user is not affected.
    await createToken(t, await createUser(t, admin, 'other-maker'));
    t.clock.advance(61 * MINUTE);
    await createToken(t, user);
  });

  it('limits exchanges per PAT per minute with an OAuth-shaped 429; another PAT goes on', async () => {
    const [a, b] = [await createToken(t, admin), await createToken(t, admin)];
    for (let i = 0; i < 2; i++) expect((await form(t, '/oauth/token', exchangeParams(a.token), basic(client))).statusCode).toBe(200);
    const refused = await form(t, '/oauth/token', exchangeParams(a.token), basic(client));
    expectLimited(refused, 'oauth');
    expect(refused.headers['cache-control']).toBe('no-store');
    expect((await form(t, '/oauth/token', exchangeParams(b.token), basic(client))).statusCode).toBe(200);
    t.clock.advance(MINUTE + 1000);
    expect((await form(t, '/oauth/token', exchangeParams(a.token), basic(client))).statusCode).toBe(200);
  });

  it('counts failed client authentication against the address, but not the bad subject tokens an authenticated client passes on', async () => {
    const wrong = { clientId: client.clientId, clientSecret: `${client.clientSecret}x` };
    const at = (headers: Record<string, string>, params: Record<string, string | string[]>, url = '/oauth/token', from = '203.0.113.80') =>
      t.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: new URLSearchParams(params as Record<string, string>).toString(), remoteAddress: from });
    // A gateway passing on its users' junk tokens is not locked out by them.
    for (let i = 0; i < 10; i++) expect((await at(basic(client), exchangeParams(unknownToken()) as Record<string, string>, '/oauth/token', '203.0.113.81')).statusCode).toBe(400);
    const good = await createToken(t, admin);
    expect((await at(basic(client), { token: good.token }, '/oauth/introspect', '203.0.113.81')).statusCode).toBe(200);
    // Wrong client secrets are guesses: after four, the address is refused, good secret or not.
    for (let i = 0; i < 4; i++) expect((await at(basic(wrong), exchangeParams(unknownToken()) as Record<string, string>)).statusCode).toBe(401);
    expectLimited(await at(basic(client), { token: good.token }, '/oauth/introspect'), 'oauth');
    const elsewhere = await form(t, '/oauth/introspect', { token: good.token }, basic(client));
    expect(elsewhere.statusCode).toBe(200);
    expect(elsewhere.json().active).toBe(true);
  });
});

describe('request size limits', () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await createTestApp(sqlite, { KEYFOB_MAX_HEADER_BYTES: '8192' });
    await setupAdmin(t);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => t?.close());

  it('answers 413 in the RFC 6749 shape for an oversized OAuth body', async () => {
    const res = await fetch(`${base}/oauth/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${'a'.repeat(20_000)}`,
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: 'invalid_request', error_description: expect.any(String) });
  });

  it('answers 431 for headers past KEYFOB_MAX_HEADER_BYTES, and keeps serving', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${base}/healthz`, { headers: { 'x-padding': 'p'.repeat(10_000) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(431);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});

const REDIS_URL = process.env['TEST_REDIS_URL'];
if (!REDIS_URL) console.warn('TEST_REDIS_URL is not set: the shared (Redis) rate-limit suite is skipped');

describe.skipIf(!REDIS_URL)('abuse limits shared through Redis', () => {
  const apps: TestApp[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });

  async function instances(count: number, env: Record<string, string>): Promise<TestApp[]> {
    for (let i = 0; i < count; i++) apps.push(await createTestApp(sqlite, { KEYFOB_TRUST_PROXY: '127.0.0.1', ...env }));
    return apps;
  }

  it('counts failures on every instance together', async () => {
    const prefix = `keyfob-test:${process.pid}:${Date.now()}:`;
    const [a, b] = await instances(2, { REDIS_URL: REDIS_URL!, KEYFOB_REDIS_PREFIX: prefix, KEYFOB_LIMIT_AUTH_FAILURES: '4/1m' });
    const self = (app: TestApp, from: string) => app!.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: { ...bearer(unknownToken()), 'x-forwarded-for': from } });
    expect((await self(a!, '203.0.113.5')).statusCode).toBe(401);
    expect((await self(a!, '203.0.113.5')).statusCode).toBe(401);
    expect((await self(b!, '203.0.113.5')).statusCode).toBe(401);
    expect((await self(b!, '203.0.113.5')).statusCode).toBe(401);
    // The fifth failure, on either instance, is past the shared limit.
    expectLimited(await self(a!, '203.0.113.5'));
    expectLimited(await self(b!, '203.0.113.5'));
    expect((await self(b!, '203.0.113.6')).statusCode).toBe(401);
  });

  it('counts sign-in attempts on every instance together, and gives successful ones back', async () => {
    const prefix = `keyfob-test:${process.pid}:${Date.now()}:login:`;
    const [a, b] = await instances(2, { REDIS_URL: REDIS_URL!, KEYFOB_REDIS_PREFIX: prefix, KEYFOB_LIMIT_LOGIN_PER_USER: '3/15m' });
    await setupAdmin(a!);
    const login = (app: TestApp, username: string, password: string) => app.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password } });
    // Successful sign-ins are given back: many of them never add up to a block.
    for (let i = 0; i < 5; i++) expect((await login(a!, 'admin', 'admin-password-1')).statusCode).toBe(200);
    expect((await login(a!, 'ghost', 'nope-nope-1')).statusCode).toBe(401);
    expect((await login(b!, 'ghost', 'nope-nope-1')).statusCode).toBe(401);
    expect((await login(b!, 'ghost', 'nope-nope-1')).statusCode).toBe(401);
    expectLimited(await login(a!, 'ghost', 'nope-nope-1'));
    expect((await login(a!, 'admin', 'admin-password-1')).statusCode).toBe(200);
  });

  it('keeps limiting in memory when Redis cannot be reached, and counts the misses', async () => {
    const [a] = await instances(1, { REDIS_URL: 'redis://127.0.0.1:1', KEYFOB_LIMIT_AUTH_FAILURES: '2/1m' });
    const self = () => a!.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: { ...bearer(unknownToken()), 'x-forwarded-for': '203.0.113.7' } });
    expect((await self()).statusCode).toBe(401);
    expect((await self()).statusCode).toBe(401);
    expectLimited(await self());
    const metrics = await a!.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/^keyfob_rate_limit_store_errors_total [1-9]/m);
  });
});
