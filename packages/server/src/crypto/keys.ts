import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/**
 * Subkeys derived from one master secret (KEYFOB_SECRET) with HKDF, so that the token pepper,
 * the session/CSRF key and later the key-encryption key never share material.
 */
export interface SecretKeys {
  /** Short public identifier of the master secret, recorded next to each token hash (D13). */
  readonly id: string;
  readonly pepper: Buffer;
  readonly sessionKey: Buffer;
  /** AES-256-GCM key for signing keys at rest. */
  readonly keyEncryptionKey: Buffer;
  /** AES-256-GCM key for the short-lived cookie of an OpenID Connect sign-in under way. */
  readonly signInFlowKey: Buffer;
}

export function deriveKeys(masterSecret: string): SecretKeys {
  const ikm = Buffer.from(masterSecret, 'utf8');
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), info, 32));
  return {
    id: createHash('sha256').update(derive('keyfob key id')).digest('hex').slice(0, 12),
    pepper: derive('keyfob token pepper v1'),
    sessionKey: derive('keyfob session key v1'),
    keyEncryptionKey: derive('keyfob signing key encryption v1'),
    signInFlowKey: derive('keyfob sign-in flow v1'),
  };
}

export function hmacHex(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value).digest('hex');
}

export function hmacBase64Url(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value).digest('base64url');
}

/** Constant-time string comparison that does not leak the expected length through early exit. */
export function safeEqual(a: string, b: string): boolean {
  const ab = createHash('sha256').update(a).digest();
  const bb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ab, bb) && a.length === b.length;
}
