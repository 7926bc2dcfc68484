import type { MostUsedQuery, UnusedTokensQuery } from '@keyfob/protocol';
import type { Cursor } from '../domain/cursor.js';
import { usageSeriesStart } from '../domain/usage-series.js';
import type { OwnedPat, RankedPat, UnusedFilter } from '../repositories/usage-reports.js';
import type { Store } from '../repositories/store.js';
import type { Clock } from './clock.js';

const DAY_MS = 86_400_000;

export interface UsageReportsDeps {
  readonly store: Store;
  readonly clock: Clock;
}

export interface MostUsed {
  readonly days: number;
  /** Epoch ms: the window is [from, to). */
  readonly from: number;
  readonly to: number;
  readonly items: readonly RankedPat[];
}

/** What "unused" means for a query: never used, or not used for `unusedForDays`; created `olderThanDays` ago. */
export function unusedFilter(query: Pick<UnusedTokensQuery, 'olderThanDays' | 'unusedForDays'>, now: number): UnusedFilter {
  return {
    // A week by default: a token minted today and not used yet is not a candidate to revoke.
    createdBefore: now - (query.olderThanDays ?? 7) * DAY_MS,
    lastUsedBefore: query.unusedForDays === undefined ? undefined : now - query.unusedForDays * DAY_MS,
  };
}

/**
 * Which tokens are used most, and which not at all: for administrators choosing what to revoke.
 * Counts come from the usage recorder's hourly rows, so they trail real use by one flush
 * (KEYFOB_USAGE_FLUSH_MS) and reach back KEYFOB_USAGE_RETENTION_DAYS at most.
 */
export class UsageReports {
  constructor(private readonly deps: UsageReportsDeps) {}

  /**
   * The window is whole UTC days, today included, as on a token's usage chart, so that a token's
   * `uses` here is the sum of its chart's successful uses over the same days.
   */
  async mostUsed(query: MostUsedQuery): Promise<MostUsed> {
    const now = this.deps.clock.now();
    const days = query.days ?? 30;
    const from = usageSeriesStart(now, days, 'day');
    const items = await this.deps.store.repos.usageReports.mostUsed(from, query.status ?? 'active', now, query.limit ?? 20);
    return { days, from, to: now, items };
  }

  /** Active tokens never used (or not used for `unusedForDays`), oldest first; `limit + 1` for the page. */
  unused(query: UnusedTokensQuery, cursor: Cursor | undefined, limit: number): Promise<OwnedPat[]> {
    const now = this.deps.clock.now();
    return this.deps.store.repos.usageReports.unused(unusedFilter(query, now), now, cursor, limit);
  }
}
