import type { SecretKeys } from './keys.js';
import { hmacHex } from './keys.js';

export interface TokenDigest {
  readonly hash: string;
  readonly keyId: string;
}

/**
 * HMAC-SHA-256(pepper, token). `digest` uses the current pepper (for new tokens); `candidates`
 * yields the current then the previous pepper's digest, so tokens minted before a pepper
 * rotation keep verifying (D13).
 */
export class TokenHasher {
  readonly #current: SecretKeys;
  readonly #previous: SecretKeys | undefined;

  constructor(current: SecretKeys, previous?: SecretKeys) {
    this.#current = current;
    this.#previous = previous;
  }

  digest(token: string): TokenDigest {
    return { hash: hmacHex(this.#current.pepper, token), keyId: this.#current.id };
  }

  candidates(token: string): TokenDigest[] {
    const out = [this.digest(token)];
    if (this.#previous) out.push({ hash: hmacHex(this.#previous.pepper, token), keyId: this.#previous.id });
    return out;
  }
}
