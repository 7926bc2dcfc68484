import { BlockList, isIP } from 'node:net';

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

/** Compiles an allow-list once; an empty list allows every address. */
export function compileAllowList(entries: readonly string[]): ((ip: string) => boolean) | undefined {
  if (entries.length === 0) return undefined;
  const list = new BlockList();
  for (const entry of entries) {
    const [address, bits] = entry.split('/') as [string, string | undefined];
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return (ip: string) => {
    const mapped = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
    const family = isIP(mapped);
    if (family === 0) return false;
    return list.check(mapped, family === 6 ? 'ipv6' : 'ipv4');
  };
}
