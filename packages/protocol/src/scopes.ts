/**
 * Scope grammar and the built-in scopes of keyfob's own API.
 *
 * A scope is one to four `:`-separated segments of lower-case letters, digits, `_`, `-`, `.`
 * (the last may be `*`), at most 100 characters: `tokens:read`, `repo:status`, `billing`.
 */

export const BUILTIN_SCOPES = {
  'tokens:read': 'Read your own tokens and profile',
  'tokens:write': 'Create, rename, rotate and revoke your own tokens',
  'admin:read': 'Read users, all tokens, policy, scopes and the audit log (admins only)',
  'admin:write': 'Manage users, all tokens, policy and scopes (admins only)',
} as const;

export type BuiltinScope = keyof typeof BUILTIN_SCOPES;
export const BUILTIN_SCOPE_NAMES = Object.keys(BUILTIN_SCOPES) as BuiltinScope[];

declare const scopeBrand: unique symbol;
/** A string that passed {@link parseScope}. */
export type Scope = string & { readonly [scopeBrand]: true };

export const SCOPE_PATTERN = '^[a-z][a-z0-9_.-]*(:[a-z0-9_.-]+){0,2}(:([a-z0-9_.-]+|\\*))?$';
const SCOPE_REGEX = new RegExp(SCOPE_PATTERN);
export const SCOPE_MAX_LENGTH = 100;

export function isScope(value: string): value is Scope {
  return value.length <= SCOPE_MAX_LENGTH && SCOPE_REGEX.test(value);
}

export function parseScope(value: string): Scope {
  if (!isScope(value)) throw new TypeError(`"${value}" is not a valid scope`);
  return value;
}

/** Scopes whose holder must be an admin at the moment of use, not merely when the token was made. */
export function isAdminScope(scope: string): boolean {
  return scope === 'admin' || scope.startsWith('admin:');
}

/** A write scope of keyfob's own API includes the matching read scope. */
const IMPLIED_BY: Readonly<Record<string, readonly string[]>> = {
  'tokens:read': ['tokens:write'],
  'admin:read': ['admin:write'],
};

/** Whether a set of granted scopes satisfies one required scope. */
export function grants(granted: ReadonlySet<string> | readonly string[], required: string): boolean {
  const has = (s: string) => (granted instanceof Set ? granted.has(s) : (granted as readonly string[]).includes(s));
  if (has(required)) return true;
  return (IMPLIED_BY[required] ?? []).some(has);
}

/** The scopes a token may use now: `admin:*` scopes drop out while the owner is not an admin. */
export function effectiveScopes(scopes: readonly string[], ownerIsAdmin: boolean): string[] {
  return ownerIsAdmin ? [...scopes] : scopes.filter((s) => !isAdminScope(s));
}
