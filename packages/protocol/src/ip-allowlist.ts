import { BlockList, isIP } from 'node:net';

/**
 * Compiles an IP allow-list (addresses and CIDRs, v4 and v6) once into a predicate; an empty list
 * gives undefined (every address allowed). IPv4-mapped IPv6 addresses count as IPv4. Entries that
 * are not addresses are skipped. Node only (a subpath of its own, so browsers never load it).
 */
export function compileAllowList(entries: readonly string[]): ((ip: string) => boolean) | undefined {
  if (entries.length === 0) return undefined;
  const list = new BlockList();
  for (const entry of entries) {
    const [address, bits] = entry.split('/') as [string, string | undefined];
    const family = isIP(address);
    if (family === 0) continue;
    const type = family === 6 ? 'ipv6' : 'ipv4';
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
