import { describe, expect, it } from 'vitest';
import { VerificationCache } from '../../../src/cache/verification-cache.js';
import type { Pat, User } from '../../../src/domain/models.js';
import { VerifiedTokenBuilder, type VerifiedToken } from '../../../src/domain/verified-token.js';

const user = (id: string): User => ({
  id, username: id, displayName: id, email: null, passwordHash: null, role: 'user', disabledAt: null,
  notifications: { tokenCreated: true, tokenExpiring: true, tokenRevoked: true, newIpUse: true },
  createdAt: new Date(0), updatedAt: new Date(0),
});
const pat = (id: string, userId = 'u1'): Pat => ({
  id, userId, name: id, description: '', tokenHash: 'h'.repeat(64), pepperKeyId: 'k', displayHint: 'kf_pat_abcd...wxyz', prefix: 'kf_pat',
  scopes: ['tokens:read'], audiences: [], allowedIps: [], createdAt: new Date(0), expiresAt: null, lastUsedAt: null, lastUsedIp: null,
  revokedAt: null, revokedBy: null, revokeReason: null, rotatedFromId: null, createdByTokenId: null,
});

const builder = new VerifiedTokenBuilder();
const entry = (patId: string, userId = 'u1'): VerifiedToken => builder.build(pat(patId, userId), user(userId));

