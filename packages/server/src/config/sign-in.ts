import { ConfigError } from './config-error.js';
import { parseServiceUrl } from './urls.js';
import { parseAdminClaimRule, type AdminClaimRule } from '../domain/oidc-claims.js';

/** One OpenID Connect provider people may sign in with. */
export interface OidcProviderConfig {
  /** Names the provider in URLs: `/api/v1/auth/oidc/<id>/start` and `…/callback`. */
  readonly id: string;
  /** The issuer identifier as configured; discovery reads `<issuer>/.well-known/openid-configuration`. */
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** What the login page's button says after "Sign in with". */
  readonly label: string;
  /** Scopes asked for; always holds `openid`. */
  readonly scopes: readonly string[];
  /** Undefined: roles are not taken from the provider (new accounts are users, admins stay admins). */
  readonly adminClaim: AdminClaimRule | undefined;
  /** Lower-case email domains whose people may sign in; empty: anyone the provider vouches for. */
  readonly allowedDomains: readonly string[];
}

export interface SignInConfig {
  /** KEYFOB_LOCAL_LOGIN: whether username + password sign-in is on. */
  readonly passwordLogin: boolean;
  readonly oidcProviders: readonly OidcProviderConfig[];
}

type Get = (name: string) => string | undefined;

const PROVIDER_ID = /^[a-z0-9][a-z0-9-]{0,31}$/;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
const FILE_KEYS = new Set(['id', 'issuer', 'clientId', 'clientSecret', 'label', 'adminClaim', 'allowedDomains', 'scopes']);

/** The environment's provider is always this one. */
export const ENV_PROVIDER_ID = 'default';

/**
 * Sign-in settings: one provider from `KEYFOB_OIDC_*`, any number from `KEYFOB_OIDC_PROVIDERS`
 * (a JSON list, usually in the KEYFOB_CONFIG file), and the password switch. Every mistake stops
 * the start with the setting's name.
 */
export function parseSignIn(get: Get): SignInConfig {
  const providers = [...fromEnvironment(get), ...fromList(get('KEYFOB_OIDC_PROVIDERS'))];
  const seen = new Set<string>();
  for (const p of providers) {
    if (seen.has(p.id)) throw new ConfigError('KEYFOB_OIDC_PROVIDERS', `the provider id "${p.id}" is used twice${p.id === ENV_PROVIDER_ID ? ' (KEYFOB_OIDC_ISSUER defines "default")' : ''}`);
    seen.add(p.id);
  }
  const local = get('KEYFOB_LOCAL_LOGIN') ?? 'on';
  if (local !== 'on' && local !== 'off') throw new ConfigError('KEYFOB_LOCAL_LOGIN', 'must be on or off');
  if (local === 'off' && providers.length === 0) {
    throw new ConfigError('KEYFOB_LOCAL_LOGIN', 'off needs at least one OpenID Connect provider (KEYFOB_OIDC_ISSUER or KEYFOB_OIDC_PROVIDERS), or nobody could sign in');
  }
  return Object.freeze({ passwordLogin: local === 'on', oidcProviders: Object.freeze(providers) });
}

function fromEnvironment(get: Get): OidcProviderConfig[] {
  const issuer = get('KEYFOB_OIDC_ISSUER');
  const others = ['KEYFOB_OIDC_CLIENT_ID', 'KEYFOB_OIDC_CLIENT_SECRET', 'KEYFOB_OIDC_LABEL', 'KEYFOB_OIDC_ADMIN_CLAIM', 'KEYFOB_OIDC_ALLOWED_DOMAINS', 'KEYFOB_OIDC_SCOPES'];
  if (issuer === undefined) {
    const stray = others.find((name) => get(name) !== undefined);
    if (stray) throw new ConfigError(stray, 'is set but KEYFOB_OIDC_ISSUER is not');
    return [];
  }
  return [
    provider(
      {
        id: ENV_PROVIDER_ID,
        issuer,
        clientId: get('KEYFOB_OIDC_CLIENT_ID'),
        clientSecret: get('KEYFOB_OIDC_CLIENT_SECRET'),
        label: get('KEYFOB_OIDC_LABEL'),
        adminClaim: get('KEYFOB_OIDC_ADMIN_CLAIM'),
        allowedDomains: get('KEYFOB_OIDC_ALLOWED_DOMAINS'),
        scopes: get('KEYFOB_OIDC_SCOPES'),
      },
      (field) => `KEYFOB_OIDC_${field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`,
    ),
  ];
}

