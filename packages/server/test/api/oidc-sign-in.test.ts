/**
 * Sign-in with OpenID Connect, end to end against a real provider (oidc-provider on loopback):
 * keyfob runs in-process and talks to the provider over real HTTP (discovery, token, UserInfo,
 * JWKS); the browser is fetch with manual redirects, carrying cookies at both ends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { DIALECTS, sqlite } from '../helpers/dialects.js';
import { freePort } from '../helpers/server-process.js';
import { asSession, createTestApp, setupAdmin, type Session, type TestApp } from '../helpers/test-app.js';
import { IdpBrowser, startIdp, type AccountClaims, type TestIdp } from '../helpers/oidc-idp.js';

const KEYFOB = 'http://localhost:8080';
const CLIENT = { client_id: 'keyfob', client_secret: 'default-client-secret-0123456789' };
const CORP_CLIENT = { client_id: 'keyfob-corp', client_secret: 'corp-client-secret-0123456789' };
const FLOW_COOKIE = 'keyfob_oidc_flow';
const callbackOf = (provider: string) => `${KEYFOB}/api/v1/auth/oidc/${provider}/callback`;

let idp: TestIdp;
beforeAll(async () => {
  idp = await startIdp([
    { ...CLIENT, redirect_uris: [callbackOf('default')] },
    { ...CORP_CLIENT, redirect_uris: [callbackOf('corp')] },
  ]);
});
afterAll(async () => idp?.stop());

function providerEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    KEYFOB_OIDC_ISSUER: idp.issuer,
    KEYFOB_OIDC_CLIENT_ID: CLIENT.client_id,
    KEYFOB_OIDC_CLIENT_SECRET: CLIENT.client_secret,
    KEYFOB_OIDC_LABEL: 'Test IdP',
    KEYFOB_OIDC_ADMIN_CLAIM: 'groups=keyfob-admins',
    KEYFOB_OIDC_SCOPES: 'openid email profile groups',
    KEYFOB_OIDC_PROVIDERS: JSON.stringify([
      { id: 'corp', issuer: idp.issuer, clientId: CORP_CLIENT.client_id, clientSecret: CORP_CLIENT.client_secret, label: 'Corp', allowedDomains: ['corp.example'] },
    ]),
    ...extra,
  };
}

/** The sign-in steps, against one keyfob. */
function flows(t: TestApp) {
  function cookieOf(res: LightMyRequestResponse, name: string) {
    return res.cookies.find((c) => c.name === name);
  }

  /** keyfob's start route: the authorization URL and the flow cookie. */
  async function begin(provider: string, next?: string): Promise<{ authUrl: URL; flowCookie: string; res: LightMyRequestResponse }> {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/auth/oidc/${provider}/start${next === undefined ? '' : `?next=${encodeURIComponent(next)}`}` });
    expect(res.statusCode, res.body).toBe(302);
    const flow = cookieOf(res, FLOW_COOKIE);
    expect(flow, 'flow cookie').toBeDefined();
    return { authUrl: new URL(res.headers.location as string), flowCookie: `${FLOW_COOKIE}=${flow!.value}`, res };
  }

  /** The provider's redirect arriving at keyfob, with or without the flow cookie. */
  function callback(url: URL, flowCookie: string | undefined) {
    return t.app.inject({ method: 'GET', url: `${url.pathname}${url.search}`, headers: flowCookie ? { cookie: flowCookie } : {} });
  }

  async function signIn(provider: string, account: string, options: { browser?: IdpBrowser; next?: string } = {}) {
    const { authUrl, flowCookie } = await begin(provider, options.next);
    const back = await (options.browser ?? new IdpBrowser()).authorize(authUrl, account, KEYFOB);
    return { res: await callback(back, flowCookie), callbackUrl: back, flowCookie };
  }

  /** The session a successful callback opened. */
  async function sessionOf(res: LightMyRequestResponse): Promise<Session> {
    const cookie = cookieOf(res, 'keyfob_session');
    expect(cookie, `session cookie after ${res.statusCode} → ${res.headers.location}`).toBeDefined();
    const header = `keyfob_session=${cookie!.value}`;
    const session = await t.app.inject({ method: 'GET', url: '/api/v1/auth/session', headers: { cookie: header } });
    expect(session.statusCode).toBe(200);
    return { cookie: header, csrf: session.json().csrfToken, userId: session.json().user.id };
  }

  /** A refused sign-in: to the login page with the code, no session, the flow cookie cleared. */
  function expectRefused(res: LightMyRequestResponse, code: string): void {
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe(`/login?error=${code}`);
    expect(cookieOf(res, 'keyfob_session')).toBeUndefined();
    const flow = cookieOf(res, FLOW_COOKIE);
    expect(flow?.value ?? '').toBe('');
  }

  return { begin, callback, signIn, sessionOf, expectRefused, cookieOf };
}

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`sign-in with OpenID Connect [${dialect.name}]`, () => {
    let t: TestApp;
    let admin: Session;
    let f: ReturnType<typeof flows>;
    /** Account ids unique to this suite: the provider is shared by both dialects' suites. */
    const account = (name: string, claims: AccountClaims) => {
      const id = `${dialect.name}-${name}`;
      idp.accounts.set(id, claims);
      return id;
    };

    beforeAll(async () => {
      t = await createTestApp(dialect, providerEnv());
      admin = await setupAdmin(t);
      f = flows(t);
    });
    afterAll(async () => t?.close());

    it('lists the providers and the password switch for the login page, and documents the routes', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/auth/providers' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        passwordLogin: true,
        providers: [
          { id: 'default', label: 'Test IdP', startUrl: `${KEYFOB}/api/v1/auth/oidc/default/start` },
          { id: 'corp', label: 'Corp', startUrl: `${KEYFOB}/api/v1/auth/oidc/corp/start` },
        ],
      });
      const paths = Object.keys((await t.app.inject({ method: 'GET', url: '/openapi.json' })).json().paths);
      expect(paths).toEqual(expect.arrayContaining(['/api/v1/auth/providers', '/api/v1/auth/oidc/{provider}/start', '/api/v1/auth/oidc/{provider}/callback']));
    });

    it('sends the browser to the provider with PKCE S256, state and nonce, in a sealed short-lived cookie', async () => {
      const { authUrl, res } = await f.begin('default');
      expect(authUrl.origin + authUrl.pathname).toBe(`${idp.issuer}/auth`);
      const q = authUrl.searchParams;
      expect(q.get('response_type')).toBe('code');
      expect(q.get('client_id')).toBe('keyfob');
      expect(q.get('redirect_uri')).toBe(callbackOf('default'));
      expect(q.get('scope')).toBe('openid email profile groups');
      expect(q.get('code_challenge_method')).toBe('S256');
      expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(q.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(q.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const cookie = f.cookieOf(res, FLOW_COOKIE)!;
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/api/v1/auth/oidc/', maxAge: 600 });
      // Sealed, not just signed: neither the state nor the PKCE verifier can be read from it.
      expect(cookie.value).not.toContain(q.get('state')!);
      expect(Buffer.from(cookie.value.split('.')[2]!, 'base64url').toString('latin1')).not.toContain(q.get('state')!);
    });

    it('creates the user on first sign-in, opens a working session, audits it, and leaks no code or secret', async () => {
      const login = account('alice', { preferred_username: 'alice', email: 'alice@example.com', email_verified: true, name: 'Alice Liddell' });
      const { res, callbackUrl } = await f.signIn('default', login);
      expect(res.statusCode).toBe(302);
      expect(res.headers.location).toBe('/');
      expect(f.cookieOf(res, 'keyfob_session')).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
      const session = await f.sessionOf(res);
      const me = await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie: session.cookie } });
      expect(me.json()).toMatchObject({ username: 'alice', displayName: 'Alice Liddell', email: 'alice@example.com', role: 'user', disabled: false });
      // The session is a full console session: it can mint a token.
      const token = await t.app.inject({ method: 'POST', url: '/api/v1/me/tokens', headers: asSession(session), payload: { name: 'ci', scopes: ['tokens:read'], expiresInDays: 7 } });
      expect(token.statusCode).toBe(201);

      const audit = (await t.app.inject({ method: 'GET', url: `/api/v1/admin/audit?targetId=${session.userId}`, headers: asSession(admin) })).json().items as { action: string; details: Record<string, unknown> }[];
      expect(audit.find((e) => e.action === 'user.created')?.details).toEqual({ username: 'alice', role: 'user', provider: 'default' });
      expect(audit.find((e) => e.action === 'auth.login')?.details).toEqual({ method: 'oidc', provider: 'default' });
      const code = callbackUrl.searchParams.get('code')!;
      const everything = [t.logs.join('\n'), JSON.stringify(audit)].join('\n');
      for (const secret of [code, CLIENT.client_secret, CORP_CLIENT.client_secret]) expect(everything).not.toContain(secret);
    });

    it('links the same user on the next sign-in and lands on the page asked for, never off-site', async () => {
      const login = account('bob', { preferred_username: 'bob', email: 'bob@example.com' });
      const browser = new IdpBrowser();
      const first = await f.sessionOf((await f.signIn('default', login, { browser })).res);
      // The provider remembers bob (its own session): no login form this time.
      const { res } = await f.signIn('default', login, { browser, next: '/tokens/new?name=ci' });
      expect(res.headers.location).toBe('/tokens/new?name=ci');
      const second = await f.sessionOf(res);
      expect(second.userId).toBe(first.userId);
      expect(second.cookie).not.toBe(first.cookie);
      const users = (await t.app.inject({ method: 'GET', url: '/api/v1/admin/users?q=bob', headers: asSession(admin) })).json().items;
      expect(users).toHaveLength(1);
      for (const next of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', 'tokens']) {
        expect((await f.signIn('default', login, { browser, next })).res.headers.location).toBe('/');
      }
      // A path outside ASCII lands there, percent-encoded (a Location header carries ASCII only).
      const unicode = await f.signIn('default', login, { browser, next: '/tokens?q=日本 x' });
      expect(unicode.res.headers.location).toBe(`/tokens?q=${encodeURIComponent('日本')}%20x`);
      await f.sessionOf(unicode.res);
    });

    it('sends a malformed callback (repeated or odd parameters, an over-long provider id) to the login page, not to a JSON body', async () => {
      const login = account('odd', { preferred_username: 'odd' });
      const { callbackUrl, flowCookie } = await f.signIn('default', login);
      const doubled = new URL(callbackUrl);
      doubled.searchParams.append('code', 'second-code');
      const res = await f.callback(doubled, flowCookie);
      expect(res.statusCode).toBe(302);
      expect(res.headers.location).toMatch(/^\/login\?error=oidc_/);
      expect(f.cookieOf(res, 'keyfob_session')).toBeUndefined();
      const long = await t.app.inject({ method: 'GET', url: `/api/v1/auth/oidc/${'x'.repeat(150)}/callback?code=a&state=b` });
      expect(long.statusCode).toBe(302);
      expect(long.headers.location).toBe('/login?error=oidc_unknown_provider');
    });

    it('keeps no email the provider marks unverified', async () => {
      const login = account('unverified', { preferred_username: 'unverified-uma', email: 'uma@example.com', email_verified: false });
      const session = await f.sessionOf((await f.signIn('default', login)).res);
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie: session.cookie } })).json().email).toBeNull();
    });

    it('refuses a callback whose state is wrong, missing, from another flow, or too old, with no session', async () => {
      const login = account('mallory', { preferred_username: 'mallory' });
      const browser = new IdpBrowser();
      // 1. The state altered on the way back.
      const a = await f.begin('default');
      const back = await browser.authorize(a.authUrl, login, KEYFOB);
      const tampered = new URL(back);
      tampered.searchParams.set('state', 'x'.repeat(43));
      f.expectRefused(await f.callback(tampered, a.flowCookie), 'oidc_state_mismatch');
      // 2. No flow cookie (a callback this browser never started: login CSRF).
      f.expectRefused(await f.callback(back, undefined), 'oidc_state_mismatch');
      // 3. Another flow's cookie (the code of flow A carried into flow B's browser).
      const b = await f.begin('default');
      f.expectRefused(await f.callback(back, b.flowCookie), 'oidc_state_mismatch');
      // 4. A forged cookie, and a cookie started for another provider.
      f.expectRefused(await f.callback(back, `${FLOW_COOKIE}=v1.abc.${'A'.repeat(80)}`), 'oidc_state_mismatch');
      const corp = await f.begin('corp');
      f.expectRefused(await f.callback(back, corp.flowCookie), 'oidc_state_mismatch');
      // 5. Ten minutes at the provider is too long.
      const c = await f.begin('default');
      const late = await browser.authorize(c.authUrl, login, KEYFOB);
      t.clock.advance(10 * 60_000 + 1);
      f.expectRefused(await f.callback(late, c.flowCookie), 'oidc_state_mismatch');
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/admin/users?q=mallory', headers: asSession(admin) })).json().items).toEqual([]);
    });

    it('refuses an ID token whose nonce is not the flow’s, and a callback replayed after it was used', async () => {
      const login = account('nina', { preferred_username: 'nina' });
      const browser = new IdpBrowser();
      // The authorization request altered on its way to the provider: the provider then signs
      // an ID token for another nonce, which keyfob must not accept although state and PKCE match.
      const { authUrl, flowCookie } = await f.begin('default');
      authUrl.searchParams.set('nonce', 'attacker-chosen-nonce-0123456789');
      const back = await browser.authorize(authUrl, login, KEYFOB);
      f.expectRefused(await f.callback(back, flowCookie), 'oidc_nonce_mismatch');

      const ok = await f.signIn('default', login, { browser });
      await f.sessionOf(ok.res);
      // The same callback again (code and cookie captured): the provider redeems a code once.
      f.expectRefused(await f.callback(ok.callbackUrl, ok.flowCookie), 'oidc_provider_error');
    });

    it('refuses a disabled user, and lets them in again once enabled', async () => {
      const login = account('dora', { preferred_username: 'dora' });
      const dora = await f.sessionOf((await f.signIn('default', login)).res);
      const disable = await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${dora.userId}`, headers: asSession(admin), payload: { disabled: true } });
      expect(disable.statusCode).toBe(200);
      f.expectRefused((await f.signIn('default', login)).res, 'oidc_account_disabled');
      const failures = (await t.app.inject({ method: 'GET', url: `/api/v1/admin/audit?action=auth.login_failed&targetId=${dora.userId}`, headers: asSession(admin) })).json().items;
      expect(failures[0].details).toEqual({ method: 'oidc', provider: 'default', reason: 'disabled' });
      await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${dora.userId}`, headers: asSession(admin), payload: { disabled: false } });
      expect((await f.sessionOf((await f.signIn('default', login)).res)).userId).toBe(dora.userId);
      // A deleted user takes the link with it: the identity's next sign-in makes a new account.
      expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/admin/users/${dora.userId}`, headers: asSession(admin) })).statusCode).toBe(204);
      const reborn = await f.sessionOf((await f.signIn('default', login)).res);
      expect(reborn.userId).not.toBe(dora.userId);
    });

    it('lets in only verified emails of the allowed domains through a restricted provider', async () => {
      const outsider = account('eve', { preferred_username: 'eve', email: 'eve@other.example', email_verified: true });
      f.expectRefused((await f.signIn('corp', outsider)).res, 'oidc_email_not_allowed');
      const lookalike = account('eve2', { email: 'eve@corp.example.evil.example', email_verified: true });
      f.expectRefused((await f.signIn('corp', lookalike)).res, 'oidc_email_not_allowed');
      const unverified = account('ursula', { email: 'ursula@corp.example', email_verified: false });
      f.expectRefused((await f.signIn('corp', unverified)).res, 'oidc_email_not_allowed');
      const noEmail = account('nemo', { preferred_username: 'nemo' });
      f.expectRefused((await f.signIn('corp', noEmail)).res, 'oidc_email_not_allowed');
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/admin/users?q=eve', headers: asSession(admin) })).json().items).toEqual([]);

      const insider = account('ian', { email: 'Ian@Corp.Example', email_verified: true });
      const ian = await f.sessionOf((await f.signIn('corp', insider)).res);
      const me = (await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie: ian.cookie } })).json();
      expect(me).toMatchObject({ username: 'Ian@Corp.Example', email: 'Ian@Corp.Example' });
      // The same identity (issuer + subject) through the other client of the same issuer: the same user.
      expect((await f.sessionOf((await f.signIn('default', insider)).res)).userId).toBe(ian.userId);
    });

    it('gives the admin role from the admin claim and takes it away when the claim goes', async () => {
      const login = account('carol', { preferred_username: 'carol', groups: ['staff', 'keyfob-admins'] });
      const carol = await f.sessionOf((await f.signIn('default', login)).res);
      const me = () => t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie: carol.cookie } }).then((r) => r.json());
      expect((await me()).role).toBe('admin');
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: { cookie: carol.cookie } })).statusCode).toBe(200);

      idp.accounts.set(login, { preferred_username: 'carol', groups: ['staff'] });
      await f.sessionOf((await f.signIn('default', login)).res);
      expect((await me()).role).toBe('user');
      const changes = (await t.app.inject({ method: 'GET', url: `/api/v1/admin/audit?action=user.role_changed&targetId=${carol.userId}`, headers: asSession(admin) })).json().items;
      expect(changes[0].details).toEqual({ from: 'admin', to: 'user', provider: 'default' });
      // The corp provider has no admin claim: signing in there leaves the role alone.
      idp.accounts.set(login, { preferred_username: 'carol', email: 'carol@corp.example', groups: ['keyfob-admins'] });
      await f.sessionOf((await f.signIn('corp', login)).res);
      expect((await me()).role).toBe('user');
    });

    it('makes new usernames unique, and leaves linked accounts without a password', async () => {
      const login = account('admin-at-idp', { preferred_username: 'admin', email: 'ADMIN@example.org' });
      const other = await f.sessionOf((await f.signIn('default', login)).res);
      const me = (await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie: other.cookie } })).json();
      expect(me.username).toBe('ADMIN@example.org');
      const third = account('admin-again', { preferred_username: 'admin', email: 'admin@example.org' });
      const again = await f.sessionOf((await f.signIn('default', third)).res);
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie: again.cookie } })).json().username).toBe('admin-2');

      // No password: password sign-in fails like a wrong one, and a password change is explained.
      const password = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin-2', password: 'anything-at-all' } });
      expect(password.statusCode).toBe(401);
      expect(password.json().error).toBe('invalid_credentials');
      const change = await t.app.inject({ method: 'PATCH', url: '/api/v1/me', headers: asSession(again), payload: { password: 'new-password-1', currentPassword: '' } });
      expect(change.statusCode).toBe(400);
      expect(change.json().message).toMatch(/single sign-on/);
    });

    it('sends a sign-in cancelled at the provider, and an unknown provider, to the login page with the reason', async () => {
      const login = account('cancel', { preferred_username: 'cancel' });
      const { authUrl, flowCookie } = await f.begin('default');
      const back = await new IdpBrowser().authorize(authUrl, login, KEYFOB, { abort: true });
      expect(back.searchParams.get('error')).toBe('access_denied');
      f.expectRefused(await f.callback(back, flowCookie), 'oidc_denied');
      const unknown = await t.app.inject({ method: 'GET', url: '/api/v1/auth/oidc/nope/start' });
      expect(unknown.statusCode).toBe(302);
      expect(unknown.headers.location).toBe('/login?error=oidc_unknown_provider');
    });
  });
}

