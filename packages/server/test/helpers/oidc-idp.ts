/**
 * A real OpenID Connect provider for the sign-in suites: oidc-provider (panva, OpenID certified)
 * on a loopback port, with confidential clients registered for keyfob's callbacks, accounts the
 * test owns (and may change between sign-ins), PKCE required, and its development login form.
 * Consent is granted up front (a first-party client), so a sign-in is: authorization request →
 * login form → redirect to keyfob's callback.
 *
 * The browser side is plain fetch with manual redirects and a cookie jar per person.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type KoaContextWithOidc } from 'oidc-provider';

export type AccountClaims = Record<string, unknown>;

export interface IdpClient {
  readonly client_id: string;
  readonly client_secret: string;
  readonly redirect_uris: readonly string[];
}

export interface TestIdp {
  readonly issuer: string;
  /** Claims by account id (the login name typed into the form); change them between sign-ins. */
  readonly accounts: Map<string, AccountClaims>;
  stop(): Promise<void>;
}

const SCOPE_CLAIMS = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name', 'given_name', 'family_name', 'preferred_username'],
  groups: ['groups'],
};

export async function startIdp(clients: readonly IdpClient[]): Promise<TestIdp> {
  const accounts = new Map<string, AccountClaims>();
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });

  const provider = new Provider(issuer, {
    clients: clients.map((c) => ({ ...c, grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' })),
    jwks: { keys: [{ ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'test-key' }] },
    cookies: { keys: ['test-idp-cookie-key-0123456789'] },
    claims: SCOPE_CLAIMS,
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Grant: 3600, Session: 3600 },
    pkce: { methods: ['S256'], required: () => true },
    features: { devInteractions: { enabled: true } },
    async findAccount(_ctx: unknown, sub: string) {
      const claims = accounts.get(sub);
      return claims && { accountId: sub, claims: async () => ({ ...accounts.get(sub), sub }) };
    },
    // A first-party client: consent is implied, so the only interaction is the login form.
    async loadExistingGrant(ctx: KoaContextWithOidc) {
      const { oidc } = ctx;
      const existing = oidc.result?.consent?.grantId ?? oidc.session.grantIdFor(oidc.client.clientId);
      if (existing) return oidc.provider.Grant.find(existing);
      const grant = new oidc.provider.Grant({ accountId: oidc.session.accountId, clientId: oidc.client.clientId });
      grant.addOIDCScope(Object.keys(SCOPE_CLAIMS).join(' '));
      await grant.save();
      return grant;
    },
  });
  server.on('request', provider.callback());
  return {
    issuer,
    accounts,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A person's browser at the identity provider: its cookies, and manual redirects. */
export class IdpBrowser {
  readonly #cookies = new Map<string, string>();

  /**
   * Follows the identity provider's redirects from `url`, filling its login form as `account`
   * when asked (or pressing its abort link with `abort`), until a redirect leaves for `returnOrigin`.
   * Returns that redirect's URL (keyfob's callback with code and state, or an error).
   */
  async authorize(url: URL, account: string, returnOrigin: string, options: { abort?: boolean } = {}): Promise<URL> {
    let next = url;
    for (let hop = 0; hop < 12; hop++) {
      let res = await this.fetch(next);
      if (res.status === 200 && next.pathname.startsWith('/interaction/')) {
        await res.text();
        if (options.abort) {
          res = await this.fetch(new URL(`${next.pathname}/abort`, next));
        } else {
          res = await this.fetch(next, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ prompt: 'login', login: account, password: 'any' }).toString() });
        }
      }
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || location === null) throw new Error(`the identity provider answered ${res.status} at ${next.pathname}: ${(await res.text()).slice(0, 300)}`);
      await res.arrayBuffer();
      next = new URL(location, next);
      if (next.origin === returnOrigin) return next;
    }
    throw new Error('too many redirects at the identity provider');
  }

  private async fetch(url: URL, init: RequestInit = {}): Promise<Response> {
    const cookie = [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string> | undefined), ...(cookie ? { cookie } : {}) }, signal: AbortSignal.timeout(10_000) });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const at = pair!.indexOf('=');
      const name = pair!.slice(0, at).trim();
      const value = pair!.slice(at + 1).trim();
      const expired = attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a) || /^\s*max-age=0\b/i.test(a));
      if (expired || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
    return res;
  }
}
