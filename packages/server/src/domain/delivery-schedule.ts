/**
 * When to try a failed delivery again: the delay after the nth failed attempt (1-based), or
 * undefined once it is time to give up. Webhooks keep trying for about a day (receivers go down
 * for deploys); email for a few hours (a mail server that refuses longer is misconfigured).
 */
const WEBHOOK_DELAYS_MS = [10_000, 60_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 6 * 3_600_000, 12 * 3_600_000];
const EMAIL_DELAYS_MS = [60_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000];

export const WEBHOOK_MAX_ATTEMPTS = WEBHOOK_DELAYS_MS.length + 1;
export const EMAIL_MAX_ATTEMPTS = EMAIL_DELAYS_MS.length + 1;

export function webhookRetryDelay(failedAttempts: number): number | undefined {
  return WEBHOOK_DELAYS_MS[failedAttempts - 1];
}

export function emailRetryDelay(failedAttempts: number): number | undefined {
  return EMAIL_DELAYS_MS[failedAttempts - 1];
}
