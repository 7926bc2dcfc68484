import { expect, it } from 'vitest';
import type { TestApp, Session } from './test-app.js';
import { asSession, bearer, createToken } from './test-app.js';

export interface RouteUnderTest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly url: string;
  readonly payload?: Record<string, unknown>;
  /** The scope the route needs; a token without it must get 403. */
  readonly scope?: string;
}

/**
 * The security block every authenticated route must pass: 401 without credentials, 401 for
 * unknown/revoked/expired tokens (with RFC 6750 challenges), 403 insufficient_scope naming the
 * scope, and 403 for a cookie-authenticated unsafe request without the CSRF header.
 */
export function securityCases(ctx: () => { t: TestApp; admin: Session }, route: RouteUnderTest): void {
  const send = (headers: Record<string, string>) =>
    ctx().t.app.inject({ method: route.method, url: route.url, headers, ...(route.payload ? { payload: route.payload } : {}) });

  it(`${route.method} ${route.url}: 401 without credentials`, async () => {
    const res = await send({});
    expect(res.statusCode).toBe(401);
    expect(res.json().error).toBe('unauthorized');
    expect(res.headers['www-authenticate']).toBe('Bearer realm="keyfob"');
  });

  it(`${route.method} ${route.url}: 401 invalid_token for unknown, revoked and expired tokens`, async () => {
    const { t, admin } = ctx();
    const unknown = 'kf_pat_' + 'A'.repeat(40);
    const revoked = await createToken(t, admin, { scopes: ['tokens:read', 'tokens:write', 'admin:read', 'admin:write'] });
    await t.app.inject({ method: 'DELETE', url: `/api/v1/me/tokens/${revoked.id}`, headers: asSession(admin) });
    const expiring = await createToken(t, admin, { scopes: ['tokens:read', 'tokens:write', 'admin:read', 'admin:write'], expiresInDays: 1 });
    const garbage = (await send(bearer(unknown)));
    expect(garbage.statusCode).toBe(401);
    expect(garbage.headers['www-authenticate']).toMatch(/^Bearer realm="keyfob", error="invalid_token"/);
    const r1 = await send(bearer(revoked.token));
    expect(r1.statusCode).toBe(401);
    expect(r1.json().error).toBe('invalid_token');
    t.clock.advance(86_400_000 + 1);
    try {
      const r2 = await send(bearer(expiring.token));
      expect(r2.statusCode).toBe(401);
      expect(r2.headers['www-authenticate']).toContain('error="invalid_token"');
    } finally {
      t.clock.advance(-(86_400_000 + 1));
    }
  });

  if (route.scope) {
    const scope = route.scope;
    it(`${route.method} ${route.url}: 403 insufficient_scope without ${scope}`, async () => {
      const { t, admin } = ctx();
      const others = ['tokens:read', 'tokens:write', 'admin:read', 'admin:write'].filter((s) => s !== scope && !(scope.endsWith(':read') && s === scope.replace(':read', ':write')));
      const weak = await createToken(t, admin, { scopes: others });
      const res = await send(bearer(weak.token));
      expect(res.statusCode).toBe(403);
      expect(res.json().error).toBe('insufficient_scope');
      expect(res.headers['www-authenticate']).toContain(`scope="${scope}"`);
    });
  }

  if (route.method !== 'GET') {
    it(`${route.method} ${route.url}: 403 for a session without X-CSRF-Token`, async () => {
      const { admin } = ctx();
      const res = await send({ cookie: admin.cookie });
      expect(res.statusCode).toBe(403);
      expect(res.json().error).toBe('invalid_csrf_token');
      const wrong = await send({ cookie: admin.cookie, 'x-csrf-token': 'nope' });
      expect(wrong.statusCode).toBe(403);
    });
  }
}
