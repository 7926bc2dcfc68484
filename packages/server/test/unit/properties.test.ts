import { BlockList } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BASE62_ALPHABET,
  BUILTIN_SCOPE_NAMES,
  RANDOM_LENGTH,
  checksumOf,
  effectiveScopes,
  findTokens,
  grants,
  isAdminScope,
  isScope,
  parseToken,
} from '@keyfob/protocol';
import { challengeOf } from '../../src/http/challenge.js';
import { DAY_MS, DEFAULT_POLICY, mergePolicy, resolveExpiry, type Policy } from '../../src/domain/policy.js';
import { KeyfobError } from '../../src/errors/keyfob-error.js';
import { addressSubject, parseLimitRule } from '../../src/domain/rate-limits.js';

// Property tests: each runs fast-check's default 100 cases unless it says otherwise; a failure
// prints the shrunk counter-example and the seed to replay it.

const prefixArb = fc.stringMatching(/^[a-z][a-z0-9_]{1,15}$/);
const base62 = (length: number) => fc.array(fc.constantFrom(...BASE62_ALPHABET), { minLength: length, maxLength: length }).map((cs) => cs.join(''));
const tokenArb = fc.tuple(prefixArb, base62(RANDOM_LENGTH)).map(([prefix, random]) => ({ prefix, random, token: `${prefix}_${random}${checksumOf(random)}` }));

describe('token parser (properties)', () => {
  it('accepts every token it could have generated, with its parts', () => {
    fc.assert(
      fc.property(tokenArb, ({ prefix, random, token }) => {
        expect(parseToken(token)).toEqual({ ok: true, prefix, random, checksum: checksumOf(random) });
        expect(parseToken(token, [prefix]).ok).toBe(true);
      }),
    );
  });

  it('rejects every single-character change of the random part or the checksum', () => {
    fc.assert(
      fc.property(tokenArb, fc.nat(), fc.constantFrom(...BASE62_ALPHABET), ({ prefix, token }, at, replacement) => {
        const start = prefix.length + 1;
        const i = start + (at % (token.length - start));
        fc.pre(token[i] !== replacement);
        const changed = token.slice(0, i) + replacement + token.slice(i + 1);
        expect(parseToken(changed).ok).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws on any text, and whatever it accepts is self-consistent', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary', maxLength: 80 })), (text) => {
        const parsed = parseToken(text);
        if (parsed.ok) expect(checksumOf(parsed.random)).toBe(parsed.checksum);
      }),
      { numRuns: 2000 },
    );
  });

  it('finds exactly the tokens placed in arbitrary text, glued to whatever comes before them', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string({ maxLength: 20 }), tokenArb), { maxLength: 5 }), (pieces) => {
        const prefixes = [...new Set(pieces.map(([, t]) => t.prefix))];
        const text = pieces.map(([filler, t]) => `${filler}${t.token}`).join('\n');
        expect(findTokens(text, prefixes).map((f) => f.token)).toEqual(pieces.map(([, t]) => t.token));
      }),
    );
  });
});

describe('scopes (properties)', () => {
  const scopeArb = fc.stringMatching(/^[a-z][a-z0-9_.-]{0,10}(:[a-z0-9_.-]{1,10}){0,2}(:([a-z0-9_.-]{1,10}|\*))?$/);

  it('accepts generated scopes and refuses anything with characters outside the grammar', () => {
    fc.assert(
      fc.property(scopeArb, (scope) => {
        expect(isScope(scope)).toBe(scope.length <= 100);
      }),
    );
    fc.assert(
      fc.property(fc.string(), (text) => {
        if (/[^a-z0-9_.:*-]/.test(text)) expect(isScope(text)).toBe(false);
      }),
    );
  });

  it('never lets a non-admin owner use an admin scope, and grants what is held', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(scopeArb, fc.constantFrom(...BUILTIN_SCOPE_NAMES)), { maxLength: 8 }), fc.boolean(), (scopes, admin) => {
        const effective = effectiveScopes(scopes, admin);
        if (!admin) expect(effective.some(isAdminScope)).toBe(false);
        else expect(effective).toEqual(scopes);
        for (const s of effective) expect(grants(effective, s)).toBe(true);
        for (const s of scopes.filter(isAdminScope)) expect(grants(effective, s)).toBe(admin);
      }),
    );
  });
});

