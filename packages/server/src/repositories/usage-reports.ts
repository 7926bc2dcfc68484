import { sql, type Kysely } from 'kysely';
import type { TokenStatus } from '@keyfob/protocol';
import type { DB } from '../db/types.js';
import type { Cursor } from '../domain/cursor.js';
import type { Pat } from '../domain/models.js';
import { matching, toPat } from './pats.js';
import { PAT_COLUMNS } from './pat-lookup-rows.js';
import { afterCursor } from './sql-helpers.js';

export interface OwnedPat {
  readonly pat: Pat;
  readonly ownerUsername: string;
}

export interface RankedPat extends OwnedPat {
  /** Successful uses in the window. */
  readonly uses: number;
  /** Refused uses of the token in the window. */
  readonly failures: number;
}

export interface UnusedFilter {
  /** Only tokens created before this time (epoch ms). */
  readonly createdBefore: number;
  /** Also tokens whose last use is before this time; undefined: only tokens never used. */
  readonly lastUsedBefore?: number | undefined;
}

const okUses = sql<number | string>`sum(case when usage_hourly.outcome = 'ok' then usage_hourly.count else 0 end)`;
const refusedUses = sql<number | string>`sum(case when usage_hourly.outcome = 'ok' then 0 else usage_hourly.count end)`;

/**
 * Reports across every token for administrators: the most used ones (from the hourly counts)
 * and the unused ones (from the last use on the token's row). Reads only.
 */
export class UsageReportsRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /**
   * Tokens by successful uses since `since`, most first (ties by id), `limit` of them. One
   * statement: the counts are summed per token over the window's hours (the hour index bounds
   * the rows read), and only the summed rows are joined to their token and owner.
   */
  async mostUsed(since: number, status: TokenStatus | 'all', now: number, limit: number): Promise<RankedPat[]> {
    const totals = this.db
      .selectFrom('usage_hourly')
      .select(['usage_hourly.pat_id', okUses.as('uses'), refusedUses.as('failures')])
      .where('usage_hourly.hour', '>=', since)
      .groupBy('usage_hourly.pat_id')
      .having(okUses, '>', 0)
      .as('totals');
    const rows = await this.db
      .selectFrom(totals)
      .innerJoin('pats', 'pats.id', 'totals.pat_id')
      .innerJoin('users', 'users.id', 'pats.user_id')
      .select(PAT_COLUMNS.map((c) => `pats.${c}` as const))
      .select(['users.username as owner_username', 'totals.uses', 'totals.failures'])
      .where(matching({ status }, now))
      .orderBy('totals.uses', 'desc')
      .orderBy('pats.id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ pat: toPat(r), ownerUsername: r.owner_username, uses: Number(r.uses), failures: Number(r.failures) }));
  }

  /**
   * Active tokens (neither revoked nor expired as of `now`) created before `filter.createdBefore`
   * and never used, or last used before `filter.lastUsedBefore`; oldest first, `limit + 1` rows
   * for the page.
   */
  async unused(filter: UnusedFilter, now: number, cursor: Cursor | undefined, limit: number): Promise<OwnedPat[]> {
    const { lastUsedBefore } = filter;
    let query = this.db
      .selectFrom('pats')
      .innerJoin('users', 'users.id', 'pats.user_id')
      .select(PAT_COLUMNS.map((c) => `pats.${c}` as const))
      .select('users.username as owner_username')
      .where(matching({ status: 'active', issuedBefore: filter.createdBefore }, now))
      .where((eb) => (lastUsedBefore === undefined ? eb('pats.last_used_at', 'is', null) : eb.or([eb('pats.last_used_at', 'is', null), eb('pats.last_used_at', '<', lastUsedBefore)])));
    if (cursor) query = query.where(afterCursor(cursor, 'pats'));
    const rows = await query.orderBy('pats.created_at').orderBy('pats.id').limit(limit + 1).execute();
    return rows.map((r) => ({ pat: toPat(r), ownerUsername: r.owner_username }));
  }
}
