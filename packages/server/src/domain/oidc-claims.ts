/**
 * What keyfob reads from an OpenID Connect identity's claims: who may sign in (email domains),
 * who is an admin (the admin claim), and what a new account is called. No HTTP, no SQL.
 */

/** A claim set as the provider's ID token and UserInfo answer give it. */
export type Claims = Readonly<Record<string, unknown>>;

/**
 * `KEYFOB_OIDC_ADMIN_CLAIM`: `name` (admin while the claim is `true` or `"true"`) or `name=value`
 * (admin while the claim equals `value` or is a list holding it, as `groups` and `roles` are).
 */
export interface AdminClaimRule {
  readonly claim: string;
  readonly value: string | undefined;
}

const CLAIM_NAME = /^[^\s=]{1,200}$/;

/** Parses `name` or `name=value`; undefined when it is neither. */
export function parseAdminClaimRule(raw: string): AdminClaimRule | undefined {
  const at = raw.indexOf('=');
  const claim = (at < 0 ? raw : raw.slice(0, at)).trim();
  const value = at < 0 ? undefined : raw.slice(at + 1).trim();
  if (!CLAIM_NAME.test(claim) || value === '') return undefined;
  return { claim, value };
}

/**
 * The value of a claim: the name as a top-level claim first (namespaced claims such as
 * `https://example.com/roles` contain dots), then as a dotted path into nested objects
 * (Keycloak's `realm_access.roles`).
 */
export function claimValue(claims: Claims, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let current: unknown = claims;
  for (const part of name.split('.')) {
    if (current === null || typeof current !== 'object' || Array.isArray(current) || !Object.hasOwn(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

export function isAdminByClaims(claims: Claims, rule: AdminClaimRule): boolean {
  const value = claimValue(claims, rule.claim);
  if (rule.value === undefined) return value === true || value === 'true';
  if (Array.isArray(value)) return value.some((v) => v === rule.value);
  return value === rule.value;
}

export type EmailVerdict = { readonly ok: true; readonly email: string | null } | { readonly ok: false; readonly reason: 'no_email' | 'email_unverified' | 'email_domain' };

/**
 * Whether the identity's email lets it in. With no allowed domains anyone may sign in; otherwise
 * the email's domain must be one of them exactly (no subdomains), and an email the provider marks
 * unverified (`email_verified: false`) does not count. A missing `email_verified` counts as
 * verified: several providers (Entra ID among them) never send it for their own directory.
 */
export function judgeEmail(claims: Claims, allowedDomains: readonly string[]): EmailVerdict {
  const raw = claims['email'];
  const email = typeof raw === 'string' && /^[^\s@]+@[^\s@]+$/.test(raw) && raw.length <= 254 ? raw : null;
  const unverified = claims['email_verified'] === false || claims['email_verified'] === 'false';
  // Without a domain rule anyone may sign in, but an address the provider did not verify is not
  // kept: notices would go to whoever owns it.
  if (allowedDomains.length === 0) return { ok: true, email: unverified ? null : email };
  if (email === null) return { ok: false, reason: 'no_email' };
  if (unverified) return { ok: false, reason: 'email_unverified' };
  const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
  return allowedDomains.includes(domain) ? { ok: true, email } : { ok: false, reason: 'email_domain' };
}

const USERNAME_MAX = 100;
// Leaves room for the longest suffix that makes a taken name unique ("-" and 8 hex digits).
const BASE_MAX = USERNAME_MAX - 9;

/** A string as a keyfob username (`^[A-Za-z0-9][A-Za-z0-9._@+-]*$`), or undefined if nothing is left. */
export function toUsername(raw: string): string | undefined {
  const cleaned = raw
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9._@+-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, BASE_MAX)
    .replace(/[._@+-]+$/, '');
  return cleaned === '' ? undefined : cleaned;
}

/**
 * Names to try for a new account, best first: `preferred_username`, then the email; one built from
 * the provider and subject when the provider gave neither. The caller adds `-2`, `-3`… to the
 * first when all are taken.
 */
export function usernameCandidates(claims: Claims, providerId: string, subject: string): string[] {
  const out: string[] = [];
  for (const claim of ['preferred_username', 'email']) {
    const value = claims[claim];
    const name = typeof value === 'string' ? toUsername(value) : undefined;
    if (name !== undefined && !out.includes(name)) out.push(name);
  }
  if (out.length === 0) out.push(toUsername(`${providerId}-${subject}`) ?? providerId);
  return out;
}

/** `name`, else given and family name, else undefined (the username is used). */
export function displayNameOf(claims: Claims): string | undefined {
  const name = claims['name'];
  if (typeof name === 'string' && name.trim() !== '') return name.trim().slice(0, 200);
  const parts = [claims['given_name'], claims['family_name']].filter((p): p is string => typeof p === 'string' && p.trim() !== '');
  return parts.length > 0 ? parts.join(' ').slice(0, 200) : undefined;
}
