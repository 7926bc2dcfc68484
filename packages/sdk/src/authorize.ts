import { KeyfobUnavailableError } from './errors.js';
import { readBearer, refusalFor, type Refusal } from './challenge.js';
import type { VerifiedPrincipal, Verifier, VerifyOptions } from './types.js';

export interface GuardOptions extends Omit<VerifyOptions, 'ip'> {
  /** The realm of the WWW-Authenticate challenge (default "api"). */
  readonly realm?: string;
}

export type Decision = { readonly ok: true; readonly principal: VerifiedPrincipal } | { readonly ok: false; readonly refusal: Refusal };

/** The whole check a middleware makes: header (and caller's address) → verification → principal or RFC 6750 refusal. */
export async function authorize(verifier: Verifier, authorization: string | readonly string[] | undefined | null, options: GuardOptions = {}, ip?: string): Promise<Decision> {
  const realm = options.realm ?? 'api';
  const bearer = readBearer(authorization);
  if (bearer.kind === 'missing') return { ok: false, refusal: refusalFor('missing', realm) };
  if (bearer.kind === 'malformed') {
    return { ok: false, refusal: refusalFor({ ok: false, error: 'invalid_request', description: 'the Authorization header must be "Bearer <token>"' }, realm) };
  }
  try {
    const result = await verifier.verify(bearer.token, ip === undefined ? options : { ...options, ip });
    return result.ok ? { ok: true, principal: result } : { ok: false, refusal: refusalFor(result, realm) };
  } catch (error) {
    if (error instanceof KeyfobUnavailableError) return { ok: false, refusal: refusalFor(error, realm) };
    throw error;
  }
}
