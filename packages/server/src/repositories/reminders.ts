import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DB } from '../db/types.js';
import type { ReminderKind } from '../domain/events.js';
import { nextTurn } from '../services/next-turn.js';

/**
 * Rows of `pats` the idle scan reads on SQLite before it lets the event loop serve what waits. The
 * scan reads every usable token (no index on last activity: one would move on every last-use
 * write). At 1,000,000 tokens one statement held the process 0.2–0.9 s, and 3–4 s while the
 * file was not yet in the OS's cache; in slices of this size, at most 5–20 ms at a time
 * (docs/PERFORMANCE.md, run Y). Each slice's rows are read twice (once to find where it ends).
 */
export const IDLE_SCAN_SLICE_ROWS = 10_000;

export interface ReminderDue {
  readonly patId: string;
  readonly expiresAt: number;
}

/** Which reminders a token has had: each kind once per token. */
export class RemindersRepository {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly dialect: 'sqlite' | 'postgres',
    private readonly sliceRows = IDLE_SCAN_SLICE_ROWS,
  ) {}

  /**
   * Unrevoked tokens whose expiry lies in [from, to), that lived longer than `minLifetimeMs`, and
   * that have not had this reminder.
   */
  async due(kind: ReminderKind, from: number, to: number, minLifetimeMs: number, limit: number): Promise<ReminderDue[]> {
    const rows = await this.db
      .selectFrom('pats')
      .select(['pats.id', 'pats.expires_at'])
      .where('pats.expires_at', '>=', from)
      .where('pats.expires_at', '<', to)
      .where('pats.revoked_at', 'is', null)
      .where(sql<boolean>`pats.expires_at - pats.created_at > ${minLifetimeMs}`)
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('token_reminders as r').select('r.pat_id').whereRef('r.pat_id', '=', 'pats.id').where('r.kind', '=', kind))),
      )
      .orderBy('pats.expires_at')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ patId: r.id, expiresAt: Number(r.expires_at) }));
  }

  /** Marks the reminder made; false when another instance made it first. */
  async mark(patId: string, kind: ReminderKind, now: number): Promise<boolean> {
    const result = await this.db.insertInto('token_reminders').values({ pat_id: patId, kind, created_at: now }).onConflict((oc) => oc.columns(['pat_id', 'kind']).doNothing()).executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  /** Usable tokens idle since before `idleBefore` (last use, or creation if never used) without a standing warning. */
  async idleUnwarned(window: IdleWindow, limit: number): Promise<IdleToken[]> {
    return this.#idle(window, limit, (warned) => sql<boolean>`NOT EXISTS (${warned})`);
  }

  /** Usable tokens idle since before `idleBefore` whose standing warning was made before `warnedBefore`. */
  async idleWarned(window: IdleWindow, warnedBefore: number, limit: number): Promise<IdleToken[]> {
    return this.#idle(window, limit, (warned) => sql<boolean>`EXISTS (${warned} AND r.created_at <= ${warnedBefore})`);
  }

  /** Records an idle warning now (a later one replaces it: a token used again and idle again is warned again). */
  async markIdleWarning(patId: string, now: number): Promise<void> {
    await this.db
      .insertInto('token_reminders')
      .values({ pat_id: patId, kind: IDLE_WARNING, created_at: now })
      .onConflict((oc) => oc.columns(['pat_id', 'kind']).doUpdateSet({ created_at: now }))
      .execute();
  }

  /**
   * The `limit` most idle matching tokens, the most idle first. On PostgreSQL one statement: it
   * runs on the server while the event loop goes on. On SQLite, outside a transaction, the table is
   * read in slices of `sliceRows` rows in rowid order with a turn of the event loop between two,
   * each slice's most idle kept against the ones found before: the same answer as one statement,
   * read a few milliseconds at a time. Inside a transaction it stays one statement, since a pause
   * there would hold the only connection.
   */
  async #idle(window: IdleWindow, limit: number, warning: (warned: RawBuilder<unknown>) => RawBuilder<boolean>): Promise<IdleToken[]> {
    const activity = sql<number>`COALESCE(pats.last_used_at, pats.created_at)`;
    const warned = sql`SELECT 1 FROM token_reminders r WHERE r.pat_id = pats.id AND r.kind = ${IDLE_WARNING}
      AND r.created_at >= ${activity} + ${window.warnAfterMs} AND r.created_at >= ${window.warnedSince}`;
    const idleAmong = (from: number | undefined, upTo: number | undefined, max: number) => {
      let query = this.db
        .selectFrom('pats')
        .select(['pats.id', activity.as('activity')])
        .where('pats.revoked_at', 'is', null)
        .where((eb) => eb.or([eb('pats.expires_at', 'is', null), eb('pats.expires_at', '>', window.now)]))
        .where(sql<boolean>`${activity} < ${window.idleBefore}`)
        .where(warning(warned));
      if (from !== undefined) query = query.where(sql<number>`pats.rowid`, '>', from);
      if (upTo !== undefined) query = query.where(sql<number>`pats.rowid`, '<=', upTo);
      return query.orderBy(activity).limit(max).execute();
    };
    const toIdle = (r: { id: string; activity: number }): IdleToken => ({ patId: r.id, lastActivity: Number(r.activity) });
    if (this.dialect === 'postgres' || this.db.isTransaction) return (await idleAmong(undefined, undefined, limit)).map(toIdle);

    let found: IdleToken[] = [];
    let from: number | undefined;
    for (;;) {
      const upTo = await this.#sliceEnd(from);
      const slice = (await idleAmong(from, upTo, limit)).map(toIdle);
      // The sort is stable and the earlier slices come first: ties keep rowid order.
      if (slice.length > 0) found = [...found, ...slice].sort((a, b) => a.lastActivity - b.lastActivity).slice(0, limit);
      if (upTo === undefined) return found;
      from = upTo;
      await nextTurn();
    }
  }

  /** The rowid that ends the slice of `sliceRows` rows after `from`; undefined when fewer are left. */
  async #sliceEnd(from: number | undefined): Promise<number | undefined> {
    let query = this.db.selectFrom('pats').select(sql<number>`pats.rowid`.as('key'));
    if (from !== undefined) query = query.where(sql<number>`pats.rowid`, '>', from);
    const row = await query.orderBy(sql`pats.rowid`).limit(1).offset(this.sliceRows - 1).executeTakeFirst();
    return row === undefined ? undefined : Number(row.key);
  }
}

export const IDLE_WARNING = 'idle_warning';

/**
 * Which idle warning still stands: one made after the token had been idle `warnAfterMs` under the
 * policy now in force (not one announced under an older, shorter policy, or before a later use),
 * and recently (since `warnedSince`: a warning from before the policy was last switched off and on
 * again does not count).
 */
export interface IdleWindow {
  readonly now: number;
  readonly idleBefore: number;
  readonly warnAfterMs: number;
  readonly warnedSince: number;
}

export interface IdleToken {
  readonly patId: string;
  /** Last use, or creation when never used (epoch ms). */
  readonly lastActivity: number;
}
