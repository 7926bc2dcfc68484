import type { PolicyDto, PolicyUpdate } from '@keyfob/protocol';
import { PolicyViolation, ValidationError } from '../errors/keyfob-error.js';

export type Policy = PolicyDto;

export const DAY_MS = 86_400_000;

export const DEFAULT_POLICY: Policy = Object.freeze({
  maxLifetimeDays: null,
  requireExpiry: false,
  expiryPresetsDays: [7, 30, 90, 365],
  defaultExpiryDays: 30,
  // An abuse limit as well as a policy: one account cannot fill the store with tokens.
  maxTokensPerUser: 500,
  rotationGraceSeconds: 0,
  exchangedTokenTtlSeconds: 900,
  idleRevokeDays: null,
  idleWarningDays: 7,
});

/** Merges an update over the current policy and checks that the result is coherent. */
export function mergePolicy(current: Policy, update: PolicyUpdate): Policy {
  const next: Policy = { ...current };
  for (const [key, value] of Object.entries(update) as [keyof Policy, unknown][]) {
    if (value !== undefined) (next as Record<keyof Policy, unknown>)[key] = value;
  }
  next.expiryPresetsDays = [...new Set(next.expiryPresetsDays)].sort((a, b) => a - b);
  const max = next.maxLifetimeDays;
  if (max !== null) {
    const tooLong = next.expiryPresetsDays.find((d) => d > max);
    if (tooLong !== undefined) throw new ValidationError('expiryPresetsDays', `${tooLong} exceeds maxLifetimeDays (${max})`);
    if (next.defaultExpiryDays !== null && next.defaultExpiryDays > max) {
      throw new ValidationError('defaultExpiryDays', `exceeds maxLifetimeDays (${max})`);
    }
  }
  if (next.idleRevokeDays !== null && next.idleWarningDays >= next.idleRevokeDays) {
    throw new ValidationError('idleWarningDays', `must be fewer than idleRevokeDays (${next.idleRevokeDays}): the warning comes before the revocation`);
  }
  if (next.defaultExpiryDays === null && (next.requireExpiry || max !== null)) {
    throw new ValidationError('defaultExpiryDays', 'must be set while requireExpiry is true or maxLifetimeDays is set');
  }
  return next;
}

/** Whether a token may be created without an expiry under this policy. */
export function allowsNoExpiry(policy: Policy): boolean {
  return !policy.requireExpiry && policy.maxLifetimeDays === null;
}

export interface ExpiryRequest {
  /** undefined: not given; null: explicitly "never". */
  readonly expiresInDays?: number | null | undefined;
  readonly expiresAt?: string | undefined;
}

/**
 * The expiry of a new token under the policy, as epoch milliseconds, or null for never.
 * Throws ValidationError / PolicyViolation naming the field.
 */
export function resolveExpiry(policy: Policy, request: ExpiryRequest, now: number): number | null {
  const maxAt = policy.maxLifetimeDays === null ? null : now + policy.maxLifetimeDays * DAY_MS;
  if (request.expiresInDays !== undefined && request.expiresAt !== undefined) {
    throw new ValidationError('expiresAt', 'give either expiresInDays or expiresAt, not both');
  }
  if (request.expiresAt !== undefined) {
    const at = parseExpiresAt(request.expiresAt);
    if (at <= now) throw new ValidationError('expiresAt', 'must be in the future');
    if (maxAt !== null && at > maxAt) {
      throw new PolicyViolation('expiresAt', `must be within ${policy.maxLifetimeDays} days (policy maxLifetimeDays)`);
    }
    return at;
  }
  if (request.expiresInDays === null) {
    if (!allowsNoExpiry(policy)) throw new PolicyViolation('expiresInDays', 'tokens without expiry are not allowed by policy');
    return null;
  }
  if (request.expiresInDays !== undefined) {
    if (policy.maxLifetimeDays !== null && request.expiresInDays > policy.maxLifetimeDays) {
      throw new PolicyViolation('expiresInDays', `must be at most ${policy.maxLifetimeDays} (policy maxLifetimeDays)`);
    }
    return now + request.expiresInDays * DAY_MS;
  }
  if (policy.defaultExpiryDays === null) return null;
  const at = now + policy.defaultExpiryDays * DAY_MS;
  return maxAt === null ? at : Math.min(at, maxAt);
}

/**
 * Expiry of a rotated token: the old token's lifetime counted from now, capped by the current
 * policy. A token that never expired gets the default when the policy no longer allows "never".
 */
export function rotationExpiry(policy: Policy, oldCreatedAt: number, oldExpiresAt: number | null, now: number): number | null {
  const maxAt = policy.maxLifetimeDays === null ? null : now + policy.maxLifetimeDays * DAY_MS;
  if (oldExpiresAt === null) {
    if (allowsNoExpiry(policy)) return null;
    return resolveExpiry(policy, {}, now);
  }
  const at = now + Math.max(oldExpiresAt - oldCreatedAt, DAY_MS);
  return maxAt === null ? at : Math.min(at, maxAt);
}

function parseExpiresAt(raw: string): number {
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(raw);
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i.test(raw);
  const at = dateOnly || iso ? Date.parse(dateOnly ? `${raw}T00:00:00Z` : raw) : Number.NaN;
  if (Number.isNaN(at)) throw new ValidationError('expiresAt', 'must be an ISO 8601 date or date-time with a time zone');
  // Date.parse rolls 2030-02-31 over to March; a date that does not exist is an error.
  const [year, month, day] = raw.slice(0, 10).split('-').map(Number) as [number, number, number];
  const check = new Date(Date.UTC(year, month - 1, day));
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) {
    throw new ValidationError('expiresAt', `${raw.slice(0, 10)} is not a calendar date`);
  }
  return at;
}
