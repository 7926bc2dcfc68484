import { describe, expect, it } from 'vitest';
import { VerificationCache } from '../../../src/cache/verification-cache.js';
import type { Pat, User } from '../../../src/domain/models.js';

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

describe('VerificationCache', () => {
  it('expires entries after the TTL and never extends them on a hit', () => {
    const cache = new VerificationCache({ ttlMs: 1000, maxEntries: 10, maxBytes: 1 << 20 });
    cache.set('k', { pat: pat('p1'), user: user('u1') }, 0, cache.epoch);
    expect(cache.get('k', 999)).toBeDefined();
    expect(cache.get('k', 1000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('is bounded by entries and by bytes, evicting the least recently used', () => {
    const cache = new VerificationCache({ ttlMs: 60_000, maxEntries: 3, maxBytes: 1 << 20 });
    for (const k of ['a', 'b', 'c']) cache.set(k, { pat: pat(k), user: user('u1') }, 0, cache.epoch);
    cache.get('a', 1);
    cache.set('d', { pat: pat('d'), user: user('u1') }, 2, cache.epoch);
    expect(cache.get('b', 3)).toBeUndefined();
    expect(cache.get('a', 3)).toBeDefined();
    const small = new VerificationCache({ ttlMs: 60_000, maxEntries: 1000, maxBytes: 3000 });
    for (let i = 0; i < 50; i++) small.set(`k${i}`, { pat: pat(`p${i}`), user: user('u1') }, 0, small.epoch);
    expect(small.bytes).toBeLessThanOrEqual(3000);
    expect(small.size).toBeGreaterThan(0);
    expect(small.size).toBeLessThan(50);
  });

  it('drops entries by token, by owner and all at once', () => {
    const cache = new VerificationCache({ ttlMs: 60_000, maxEntries: 10, maxBytes: 1 << 20 });
    cache.set('a', { pat: pat('p1', 'u1'), user: user('u1') }, 0, cache.epoch);
    cache.set('b', { pat: pat('p2', 'u2'), user: user('u2') }, 0, cache.epoch);
    cache.set('c', { pat: pat('p3', 'u2'), user: user('u2') }, 0, cache.epoch);
    cache.dropPats(['p1']);
    expect(cache.get('a', 1)).toBeUndefined();
    cache.dropUser('u2');
    expect(cache.size).toBe(0);
    cache.set('a', { pat: pat('p1'), user: user('u1') }, 0, cache.epoch);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.bytes).toBe(0);
  });

  it('does not store a lookup that raced an invalidation', () => {
    const cache = new VerificationCache({ ttlMs: 60_000, maxEntries: 10, maxBytes: 1 << 20 });
    const epoch = cache.epoch;
    cache.dropPats(['p1']);
    cache.set('a', { pat: pat('p1'), user: user('u1') }, 0, epoch);
    expect(cache.get('a', 1)).toBeUndefined();
  });
});
