import type { SignInOptionsDto } from '@keyfob/protocol';
import type { OidcProviderConfig } from '../config/sign-in.js';
import type { Actor } from '../domain/models.js';
import { KeyfobError } from '../errors/keyfob-error.js';
import type { OidcAccounts } from './oidc-accounts.js';
import type { OidcClients } from './oidc-clients.js';
import type { SessionService, StartedSession } from './session-service.js';
import type { SignInFlows } from './sign-in-flows.js';

/**
 * Sign-in through OpenID Connect, start to end: `start` sends the browser to the provider with a
 * sealed flow cookie; `finish` matches the callback to that flow, has the code redeemed and the
 * ID token checked, finds or creates the account and opens a console session.
 */
export class OidcSignIn {
  readonly #providers: ReadonlyMap<string, OidcProviderConfig>;

  constructor(
    private readonly deps: {
      providers: readonly OidcProviderConfig[];
      passwordLogin: boolean;
      baseUrl: string;
      flows: SignInFlows;
      clients: OidcClients;
      accounts: OidcAccounts;
      sessions: SessionService;
    },
  ) {
    this.#providers = new Map(deps.providers.map((p) => [p.id, p]));
  }

  /** What the login page offers. Start URLs are absolute: the flow cookie must be set on the origin the provider calls back. */
  options(): SignInOptionsDto {
    return {
      passwordLogin: this.deps.passwordLogin,
      providers: this.deps.providers.map((p) => ({ id: p.id, label: p.label, startUrl: `${this.deps.baseUrl}/api/v1/auth/oidc/${p.id}/start` })),
    };
  }

  async start(providerId: string, next: string | undefined): Promise<{ location: string; sealedFlow: string }> {
    const provider = this.provider(providerId);
    const { flow, sealed } = this.deps.flows.begin(provider.id, next);
    const url = await this.deps.clients.authorizationUrl(provider, flow);
    return { location: url.href, sealedFlow: sealed };
  }

  /**
   * `query` is the callback's raw query string, `sealedFlow` the flow cookie (undefined when the
   * browser sent none). Throws a KeyfobError with an `oidc_*` code when the sign-in is refused.
   */
  async finish(providerId: string, query: string, sealedFlow: string | undefined, meta: Omit<Actor, 'userId' | 'tokenId'>): Promise<{ session: StartedSession; returnTo: string }> {
    const provider = this.provider(providerId);
    const flow = this.deps.flows.resume(sealedFlow, provider.id, new URLSearchParams(query).get('state'));
    const identity = await this.deps.clients.redeem(provider, query, flow);
    const user = await this.deps.accounts.signIn(provider, identity, meta);
    const session = await this.deps.sessions.start(user, meta, { method: 'oidc', provider: provider.id });
    return { session, returnTo: flow.returnTo };
  }

  private provider(id: string): OidcProviderConfig {
    const provider = this.#providers.get(id);
    if (!provider) throw new KeyfobError('oidc_unknown_provider', `no sign-in provider is called "${id.slice(0, 40)}"`);
    return provider;
  }
}
