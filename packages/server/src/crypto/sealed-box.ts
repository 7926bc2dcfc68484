import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { SecretKeys } from './keys.js';

const VERSION = 'v1';

/** Which derived key a box uses: one per purpose, so a box made for one use never opens for another. */
export type SealPurpose = 'keyEncryptionKey' | 'signInFlowKey';

/**
 * Encrypts with AES-256-GCM under a key derived from KEYFOB_SECRET: private signing keys at rest,
 * and the sign-in flow cookie. Format: `v1.<key id>.<base64url(iv | tag | ciphertext)>`; the key
 * id says which master secret sealed it, so a rotated KEYFOB_SECRET (with KEYFOB_SECRET_PREVIOUS)
 * can still open old boxes.
 */
export class SealedBox {
  constructor(
    private readonly current: SecretKeys,
    private readonly previous?: SecretKeys,
    private readonly purpose: SealPurpose = 'keyEncryptionKey',
  ) {}

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current[this.purpose], iv);
    cipher.setAAD(Buffer.from(`${VERSION}.${this.current.id}`));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${VERSION}.${this.current.id}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  open(sealed: string): string {
    const [version, keyId, payload] = sealed.split('.');
    const keys = [this.current, this.previous].find((k) => k?.id === keyId);
    if (version !== VERSION || !keys || payload === undefined) throw new Error('sealed with an unknown secret: set KEYFOB_SECRET_PREVIOUS to the secret that sealed it');
    const raw = Buffer.from(payload, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', keys[this.purpose], raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(`${VERSION}.${keyId}`));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }
}
