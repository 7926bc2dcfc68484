import type { VerifyFailure } from './types.js';
import { KeyfobUnavailableError } from './errors.js';

/** What a resource server answers when it refuses a request: status, headers, JSON body. */
export interface Refusal {
  readonly status: 400 | 401 | 403 | 503;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: { readonly error: string; readonly error_description: string };
}

// RFC 6750 §3: quoted values hold %x20-21 / %x23-5B / %x5D-7E only.
const quote = (value: string) => `"${value.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '?')}"`;

const STATUS = { invalid_request: 400, invalid_token: 401, insufficient_scope: 403 } as const;

/**
 * RFC 6750 §3 answers: no credentials → 401 with a bare challenge; a malformed request → 400
 * `invalid_request`; a refused token → 401 `invalid_token`; a missing scope → 403
 * `insufficient_scope` naming it; keyfob unreachable → 503 with Retry-After (fail closed).
 */
export function refusalFor(cause: VerifyFailure | 'missing' | KeyfobUnavailableError, realm: string): Refusal {
  if (cause === 'missing') {
    // RFC 6750 §3.1: no error code when no (Bearer) credentials were sent.
    return { status: 401, headers: { 'www-authenticate': `Bearer realm=${quote(realm)}` }, body: { error: 'unauthorized', error_description: 'send Authorization: Bearer <token>' } };
  }
  if (cause instanceof KeyfobUnavailableError) {
    return { status: 503, headers: { 'retry-after': String(cause.retryAfterSeconds) }, body: { error: 'temporarily_unavailable', error_description: 'the token cannot be checked right now; retry later' } };
  }
  const parts = [`realm=${quote(realm)}`, `error=${quote(cause.error)}`, `error_description=${quote(cause.description)}`];
  if (cause.scope !== undefined) parts.push(`scope=${quote(cause.scope)}`);
  return { status: STATUS[cause.error], headers: { 'www-authenticate': `Bearer ${parts.join(', ')}` }, body: { error: cause.error, error_description: cause.description } };
}

export type BearerHeader = { readonly kind: 'missing' } | { readonly kind: 'malformed' } | { readonly kind: 'token'; readonly token: string };

/**
 * Reads `Authorization: Bearer <token>` (the scheme in any case, one token, nothing else).
 * Another scheme (Basic, Token …) counts as no Bearer credentials at all (RFC 6750 §3.1); a
 * Bearer header without exactly one token is malformed.
 */
export function readBearer(header: string | readonly string[] | undefined | null): BearerHeader {
  if (header === undefined || header === null) return { kind: 'missing' };
  if (typeof header !== 'string') return { kind: 'malformed' };
  const scheme = /^\s*(\S+)/.exec(header)?.[1];
  if (scheme === undefined || scheme.toLowerCase() !== 'bearer') return { kind: 'missing' };
  const match = /^\s*\S+[ ]+(\S+)\s*$/.exec(header);
  return match ? { kind: 'token', token: match[1]! } : { kind: 'malformed' };
}
