import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, mergePolicy, resolveExpiry, rotationExpiry, allowsNoExpiry, DAY_MS } from '../../src/domain/policy.js';
import { KeyfobError } from '../../src/errors/keyfob-error.js';

const now = Date.UTC(2026, 5, 1);
const capped = { ...DEFAULT_POLICY, maxLifetimeDays: 90, defaultExpiryDays: 30, expiryPresetsDays: [7, 30, 90] };

function errorOf(fn: () => unknown): KeyfobError {
  try {
    fn();
  } catch (error) {
    return error as KeyfobError;
  }
  throw new Error('expected an error');
}

describe('policy arithmetic', () => {
  it('defaults to 30 days and allows "never" while no maximum is set', () => {
    expect(resolveExpiry(DEFAULT_POLICY, {}, now)).toBe(now + 30 * DAY_MS);
    expect(resolveExpiry(DEFAULT_POLICY, { expiresInDays: null }, now)).toBeNull();
    expect(allowsNoExpiry(DEFAULT_POLICY)).toBe(true);
  });

  it('accepts any whole number of days up to the maximum', () => {
    expect(resolveExpiry(capped, { expiresInDays: 45 }, now)).toBe(now + 45 * DAY_MS);
    expect(resolveExpiry(capped, { expiresInDays: 90 }, now)).toBe(now + 90 * DAY_MS);
    const e = errorOf(() => resolveExpiry(capped, { expiresInDays: 91 }, now));
    expect(e.code).toBe('policy_violation');
    expect(e.field).toBe('expiresInDays');
  });

  it('refuses "never" when a maximum or requireExpiry is set', () => {
    expect(errorOf(() => resolveExpiry(capped, { expiresInDays: null }, now)).code).toBe('policy_violation');
    expect(errorOf(() => resolveExpiry({ ...DEFAULT_POLICY, requireExpiry: true }, { expiresInDays: null }, now)).code).toBe('policy_violation');
  });

  it('checks expiresAt: future, within the maximum, ISO with zone, not with expiresInDays', () => {
    const at = new Date(now + 10 * DAY_MS).toISOString();
    expect(resolveExpiry(capped, { expiresAt: at }, now)).toBe(now + 10 * DAY_MS);
    expect(resolveExpiry(capped, { expiresAt: '2026-06-20' }, now)).toBe(Date.UTC(2026, 5, 20));
    expect(errorOf(() => resolveExpiry(capped, { expiresAt: new Date(now - 1).toISOString() }, now)).field).toBe('expiresAt');
    expect(errorOf(() => resolveExpiry(capped, { expiresAt: new Date(now + 91 * DAY_MS).toISOString() }, now)).code).toBe('policy_violation');
    expect(errorOf(() => resolveExpiry(capped, { expiresAt: 'tomorrow' }, now)).code).toBe('invalid_request');
    expect(errorOf(() => resolveExpiry(capped, { expiresAt: '2026-06-20T10:00:00' }, now)).code).toBe('invalid_request');
    expect(errorOf(() => resolveExpiry(capped, { expiresAt: at, expiresInDays: 3 }, now)).code).toBe('invalid_request');
  });

  it('rotates with the same lifetime counted from now, capped by the current maximum', () => {
    const created = now - 50 * DAY_MS;
    expect(rotationExpiry(DEFAULT_POLICY, created, created + 60 * DAY_MS, now)).toBe(now + 60 * DAY_MS);
    expect(rotationExpiry({ ...capped, maxLifetimeDays: 30 }, created, created + 60 * DAY_MS, now)).toBe(now + 30 * DAY_MS);
    expect(rotationExpiry(DEFAULT_POLICY, created, null, now)).toBeNull();
    expect(rotationExpiry(capped, created, null, now)).toBe(now + 30 * DAY_MS);
  });

  it('merges updates and rejects incoherent policies naming the field', () => {
    expect(mergePolicy(DEFAULT_POLICY, { maxLifetimeDays: 400 }).maxLifetimeDays).toBe(400);
    expect(mergePolicy(DEFAULT_POLICY, { expiryPresetsDays: [30, 7, 30] }).expiryPresetsDays).toEqual([7, 30]);
    expect(errorOf(() => mergePolicy(DEFAULT_POLICY, { maxLifetimeDays: 100 })).field).toBe('expiryPresetsDays');
    expect(errorOf(() => mergePolicy(DEFAULT_POLICY, { requireExpiry: true, defaultExpiryDays: null })).field).toBe('defaultExpiryDays');
  });
});