function fromList(raw: string | undefined): OidcProviderConfig[] {
  if (raw === undefined) return [];
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch {
    throw new ConfigError('KEYFOB_OIDC_PROVIDERS', 'must be a JSON list of providers');
  }
  if (!Array.isArray(list)) throw new ConfigError('KEYFOB_OIDC_PROVIDERS', 'must be a JSON list of providers');
  return list.map((entry: unknown, i) => {
    const name = (field: string) => `KEYFOB_OIDC_PROVIDERS[${i}]${field ? `.${field}` : ''}`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new ConfigError(name(''), 'must be an object');
    const unknown = Object.keys(entry).find((k) => !FILE_KEYS.has(k));
    if (unknown !== undefined) throw new ConfigError(name(unknown), `is not a provider setting (${[...FILE_KEYS].join(', ')})`);
    const record = entry as Record<string, unknown>;
    const field = (key: string): string | undefined => {
      const value = record[key];
      if (value === undefined || value === null) return undefined;
      if (Array.isArray(value) && (key === 'allowedDomains' || key === 'scopes')) return value.map(String).join(key === 'scopes' ? ' ' : ',');
      if (typeof value !== 'string') throw new ConfigError(name(key), 'must be a string');
      return value;
    };
    return provider(
      {
        id: field('id'),
        issuer: field('issuer'),
        clientId: field('clientId'),
        clientSecret: field('clientSecret'),
        label: field('label'),
        adminClaim: field('adminClaim'),
        allowedDomains: field('allowedDomains'),
        scopes: field('scopes'),
      },
      name,
    );
  });
}

interface RawProvider {
  readonly id: string | undefined;
  readonly issuer: string | undefined;
  readonly clientId: string | undefined;
  readonly clientSecret: string | undefined;
  readonly label: string | undefined;
  readonly adminClaim: string | undefined;
  readonly allowedDomains: string | undefined;
  readonly scopes: string | undefined;
}

function provider(raw: RawProvider, name: (field: keyof RawProvider) => string): OidcProviderConfig {
  const required = (field: 'id' | 'issuer' | 'clientId' | 'clientSecret'): string => {
    const value = raw[field]?.trim();
    if (!value) throw new ConfigError(name(field), 'is required');
    return value;
  };
  const id = required('id');
  if (!PROVIDER_ID.test(id)) throw new ConfigError(name('id'), `"${id}" must be 1 to 32 of a-z, 0-9 and "-", starting with a letter or digit`);
  const issuerUrl = parseServiceUrl(name('issuer'), required('issuer'));
  const clientId = required('clientId');
  const clientSecret = required('clientSecret');

  let adminClaim: AdminClaimRule | undefined;
  if (raw.adminClaim !== undefined && raw.adminClaim.trim() !== '') {
    adminClaim = parseAdminClaimRule(raw.adminClaim);
    if (adminClaim === undefined) throw new ConfigError(name('adminClaim'), 'must be a claim name, or name=value (e.g. groups=keyfob-admins)');
  }

  const allowedDomains = (raw.allowedDomains ?? '').split(',').map((d) => d.trim().toLowerCase().replace(/^@/, '')).filter(Boolean);
  for (const domain of allowedDomains) {
    if (!DOMAIN.test(domain)) throw new ConfigError(name('allowedDomains'), `"${domain}" is not a domain name`);
  }

  const scopes = (raw.scopes ?? 'openid email profile').split(/[\s,]+/).filter(Boolean);
  for (const scope of scopes) {
    if (!SCOPE_TOKEN.test(scope)) throw new ConfigError(name('scopes'), `"${scope}" is not a scope`);
  }
  if (!scopes.includes('openid')) scopes.unshift('openid');

  const label = raw.label?.trim() || issuerUrl.hostname;
  if (label.length > 60) throw new ConfigError(name('label'), 'must be at most 60 characters');

  return Object.freeze({
    id,
    // As written (without a trailing slash added): discovery compares it with the provider's own issuer.
    issuer: required('issuer'),
    clientId,
    clientSecret,
    label,
    scopes: Object.freeze(scopes),
    adminClaim: adminClaim && Object.freeze(adminClaim),
    allowedDomains: Object.freeze([...new Set(allowedDomains)]),
  });
}

/** The redirect URI to register at the provider. */
export function redirectUriOf(baseUrl: string, providerId: string): string {
  return `${baseUrl}/api/v1/auth/oidc/${providerId}/callback`;
}
