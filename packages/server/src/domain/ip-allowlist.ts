import { isIP } from 'node:net';

/**
 * Parses an IP address or CIDR (`203.0.113.7`, `10.0.0.0/8`, `2001:db8::/32`). Returns the
 * canonical text or undefined when it is neither.
 */
export function normalizeIpOrCidr(value: string): string | undefined {
  const [address, bits, extra] = value.trim().split('/');
  if (extra !== undefined || address === undefined) return undefined;
  const family = isIP(address);
  if (family === 0) return undefined;
  if (bits === undefined) return address.toLowerCase();
  if (!/^\d{1,3}$/.test(bits)) return undefined;
  const prefix = Number(bits);
  if (prefix > (family === 4 ? 32 : 128)) return undefined;
  return `${address.toLowerCase()}/${prefix}`;
}

export { compileAllowList } from '@keyfob/protocol/ip-allowlist';
