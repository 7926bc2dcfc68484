/** RFC 6749 §5.2 / RFC 7662 / RFC 7009 / RFC 8693 error codes used by the /oauth endpoints. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'unsupported_token_type'
  | 'server_error'
  | 'temporarily_unavailable'
  /** Not an RFC 6749 code (none covers it): an abuse limit, answered 429 with Retry-After, as Auth0 does. */
  | 'too_many_requests';

const STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  unsupported_token_type: 400,
  server_error: 500,
  temporarily_unavailable: 503,
  too_many_requests: 429,
};

/** An error answered as `{ error, error_description }` with `Cache-Control: no-store`. */
export class OAuthError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    options: { headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(description, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OAuthError';
    this.status = STATUS[error];
    this.headers = options.headers ?? {};
  }
}
