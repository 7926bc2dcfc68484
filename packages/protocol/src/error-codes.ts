/**
 * The closed set of error codes keyfob answers with, each with its default HTTP status.
 * Bodies are `{ error, message }` on /api routes and `{ error, error_description }` on /oauth.
 */
export const ERROR_CODES = {
  invalid_request: { status: 400, description: 'The request is malformed or a field is invalid; the message names the field.' },
  invalid_scope: { status: 400, description: 'A scope is unknown or not allowed for this caller.' },
  policy_violation: { status: 400, description: 'The request breaks the token policy (lifetime, expiry, count).' },
  unauthorized: { status: 401, description: 'No credentials were presented.' },
  invalid_token: { status: 401, description: 'The bearer token is unknown, malformed, expired or revoked.' },
  invalid_credentials: { status: 401, description: 'Username or password is wrong, or the account is disabled.' },
  session_expired: { status: 401, description: 'The console session has expired or was ended.' },
  insufficient_scope: { status: 403, description: 'The token or session lacks the scope this route needs.' },
  invalid_csrf_token: { status: 403, description: 'A cookie-authenticated unsafe request lacked a valid X-CSRF-Token header.' },
  forbidden: { status: 403, description: 'The caller may not perform this action.' },
  not_found: { status: 404, description: 'No such resource, or it belongs to someone else.' },
  method_not_allowed: { status: 405, description: 'The route does not support this method.' },
  conflict: { status: 409, description: 'The request conflicts with the current state (duplicate name, setup done, scope in use).' },
  payload_too_large: { status: 413, description: 'The request body is too large.' },
  unsupported_media_type: { status: 415, description: 'The body must be application/json.' },
  rate_limited: { status: 429, description: 'Too many requests; retry after the Retry-After header.' },
  password_login_disabled: { status: 403, description: 'Password sign-in is switched off (KEYFOB_LOCAL_LOGIN=off); sign in through an OpenID Connect provider.' },
  oidc_unknown_provider: { status: 404, description: 'Sign-in: no OpenID Connect provider has this id.' },
  oidc_state_mismatch: { status: 400, description: 'Sign-in: the answer does not belong to a sign-in this browser started (state missing, expired, altered or used); start again.' },
  oidc_nonce_mismatch: { status: 400, description: "Sign-in: the provider's ID token was issued for another sign-in (nonce mismatch)." },
  oidc_denied: { status: 401, description: 'Sign-in: the provider did not authorise the sign-in (cancelled or refused there).' },
  oidc_email_not_allowed: { status: 403, description: "Sign-in: the account's email is missing, unverified or not in an allowed domain." },
  oidc_account_disabled: { status: 403, description: 'Sign-in: the keyfob account linked to this identity is disabled.' },
  oidc_setup_needed: { status: 409, description: 'Sign-in: keyfob has no user yet; first-run setup (or an identity the admin claim makes admin) must come first.' },
  oidc_provider_error: { status: 502, description: 'Sign-in: the provider could not be reached, or its answer failed validation (issuer, audience, signature, expiry).' },
  server_error: { status: 500, description: 'An unexpected error; details are in the server log only.' },
  store_unavailable: { status: 503, description: 'The data store is unreachable or read-only; retry after the Retry-After header.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function statusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}
