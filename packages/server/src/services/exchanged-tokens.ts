import { signCompactJws } from '../crypto/jws.js';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { Clock } from './clock.js';
import type { SigningKeyService } from './signing-key-service.js';

/** The private claim that names the PAT an exchanged token was minted from. */
export const PAT_ID_CLAIM = 'kf_pat_id';

export interface ExchangedClaims extends JWTPayload {
  readonly iss: string;
  readonly sub: string;
  readonly aud: string;
  readonly exp: number;
  readonly iat: number;
  readonly jti: string;
  readonly client_id: string;
  readonly scope: string;
  readonly [PAT_ID_CLAIM]: string;
}

export interface MintClaims {
  readonly sub: string;
  readonly aud: string;
  readonly exp: number;
  readonly jti: string;
  readonly client_id: string;
  readonly scope: string;
  readonly [PAT_ID_CLAIM]: string;
}

/**
 * Mints and checks the RFC 9068 JWT access tokens of the token exchange. Checking covers the
 * signature (published keys only), `typ: at+jwt`, issuer and expiry; it does NOT check whether
 * the PAT behind the token is still good — introspection does that separately.
 */
export class ExchangedTokens {
  constructor(private readonly deps: { keys: SigningKeyService; clock: Clock; issuer: string }) {}

  async mint(claims: MintClaims): Promise<string> {
    const signer = await this.deps.keys.signer();
    const { exp, ...rest } = claims;
    const payload = { ...rest, iss: this.deps.issuer, iat: Math.floor(this.deps.clock.now() / 1000), exp };
    return signCompactJws({ kid: signer.kid, typ: 'at+jwt' }, payload, signer.alg, signer.key);
  }

  /** Looks like a JWT at all (three dot-separated parts with a JSON header). */
  static looksLikeJwt(token: string): boolean {
    if (token.split('.').length !== 3) return false;
    try {
      decodeProtectedHeader(token);
      return true;
    } catch {
      return false;
    }
  }

  /** The verified claims, or undefined for anything that is not a live keyfob-issued token. */
  async verify(token: string): Promise<ExchangedClaims | undefined> {
    const jwks = createLocalJWKSet(await this.deps.keys.jwks());
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: this.deps.issuer,
        typ: 'at+jwt',
        algorithms: this.deps.keys.algorithms(),
        currentDate: new Date(this.deps.clock.now()),
        requiredClaims: ['sub', 'aud', 'exp', 'iat', 'jti', PAT_ID_CLAIM],
      });
      return payload as ExchangedClaims;
    } catch {
      return undefined;
    }
  }
}
