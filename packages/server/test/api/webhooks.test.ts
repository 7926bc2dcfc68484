import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifySignature } from '../../src/crypto/webhook-signature.js';
import { DIALECTS } from '../helpers/dialects.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/receivers.js';
import { asSession, createToken, createUser, setupAdmin, createTestApp, type Session, type TestApp } from '../helpers/test-app.js';

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`webhooks [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    let alice: Session;
    let receiver: WebhookReceiver;
    beforeAll(async () => {
      t = await createTestApp(dialect, { KEYFOB_WEBHOOK_TIMEOUT_MS: '400' });
      admin = await setupAdmin(t);
      alice = await createUser(t, admin, 'alice');
      receiver = await startWebhookReceiver();
    });
    afterAll(async () => {
      await receiver?.close();
      await t?.close();
    });
    beforeEach(async () => {
      // Whatever earlier tests left in the outbox goes out now, to hooks that may no longer matter.
      await t.container.jobs.runOnce();
      receiver.received.length = 0;
      receiver.answers = [];
    });

    const api = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, session: Session = admin) =>
      t.app.inject({ method, url: `/api/v1${url}`, headers: asSession(session), ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
    const register = async (events: string[], extra: Record<string, unknown> = {}) => {
      const res = await api('POST', '/admin/webhooks', { url: receiver.url, events, description: 'test hook', ...extra });
      expect(res.statusCode, res.body).toBe(201);
      return res.json() as { id: string; secret: string };
    };
    const deliveriesOf = async (id: string) => (await api('GET', `/admin/webhooks/${id}/deliveries`)).json().items as Record<string, any>[];

    it('registers a webhook (secret shown once), validates what it is given, and keeps it to admins', async () => {
      const created = await register(['token.*', 'user.created']);
      expect(created.secret).toMatch(/^kf_whsec_[A-Za-z0-9_-]{43}$/);
      expect(created).toMatchObject({ url: receiver.url, events: ['token.*', 'user.created'], description: 'test hook', active: true });
      const read = await api('GET', `/admin/webhooks/${created.id}`);
      expect(read.statusCode).toBe(200);
      expect(read.body).not.toContain(created.secret);
      expect((await api('GET', '/admin/webhooks')).body).not.toContain(created.secret);

      for (const [body, field] of [
        [{ url: 'ftp://example.com/x', events: ['*'] }, 'url'],
        [{ url: 'not a url', events: ['*'] }, 'url'],
        [{ url: 'https://user:pw@example.com/x', events: ['*'] }, 'url'],
        [{ url: 'https://example.com/x', events: [] }, 'events'],
        [{ url: 'https://example.com/x', events: ['token.exploded'] }, 'events'],
        [{ url: 'https://example.com/x', events: ['nothing.*'] }, 'events'],
        [{ url: 'https://example.com/x' }, 'events'],
        // 1,020 characters in, 6,020 once percent-encoded.
        [{ url: `https://example.com/${'é'.repeat(1000)}`, events: ['*'] }, 'url'],
      ] as const) {
        const res = await api('POST', '/admin/webhooks', body);
        expect(res.statusCode, JSON.stringify(body)).toBe(400);
        expect(res.json()).toMatchObject({ error: 'invalid_request' });
        expect(res.json().message).toContain(field);
      }
      expect((await api('GET', '/admin/webhooks', undefined, alice)).statusCode).toBe(403);
      expect((await api('POST', '/admin/webhooks', { url: receiver.url, events: ['*'] }, alice)).statusCode).toBe(403);
      expect((await api('GET', '/admin/webhooks/nope')).statusCode).toBe(404);

      // The audit trail names the hook, never its secret.
      const audit = (await api('GET', '/admin/audit?action=webhook.created')).body;
      expect(audit).toContain(created.id);
      expect(audit).not.toContain(created.secret);
      expect(t.logs.join('')).not.toContain(created.secret);
      await api('DELETE', `/admin/webhooks/${created.id}`);
    });

    it('delivers subscribed events signed with Keyfob-Signature, the token as metadata only', async () => {
      const hook = await register(['token.*']);
      const tok = await createToken(t, alice, { name: 'ci-deploy', scopes: ['tokens:read'], expiresInDays: 30 });
      await createUser(t, admin, 'bob');
      expect(await t.container.jobs.runOnce()).toBe(true);

      const mine = receiver.received.filter((r) => r.headers['keyfob-event'] === 'token.created');
      expect(mine).toHaveLength(1);
      expect(receiver.received.map((r) => r.headers['keyfob-event'])).not.toContain('user.created');
      const [delivery] = mine;
      const body = JSON.parse(delivery!.body);
      expect(body).toMatchObject({ type: 'token.created', createdAt: new Date(t.clock.now()).toISOString() });
      expect(body.data.token).toMatchObject({ id: tok.id, name: 'ci-deploy', scopes: ['tokens:read'], status: 'active', ownerUsername: 'alice' });
      expect(body.data.actor.userId).toBe(alice.userId);
      expect(delivery!.body).not.toContain(tok.token);
      expect(delivery!.headers['content-type']).toBe('application/json');

      // t=<unix seconds>,v1=<hex HMAC-SHA-256 of "<t>.<raw body>">
      const signature = String(delivery!.headers['keyfob-signature']);
      const t0 = Math.floor(t.clock.now() / 1000);
      expect(signature).toBe(`t=${t0},v1=${createHmac('sha256', hook.secret).update(`${t0}.${delivery!.body}`).digest('hex')}`);
      expect(verifySignature(hook.secret, signature, delivery!.body, t0)).toBe(true);
      expect(verifySignature(hook.secret, signature, delivery!.body.replace('ci-deploy', 'ci-deplox'), t0)).toBe(false);
      expect(verifySignature(hook.secret, signature, delivery!.body, t0 + 3600)).toBe(false);

      const log = await deliveriesOf(hook.id);
      const entry = log.find((d) => d.eventType === 'token.created')!;
      expect(entry).toMatchObject({ status: 'succeeded', attempts: 1, responseStatus: 200, error: null, eventId: body.id, id: delivery!.headers['keyfob-delivery'] });
      expect(entry.payload).toEqual(body);
      await api('DELETE', `/admin/webhooks/${hook.id}`);
    });

    it('retries a failed delivery with back-off, the same event and bytes, and gives up after the last attempt', async () => {
      const hook = await register(['token.revoked']);
      const tok = await createToken(t, alice, { scopes: ['tokens:read'] });
      expect((await api('DELETE', `/me/tokens/${tok.id}`, undefined, alice)).statusCode).toBe(204);
      receiver.answers = [500, 'hang'];
      await t.container.jobs.runOnce();
      let [entry] = await deliveriesOf(hook.id);
      expect(entry).toMatchObject({ status: 'pending', attempts: 1, responseStatus: 500, error: 'the receiver answered 500' });
      expect(Date.parse(entry!.nextAttemptAt) - t.clock.now()).toBe(10_000);
      // Not due yet: nothing is sent.
      await t.container.jobs.runOnce();
      expect(receiver.received).toHaveLength(1);

      t.clock.advance(10_000);
      await t.container.jobs.runOnce();
      [entry] = await deliveriesOf(hook.id);
      expect(entry).toMatchObject({ status: 'pending', attempts: 2, responseStatus: null, error: 'no answer within 400 ms' });
      expect(Date.parse(entry!.nextAttemptAt) - t.clock.now()).toBe(60_000);

      t.clock.advance(60_000);
      await t.container.jobs.runOnce();
      [entry] = await deliveriesOf(hook.id);
      expect(entry).toMatchObject({ status: 'succeeded', attempts: 3, responseStatus: 200 });
      expect(receiver.received).toHaveLength(3);
      expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
      expect(new Set(receiver.received.map((r) => r.headers['keyfob-delivery'])).size).toBe(1);
      // Each attempt is signed when it is sent.
      expect(new Set(receiver.received.map((r) => r.headers['keyfob-signature'])).size).toBe(3);

      // A receiver that never recovers: eight attempts over about a day, then failed.
      receiver.received.length = 0;
      const doomed = await createToken(t, alice, { scopes: ['tokens:read'] });
      await api('DELETE', `/me/tokens/${doomed.id}`, undefined, alice);
      receiver.answers = Array.from({ length: 20 }, () => 503);
      for (let i = 0; i < 12; i++) {
        await t.container.jobs.runOnce();
        t.clock.advance(13 * 3_600_000);
      }
      [entry] = await deliveriesOf(hook.id);
      expect(entry).toMatchObject({ status: 'failed', attempts: 8, nextAttemptAt: null, responseStatus: 503 });
      expect(receiver.received).toHaveLength(8);
      await api('DELETE', `/admin/webhooks/${hook.id}`);
    });

    it('re-sends a delivery as a new delivery of the same event, and reaches a receiver whose secret was rotated', async () => {
      const hook = await register(['token.created']);
      await createToken(t, alice, { scopes: ['tokens:read'] });
      await t.container.jobs.runOnce();
      const [first] = await deliveriesOf(hook.id);
      expect(first!.status).toBe('succeeded');

      const rotated = await api('POST', `/admin/webhooks/${hook.id}/secret`);
      expect(rotated.statusCode).toBe(201);
      const secret = rotated.json().secret as string;
      expect(secret).not.toBe(hook.secret);

      const again = await api('POST', `/admin/webhooks/${hook.id}/deliveries/${first!.id}/redeliver`);
      expect(again.statusCode).toBe(201);
      expect(again.json()).toMatchObject({ status: 'pending', eventId: first!.eventId, redeliveryOf: first!.id, attempts: 0 });
      expect(again.json().id).not.toBe(first!.id);
      await t.container.jobs.runOnce();
      const resent = receiver.received.at(-1)!;
      expect(resent.headers['keyfob-delivery']).toBe(again.json().id);
      expect(JSON.parse(resent.body).id).toBe(first!.eventId);
      expect(resent.body).toBe(receiver.received[0]!.body);
      const now = Math.floor(t.clock.now() / 1000);
      expect(verifySignature(secret, String(resent.headers['keyfob-signature']), resent.body, now)).toBe(true);
      expect(verifySignature(hook.secret, String(resent.headers['keyfob-signature']), resent.body, now)).toBe(false);
      expect((await api('GET', `/admin/webhooks/${hook.id}/deliveries/${again.json().id}`)).json().status).toBe('succeeded');
      expect((await api('POST', `/admin/webhooks/${hook.id}/deliveries/nope/redeliver`)).statusCode).toBe(404);
      await api('DELETE', `/admin/webhooks/${hook.id}`);
    });

    it('sends a token.revoked event for each token of a bulk revocation, besides the one token.bulk_revoked', async () => {
      const hook = await register(['token.revoked', 'token.bulk_revoked']);
      const bob = await createUser(t, admin, 'bulk-bob');
      const tokens = [await createToken(t, bob, { scopes: ['tokens:read'] }), await createToken(t, bob, { scopes: ['tokens:read'] })];
      const res = await api('POST', '/admin/tokens/revoke', { userId: bob.userId, reason: 'left the company' });
      expect(res.statusCode, res.body).toBeLessThan(300);
      await t.container.jobs.runOnce();
      const events = receiver.received.map((r) => JSON.parse(r.body) as { type: string; data: { token?: { id: string }; details: Record<string, unknown> } });
      expect(events.filter((e) => e.type === 'token.bulk_revoked')).toHaveLength(1);
      const revoked = events.filter((e) => e.type === 'token.revoked');
      expect(revoked.map((e) => e.data.token?.id).sort()).toEqual(tokens.map((k) => k.id).sort());
      for (const e of revoked) expect(e.data.details).toMatchObject({ reason: 'left the company' });
      await api('DELETE', `/admin/webhooks/${hook.id}`);
    });

    it('sends nothing to a paused webhook, and forgets a deleted one with its log', async () => {
      const hook = await register(['*'], { active: false });
      expect((await api('GET', `/admin/webhooks/${hook.id}`)).json().active).toBe(false);
      await createToken(t, alice, { scopes: ['tokens:read'] });
      await t.container.jobs.runOnce();
      expect(receiver.received).toHaveLength(0);
      expect(await deliveriesOf(hook.id)).toHaveLength(0);

      expect((await api('PATCH', `/admin/webhooks/${hook.id}`, { active: true, events: ['token.created'] })).json()).toMatchObject({ active: true, events: ['token.created'] });
      await createToken(t, alice, { scopes: ['tokens:read'] });
      await t.container.jobs.runOnce();
      expect(receiver.received).toHaveLength(1);
      expect((await api('DELETE', `/admin/webhooks/${hook.id}`)).statusCode).toBe(204);
      expect((await api('GET', `/admin/webhooks/${hook.id}/deliveries`)).statusCode).toBe(404);
      expect(await t.container.store.db.selectFrom('webhook_deliveries').select('id').where('webhook_id', '=', hook.id).execute()).toHaveLength(0);
    });

    it('pages the delivery log newest first', async () => {
      const hook = await register(['token.created']);
      for (let i = 0; i < 5; i++) {
        await createToken(t, alice, { scopes: ['tokens:read'] });
        t.clock.advance(1000);
      }
      await t.container.jobs.runOnce();
      const first = (await api('GET', `/admin/webhooks/${hook.id}/deliveries?limit=2`)).json();
      expect(first.items).toHaveLength(2);
      const second = (await api('GET', `/admin/webhooks/${hook.id}/deliveries?limit=10&cursor=${first.nextCursor}`)).json();
      expect(second.items).toHaveLength(3);
      expect(second.nextCursor).toBeNull();
      const all = [...first.items, ...second.items].map((d: { createdAt: string; eventId: string }) => d.eventId);
      expect(new Set(all).size).toBe(5);
      expect((await api('GET', `/admin/webhooks/${hook.id}/deliveries?cursor=garbage`)).statusCode).toBe(400);
      await api('DELETE', `/admin/webhooks/${hook.id}`);
    });
  });
}
