import * as oidc from 'openid-client';
import type { OidcProviderConfig } from '../config/sign-in.js';
import { redirectUriOf } from '../config/sign-in.js';
import type { Claims } from '../domain/oidc-claims.js';
import { KeyfobError } from '../errors/keyfob-error.js';
import type { Clock } from './clock.js';
import type { SignInFlow } from './sign-in-flows.js';

/** Who the provider says signed in: the ID token's issuer and subject, and every claim it gave. */
export interface VerifiedIdentity {
  readonly issuer: string;
  readonly subject: string;
  readonly claims: Claims;
}

/** Discovered metadata is used for this long, then fetched again (keys rotate, endpoints move). */
const METADATA_TTL_MS = 60 * 60_000;
const REQUEST_TIMEOUT_SECONDS = 10;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

// Errors a provider sends back (OIDC Core §3.1.2.6) that mean "this person may not, or did not, sign in".
// unauthorized_client is keyfob's registration at fault, not the person: a provider error.
const DENIALS = new Set(['access_denied', 'login_required', 'consent_required', 'interaction_required', 'account_selection_required']);

/**
 * keyfob as a relying party of its configured OpenID Connect providers, through openid-client:
 * discovery, the authorization URL (code flow, PKCE S256, state, nonce), and the callback (state,
 * code exchange, ID token signature, issuer, audience, expiry and nonce, then UserInfo).
 *
 * Does NOT decide whether the identity may sign in: that is OidcAccounts' job.
 */
export class OidcClients {
  readonly #configs = new Map<string, { readonly at: number; readonly config: Promise<oidc.Configuration> }>();

  constructor(private readonly deps: { baseUrl: string; clock: Clock }) {}

  async authorizationUrl(provider: OidcProviderConfig, flow: SignInFlow): Promise<URL> {
    const config = await this.configuration(provider);
    return oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUriOf(this.deps.baseUrl, provider.id),
      scope: provider.scopes.join(' '),
      state: flow.state,
      nonce: flow.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(flow.codeVerifier),
      code_challenge_method: 'S256',
    });
  }

  /**
   * Redeems the callback's authorization code. `query` is the callback's raw query string; the
   * redirect URI sent with the code is the configured one, whatever Host the request came with.
   */
  async redeem(provider: OidcProviderConfig, query: string, flow: SignInFlow): Promise<VerifiedIdentity> {
    const config = await this.configuration(provider);
    const callback = new URL(redirectUriOf(this.deps.baseUrl, provider.id));
    callback.search = query;
    try {
      const tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: flow.codeVerifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      const idToken = tokens.claims();
      if (idToken === undefined) throw new KeyfobError('oidc_provider_error', 'the provider sent no ID token');
      let claims: Claims = idToken;
      if (config.serverMetadata().userinfo_endpoint !== undefined) {
        // UserInfo often holds what the ID token leaves out (email, groups); its subject must be
        // the ID token's (openid-client checks), and the ID token's own claims win.
        const info = await oidc.fetchUserInfo(config, tokens.access_token, idToken.sub);
        claims = { ...info, ...idToken };
      }
      return { issuer: idToken.iss, subject: idToken.sub, claims };
    } catch (error) {
      throw this.refusal(provider, error);
    }
  }

  /** The provider's metadata and keyfob's client registration there, discovered once an hour. */
  private configuration(provider: OidcProviderConfig): Promise<oidc.Configuration> {
    const now = this.deps.clock.now();
    const cached = this.#configs.get(provider.id);
    if (cached && now - cached.at < METADATA_TTL_MS) return cached.config;
    const issuer = new URL(provider.issuer);
    const config = oidc
      .discovery(issuer, provider.clientId, { client_secret: provider.clientSecret }, oidc.ClientSecretBasic(provider.clientSecret), {
        timeout: REQUEST_TIMEOUT_SECONDS,
        // Configuration allows http:// issuers on loopback only (D11), for development and tests.
        execute: issuer.protocol === 'http:' && LOOPBACK.has(issuer.hostname) ? [oidc.allowInsecureRequests] : [],
      })
      .catch((error: unknown) => {
        // A failed discovery is not remembered: the next sign-in tries again.
        this.#configs.delete(provider.id);
        throw this.refusal(provider, error);
      });
    this.#configs.set(provider.id, { at: now, config });
    return config;
  }

  /**
   * Maps what openid-client threw to the sign-in's error code. The cause kept for the log is a
   * summary: openid-client's own causes can hold the token response or the ID token's claims.
   */
  private refusal(provider: OidcProviderConfig, error: unknown): KeyfobError {
    if (error instanceof KeyfobError) return error;
    const cause = summarise(error);
    if (error instanceof oidc.AuthorizationResponseError) {
      return DENIALS.has(error.error)
        ? new KeyfobError('oidc_denied', `${provider.label} did not authorise the sign-in (${error.error})`, { cause })
        : new KeyfobError('oidc_provider_error', `${provider.label} answered with an error (${error.error})`, { cause });
    }
    if (isNonceMismatch(error)) return new KeyfobError('oidc_nonce_mismatch', 'the ID token was issued for another sign-in', { cause });
    return new KeyfobError('oidc_provider_error', `signing in with ${provider.label} failed`, { cause });
  }
}

/** What may be logged of a failure: never the error's cause, which can hold tokens or claims. */
export interface OidcErrorSummary {
  readonly name: string;
  readonly code: string | undefined;
  readonly message: string;
  /** The OAuth error code the provider answered with, if any. */
  readonly error: string | undefined;
}

function summarise(error: unknown): OidcErrorSummary {
  const e = error as { name?: unknown; code?: unknown; message?: unknown; error?: unknown };
  const text = (v: unknown) => (typeof v === 'string' ? v.slice(0, 200) : undefined);
  return { name: text(e?.name) ?? 'Error', code: text(e?.code), message: text(e?.message) ?? String(error).slice(0, 200), error: text(e?.error) };
}

function isNonceMismatch(error: unknown): boolean {
  if (!(error instanceof oidc.ClientError) || error.code !== 'OAUTH_JWT_CLAIM_COMPARISON_FAILED') return false;
  const cause = (error.cause as { cause?: { claim?: unknown } } | undefined)?.cause;
  return cause?.claim === 'nonce';
}
