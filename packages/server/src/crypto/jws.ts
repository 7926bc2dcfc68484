import { sign, type KeyObject } from 'node:crypto';

export type JwsAlgorithm = 'EdDSA' | 'ES256';

/** The first part of a compact JWS: base64url of the protected header, `alg` first. */
export function encodeProtectedHeader(header: Readonly<Record<string, unknown>>, alg: JwsAlgorithm): string {
  return Buffer.from(JSON.stringify({ alg, ...header })).toString('base64url');
}

/**
 * A JWS in compact serialization (RFC 7515 §7.1) signed with node:crypto's one-shot `sign`, its
 * header encoded beforehand (`encodeProtectedHeader`: a signer's header is the same for every
 * token). jose signs through WebCrypto, whose per-call promise and key handling cost more than
 * the Ed25519 signature itself on the token-exchange path; jose still verifies every token keyfob
 * checks, and the tests verify what this signs with jose.
 */
export function signWithEncodedHeader(encodedHeader: string, payload: Readonly<Record<string, unknown>>, alg: JwsAlgorithm, key: KeyObject): string {
  const input = `${encodedHeader}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const data = Buffer.from(input);
  // ES256 signatures are the raw r || s pair in JWS (RFC 7518 §3.4), not DER.
  const signature = alg === 'EdDSA' ? sign(null, data, key) : sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}
