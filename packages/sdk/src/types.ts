/** A token keyfob vouches for. */
export interface VerifiedPrincipal {
  readonly ok: true;
  /** The owner's user id (`sub`). */
  readonly subject: string;
  /** Effective scopes right now (an owner's admin scopes drop out when they are demoted). */
  readonly scopes: readonly string[];
  /** The PAT's id, or the exchanged JWT's `jti`. */
  readonly tokenId: string;
  /** null: the token never expires. */
  readonly expiresAt: Date | null;
  readonly kind: 'pat' | 'jwt';
}

export type VerifyErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

/** Why a token is refused, in RFC 6750 terms. */
export interface VerifyFailure {
  readonly ok: false;
  readonly error: VerifyErrorCode;
  readonly description: string;
  /** For insufficient_scope: the scope that was missing. */
  readonly scope?: string;
}

export type VerifyResult = VerifiedPrincipal | VerifyFailure;

export interface VerifyOptions {
  /** Every one of these must be granted (`tokens:write` also grants `tokens:read`). */
  readonly scopes?: readonly string[];
  /**
   * The resource server's identifier: must be in the token's audiences, if it names any (JWTs
   * always do). Without it, a token restricted to audiences is refused.
   */
  readonly audience?: string;
  /**
   * The address the request came from (the middleware passes it). A PAT with an IP allow-list is
   * accepted only from an address on it, and refused when the address is not given.
   */
  readonly ip?: string;
}

export interface Verifier {
  /**
   * Checks one token. Resolves with the principal or the reason it is refused; rejects with
   * `KeyfobUnavailableError` when keyfob cannot be asked (fail closed: answer 503).
   */
  verify(token: string, options?: VerifyOptions): Promise<VerifyResult>;
  /** Forgets every cached introspection (after an incident, or in tests). */
  clearCache(): void;
}
