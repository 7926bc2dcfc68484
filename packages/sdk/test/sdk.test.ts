import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import express from 'express';
import { Hono } from 'hono';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '@keyfob/protocol';
import { createVerifier, KeyfobUnavailableError, type Verifier, type VerifierOptions } from '@keyfob/sdk';
import { keyfobPlugin } from '@keyfob/sdk/fastify';
import { keyfobMiddleware, type KeyfobRequest } from '@keyfob/sdk/express';
import { keyfobHono, type KeyfobVariables } from '@keyfob/sdk/hono';
import { sqlite, type TestDatabase } from '../../server/test/helpers/dialects.js';
import { NO_LIMITS } from '../../server/test/helpers/test-app.js';
import { freePort, killAllServers, readJson, sessionHeaders, setupAdmin, startServer, storeEnv, type HttpSession, type ServerProcess } from '../../server/test/helpers/server-process.js';

/**
 * The SDK against a real keyfob process on loopback: PATs by introspection, exchanged JWTs by
 * the JWKS, every refusal with its RFC 6750 status and challenge, the cache's revocation bound,
 * failing closed while keyfob is down and recovering when it is back, through each middleware.
 */
const AUDIENCE = 'https://api.example.com';
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('@keyfob/sdk against a keyfob server', () => {
  let db: TestDatabase;
  let port: number;
  let issuer: string;
  let keyfob: ServerProcess;
  let admin: HttpSession;
  let client: { clientId: string; clientSecret: string };
  let env: Record<string, string | undefined>;
  let introspections = 0;

  const countingFetch: typeof fetch = (input, init) => {
    if (String(input).endsWith('/oauth/introspect')) introspections++;
    return fetch(input, init);
  };

  const verifierWith = (extra: Partial<VerifierOptions> = {}): Verifier =>
    createVerifier({ issuer, clientId: client.clientId, clientSecret: client.clientSecret, audience: AUDIENCE, fetch: countingFetch, timeoutMs: 2000, ...extra });

  async function createPat(scopes: string[], extra: Record<string, unknown> = {}): Promise<{ token: string; id: string; expiresAt: string | null }> {
    const res = await keyfob.fetch('/api/v1/me/tokens', {
      method: 'POST',
      headers: sessionHeaders(admin, { 'content-type': 'application/json' }),
      body: JSON.stringify({ name: `sdk-${Math.random().toString(36).slice(2, 10)}`, scopes, ...extra }),
    });
    const body = await readJson(res);
    expect(res.status, JSON.stringify(body)).toBe(201);
    return { token: body.token, id: body.pat.id, expiresAt: body.pat.expiresAt };
  }

  async function revoke(id: string): Promise<void> {
    expect((await keyfob.fetch(`/api/v1/me/tokens/${id}`, { method: 'DELETE', headers: sessionHeaders(admin) })).status).toBe(204);
  }

  async function exchange(pat: string, scope?: string): Promise<string> {
    const res = await keyfob.fetch('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}` },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: pat,
        subject_token_type: 'urn:keyfob:params:oauth:token-type:personal_access_token',
        resource: AUDIENCE,
        ...(scope ? { scope } : {}),
      }).toString(),
    });
    const body = await readJson(res);
    expect(res.status, JSON.stringify(body)).toBe(200);
    return body.access_token;
  }

  beforeAll(async () => {
    db = await sqlite.create();
    port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    env = { ...storeEnv('sqlite', db), ...NO_LIMITS, KEYFOB_BASE_URL: issuer };
    keyfob = await startServer(env, { port });
    admin = await setupAdmin(keyfob, 'admin', 'admin-password-1');
    const res = await keyfob.fetch('/api/v1/admin/clients', {
      method: 'POST',
      headers: sessionHeaders(admin, { 'content-type': 'application/json' }),
      body: JSON.stringify({ name: 'resource-server', allowedAudiences: [AUDIENCE] }),
    });
    client = await readJson(res);
    expect(res.status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await killAllServers();
    await db?.drop();
  });

  describe('verify()', () => {
    it('accepts a PAT: subject, scopes, token id, expiry, kind', async () => {
      const pat = await createPat(['tokens:read', 'tokens:write'], { expiresInDays: 30 });
      const result = await verifierWith().verify(pat.token, { scopes: ['tokens:read'] });
      // Introspection's exp is in whole seconds (RFC 7662 NumericDate).
      const expiresAt = new Date(Math.floor(Date.parse(pat.expiresAt!) / 1000) * 1000);
      expect(result).toEqual({ ok: true, subject: admin.user.id, scopes: ['tokens:read', 'tokens:write'], tokenId: pat.id, expiresAt, kind: 'pat' });
    });

    it('accepts an exchanged JWT locally (typ at+jwt, issuer, audience) and refuses one for another audience', async () => {
      const pat = await createPat(['tokens:read', 'tokens:write']);
      const jwt = await exchange(pat.token, 'tokens:read');
      const before = introspections;
      const result = await verifierWith().verify(jwt, { scopes: ['tokens:read'] });
      expect(result).toMatchObject({ ok: true, subject: admin.user.id, scopes: ['tokens:read'], kind: 'jwt' });
      expect(introspections).toBe(before);
      expect(await verifierWith().verify(jwt, { audience: 'https://other.example.com' })).toMatchObject({ ok: false, error: 'invalid_token' });
      expect(await verifierWith().verify(jwt, { scopes: ['tokens:write'] })).toMatchObject({ ok: false, error: 'insufficient_scope', scope: 'tokens:write' });
      const tampered = `${jwt.slice(0, -4)}${jwt.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
      expect(await verifierWith().verify(tampered)).toMatchObject({ ok: false, error: 'invalid_token' });
    });

    it('refuses garbage and look-alikes without calling keyfob', async () => {
      const verifier = verifierWith();
      const before = introspections;
      const real = generateToken('kf_pat').token;
      const lookAlike = real.slice(0, -1) + (real.endsWith('x') ? 'y' : 'x');
      for (const token of ['short', lookAlike, 'kf_pat_' + 'A'.repeat(46)]) expect(await verifier.verify(token)).toMatchObject({ ok: false, error: 'invalid_token' });
      expect(await verifier.verify('')).toMatchObject({ ok: false, error: 'invalid_request' });
      expect(await verifier.verify('spaces are not allowed')).toMatchObject({ ok: false, error: 'invalid_request' });
      expect(await verifierWith({ prefixes: ['acme_pat'] }).verify(generateToken('kf_pat').token)).toMatchObject({ ok: false, error: 'invalid_token' });
      expect(introspections).toBe(before);
      // A well-formed token keyfob does not know is asked about, and refused.
      expect(await verifier.verify(generateToken('kf_pat').token)).toMatchObject({ ok: false, error: 'invalid_token' });
      expect(introspections).toBe(before + 1);
    });

    it('names the missing scope; a write scope grants the read scope', async () => {
      const pat = await createPat(['tokens:write']);
      const verifier = verifierWith();
      expect(await verifier.verify(pat.token, { scopes: ['tokens:read'] })).toMatchObject({ ok: true });
      expect(await verifier.verify(pat.token, { scopes: ['admin:read'] })).toEqual({ ok: false, error: 'insufficient_scope', description: 'this request needs the scope "admin:read"', scope: 'admin:read' });
    });

    it('checks the PAT’s own audiences, and refuses a restricted PAT where no audience is named', async () => {
      const pat = await createPat(['tokens:read'], { audiences: ['https://billing.example.com'] });
      expect(await verifierWith().verify(pat.token)).toMatchObject({ ok: false, error: 'invalid_token' });
      expect(await verifierWith({ audience: 'https://billing.example.com' }).verify(pat.token)).toMatchObject({ ok: true });
      const { audience: _none, ...withoutAudience } = { audience: undefined };
      void _none;
      expect(await createVerifier({ issuer, clientId: client.clientId, clientSecret: client.clientSecret, ...withoutAudience }).verify(pat.token)).toMatchObject({ ok: false, error: 'invalid_token' });
    });

    it('enforces the PAT’s IP allow-list against the caller’s address (refused when it is not known)', async () => {
      const pat = await createPat(['tokens:read'], { allowedIps: ['10.0.0.0/8', '2001:db8::/32'] });
      const verifier = verifierWith();
      expect(await verifier.verify(pat.token, { ip: '10.1.2.3' })).toMatchObject({ ok: true });
      expect(await verifier.verify(pat.token, { ip: '::ffff:10.9.9.9' })).toMatchObject({ ok: true });
      expect(await verifier.verify(pat.token, { ip: '2001:db8::1' })).toMatchObject({ ok: true });
      expect(await verifier.verify(pat.token, { ip: '192.0.2.1' })).toMatchObject({ ok: false, error: 'invalid_token', description: expect.stringContaining('address') });
      expect(await verifier.verify(pat.token)).toMatchObject({ ok: false, error: 'invalid_token' });
    });

    it('fails closed when what answers is not keyfob (a 200 that is not JSON)', async () => {
      const impostor = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>maintenance</html>');
      });
      await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
      try {
        const url = `http://127.0.0.1:${(impostor.address() as AddressInfo).port}`;
        const verifier = createVerifier({ issuer: url, clientId: 'kfc_x', clientSecret: 'kf_cs_y', audience: AUDIENCE });
        await expect(verifier.verify(generateToken('kf_pat').token)).rejects.toBeInstanceOf(KeyfobUnavailableError);
      } finally {
        await new Promise<void>((resolve) => impostor.close(() => resolve()));
      }
    });

    it('makes one introspection call for 100 concurrent checks of one token', async () => {
      const pat = await createPat(['tokens:read']);
      const verifier = verifierWith();
      const before = introspections;
      const results = await Promise.all(Array.from({ length: 100 }, () => verifier.verify(pat.token)));
      expect(results.every((r) => r.ok)).toBe(true);
      expect(introspections - before).toBe(1);
      await verifier.verify(pat.token);
      expect(introspections - before).toBe(1);
    });

    it('honours a revocation within the cache TTL (the documented bound), at once without the cache', async () => {
      const pat = await createPat(['tokens:read']);
      const cached = verifierWith({ cacheTtlMs: 600 });
      const uncached = verifierWith({ cacheTtlMs: 0 });
      expect(await cached.verify(pat.token)).toMatchObject({ ok: true });
      expect(await uncached.verify(pat.token)).toMatchObject({ ok: true });
      await revoke(pat.id);
      expect(await uncached.verify(pat.token)).toMatchObject({ ok: false, error: 'invalid_token' });
      // Inside the TTL the cached answer may still stand; past it, never.
      await sleep(700);
      expect(await cached.verify(pat.token)).toMatchObject({ ok: false, error: 'invalid_token' });
    });

    it('fails closed with KeyfobUnavailableError for wrong client credentials', async () => {
      const pat = await createPat(['tokens:read']);
      await expect(verifierWith({ clientSecret: `${client.clientSecret}x` }).verify(pat.token)).rejects.toBeInstanceOf(KeyfobUnavailableError);
    });
  });

  describe('middleware', () => {
    const apps: { name: string; url: string; close(): Promise<void> }[] = [];

    beforeAll(async () => {
      const verifier = verifierWith({ cacheTtlMs: 0 });
      const fastify: FastifyInstance = Fastify();
      await fastify.register(keyfobPlugin, { verifier, realm: 'example' });
      fastify.get('/repos', { preHandler: fastify.keyfobGuard({ scopes: ['tokens:read'] }) }, async (request) => ({ user: request.keyfob?.subject, kind: request.keyfob?.kind }));
      await fastify.listen({ host: '127.0.0.1', port: 0 });
      apps.push({ name: 'fastify', url: `http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}`, close: () => fastify.close() });

      const app = express();
      app.get('/repos', keyfobMiddleware(verifier, { scopes: ['tokens:read'], realm: 'example' }), (req, res) => {
        const principal = (req as KeyfobRequest).keyfob;
        res.json({ user: principal?.subject, kind: principal?.kind });
      });
      const expressServer: Server = await new Promise((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
      });
      apps.push({ name: 'express', url: `http://127.0.0.1:${(expressServer.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => expressServer.close(() => r())) });

      const hono = new Hono<{ Variables: KeyfobVariables }>();
      hono.get('/repos', keyfobHono(verifier, { scopes: ['tokens:read'], realm: 'example' }), (c) => c.json({ user: c.get('keyfob').subject, kind: c.get('keyfob').kind }));
      const honoServer = createServer(async (req, res) => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
        const answer = await hono.fetch(new Request(`http://127.0.0.1${req.url}`, { method: req.method ?? 'GET', headers }));
        res.writeHead(answer.status, Object.fromEntries(answer.headers));
        res.end(Buffer.from(await answer.arrayBuffer()));
      });
      await new Promise<void>((resolve) => honoServer.listen(0, '127.0.0.1', resolve));
      apps.push({ name: 'hono', url: `http://127.0.0.1:${(honoServer.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => honoServer.close(() => r())) });
    });
    afterAll(async () => {
      await Promise.all(apps.map((a) => a.close()));
    });

    it('admits a PAT and an exchanged JWT, and refuses each failure with RFC 6750’s status and challenge, in every framework', async () => {
      const good = await createPat(['tokens:read']);
      const narrow = await createPat(['tokens:write']);
      const other = await createPat(['admin:read']);
      const jwt = await exchange(good.token);
      for (const app of apps) {
        const call = (headers: Record<string, string> = {}) => fetch(`${app.url}/repos`, { headers });
        const ok = await call({ authorization: `Bearer ${good.token}` });
        expect(ok.status, app.name).toBe(200);
        expect(await ok.json()).toEqual({ user: admin.user.id, kind: 'pat' });
        expect((await call({ authorization: `bearer ${narrow.token}` })).status, `${app.name}: write grants read`).toBe(200);
        const viaJwt = await call({ authorization: `Bearer ${jwt}` });
        expect(await viaJwt.json(), app.name).toEqual({ user: admin.user.id, kind: 'jwt' });

        const none = await call();
        expect(none.status, app.name).toBe(401);
        expect(none.headers.get('www-authenticate'), app.name).toBe('Bearer realm="example"');
        // Another scheme is no Bearer credentials at all (RFC 6750 §3.1): a bare challenge.
        const otherScheme = await call({ authorization: 'Basic YTpi' });
        expect(otherScheme.status, app.name).toBe(401);
        expect(otherScheme.headers.get('www-authenticate'), app.name).toBe('Bearer realm="example"');
        const malformed = await call({ authorization: 'Bearer' });
        expect(malformed.status, app.name).toBe(400);
        expect(malformed.headers.get('www-authenticate'), app.name).toMatch(/^Bearer realm="example", error="invalid_request"/);
        const unknown = await call({ authorization: `Bearer ${generateToken('kf_pat').token}` });
        expect(unknown.status, app.name).toBe(401);
        expect(unknown.headers.get('www-authenticate'), app.name).toMatch(/error="invalid_token"/);
        expect(await unknown.json()).toMatchObject({ error: 'invalid_token' });
        const scope = await call({ authorization: `Bearer ${other.token}` });
        expect(scope.status, app.name).toBe(403);
        expect(scope.headers.get('www-authenticate'), app.name).toMatch(/error="insufficient_scope".*scope="tokens:read"/);
      }
    });

    it('passes the caller’s address for IP allow-lists (Fastify request.ip, Express req.ip; Hono only with clientIp)', async () => {
      const local = await createPat(['tokens:read'], { allowedIps: ['127.0.0.0/8'] });
      const elsewhere = await createPat(['tokens:read'], { allowedIps: ['10.0.0.0/8'] });
      for (const app of apps) {
        const call = (token: string) => fetch(`${app.url}/repos`, { headers: { authorization: `Bearer ${token}` } });
        expect((await call(elsewhere.token)).status, app.name).toBe(401);
        expect((await call(local.token)).status, app.name).toBe(app.name === 'hono' ? 401 : 200);
      }
    });

    it('answers 503 with Retry-After while keyfob is down (never lets a request through) and recovers by itself', { timeout: 60_000 }, async () => {
      const good = await createPat(['tokens:read']);
      expect(await keyfob.stop('SIGTERM')).toEqual({ code: 0, signal: null });
      for (const app of apps) {
        const res = await fetch(`${app.url}/repos`, { headers: { authorization: `Bearer ${good.token}` } });
        expect(res.status, app.name).toBe(503);
        expect(res.headers.get('retry-after'), app.name).toBeTruthy();
        expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' });
      }
      keyfob = await startServer(env, { port });
      for (const app of apps) {
        const res = await fetch(`${app.url}/repos`, { headers: { authorization: `Bearer ${good.token}` } });
        expect(res.status, app.name).toBe(200);
      }
    });
  });
});
