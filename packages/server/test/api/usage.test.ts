import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/dialects.js';
import { DAY } from '../helpers/clock.js';
import { asSession, bearer, createToken, createTestApp, createUser, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';

const HOUR = 3_600_000;

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`token usage by day and hour [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    let alice: Session;
    beforeAll(async () => {
      // No cache, so that every use is decided (and counted) against the store's state.
      t = await createTestApp(dialect, { KEYFOB_VERIFY_CACHE: 'off' });
      admin = await setupAdmin(t);
      alice = await createUser(t, admin, 'alice');
    });
    afterAll(async () => t?.close());

    const usage = (session: Session, id: string, query = '', admin = false) =>
      t.app.inject({ method: 'GET', url: `/api/v1/${admin ? 'admin' : 'me'}/tokens/${id}/usage${query}`, headers: asSession(session) });

    it('counts every use by hour and outcome, refused ones by their reason, and answers day and hour series with empty buckets', async () => {
      // Start at a known hour: the series' buckets are aligned to UTC days and hours.
      t.clock.advance(HOUR - (t.clock.now() % HOUR) + 5 * 60_000);
      const start = t.clock.now();
      const tok = await createToken(t, alice, { scopes: ['tokens:read'], expiresInDays: 30 });
      const self = () => t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(tok.token) });
      for (let i = 0; i < 3; i++) expect((await self()).statusCode).toBe(200);
      // A use beyond the token's scopes is refused and counted as such.
      expect((await t.app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers: bearer(tok.token), payload: { name: 'x', scopes: ['tokens:read'] } })).statusCode).toBe(403);
      t.clock.advance(2 * HOUR);
      expect((await self()).statusCode).toBe(200);
      await t.container.usage.flush();

      const hours = await usage(alice, tok.id, '?granularity=hour&days=1');
      expect(hours.statusCode).toBe(200);
      const series = hours.json();
      expect(series.granularity).toBe('hour');
      expect(series.buckets).toHaveLength(24);
      const at = (ms: number) => series.buckets.find((b: { start: string }) => b.start === new Date(ms - (ms % HOUR)).toISOString());
      expect(at(start)).toEqual({ start: new Date(start - (start % HOUR)).toISOString(), total: 4, outcomes: { ok: 3, insufficient_scope: 1 } });
      expect(at(start + HOUR)).toMatchObject({ total: 0, outcomes: {} });
      expect(at(start + 2 * HOUR)).toMatchObject({ total: 1, outcomes: { ok: 1 } });

      const days = (await usage(alice, tok.id, '?days=3')).json();
      expect(days.buckets).toHaveLength(3);
      expect(days.buckets.reduce((n: number, b: { total: number }) => n + b.total, 0)).toBe(5);
      expect(days.buckets.at(-1).start).toBe(new Date(t.clock.now() - (t.clock.now() % DAY)).toISOString());
      // Thirty days by default.
      expect((await usage(alice, tok.id)).json().buckets).toHaveLength(30);
      // Admins read any token's usage; others get 404 for tokens not theirs.
      expect((await usage(admin, tok.id, '?days=3', true)).json()).toEqual(days);
      expect((await usage(admin, tok.id)).statusCode).toBe(404);
    });

    it('lists the addresses a token was used from, most recent first, refused uses left out', async () => {
      const tok = await createToken(t, alice, { scopes: ['tokens:read'], expiresInDays: 30 });
      const from = (ip: string) => t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(tok.token), remoteAddress: ip });
      const first = t.clock.now();
      await from('192.0.2.10');
      t.clock.advance(60_000);
      await from('2001:db8::7');
      await from('2001:db8::7');
      // Refused (scope): not an address the token "was used from".
      await t.app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers: bearer(tok.token), payload: { name: 'x', scopes: ['tokens:read'] }, remoteAddress: '203.0.113.99' });
      await t.container.usage.flush();
      t.clock.advance(60_000);
      await from('192.0.2.10');
      await t.container.usage.flush();

      const res = await t.app.inject({ method: 'GET', url: `/api/v1/me/tokens/${tok.id}/addresses`, headers: asSession(alice) });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        items: [
          { ip: '192.0.2.10', firstSeenAt: new Date(first).toISOString(), lastSeenAt: new Date(first + 120_000).toISOString(), uses: 2 },
          { ip: '2001:db8::7', firstSeenAt: new Date(first + 60_000).toISOString(), lastSeenAt: new Date(first + 60_000).toISOString(), uses: 2 },
        ],
      });
      expect((await t.app.inject({ method: 'GET', url: `/api/v1/admin/tokens/${tok.id}/addresses`, headers: asSession(admin) })).json()).toEqual(res.json());
      expect((await t.app.inject({ method: 'GET', url: `/api/v1/me/tokens/${tok.id}/addresses`, headers: asSession(admin) })).statusCode).toBe(404);
    });

    it('keeps at most 16 new addresses per token between two flushes', async () => {
      const tok = await createToken(t, alice, { expiresInDays: 30 });
      for (let i = 0; i < 40; i++) await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(tok.token), remoteAddress: `198.51.100.${i + 1}` });
      await t.container.usage.flush();
      expect(await t.container.store.repos.pats.addresses(tok.id, 100)).toHaveLength(16);
    });

    it('refuses bad queries naming the field', async () => {
      const tok = await createToken(t, alice);
      for (const query of ['?days=0', '?days=91', '?granularity=minute', '?granularity=hour&days=8', '?other=1']) {
        const res = await usage(alice, tok.id, query);
        expect(res.statusCode, query).toBe(400);
        expect(res.json().error).toBe('invalid_request');
      }
      expect((await usage(alice, tok.id, '?granularity=hour&days=8')).json().message).toMatch(/^days:/);
    });

    it('forgets counts older than the retention period', async () => {
      const tok = await createToken(t, alice, { expiresInDays: 365 });
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(tok.token) })).statusCode).toBe(200);
      await t.container.usage.flush();
      expect(await t.container.store.repos.pats.usageSince(tok.id, 0)).toHaveLength(1);
      t.clock.advance(89 * DAY);
      await t.container.usage.prune();
      expect(await t.container.store.repos.pats.usageSince(tok.id, 0)).toHaveLength(1);
      t.clock.advance(2 * DAY);
      expect(await t.container.usage.prune()).toBeGreaterThanOrEqual(1);
      expect(await t.container.store.repos.pats.usageSince(tok.id, 0)).toEqual([]);
      expect(await t.container.store.repos.pats.addresses(tok.id, 10)).toEqual([]);
    });
  });
}