describe('WWW-Authenticate (properties)', () => {
  // RFC 6750 §3: auth-params whose values are quoted strings of %x20-21 / %x23-5B / %x5D-7E.
  const CHALLENGE = /^Bearer realm="keyfob"(, (error|error_description|scope)="[\x20\x21\x23-\x5b\x5d-\x7e]*")*$/;

  it('always builds a challenge RFC 6750 allows, whatever the message and scope hold', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('unauthorized', 'session_expired', 'invalid_token', 'invalid_request', 'insufficient_scope'),
        fc.string({ unit: 'grapheme' }),
        fc.option(fc.string({ unit: 'binary' }), { nil: undefined }),
        (code, message, scope) => {
          const header = challengeOf({ code: code as KeyfobError['code'], message, scope });
          expect(header).toMatch(CHALLENGE);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('policy arithmetic (properties)', () => {
  const NOW = Date.UTC(2026, 10, 23, 12);
  const policyArb: fc.Arbitrary<Policy> = fc
    .record({
      maxLifetimeDays: fc.option(fc.integer({ min: 1, max: 3650 }), { nil: null }),
      requireExpiry: fc.boolean(),
      expiryPresetsDays: fc.array(fc.integer({ min: 1, max: 3650 }), { minLength: 1, maxLength: 5 }),
      defaultExpiryDays: fc.option(fc.integer({ min: 1, max: 3650 }), { nil: null }),
    })
    .map((update) => {
      try {
        return mergePolicy(DEFAULT_POLICY, update);
      } catch (error) {
        expect(error).toBeInstanceOf(KeyfobError);
        return undefined;
      }
    })
    .filter((p): p is Policy => p !== undefined);
  const requestArb = fc.oneof(
    fc.constant({}),
    fc.record({ expiresInDays: fc.option(fc.integer({ min: 1, max: 5000 }), { nil: null }) }),
    fc.record({ expiresAt: fc.integer({ min: NOW - 10 * DAY_MS, max: NOW + 5000 * DAY_MS }).map((ms) => new Date(ms).toISOString()) }),
  );

  it('never grants a lifetime past the policy, never "no expiry" where the policy forbids it, and fails only with a named field', () => {
    fc.assert(
      fc.property(policyArb, requestArb, (policy, request) => {
        let at: number | null;
        try {
          at = resolveExpiry(policy, request, NOW);
        } catch (error) {
          expect(error).toBeInstanceOf(KeyfobError);
          expect((error as KeyfobError).field).toMatch(/^expires(InDays|At)$/);
          return;
        }
        if (at === null) {
          expect(policy.requireExpiry).toBe(false);
          expect(policy.maxLifetimeDays).toBeNull();
        } else {
          expect(at).toBeGreaterThan(NOW);
          if (policy.maxLifetimeDays !== null) expect(at).toBeLessThanOrEqual(NOW + policy.maxLifetimeDays * DAY_MS);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('abuse-limit inputs (properties)', () => {
  it('never throws on any address text or limit text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()), (ip) => {
        expect(typeof addressSubject(ip)).toBe('string');
      }),
      { numRuns: 2000 },
    );
    fc.assert(fc.property(fc.string(), (text) => void parseLimitRule(text)));
  });

  it('counts two IPv6 addresses as one subject exactly when they share their /64 (node:net BlockList as the oracle)', () => {
    const ipv6 = fc.ipV6().filter((ip) => !ip.includes('.'));
    const sameNet = fc.tuple(ipv6, fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 4, maxLength: 4 })).map(([ip, host]) => {
      const net = addressSubject(ip).replace('::/64', '');
      return [ip, `${net}:${host.map((h) => h.toString(16)).join(':')}`] as const;
    });
    fc.assert(
      fc.property(fc.oneof(fc.tuple(ipv6, ipv6), sameNet), ([a, b]) => {
        const subnet = new BlockList();
        subnet.addSubnet(addressSubject(a).replace('/64', ''), 64, 'ipv6');
        expect(addressSubject(a) === addressSubject(b)).toBe(subnet.check(b, 'ipv6'));
      }),
      { numRuns: 1000 },
    );
  });
});
