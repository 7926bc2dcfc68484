import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { DIALECTS, type Dialect } from '../helpers/dialects.js';
import { DAY } from '../helpers/clock.js';
import { asSession, bearer, createTestApp, createToken, createUser, setupAdmin, type CreatedToken, type Session, type TestApp } from '../helpers/test-app.js';
import { securityCases } from '../helpers/security-cases.js';

const HOUR = 3_600_000;

interface Ranked {
  pat: { id: string; name: string; ownerUsername: string; userId: string; status: string };
  uses: number;
  failures: number;
}

/** A fresh keyfob per block, so that one block's tokens and uses do not show in another's lists. */
function withApp(dialect: Dialect): { t: () => TestApp; admin: () => Session; alice: () => Session } {
  let t: TestApp;
  let admin: Session;
  let alice: Session;
  beforeAll(async () => {
    // No verification cache: every use is decided (and counted) against the store's state.
    t = await createTestApp(dialect, { KEYFOB_VERIFY_CACHE: 'off' });
    admin = await setupAdmin(t);
    alice = await createUser(t, admin, 'alice');
  });
  afterAll(async () => t?.close());
  return { t: () => t, admin: () => admin, alice: () => alice };
}

/** Each query must be refused with 400 invalid_request and a message that starts with its field. */
async function expectFieldErrors(get: (query: string) => Promise<LightMyRequestResponse>, cases: readonly (readonly [string, string])[]): Promise<void> {
  for (const [query, field] of cases) {
    const res = await get(query);
    expect(res.statusCode, query).toBe(400);
    expect(res.json().error, query).toBe('invalid_request');
    expect(res.json().message, query).toMatch(new RegExp(`^${field}: `));
  }
}

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`admin usage reports [${dialect.name}]`, () => {
    describe('most used', () => {
      const ctx = withApp(dialect);
      const get = (query = '', session = ctx.admin()) => ctx.t().app.inject({ method: 'GET', url: `/api/v1/admin/usage/most-used${query}`, headers: asSession(session) });
      const use = async (tok: CreatedToken, times: number) => {
        for (let i = 0; i < times; i++) expect((await ctx.t().app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(tok.token) })).statusCode).toBe(200);
      };
      const refuse = async (tok: CreatedToken) =>
        expect((await ctx.t().app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers: bearer(tok.token), payload: { name: 'x', scopes: ['tokens:read'] } })).statusCode).toBe(403);
      const ranked = (res: { json(): { items: Ranked[] } }) => res.json().items.map((i) => [i.pat.name, i.uses, i.failures]);

      let revoked: CreatedToken;
      let dayStart: number;

      it('ranks tokens by successful uses in the window, from the flushed hourly counts, with their owner', async () => {
        const { t } = ctx;
        // 1. Mid-morning (UTC) of a known day: "today" has hours before and after it.
        t().clock.advance(DAY - (t().clock.now() % DAY) + 10 * HOUR);
        dayStart = t().clock.now() - 10 * HOUR;
        // 2. Uses a minute before today began count for a two-day window, not for one.
        t().clock.advance(-(10 * HOUR + 60_000));
        const old = await createToken(t(), ctx.alice(), { name: 'old', scopes: ['tokens:read'], expiresInDays: 90 });
        await use(old, 7);
        await t().container.usage.flush();
        t().clock.advance(10 * HOUR + 60_000);

        const a = await createToken(t(), ctx.alice(), { name: 'a', scopes: ['tokens:read'], expiresInDays: 30 });
        const b = await createToken(t(), ctx.alice(), { name: 'b', scopes: ['tokens:read'], expiresInDays: 30 });
        const c = await createToken(t(), ctx.admin(), { name: 'c', scopes: ['tokens:read'], expiresInDays: 30 });
        // Never used: never ranked.
        await createToken(t(), ctx.alice(), { name: 'idle', scopes: ['tokens:read'], expiresInDays: 30 });
        revoked = await createToken(t(), ctx.alice(), { name: 'revoked', scopes: ['tokens:read'], expiresInDays: 30 });
        const expiring = await createToken(t(), ctx.alice(), { name: 'expiring', scopes: ['tokens:read'], expiresInDays: 1 });
        await use(a, 5);
        await use(b, 2);
        await refuse(b);
        await use(c, 1);
        await use(revoked, 9);
        await use(expiring, 4);
        // 3. Uses wait in memory until a flush: nothing to rank yet.
        expect((await get('?days=1')).json().items).toEqual([]);
        await t().container.usage.flush();

        const res = await get('?days=1');
        expect(res.statusCode).toBe(200);
        const body = res.json();
        expect(body).toMatchObject({ days: 1, from: new Date(dayStart).toISOString(), to: new Date(t().clock.now()).toISOString() });
        expect(ranked(res)).toEqual([
          ['revoked', 9, 0],
          ['a', 5, 0],
          ['expiring', 4, 0],
          ['b', 2, 1],
          ['c', 1, 0],
        ]);
        const first = body.items[0].pat;
        expect(first).toMatchObject({ id: revoked.id, ownerUsername: 'alice', userId: ctx.alice().userId, status: 'active', scopes: ['tokens:read'] });
        expect(first.lastUsedAt).toBe(new Date(t().clock.now()).toISOString());
        expect(Object.keys(first).sort()).toEqual([...Object.keys(revoked.pat), 'ownerUsername'].sort());
        expect(body.items.find((i: Ranked) => i.pat.name === 'c').pat.ownerUsername).toBe('admin');
        // 4. A token's `uses` is the sum of its chart's successful uses over the same days.
        const chart = (await t().app.inject({ method: 'GET', url: `/api/v1/admin/tokens/${a.id}/usage?days=1`, headers: asSession(ctx.admin()) })).json();
        expect(chart.buckets[0].outcomes.ok).toBe(5);
      });

      it('counts whole UTC days back, today included', async () => {
        expect(ranked(await get('?days=2'))).toEqual([
          ['revoked', 9, 0],
          ['old', 7, 0],
          ['a', 5, 0],
          ['expiring', 4, 0],
          ['b', 2, 1],
          ['c', 1, 0],
        ]);
        expect((await get('?days=2')).json().from).toBe(new Date(dayStart - DAY).toISOString());
        // Thirty days by default.
        expect((await get()).json()).toMatchObject({ days: 30, from: new Date(dayStart - 29 * DAY).toISOString() });
        expect((await get()).json().items).toHaveLength(6);
      });

      it('leaves out revoked and expired tokens unless asked for them', async () => {
        const { t } = ctx;
        expect((await t().app.inject({ method: 'DELETE', url: `/api/v1/admin/tokens/${revoked.id}`, headers: asSession(ctx.admin()) })).statusCode).toBe(204);
        // 1. A use of the revoked token is refused: a failure, not a use.
        expect((await t().app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(revoked.token) })).statusCode).toBe(401);
        await t().container.usage.flush();
        t().clock.advance(DAY + 60_000);
        // 2. A day on, "expiring" has expired; the window of two days still holds every use.
        expect(ranked(await get('?days=2'))).toEqual([
          ['a', 5, 0],
          ['b', 2, 1],
          ['c', 1, 0],
        ]);
        expect(ranked(await get('?days=2&status=all'))).toEqual([
          ['revoked', 9, 1],
          ['a', 5, 0],
          ['expiring', 4, 0],
          ['b', 2, 1],
          ['c', 1, 0],
        ]);
        expect(ranked(await get('?days=2&status=revoked'))).toEqual([['revoked', 9, 1]]);
        expect(ranked(await get('?days=2&status=expired'))).toEqual([['expiring', 4, 0]]);
        expect((await get('?days=2&status=all')).json().items[0].pat.status).toBe('revoked');
        // 3. Yesterday's uses are outside a one-day window now.
        expect((await get('?days=1')).json().items).toEqual([]);
      });

      it('returns `limit` tokens, ties in id order', async () => {
        const { t } = ctx;
        const tied = [
          await createToken(t(), ctx.alice(), { name: 'tie-1', scopes: ['tokens:read'], expiresInDays: 30 }),
          await createToken(t(), ctx.alice(), { name: 'tie-2', scopes: ['tokens:read'], expiresInDays: 30 }),
          await createToken(t(), ctx.alice(), { name: 'tie-3', scopes: ['tokens:read'], expiresInDays: 30 }),
        ];
        for (const tok of tied) await use(tok, 20);
        await t().container.usage.flush();
        const top = (await get('?days=1&limit=2')).json().items.map((i: Ranked) => i.pat.id);
        expect(top).toEqual(tied.map((tok) => tok.id).sort().slice(0, 2));
        expect((await get('?days=1&limit=100')).json().items).toHaveLength(3);
      });

      it('refuses bad queries with 400 naming the field', async () => {
        await expectFieldErrors(get, [
          ['?days=0', 'days'],
          ['?days=91', 'days'],
          ['?days=ten', 'days'],
          ['?days=1.5', 'days'],
          ['?limit=0', 'limit'],
          ['?limit=101', 'limit'],
          ['?status=gone', 'status'],
          ['?user=alice', 'user'],
        ]);
      });
    });

    describe('never used', () => {
      const ctx = withApp(dialect);
      const get = (query = '', session = ctx.admin()) => ctx.t().app.inject({ method: 'GET', url: `/api/v1/admin/usage/never-used${query}`, headers: asSession(session) });
      const names = (res: { json(): { items: { name: string }[] } }) => res.json().items.map((p) => p.name);

      it('lists active tokens never used and older than a week, oldest first, with their owner', async () => {
        const { t } = ctx;
        const at = (name: string, body: Record<string, unknown> = {}) => createToken(t(), ctx.alice(), { name, scopes: ['tokens:read'], expiresInDays: 90, ...body });
        await at('first');
        t().clock.advance(HOUR);
        const used = await at('used');
        const revoked = await at('revoked');
        await at('expired', { expiresInDays: 8 });
        await at('forever', { expiresInDays: null });
        t().clock.advance(HOUR);
        await at('second');
        expect((await t().app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(used.token) })).statusCode).toBe(200);
        await t().container.usage.flush();
        expect((await t().app.inject({ method: 'DELETE', url: `/api/v1/admin/tokens/${revoked.id}`, headers: asSession(ctx.admin()) })).statusCode).toBe(204);

        // 1. Too young to be a candidate: a week by default.
        t().clock.advance(7 * DAY - 2 * HOUR - 1);
        expect(names(await get())).toEqual([]);
        expect(names(await get('?olderThanDays=0'))).toEqual(['first', 'expired', 'forever', 'second']);
        t().clock.advance(2 * HOUR + 1);
        expect(names(await get())).toEqual(['first', 'expired', 'forever']);

        // 2. The eight-day token has expired a day later: no longer a candidate.
        t().clock.advance(DAY);
        const res = await get();
        expect(res.statusCode).toBe(200);
        expect(names(res)).toEqual(['first', 'forever', 'second']);
        expect(res.json()).toMatchObject({ nextCursor: null });
        expect(res.json().items[0]).toMatchObject({ ownerUsername: 'alice', status: 'active', lastUsedAt: null, userId: ctx.alice().userId });
        expect(names(await get('?olderThanDays=30'))).toEqual([]);
      });

      it('adds tokens not used for unusedForDays when asked', async () => {
        const { t } = ctx;
        // "used" was used 8 days ago; "fresh" is used now.
        const fresh = await createToken(t(), ctx.alice(), { name: 'fresh', scopes: ['tokens:read'], expiresInDays: 90 });
        expect((await t().app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(fresh.token) })).statusCode).toBe(200);
        await t().container.usage.flush();
        expect(names(await get('?unusedForDays=7&olderThanDays=0'))).toEqual(['first', 'used', 'forever', 'second']);
        expect(names(await get('?unusedForDays=9&olderThanDays=0'))).toEqual(['first', 'forever', 'second']);
      });

      it('pages with a cursor, oldest first, each token once', async () => {
        const { t } = ctx;
        for (let i = 0; i < 4; i++) await createToken(t(), ctx.admin(), { name: `batch-${i}`, scopes: ['tokens:read'], expiresInDays: 90 });
        // olderThanDays=0 means created before now: step past the batch's creation time.
        t().clock.advance(1);
        const all = names(await get('?olderThanDays=0&limit=200'));
        expect(all).toEqual(['first', 'forever', 'second', 'batch-0', 'batch-1', 'batch-2', 'batch-3']);
        const seen: string[] = [];
        let cursor: string | null = '';
        for (let pages = 0; cursor !== null; pages++) {
          expect(pages).toBeLessThan(5);
          const res = await get(`?olderThanDays=0&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
          expect(res.statusCode).toBe(200);
          expect(res.json().items.length).toBeLessThanOrEqual(2);
          seen.push(...names(res));
          cursor = res.json().nextCursor;
        }
        expect(seen).toEqual(all);
      });

      it('refuses bad queries with 400 naming the field', async () => {
        await expectFieldErrors(get, [
          ['?olderThanDays=-1', 'olderThanDays'],
          ['?olderThanDays=week', 'olderThanDays'],
          ['?unusedForDays=0', 'unusedForDays'],
          ['?unusedForDays=36501', 'unusedForDays'],
          ['?limit=201', 'limit'],
          ['?cursor=not-a-cursor', 'cursor'],
          // Well-formed JSON a server never issues: PostgreSQL would refuse to compare these.
          ...[[1.5, 'x'], [1e21, 'x'], [1, 'a\u0000b'], [1, '']].map((c): [string, string] => [`?cursor=${Buffer.from(JSON.stringify(c)).toString('base64url')}`, 'cursor']),
          ['?days=3', 'days'],
        ]);
      });
    });

    describe('access', () => {
      const ctx = withApp(dialect);
      const routes = ['/api/v1/admin/usage/most-used', '/api/v1/admin/usage/never-used'];

      it('refuses a plain user with 403, and answers an admin token with admin:read', async () => {
        const { t } = ctx;
        const own = await createToken(t(), ctx.alice(), { scopes: ['tokens:read', 'tokens:write'] });
        const reader = await createToken(t(), ctx.admin(), { scopes: ['admin:read'] });
        for (const url of routes) {
          const res = await t().app.inject({ method: 'GET', url, headers: asSession(ctx.alice()) });
          expect(res.statusCode, url).toBe(403);
          expect(res.json().error, url).toBe('insufficient_scope');
          expect((await t().app.inject({ method: 'GET', url, headers: bearer(own.token) })).statusCode, url).toBe(403);
          expect((await t().app.inject({ method: 'GET', url, headers: bearer(reader.token) })).statusCode, url).toBe(200);
        }
      });

      it('documents both routes, their queries and answers in /openapi.json', async () => {
        const doc = (await ctx.t().app.inject({ method: 'GET', url: '/openapi.json' })).json();
        const params = (path: string) => doc.paths[path].get.parameters.map((p: { name: string }) => p.name).sort();
        expect(params('/api/v1/admin/usage/most-used')).toEqual(['days', 'limit', 'status']);
        expect(params('/api/v1/admin/usage/never-used')).toEqual(['cursor', 'limit', 'olderThanDays', 'unusedForDays']);
        const ok = (path: string) => JSON.stringify(doc.paths[path].get.responses['200']);
        expect(ok('/api/v1/admin/usage/most-used')).toContain('ownerUsername');
        expect(ok('/api/v1/admin/usage/never-used')).toContain('nextCursor');
      });

      const security = () => ({ t: ctx.t(), admin: ctx.admin() });
      for (const url of routes) securityCases(security, { method: 'GET', url, scope: 'admin:read' });
    });
  });
}