describe('VerificationCache', () => {
  it('expires entries after the TTL and never extends them on a hit', () => {
    const cache = new VerificationCache({ ttlMs: 1000, maxEntries: 10, maxBytes: 1 << 20 });
    cache.set('k', entry('p1', 'u1'), 0, cache.epoch);
    expect(cache.get('k', 999)).toBeDefined();
    expect(cache.get('k', 1000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('is bounded by entries and by bytes, evicting entries not hit since eviction last passed (second chance)', () => {
    const cache = new VerificationCache({ ttlMs: 60_000, maxEntries: 3, maxBytes: 1 << 20 });
    for (const k of ['a', 'b', 'c']) cache.set(k, entry(k, 'u1'), 0, cache.epoch);
    cache.get('a', 1);
    cache.set('d', entry('d', 'u1'), 2, cache.epoch);
    expect(cache.get('b', 3)).toBeUndefined();
    expect(cache.get('a', 3)).toBeDefined();
    const small = new VerificationCache({ ttlMs: 60_000, maxEntries: 1000, maxBytes: 3000 });
    for (let i = 0; i < 50; i++) small.set(`k${i}`, entry(`p${i}`, 'u1'), 0, small.epoch);
    expect(small.bytes).toBeLessThanOrEqual(3000);
    expect(small.size).toBeGreaterThan(0);
    expect(small.size).toBeLessThan(50);
  });

  it('drops entries by token, by owner and all at once', () => {
    const cache = new VerificationCache({ ttlMs: 60_000, maxEntries: 10, maxBytes: 1 << 20 });
    cache.set('a', entry('p1', 'u1'), 0, cache.epoch);
    cache.set('b', entry('p2', 'u2'), 0, cache.epoch);
    cache.set('c', entry('p3', 'u2'), 0, cache.epoch);
    cache.dropPats(['p1']);
    expect(cache.get('a', 1)).toBeUndefined();
    cache.dropUser('u2');
    expect(cache.size).toBe(0);
    cache.set('a', entry('p1', 'u1'), 0, cache.epoch);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.bytes).toBe(0);
  });

  it('does not store a lookup that raced an invalidation', () => {
    const cache = new VerificationCache({ ttlMs: 60_000, maxEntries: 10, maxBytes: 1 << 20 });
    const epoch = cache.epoch;
    cache.dropPats(['p1']);
    cache.set('a', entry('p1', 'u1'), 0, epoch);
    expect(cache.get('a', 1)).toBeUndefined();
  });
});

describe('VerifiedTokenBuilder', () => {
  it('keeps neither the token hash nor the password hash, and shares owners and scope lists between tokens', () => {
    const b = new VerifiedTokenBuilder();
    const owner = { ...user('u9'), passwordHash: '$argon2id$secret' };
    const one = b.build(pat('p1', 'u9'), owner);
    const two = b.build(pat('p2', 'u9'), owner);
    expect(JSON.stringify(one)).not.toContain('argon2');
    expect(JSON.stringify(one)).not.toContain('h'.repeat(64));
    expect(one.user).toBe(two.user);
    expect(one.pat.scopes).toBe(two.pat.scopes);
    expect(one.grant).toBe(two.grant);
    expect(one.grant.text).toBe('tokens:read');
  });

  it('makes a new owner object when the user changed, and drops admin scopes for a non-admin', () => {
    const b = new VerifiedTokenBuilder();
    const adminPat = { ...pat('p1', 'u9'), scopes: ['tokens:read', 'admin:read'] };
    const asAdmin = b.build(adminPat, { ...user('u9'), role: 'admin' });
    const demoted = b.build(adminPat, { ...user('u9'), role: 'user', updatedAt: new Date(5) });
    expect(asAdmin.user).not.toBe(demoted.user);
    expect([...asAdmin.grant.set]).toEqual(['tokens:read', 'admin:read']);
    expect([...demoted.grant.set]).toEqual(['tokens:read']);
  });

  it('hands out the token’s times as they are stored, a new Date on each read, and serializes them', () => {
    const b = new VerifiedTokenBuilder();
    const stored: Pat = { ...pat('p1'), createdAt: new Date(1_000), expiresAt: new Date(9_000), lastUsedAt: new Date(5_000), lastUsedIp: '192.0.2.1', revokedAt: new Date(8_000), revokedBy: 'u1', revokeReason: 'rotated' };
    const token = b.build(stored, user('u1'));
    const { tokenHash: _hash, pepperKeyId: _key, ...visible } = stored;
    // Every field of the plain token, the times included, and nothing else.
    expect(JSON.parse(JSON.stringify(token.pat))).toEqual(JSON.parse(JSON.stringify(visible)));
    expect([token.pat.createdAt, token.pat.expiresAt, token.pat.lastUsedAt, token.pat.revokedAt].map((d) => d?.getTime())).toEqual([1_000, 9_000, 5_000, 8_000]);
    token.pat.createdAt.setTime(0);
    expect(token.pat.createdAt.getTime()).toBe(1_000);
    expect(token.pat.createdAt).not.toBe(token.pat.createdAt);
    expect([token.revokedAtMs, token.expiresAtMs, token.lastUsedAtMs]).toEqual([8_000, 9_000, 5_000]);
    const fresh = b.build(pat('p2'), user('u1'));
    expect([fresh.pat.expiresAt, fresh.pat.lastUsedAt, fresh.pat.revokedAt]).toEqual([null, null, null]);
    expect([fresh.revokedAtMs, fresh.expiresAtMs, fresh.lastUsedAtMs]).toEqual([Infinity, Infinity, -Infinity]);
  });

  it('never mistakes one list for another when interning', () => {
    const b = new VerifiedTokenBuilder();
    const joined = b.build({ ...pat('p1'), audiences: ['a\nb'] }, user('u1'));
    const split = b.build({ ...pat('p2'), audiences: ['a', 'b'] }, user('u1'));
    const json = b.build({ ...pat('p3'), audiences: ['["a","b"]'] }, user('u1'));
    expect(joined.pat.audiences).toEqual(['a\nb']);
    expect(split.pat.audiences).toEqual(['a', 'b']);
    expect(json.pat.audiences).toEqual(['["a","b"]']);
  });
});

describe('VerifiedTokenBuilder owners', () => {
  it('never reuses an owner that differs in any field, even with the same update time', () => {
    const b = new VerifiedTokenBuilder();
    const before = b.build(pat('p1', 'u7'), { ...user('u7'), displayName: 'Old name' });
    const after = b.build(pat('p2', 'u7'), { ...user('u7'), displayName: 'New name' });
    expect(after.user.displayName).toBe('New name');
    expect(before.user.displayName).toBe('Old name');
  });
});
