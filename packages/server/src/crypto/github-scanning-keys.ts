import { createPublicKey, verify, type KeyObject } from 'node:crypto';

/** GitHub's secret-scanning public keys by key identifier (ECDSA P-256). */
export type ScanningKeys = ReadonlyMap<string, KeyObject>;

/**
 * Reads keys in the shape GitHub publishes them at
 * https://api.github.com/meta/public_keys/secret_scanning:
 * `{ "public_keys": [{ "key_identifier": "…", "key": "-----BEGIN PUBLIC KEY-----…" }] }`.
 * Throws with a sentence saying what is wrong.
 */
export function parseScanningKeys(json: string): ScanningKeys {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error('is not JSON');
  }
  const list = (parsed as { public_keys?: unknown })?.public_keys;
  if (!Array.isArray(list) || list.length === 0) throw new Error('needs a non-empty "public_keys" array');
  const keys = new Map<string, KeyObject>();
  for (const entry of list as { key_identifier?: unknown; key?: unknown }[]) {
    if (typeof entry?.key_identifier !== 'string' || typeof entry.key !== 'string') throw new Error('each public key needs "key_identifier" and "key"');
    let key: KeyObject;
    try {
      key = createPublicKey(entry.key);
    } catch {
      throw new Error(`key ${entry.key_identifier} is not a PEM public key`);
    }
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new Error(`key ${entry.key_identifier} is not an ECDSA P-256 key`);
    }
    keys.set(entry.key_identifier, key);
  }
  return keys;
}

/** The base64 DER ECDSA-SHA-256 signature of the raw body, by the key GitHub names. */
export function verifyScanningSignature(keys: ScanningKeys, keyId: string | undefined, signature: string | undefined, body: Buffer): boolean {
  if (keyId === undefined || signature === undefined) return false;
  const key = keys.get(keyId);
  if (key === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return false;
  try {
    return verify('sha256', body, key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