describe.skipIf(!sqlite.available)('single sign-on before first-run setup [sqlite]', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(sqlite, providerEnv());
  });
  afterAll(async () => t?.close());

  it('lets in only an identity the admin claim makes admin; anyone else is told setup comes first', async () => {
    const f = flows(t);
    idp.accounts.set('pre-setup-eve', { preferred_username: 'eve' });
    f.expectRefused((await f.signIn('default', 'pre-setup-eve')).res, 'oidc_setup_needed');
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/setup' })).json().needed).toBe(true);
    idp.accounts.set('pre-setup-root', { preferred_username: 'root', groups: ['keyfob-admins'] });
    const root = await f.sessionOf((await f.signIn('default', 'pre-setup-root')).res);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie: root.cookie } })).json().role).toBe('admin');
    // Set up now: others may sign in.
    await f.sessionOf((await f.signIn('default', 'pre-setup-eve')).res);
  });
});

describe.skipIf(!sqlite.available)('password sign-in switched off [sqlite]', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(sqlite, providerEnv({ KEYFOB_LOCAL_LOGIN: 'off' }));
  });
  afterAll(async () => t?.close());

  it('refuses password sign-in with a clear error, still allows first-run setup, and signs in through the provider', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/providers' })).json().passwordLogin).toBe(false);
    const admin = await setupAdmin(t);
    expect(admin.userId).toBeTruthy();
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: 'admin-password-1' } });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({ error: 'password_login_disabled', message: expect.stringContaining('single sign-on') });
    idp.accounts.set('off-frank', { preferred_username: 'frank' });
    const f = flows(t);
    const frank = await f.sessionOf((await f.signIn('default', 'off-frank')).res);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie: frank.cookie } })).json().username).toBe('frank');
  });
});

describe.skipIf(!sqlite.available)('a provider that cannot be reached [sqlite]', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Nothing listens there: keyfob still starts (discovery waits for the first sign-in).
    t = await createTestApp(sqlite, { KEYFOB_OIDC_ISSUER: `http://127.0.0.1:${await freePort()}`, KEYFOB_OIDC_CLIENT_ID: 'x', KEYFOB_OIDC_CLIENT_SECRET: 'unreachable-secret-0123456789' });
  });
  afterAll(async () => t?.close());

  it('lists it, and sends a sign-in back to the login page with oidc_provider_error, logged without secrets', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/providers' })).json().providers).toHaveLength(1);
    for (let i = 0; i < 2; i++) {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/auth/oidc/default/start' });
      expect(res.statusCode).toBe(302);
      expect(res.headers.location).toBe('/login?error=oidc_provider_error');
      expect(res.cookies.find((c) => c.name === FLOW_COOKIE)).toBeUndefined();
    }
    const logged = t.logs.filter((l) => l.includes('sign-in refused'));
    expect(logged).toHaveLength(2);
    expect(logged[0]).toContain('oidc_provider_error');
    expect(t.logs.join('\n')).not.toContain('unreachable-secret-0123456789');
  });
});
