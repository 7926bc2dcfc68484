import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { DIALECTS, postgres } from '../helpers/dialects.js';
import { asSession, bearer, createTestApp, createToken, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`operations [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    beforeAll(async () => {
      t = await createTestApp(dialect);
      admin = await setupAdmin(t);
    });
    afterAll(async () => t?.close());

    it('answers /healthz and /readyz', async () => {
      expect((await t.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
      expect((await t.app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready' });
    });

    it('exposes Prometheus metrics with verification outcomes by reason', async () => {
      const tok = await createToken(t, admin);
      await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(tok.token) });
      await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer('kf_pat_' + 'B'.repeat(46)) });
      const res = await t.app.inject({ method: 'GET', url: '/metrics' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toContain('text/plain');
      expect(res.body).toMatch(/keyfob_token_verifications_total\{outcome="ok"\} \d+/);
      expect(res.body).toMatch(/keyfob_token_verifications_total\{outcome="malformed"\} \d+/);
      expect(res.body).toContain('keyfob_token_verification_duration_seconds_bucket');
      expect(res.body).toMatch(/keyfob_http_requests_total\{method="GET",route="\/api\/v1\/tokens\/self",status="200"\}/);
      expect(res.body).toContain('keyfob_http_request_duration_seconds_bucket');
    });

    it('serves the OpenAPI 3 document generated from the route schemas, and a docs page', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
      expect(res.statusCode).toBe(200);
      const doc = res.json();
      expect(doc.openapi).toMatch(/^3\./);
      for (const path of ['/api/v1/me/tokens', '/api/v1/me/tokens/{id}', '/api/v1/me/tokens/{id}/rotate', '/api/v1/tokens/self', '/api/v1/setup', '/api/v1/auth/login', '/api/v1/admin/users', '/api/v1/admin/policy', '/api/v1/admin/audit', '/healthz']) {
        expect(doc.paths, path).toHaveProperty([path]);
      }
      expect(doc.paths['/api/v1/me/tokens'].post.requestBody.content['application/json'].schema.required).toEqual(['name', 'scopes']);
      const docs = await t.app.inject({ method: 'GET', url: '/docs' });
      expect([200, 302]).toContain(docs.statusCode);
    });

    it('answers unknown routes with the error shape', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/nothing-here' });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ error: 'not_found', message: expect.any(String) });
    });

    it('never lets a plaintext token reach logs, audit events, list or read responses', async () => {
      const created = await t.app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers: asSession(admin), payload: { name: 'secret-watch', scopes: ['tokens:read', 'tokens:write'] } });
      const { token, pat } = created.json();
      await t.app.inject({ method: 'GET', url: '/api/v1/me/tokens', headers: bearer(token) });
      await t.app.inject({ method: 'GET', url: `/api/v1/me/tokens?access_token=${token}` });
      await t.app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `access_token=${token}` });
      const rotated = await t.app.inject({ method: 'POST', url: `/api/v1/me/tokens/${pat.id}/rotate`, headers: bearer(token) });
      const second = rotated.json().token as string;
      await t.app.inject({ method: 'DELETE', url: `/api/v1/me/tokens/${rotated.json().pat.id}`, headers: asSession(admin) });
      const reads = await Promise.all(
        ['/api/v1/me/tokens?status=all', `/api/v1/me/tokens/${pat.id}`, '/api/v1/admin/tokens?status=all', '/api/v1/admin/audit?limit=200', '/api/v1/me'].map((url) =>
          t.app.inject({ method: 'GET', url, headers: asSession(admin) }),
        ),
      );
      const everything = [...t.logs, ...reads.map((r) => r.body)].join('\n');
      for (const secret of [token, second, token.slice(7), second.slice(7)]) expect(everything).not.toContain(secret);
      expect(t.logs.join('')).not.toContain(admin.cookie.split('=')[1]);
      expect(t.logs.join('')).not.toContain('admin-password-1');
      const hashes = await t.container.store.repos.pats.allHashes();
      expect(hashes.every((h) => /^[0-9a-f]{64}$/.test(h))).toBe(true);
      const rows = JSON.stringify(await t.container.store.db.selectFrom('pats').selectAll().execute());
      const audit = JSON.stringify(await t.container.store.db.selectFrom('audit_events').selectAll().execute());
      for (const secret of [token, second]) {
        expect(rows).not.toContain(secret.slice(7, 30));
        expect(audit).not.toContain(secret.slice(7, 30));
      }
    });
  });
}

describe('the store going away', () => {
  it('fails closed with 503 + Retry-After when the SQLite store is gone', async () => {
    const t = await createTestApp(DIALECTS[0]!);
    try {
      const admin = await setupAdmin(t);
      const tok = await createToken(t, admin);
      await t.container.store.db.destroy();
      for (const headers of [bearer(tok.token), { cookie: admin.cookie }]) {
        const res = await t.app.inject({ method: 'GET', url: '/api/v1/me/tokens', headers });
        expect(res.statusCode).toBe(503);
        expect(res.headers['retry-after']).toBeDefined();
        expect(res.json().error).toBe('store_unavailable');
      }
      expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
      expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await t.close().catch(() => {});
    }
  });

  it.skipIf(!postgres.available)('fails closed while PostgreSQL refuses connections and recovers without a restart', async () => {
    const t = await createTestApp(postgres);
    const name = new URL(t.db.url).pathname.slice(1);
    const adminClient = new pg.Client({ connectionString: process.env['TEST_DATABASE_URL'] });
    await adminClient.connect();
    try {
      const admin = await setupAdmin(t);
      const tok = await createToken(t, admin);
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(tok.token) })).statusCode).toBe(200);
      await adminClient.query(`alter database ${name} allow_connections false`);
      await adminClient.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
      // The listener connection dies with the others; within the invalidation bound (D4) the
      // instance stops trusting its cache, and from then on every answer is a 503.
      const deadline = Date.now() + 5000;
      let first = 0;
      while (Date.now() < deadline) {
        first = (await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(tok.token) })).statusCode;
        if (first === 503) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(first).toBe(503);
      const statuses = new Set<number>();
      for (let i = 0; i < 5; i++) {
        const res = await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(tok.token) });
        statuses.add(res.statusCode);
        if (res.statusCode === 503) expect(res.headers['retry-after']).toBeDefined();
      }
      expect([...statuses]).toEqual([503]);
      expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
      await adminClient.query(`alter database ${name} allow_connections true`);
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(tok.token) })).statusCode).toBe(200);
      expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    } finally {
      await adminClient.query(`alter database ${name} allow_connections true`).catch(() => {});
      await adminClient.end();
      await t.close();
    }
  });
});
