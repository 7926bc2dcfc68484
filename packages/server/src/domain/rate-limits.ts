/** The abuse limits keyfob enforces, each counted per subject (an address, a user, a token). */
export const LIMIT_NAMES = ['authFailures', 'loginFailuresPerUser', 'loginFailuresPerIp', 'tokenCreations', 'exchanges', 'credentialReports'] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

/** At most `limit` events per fixed window of `windowMs`. */
export interface LimitRule {
  readonly limit: number;
  readonly windowMs: number;
}

/** null: that limit is off. */
export type LimitRules = Readonly<Record<LimitName, LimitRule | null>>;

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;

/**
 * Parses "<count>/<window>" such as `60/1m`, `10/15m`, `100/1h`, or `off`. Returns undefined
 * for anything else (the caller names the setting in its error).
 */
export function parseLimitRule(text: string): LimitRule | null | undefined {
  if (text.trim() === 'off') return null;
  const match = /^\s*(\d{1,9})\s*\/\s*(\d{1,6})?\s*([smh])\s*$/.exec(text);
  if (!match) return undefined;
  const limit = Number(match[1]);
  const windowMs = Number(match[2] ?? 1) * UNIT_MS[match[3] as keyof typeof UNIT_MS];
  if (limit < 1 || windowMs < 1000) return undefined;
  return { limit, windowMs };
}

export function formatLimitRule(rule: LimitRule | null): string {
  if (rule === null) return 'off';
  for (const [unit, ms] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (rule.windowMs % ms === 0) return `${rule.limit}/${rule.windowMs / ms}${unit}`;
  }
  return `${rule.limit}/${rule.windowMs / 1000}s`;
}

/**
 * The subject an address is counted as. An IPv6 host usually holds a whole /64, so counting
 * single IPv6 addresses would let one attacker rotate through billions of them; the /64 is the
 * unit. IPv4 (and IPv4-mapped IPv6) addresses count one by one.
 */
export function addressSubject(ip: string): string {
  if (!ip.includes(':')) return ip;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1]!;
  const groups = expandIpv6(ip.split('%')[0]!);
  return groups === undefined ? ip.toLowerCase() : `${groups.slice(0, 4).join(':')}::/64`;
}

/** Eight lower-case hex groups without leading zeros, or undefined when it is not IPv6 text. */
function expandIpv6(text: string): string[] | undefined {
  const halves = text.toLowerCase().split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const tail = halves.length === 2 && halves[1] !== '' ? halves[1]!.split(':') : [];
  // An embedded IPv4 tail (::1.2.3.4) counts as two groups.
  const last = tail.length > 0 ? tail[tail.length - 1]! : head[head.length - 1];
  if (last !== undefined && last.includes('.')) {
    const octets = last.split('.').map(Number);
    if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) return undefined;
    const pair = [((octets[0]! << 8) | octets[1]!).toString(16), ((octets[2]! << 8) | octets[3]!).toString(16)];
    (tail.length > 0 ? tail : head).splice(-1, 1, ...pair);
  }
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => g.replace(/^0+(?=.)/, ''));
}
