import { describe, expect, it } from 'vitest';
import { addressSubject, formatLimitRule, parseLimitRule, type LimitRules } from '../../src/domain/rate-limits.js';
import { KeyfobError } from '../../src/errors/keyfob-error.js';
import { MemoryCounterStore, RateLimiter } from '../../src/services/rate-limiter.js';
import { ManualClock } from '../helpers/clock.js';

const OFF: LimitRules = { authFailures: null, loginFailuresPerUser: null, loginFailuresPerIp: null, tokenCreations: null, exchanges: null, credentialReports: null };

describe('limit rules', () => {
  it('parses count/window and off, and refuses anything else', () => {
    expect(parseLimitRule('60/1m')).toEqual({ limit: 60, windowMs: 60_000 });
    expect(parseLimitRule('10/15m')).toEqual({ limit: 10, windowMs: 900_000 });
    expect(parseLimitRule('100/h')).toEqual({ limit: 100, windowMs: 3_600_000 });
    expect(parseLimitRule(' 5 / 30s ')).toEqual({ limit: 5, windowMs: 30_000 });
    expect(parseLimitRule('off')).toBeNull();
    for (const bad of ['', '60', '60/1d', '0/1m', '-1/1m', '1/0s', 'ten/1m', '60/1m extra']) expect(parseLimitRule(bad), bad).toBeUndefined();
    expect(formatLimitRule({ limit: 10, windowMs: 900_000 })).toBe('10/15m');
    expect(formatLimitRule(null)).toBe('off');
  });
});

describe('address subjects', () => {
  it('counts IPv4 addresses one by one and IPv6 by /64', () => {
    expect(addressSubject('203.0.113.9')).toBe('203.0.113.9');
    expect(addressSubject('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(addressSubject('2001:db8:0:1::5')).toBe('2001:db8:0:1::/64');
    expect(addressSubject('2001:0db8:0000:0001:ffff:1:2:3')).toBe('2001:db8:0:1::/64');
    expect(addressSubject('2001:DB8:0:1:0:0:0:9')).toBe('2001:db8:0:1::/64');
    expect(addressSubject('::1')).toBe('0:0:0:0::/64');
    expect(addressSubject('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressSubject('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
    // Not an address: counted as the text it is, never thrown on.
    expect(addressSubject('1:2:3')).toBe('1:2:3');
  });
});

describe('RateLimiter', () => {
  const limiter = (rules: Partial<LimitRules>, maxSubjects?: number) => {
    const clock = new ManualClock();
    return { clock, limiter: new RateLimiter({ rules: { ...OFF, ...rules }, clock, ...(maxSubjects ? { maxSubjects } : {}) }) };
  };

  it('consume refuses past the limit with Retry-After until the window ends', async () => {
    const { clock, limiter: l } = limiter({ exchanges: { limit: 2, windowMs: 60_000 } });
    await l.consume('exchanges', 'pat-1');
    clock.advance(20_000);
    await l.consume('exchanges', 'pat-1');
    const refused = await l.consume('exchanges', 'pat-1').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(KeyfobError);
    expect((refused as KeyfobError).code).toBe('rate_limited');
    expect((refused as KeyfobError).headers['retry-after']).toBe('40');
    await l.consume('exchanges', 'pat-2');
    clock.advance(40_000);
    await l.consume('exchanges', 'pat-1');
  });

  it('recordFailure blocks the subject once the limit is reached; blockedFor sees it', async () => {
    const { clock, limiter: l } = limiter({ authFailures: { limit: 3, windowMs: 60_000 } });
    expect(await l.recordFailure('authFailures', 'a')).toBeUndefined();
    expect(await l.recordFailure('authFailures', 'a')).toBeUndefined();
    expect(l.blockedFor('authFailures', 'a')).toBeUndefined();
    expect(await l.recordFailure('authFailures', 'a')).toBeUndefined(); // the limit-th failure answers as usual...
    expect(l.blockedFor('authFailures', 'a')).toBe(60); // ...and blocks what follows
    expect((await l.recordFailure('authFailures', 'a'))?.code).toBe('rate_limited');
    expect(l.blockedFor('authFailures', 'b')).toBeUndefined();
    clock.advance(60_000);
    expect(l.blockedFor('authFailures', 'a')).toBeUndefined();
  });

  it('consume holds for attempts in parallel, and refund gives back an attempt that went well', async () => {
    const { limiter: l } = limiter({ loginFailuresPerUser: { limit: 3, windowMs: 60_000 } });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => l.consume('loginFailuresPerUser', 'carol')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const { limiter: m } = limiter({ loginFailuresPerUser: { limit: 2, windowMs: 60_000 } });
    for (let i = 0; i < 10; i++) {
      await m.consume('loginFailuresPerUser', 'dave');
      await m.refund('loginFailuresPerUser', 'dave');
    }
    await m.consume('loginFailuresPerUser', 'dave');
    await m.consume('loginFailuresPerUser', 'dave');
    await expect(m.consume('loginFailuresPerUser', 'dave')).rejects.toMatchObject({ code: 'rate_limited' });
  });

  it('keeps each limit in its own table: rotating subjects through one does not evict another', async () => {
    const { limiter: l } = limiter({ authFailures: { limit: 2, windowMs: 60_000 }, loginFailuresPerUser: { limit: 2, windowMs: 60_000 } }, 100);
    await l.consume('loginFailuresPerUser', 'victim');
    await l.consume('loginFailuresPerUser', 'victim');
    for (let i = 0; i < 5000; i++) await l.recordFailure('authFailures', `10.0.${i >> 8}.${i & 255}`);
    await expect(l.consume('loginFailuresPerUser', 'victim')).rejects.toMatchObject({ code: 'rate_limited' });
  });

  it('does nothing for a limit that is off', async () => {
    const { limiter: l } = limiter({});
    for (let i = 0; i < 1000; i++) await l.consume('tokenCreations', 'u');
    expect(await l.recordFailure('authFailures', 'x')).toBeUndefined();
  });

  it('stays bounded while an attacker rotates through addresses, and still blocks the newest', async () => {
    const store = new MemoryCounterStore(1000);
    const clock = new ManualClock();
    for (let i = 0; i < 50_000; i++) store.hitNow(`authFailures:10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 60_000, clock.now());
    expect(store.size).toBeLessThanOrEqual(1000);
    const { limiter: l } = limiter({ authFailures: { limit: 2, windowMs: 60_000 } }, 500);
    for (let i = 0; i < 20_000; i++) await l.recordFailure('authFailures', `198.18.${(i >> 8) & 255}.${i & 255}`);
    await l.recordFailure('authFailures', '192.0.2.1');
    await l.recordFailure('authFailures', '192.0.2.1');
    expect(l.blockedFor('authFailures', '192.0.2.1')).toBeGreaterThan(0);
    expect(l.trackedSubjects).toBeLessThanOrEqual(1000);
  });
});
