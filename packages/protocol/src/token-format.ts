/**
 * The personal access token format shared by the server, the SDK and `keyfob scan`:
 * `<prefix>_<40 base62 random><6 base62 CRC32 of the random part>`.
 *
 * The checksum is not a secret and proves nothing about validity: it only lets a verifier or a
 * scanner discard a mistyped or invented string without a database round trip.
 */

export const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const DEFAULT_TOKEN_PREFIX = 'kf_pat';
export const RANDOM_LENGTH = 40;
export const CHECKSUM_LENGTH = 6;
export const BODY_LENGTH = RANDOM_LENGTH + CHECKSUM_LENGTH;

const PREFIX_PATTERN = /^[a-z][a-z0-9_]{1,15}$/;
const BASE62_PATTERN = /^[0-9A-Za-z]+$/;

/** Source of `Regex` text for finding candidate tokens inside arbitrary text (secret scanning). */
export const TOKEN_SEARCH_PATTERN = '\\b([a-z][a-z0-9_]{1,15})_([0-9A-Za-z]{46})\\b';

export function isValidPrefix(prefix: string): boolean {
  return PREFIX_PATTERN.test(prefix);
}

const CRC_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3) of an ASCII string; the token body is always ASCII. */
export function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) {
    crc = (CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Fixed-width base62 encoding of a CRC-32 (62^6 > 2^32, so six digits always suffice). */
export function checksumOf(random: string): string {
  let value = crc32(random);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62_ALPHABET[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

/** Uniform base62 characters from a CSPRNG (rejection sampling: no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  const buffer = new Uint8Array(length * 2);
  while (out.length < length) {
    globalThis.crypto.getRandomValues(buffer);
    for (const byte of buffer) {
      // 248 = 62 * 4: bytes at or above it would favour the first characters.
      if (byte < 248) out += BASE62_ALPHABET[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

export interface GeneratedToken {
  /** The plaintext secret, to be shown exactly once. */
  readonly token: string;
  readonly prefix: string;
  readonly displayHint: string;
}

export function generateToken(prefix: string = DEFAULT_TOKEN_PREFIX): GeneratedToken {
  if (!isValidPrefix(prefix)) throw new TypeError(`invalid token prefix "${prefix}"`);
  const random = randomBase62(RANDOM_LENGTH);
  const token = `${prefix}_${random}${checksumOf(random)}`;
  return { token, prefix, displayHint: displayHintOf(token) };
}

export type ParsedToken =
  | { readonly ok: true; readonly prefix: string; readonly random: string; readonly checksum: string }
  | { readonly ok: false; readonly reason: 'malformed' | 'bad_checksum' | 'unknown_prefix' };

/**
 * Splits and checks a candidate token. `acceptedPrefixes` lists the current prefix and any older
 * ones that keep verifying; omit it to accept any well-formed prefix (a scanner does).
 * Does NOT tell whether the token exists, is active, or belongs to anyone.
 */
export function parseToken(candidate: string, acceptedPrefixes?: readonly string[]): ParsedToken {
  const cut = candidate.length - BODY_LENGTH - 1;
  if (cut < 2 || candidate[cut] !== '_') return { ok: false, reason: 'malformed' };
  const prefix = candidate.slice(0, cut);
  const body = candidate.slice(cut + 1);
  if (!isValidPrefix(prefix) || !BASE62_PATTERN.test(body)) return { ok: false, reason: 'malformed' };
  const random = body.slice(0, RANDOM_LENGTH);
  const checksum = body.slice(RANDOM_LENGTH);
  if (checksumOf(random) !== checksum) return { ok: false, reason: 'bad_checksum' };
  if (acceptedPrefixes && !acceptedPrefixes.includes(prefix)) return { ok: false, reason: 'unknown_prefix' };
  return { ok: true, prefix, random, checksum };
}

/** A token found in text: where it starts (a UTF-16 index) and the token itself. */
export interface FoundToken {
  readonly token: string;
  readonly index: number;
}

/**
 * Every well-formed token with one of `acceptedPrefixes` and a valid checksum inside `text`
 * (secret scanning). Look-alikes with a bad checksum are not reported. Nothing is required on
 * the left: a token glued to other text (`\nkf_pat_…` in an escaped string, `%20kf_pat_…`,
 * `my_kf_pat_…`) is still found; the checksum keeps that from finding what is not a token.
 */
export function findTokens(text: string, acceptedPrefixes: readonly string[]): FoundToken[] {
  const found: FoundToken[] = [];
  const valid = acceptedPrefixes.filter(isValidPrefix); // nothing in a valid prefix needs escaping
  if (valid.length === 0) return found;
  const pattern = new RegExp(`(?:${valid.join('|')})_[0-9A-Za-z]{${BODY_LENGTH}}(?![0-9A-Za-z])`, 'g');
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    if (parseToken(match[0], acceptedPrefixes).ok) found.push({ token: match[0], index: match.index });
  }
  return found;
}

/** `kf_pat_AbCd...WxYz`: enough to recognise a token in a list, far too little to use it. */
export function displayHintOf(token: string): string {
  const cut = token.length - BODY_LENGTH - 1;
  const prefix = token.slice(0, cut);
  const body = token.slice(cut + 1);
  return `${prefix}_${body.slice(0, 4)}...${body.slice(-4)}`;
}
