import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/dialects.js';
import { listenOnLoopback } from '../helpers/loopback.js';
import { asSession, createTestApp, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';
import { basic, createClient, form } from '../helpers/oauth.js';

/** Sends the headers and part of a body that declares more, then closes the connection. */
function hangUpMidBody(port: number, path: string, headers: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      const lines = Object.entries({ host: 'keyfob.test', 'content-length': '1000', ...headers }).map(([name, value]) => `${name}: ${value}\r\n`);
      socket.write(`POST ${path} HTTP/1.1\r\n${lines.join('')}\r\nname=`, () => setTimeout(() => socket.destroy(), 50));
    });
    socket.on('error', reject);
    socket.on('close', () => resolve());
  });
}

async function oauthErrors(t: TestApp): Promise<string[]> {
  const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
  return text.split('\n').filter((line) => line.startsWith('keyfob_oauth_errors_total{'));
}

/** A client that hangs up in the middle of its body is the client's failure, not a store outage. */
for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`a body the client stops sending [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    let port: number;
    beforeAll(async () => {
      // With the access log off, as by default: the introspection lane exists only then.
      t = await createTestApp(dialect, { KEYFOB_ACCESS_LOG: 'off' });
      admin = await setupAdmin(t);
      port = await listenOnLoopback(t);
    });
    afterAll(async () => t?.close());

    it('is neither logged as an error nor counted as temporarily_unavailable', async () => {
      // A client unknown to the cache, so that both OAuth requests reach their Fastify routes.
      const unknownClient = { authorization: `Basic ${Buffer.from('kfc_unknown:secret').toString('base64')}` };
      const formType = { 'content-type': 'application/x-www-form-urlencoded' };
      const client = await createClient(t, admin, { introspection: true });
      // Once used, the client's credential is cached, and its introspections go to the lane.
      expect((await form(t, '/oauth/introspect', { token: 'kf_pat_unknown' }, basic(client))).statusCode).toBe(200);
      const served = t.app.introspectionLane!.served;
      await hangUpMidBody(port, '/api/v1/me/tokens', { 'content-type': 'application/json', ...asSession(admin) });
      await hangUpMidBody(port, '/oauth/token', { ...formType, ...unknownClient });
      await hangUpMidBody(port, '/oauth/introspect', { ...formType, ...unknownClient });
      // A known client too: the request goes to the introspection lane, which has no one to answer.
      await hangUpMidBody(port, '/oauth/introspect', { ...formType, ...basic(client) });
      expect(t.app.introspectionLane!.served).toBe(served + 1);
      const expected = [
        'keyfob_oauth_errors_total{endpoint="/oauth/token",error="invalid_request"} 1',
        'keyfob_oauth_errors_total{endpoint="/oauth/introspect",error="invalid_request"} 2',
      ];
      await expect.poll(() => oauthErrors(t), { timeout: 5000 }).toEqual(expected);
      const errorLines = t.logs.filter((line) => JSON.parse(line).level >= 50);
      expect(errorLines).toEqual([]);
      expect(t.logs.join('\n')).not.toContain('store_unavailable');
    });
  });
}
