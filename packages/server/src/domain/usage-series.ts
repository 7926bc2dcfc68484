import type { UsageSeries } from '@keyfob/protocol';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export interface HourlyCount {
  /** Epoch ms of the UTC hour's start. */
  readonly hour: number;
  readonly outcome: string;
  readonly count: number;
}

/**
 * Buckets of `granularity` covering the `days` up to `now` (UTC days or hours, the last one the
 * current), every bucket present even when empty, so that a chart needs no gaps filled.
 */
export function usageSeries(counts: readonly HourlyCount[], now: number, days: number, granularity: 'day' | 'hour'): UsageSeries {
  const size = granularity === 'day' ? DAY_MS : HOUR_MS;
  const last = now - (now % size);
  const first = usageSeriesStart(now, days, granularity);
  const buckets = new Map<number, { total: number; outcomes: Record<string, number> }>();
  for (let start = first; start <= last; start += size) buckets.set(start, { total: 0, outcomes: {} });
  for (const c of counts) {
    const bucket = buckets.get(c.hour - (c.hour % size));
    if (bucket === undefined) continue;
    bucket.total += c.count;
    bucket.outcomes[c.outcome] = (bucket.outcomes[c.outcome] ?? 0) + c.count;
  }
  return {
    granularity,
    from: new Date(first).toISOString(),
    to: new Date(last + size).toISOString(),
    buckets: [...buckets].map(([start, b]) => ({ start: new Date(start).toISOString(), total: b.total, outcomes: b.outcomes })),
  };
}

/** The earliest hour a series of `days` back needs. */
export function usageSeriesStart(now: number, days: number, granularity: 'day' | 'hour'): number {
  return granularity === 'day' ? now - (now % DAY_MS) - (days - 1) * DAY_MS : now - (now % HOUR_MS) - (days * 24 - 1) * HOUR_MS;
}
