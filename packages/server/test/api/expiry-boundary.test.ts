import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/dialects.js';
import { DAY } from '../helpers/clock.js';
import { basic, createClient, form, type TestClient } from '../helpers/oauth.js';
import { asSession, bearer, createToken, createTestApp, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';

/**
 * Expiry is an instant, not a calendar date: exact to the millisecond, the same in every process
 * time zone (the suite also runs under TZ=Pacific/Kiritimati and TZ=America/Anchorage in CI) and
 * whatever time zone the PostgreSQL session has (test databases run in +14 h).
 */
for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`expiry at the boundary [${dialect.name}, TZ=${process.env['TZ'] ?? 'unset'}]`, () => {
    let t: TestApp;
    let admin: Session;
    let client: TestClient;
    beforeAll(async () => {
      // The cache off: every check below goes to the store's own comparison.
      t = await createTestApp(dialect, { KEYFOB_VERIFY_CACHE: 'off' });
      admin = await setupAdmin(t);
      client = await createClient(t, admin, { allowedAudiences: ['https://api.example.com'] });
    });
    afterAll(async () => t?.close());

    const statusOf = async (id: string, filter: string) => {
      const res = await t.app.inject({ method: 'GET', url: `/api/v1/me/tokens?status=${filter}&limit=100`, headers: asSession(admin) });
      return res.json().items.some((p: { id: string }) => p.id === id);
    };

    it('works until the last millisecond before expiresAt and not at it, in verification, introspection and lists', async () => {
      const start = t.clock.now();
      const tok = await createToken(t, admin, { expiresInDays: 30 });
      const expiresAt = Date.parse(tok.pat['expiresAt'] as string);
      expect(expiresAt).toBe(start + 30 * DAY);
      expect(tok.pat['expiresAt']).toMatch(/Z$/);

      t.clock.advance(expiresAt - 1 - t.clock.now());
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(tok.token) })).statusCode).toBe(200);
      expect((await form(t, '/oauth/introspect', { token: tok.token }, basic(client))).json()).toMatchObject({ active: true, exp: Math.floor(expiresAt / 1000) });
      expect(await statusOf(tok.id, 'active')).toBe(true);

      t.clock.advance(1);
      const refused = await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(tok.token) });
      expect(refused.statusCode).toBe(401);
      expect(refused.json().message).toMatch(/expired/);
      expect((await form(t, '/oauth/introspect', { token: tok.token }, basic(client))).json()).toEqual({ active: false });
      expect(await statusOf(tok.id, 'active')).toBe(false);
      expect(await statusOf(tok.id, 'expired')).toBe(true);
    });

    it('takes an explicit expiresAt in any offset as the same instant', async () => {
      const target = t.clock.now() + 10 * DAY + 123;
      const iso = new Date(target).toISOString();
      // The same instant written in +14:00 and in -09:00.
      const plus14 = new Date(target + 14 * 3_600_000).toISOString().replace('Z', '+14:00');
      const minus9 = new Date(target - 9 * 3_600_000).toISOString().replace('Z', '-09:00');
      for (const expiresAt of [iso, plus14, minus9]) {
        const tok = await createToken(t, admin, { expiresAt });
        expect(tok.pat['expiresAt']).toBe(iso);
      }
    });
  });
}

describe('the expiry warning header', () => {
  let t: TestApp;
  let admin: Session;
  beforeAll(async () => {
    t = await createTestApp(DIALECTS[0]!);
    admin = await setupAdmin(t);
  });
  afterAll(async () => t?.close());

  it('names the expiry of a PAT in every answer during its last 7 days, and never otherwise', async () => {
    const month = await createToken(t, admin, { expiresInDays: 30 });
    const forever = await createToken(t, admin, { expiresInDays: null });
    const self = (token: string) => t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(token) });
    expect((await self(month.token)).headers['keyfob-token-expiration']).toBeUndefined();
    t.clock.advance(23 * DAY + 1);
    const near = await self(month.token);
    expect(near.statusCode).toBe(200);
    expect(near.headers['keyfob-token-expiration']).toBe(month.pat['expiresAt']);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/me/tokens', headers: bearer(month.token) });
    expect(list.headers['keyfob-token-expiration']).toBe(month.pat['expiresAt']);
    expect((await self(forever.token)).headers['keyfob-token-expiration']).toBeUndefined();
    // A console session carries no such header.
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: asSession(admin) })).headers['keyfob-token-expiration']).toBeUndefined();
  });
});
