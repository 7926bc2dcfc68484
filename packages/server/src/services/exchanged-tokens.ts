import { encodeProtectedHeader, signWithEncodedHeader } from '../crypto/jws.js';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { Clock } from './clock.js';
import { whenReady, type MaybePromise } from './maybe-promise.js';
import type { Signer, SigningKeyService } from './signing-key-service.js';

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

  /** Synchronous while the signing key is cached. */
  mint(claims: MintClaims): MaybePromise<string> {
    return whenReady(this.deps.keys.signer(), (signer) => {
      let header = this.#headers.get(signer);
      if (header === undefined) this.#headers.set(signer, (header = encodeProtectedHeader({ kid: signer.kid, typ: 'at+jwt' }, signer.alg)));
      // Spelled out rather than spread: this runs on every exchange.
      const payload = {
        sub: claims.sub,
        aud: claims.aud,
        jti: claims.jti,
        client_id: claims.client_id,
        scope: claims.scope,
        [PAT_ID_CLAIM]: claims[PAT_ID_CLAIM],
        iss: this.deps.issuer,
        iat: Math.floor(this.deps.clock.now() / 1000),
        exp: claims.exp,
      };
      return signWithEncodedHeader(header, payload, signer.alg, signer.key);
    });
  }

  /** The encoded protected header of each signer (kept while the signer is). */
  readonly #headers = new WeakMap<Signer, string>();

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
