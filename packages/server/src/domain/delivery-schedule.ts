/**
 * Delays after the 1st, 2nd, … failed attempt; past the last one the delivery is given up.
 * Webhooks keep trying for about a day (receivers go down for deploys); email for a few hours (a
 * mail server that refuses longer is misconfigured).
 */
export const WEBHOOK_RETRY_DELAYS_MS: readonly number[] = [10_000, 60_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 6 * 3_600_000, 12 * 3_600_000];
export const EMAIL_RETRY_DELAYS_MS: readonly number[] = [60_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000];

/** When to try again after `failedAttempts` failures, or undefined: give up. */
export function nextAttemptAt(delays: readonly number[], failedAttempts: number, now: number): number | undefined {
  const delay = delays[failedAttempts - 1];
  return delay === undefined ? undefined : now + delay;
}
