import { generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '@keyfob/protocol';
import { DIALECTS, sqlite } from '../helpers/dialects.js';
import { asSession, bearer, createToken, createTestApp, createUser, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';

const report = (t: TestApp, credentials: unknown, from = '192.0.2.10') =>
  t.app.inject({ method: 'POST', url: '/credentials/revoke', payload: { credentials }, remoteAddress: from });

async function eventsOf(t: TestApp, owner: Session, id: string): Promise<{ action: string; details: Record<string, unknown> }[]> {
  const res = await t.app.inject({ method: 'GET', url: `/api/v1/me/tokens/${id}/events`, headers: asSession(owner) });
  expect(res.statusCode).toBe(200);
  return res.json().items;
}

describe('token pattern for secret scanners', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(sqlite, { KEYFOB_TOKEN_PREFIX: 'acme_pat', KEYFOB_LEGACY_TOKEN_PREFIXES: 'kf_pat' });
  });
  afterAll(async () => t?.close());

  it('publishes a regex and a gitleaks rule that find this instance’s tokens, old prefixes included, and nothing else', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/.well-known/keyfob-token-pattern' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.prefixes).toEqual(['acme_pat', 'kf_pat']);
    const regex = new RegExp(body.regex, 'g');
    const current = generateToken('acme_pat').token;
    const old = generateToken('kf_pat').token;
    const text = `export A=${current}\nconst b = "${old}";\nother_pat_${'x'.repeat(46)} ${current}extra`;
    expect(text.match(regex)).toEqual([current, old]);
    expect(body.gitleaks).toContain(`regex = '''${body.regex}'''`);
    expect(body.revocationEndpoint).toMatch(/\/credentials\/revoke$/);

    const plain = await t.app.inject({ method: 'GET', url: '/.well-known/keyfob-token-pattern?format=regex' });
    expect(plain.headers['content-type']).toMatch(/^text\/plain/);
    expect(plain.body.trim()).toBe(body.regex);
    const toml = await t.app.inject({ method: 'GET', url: '/.well-known/keyfob-token-pattern?format=gitleaks' });
    expect(toml.body).toContain('[[rules]]');
    expect(toml.body).toContain('keywords = ["acme_pat_", "kf_pat_"]');
    expect((await t.app.inject({ method: 'GET', url: '/.well-known/keyfob-token-pattern?format=yaml' })).statusCode).toBe(400);
  });
});

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`POST /credentials/revoke [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    let alice: Session;
    beforeAll(async () => {
      t = await createTestApp(dialect, { KEYFOB_LIMIT_CREDENTIAL_REPORTS: '5/1m' });
      admin = await setupAdmin(t);
      alice = await createUser(t, admin, 'alice');
    });
    afterAll(async () => t?.close());

    it('revokes each reported active token, tells its owner, and answers the same whatever was found', async () => {
      const leaked = await createToken(t, alice, { name: 'leaked-one' });
      const gone = await createToken(t, alice, { name: 'already-revoked' });
      await t.app.inject({ method: 'DELETE', url: `/api/v1/me/tokens/${gone.id}`, headers: asSession(alice) });
      const eventsBefore = (await eventsOf(t, alice, gone.id)).length;
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(leaked.token) })).statusCode).toBe(200);

      const res = await report(t, [leaked.token, gone.token, generateToken('kf_pat').token, 'not-a-token', leaked.token]);
      expect(res.statusCode).toBe(202);
      expect(res.json()).toEqual({});
      const nothingOurs = await report(t, [generateToken('kf_pat').token]);
      expect(nothingOurs.statusCode).toBe(202);
      expect(nothingOurs.body).toBe(res.body);

      expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(leaked.token) })).statusCode).toBe(401);
      const read = await t.app.inject({ method: 'GET', url: `/api/v1/me/tokens/${leaked.id}`, headers: asSession(alice) });
      expect(read.json()).toMatchObject({ status: 'revoked' });
      const events = await eventsOf(t, alice, leaked.id);
      expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(['token.revoked', 'token.leaked']));
      expect(events.find((e) => e.action === 'token.leaked')!.details).toMatchObject({ reporter: expect.stringContaining('public report'), ownerId: alice.userId });
      // Already revoked: nothing new happens to it.
      expect(await eventsOf(t, alice, gone.id)).toHaveLength(eventsBefore);
      // A replay changes nothing either.
      expect((await report(t, [leaked.token])).statusCode).toBe(202);
      expect(await eventsOf(t, alice, leaked.id)).toHaveLength(events.length);
      // No plaintext in logs or audit details.
      const audit = await t.app.inject({ method: 'GET', url: '/api/v1/admin/audit?limit=200', headers: asSession(admin) });
      expect(audit.body).not.toContain(leaked.token);
      expect(t.logs.join('')).not.toContain(leaked.token);
    });

    it('refuses malformed bodies with the field named, and revokes nothing', async () => {
      const kept = await createToken(t, alice);
      const cases: unknown[] = [undefined, [], [42], ['x'.repeat(257)], Array.from({ length: 1001 }, () => kept.token)];
      for (const credentials of cases) {
        const res = await report(t, credentials, '192.0.2.99');
        expect(res.statusCode, JSON.stringify(credentials)?.slice(0, 40)).toBe(400);
        expect(res.json()).toMatchObject({ error: 'invalid_request', message: expect.stringContaining('credentials') });
      }
      const extra = await t.app.inject({ method: 'POST', url: '/credentials/revoke', payload: { credentials: [kept.token], more: 1 }, remoteAddress: '192.0.2.98' });
      expect(extra.statusCode).toBe(400);
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(kept.token) })).statusCode).toBe(200);
    });

    it('is rate-limited per address, counting each well-formed token reported', async () => {
      for (let i = 0; i < 5; i++) expect((await report(t, [generateToken('kf_pat').token], '198.51.100.3')).statusCode).toBe(202);
      const refused = await report(t, [generateToken('kf_pat').token], '198.51.100.3');
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['retry-after']).toBeDefined();
      expect((await report(t, [generateToken('kf_pat').token], '198.51.100.4')).statusCode).toBe(202);
      // Six tokens in one request cost six; garbage costs one request's worth.
      const six = Array.from({ length: 6 }, () => generateToken('kf_pat').token);
      expect((await report(t, six, '198.51.100.5')).statusCode).toBe(429);
      expect((await report(t, Array.from({ length: 50 }, (_, i) => `garbage-${i}`), '198.51.100.6')).statusCode).toBe(202);
    });
  });
}

describe('GitHub secret-scanning partner endpoint', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const KEY_ID = 'bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c';
  const keys = JSON.stringify({ public_keys: [{ key_identifier: KEY_ID, key: publicKey.export({ type: 'spki', format: 'pem' }), is_current: true }] });
  let t: TestApp;
  let alice: Session;
  beforeAll(async () => {
    t = await createTestApp(sqlite, { KEYFOB_GITHUB_SCANNING_KEYS: keys });
    const admin = await setupAdmin(t);
    alice = await createUser(t, admin, 'alice');
  });
  afterAll(async () => t?.close());

  function post(body: string, signer = privateKey, keyId = KEY_ID) {
    const signature = sign('sha256', Buffer.from(body), signer).toString('base64');
    return t.app.inject({
      method: 'POST',
      url: '/credentials/github-secret-scanning',
      headers: { 'content-type': 'application/json', 'github-public-key-identifier': keyId, 'github-public-key-signature': signature },
      payload: body,
    });
  }

  it('revokes reported tokens, answers per-token feedback, and changes nothing on a replay', async () => {
    const leaked = await createToken(t, alice, { name: 'on-github' });
    const foreign = generateToken('kf_pat').token;
    const body = JSON.stringify([
      { token: leaked.token, type: 'keyfob_pat', url: 'https://github.com/octo/repo/blob/abc/ci.yml', source: 'content' },
      { token: foreign, type: 'keyfob_pat', url: 'https://github.com/octo/repo/blob/abc/x', source: 'content' },
      { token: 'kf_pat_garbage', type: 'keyfob_pat', url: 'https://github.com/octo/repo', source: 'commit' },
    ]);
    const res = await post(body);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual([
      { token_raw: leaked.token, token_type: 'keyfob_pat', label: 'true_positive' },
      { token_raw: foreign, token_type: 'keyfob_pat', label: 'false_positive' },
      { token_raw: 'kf_pat_garbage', token_type: 'keyfob_pat', label: 'false_positive' },
    ]);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(leaked.token) })).statusCode).toBe(401);
    const events = await eventsOf(t, alice, leaked.id);
    expect(events.find((e) => e.action === 'token.leaked')!.details).toMatchObject({ reporter: 'GitHub secret scanning', url: 'https://github.com/octo/repo/blob/abc/ci.yml', where: 'content' });

    const replay = await post(body);
    expect(replay.statusCode).toBe(200);
    expect(replay.json()).toEqual(res.json());
    expect(await eventsOf(t, alice, leaked.id)).toHaveLength(events.length);
  });

  it('refuses a report without a good signature (401) and does nothing', async () => {
    const target = await createToken(t, alice);
    const body = JSON.stringify([{ token: target.token, type: 'keyfob_pat', url: 'https://github.com/x', source: 'content' }]);
    const wrongKey = await post(body, other.privateKey);
    expect(wrongKey.statusCode).toBe(401);
    expect(wrongKey.json()).toMatchObject({ error: 'unauthorized' });
    expect((await post(body, privateKey, 'unknown-key-id')).statusCode).toBe(401);
    const signature = sign('sha256', Buffer.from(body), privateKey).toString('base64');
    const tampered = await t.app.inject({
      method: 'POST',
      url: '/credentials/github-secret-scanning',
      headers: { 'content-type': 'application/json', 'github-public-key-identifier': KEY_ID, 'github-public-key-signature': signature },
      payload: body.replace('content', 'commit'),
    });
    expect(tampered.statusCode).toBe(401);
    const unsigned = await t.app.inject({ method: 'POST', url: '/credentials/github-secret-scanning', headers: { 'content-type': 'application/json' }, payload: body });
    expect(unsigned.statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens/self', headers: bearer(target.token) })).statusCode).toBe(200);
  });

  it('answers a signed report that is not a list of matches with 400', async () => {
    for (const body of ['{"token":"x"}', '[]', '[{"type":"keyfob_pat"}]', 'not json']) {
      const res = await post(body);
      expect(res.statusCode, body).toBe(400);
      expect(res.json()).toMatchObject({ error: 'invalid_request', message: expect.stringContaining('body') });
    }
  });
});

describe('GitHub secret scanning not configured', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(sqlite);
  });
  afterAll(async () => t?.close());

  it('answers 404', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/credentials/github-secret-scanning', headers: { 'content-type': 'application/json' }, payload: '[]' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: 'not_found' });
  });
});
