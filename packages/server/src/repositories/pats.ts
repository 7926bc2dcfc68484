import { CompiledQuery, sql, type Expression, type ExpressionBuilder, type Kysely, type Selectable, type SqlBool } from 'kysely';
import type { TokenStatus } from '@keyfob/protocol';
import type { RowReader } from '../db/connect.js';
import type { DB, PatsTable } from '../db/types.js';
import type { Account, Pat } from '../domain/models.js';
import { toAccount } from './users.js';
import { OWNER_COLUMNS, OWNERS_REMEMBERED, PAT_COLUMNS, TOKEN_HASH_AT, isRowidTaken, ownerRow, patRow, rowKeyOf, sameValues } from './pat-lookup-rows.js';
import type { Cursor } from '../domain/cursor.js';
import { decodeJsonArray, encodeJson, toDate } from './json.js';
import { beforeCursor, chunks, likeContains } from './sql-helpers.js';

export interface NewPat {
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  readonly description: string;
  readonly tokenHash: string;
  readonly pepperKeyId: string;
  readonly displayHint: string;
  readonly prefix: string;
  readonly scopes: readonly string[];
  readonly audiences: readonly string[];
  readonly allowedIps: readonly string[];
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly rotatedFromId: string | null;
  readonly createdByTokenId: string | null;
}

export interface PatFilter {
  readonly userId?: string | undefined;
  readonly status?: TokenStatus | 'all' | undefined;
  readonly scope?: string | undefined;
  readonly name?: string | undefined;
  readonly issuedBefore?: number | undefined;
}

/** Rows per usage-count statement: 4 bound values each, far below SQLite's and PostgreSQL's limits. */
const USAGE_ROWS_PER_STATEMENT = 1000;
/**
 * Rows per last-use UPDATE. Past about 300 rows SQLite (3.40, no statistics) joins the other
 * way round, a full scan of pats per statement: 20,000 tokens on a 1,000,000-token store took
 * 9 s in 1,000-row statements and 0.9 s in 100-row ones.
 */
const LAST_USE_ROWS_PER_STATEMENT = 100;

export interface UsageUpdate {
  readonly patId: string;
  /** The newest use, when it is to replace the stored last use; null when only counts change. */
  readonly lastUse: { readonly at: number; readonly ip: string | null } | null;
  /** Uses since the last flush, by hour and outcome. */
  readonly counts: readonly UsageCount[];
  /** Addresses of successful uses since the last flush. */
  readonly addresses?: readonly AddressUse[];
}

export interface AddressUse {
  readonly ip: string;
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly uses: number;
}

export interface UsageCount {
  /** Epoch ms of the (UTC) hour's start. */
  readonly hour: number;
  /** `ok`, or the reason a use of this token was refused. */
  readonly outcome: string;
  readonly count: number;
}

export function toPat(row: Selectable<PatsTable>): Pat {
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    description: row.description,
    tokenHash: row.token_hash,
    pepperKeyId: row.pepper_key_id,
    displayHint: row.display_hint,
    prefix: row.prefix,
    scopes: decodeJsonArray(row.scopes),
    audiences: decodeJsonArray(row.audiences),
    allowedIps: decodeJsonArray(row.allowed_ips),
    createdAt: new Date(row.created_at),
    expiresAt: toDate(row.expires_at),
    lastUsedAt: toDate(row.last_used_at),
    lastUsedIp: row.last_used_ip,
    revokedAt: toDate(row.revoked_at),
    revokedBy: row.revoked_by,
    revokeReason: row.revoke_reason,
    rotatedFromId: row.rotated_from_id,
    createdByTokenId: row.created_by_token_id,
  };
}

type PatsExpression = ExpressionBuilder<DB, 'pats'>;

/** Not revoked as of `now` (a revocation time in the future is a rotation grace period). */
const notRevoked = (eb: PatsExpression, now: number) => eb.or([eb('pats.revoked_at', 'is', null), eb('pats.revoked_at', '>', now)]);
const notExpired = (eb: PatsExpression, now: number) => eb.or([eb('pats.expires_at', 'is', null), eb('pats.expires_at', '>', now)]);

function statusCondition(eb: PatsExpression, status: TokenStatus, now: number) {
  switch (status) {
    case 'active':
      return eb.and([notRevoked(eb, now), notExpired(eb, now)]);
    case 'expired':
      return eb.and([notRevoked(eb, now), eb('pats.expires_at', '<=', now)]);
    case 'revoked':
      return eb('pats.revoked_at', '<=', now);
  }
}

/** One filter for lists, reports and bulk revoke, so that "which tokens" means the same everywhere. */
export function matching(filter: PatFilter, now: number) {
  return (eb: PatsExpression): Expression<SqlBool> => {
    const conditions: Expression<SqlBool>[] = [];
    if (filter.userId !== undefined) conditions.push(eb('pats.user_id', '=', filter.userId));
    if (filter.status !== undefined && filter.status !== 'all') conditions.push(statusCondition(eb, filter.status, now));
    if (filter.scope !== undefined) {
      const holders = eb.selectFrom('pat_scopes').select('pat_scopes.pat_id').where('pat_scopes.scope', '=', filter.scope);
      conditions.push(eb('pats.id', 'in', holders));
    }
    if (filter.issuedBefore !== undefined) conditions.push(eb('pats.created_at', '<', filter.issuedBefore));
    if (filter.name) conditions.push(likeContains('pats.name', filter.name));
    return eb.and(conditions);
  };
}

export class PatsRepository {
  #byHashQuery: CompiledQuery | undefined;
  #byKeyQuery: CompiledQuery | undefined;
  readonly #owners = new Map<string, { readonly values: readonly unknown[]; readonly owner: Account }>();

  constructor(
    private readonly db: Kysely<DB>,
    private readonly dialect: 'sqlite' | 'postgres',
    /** The reader to use now, if any (Store withholds it while a SQLite transaction is open). */
    private readonly reader?: () => RowReader | undefined,
  ) {}

  async insert(pat: NewPat): Promise<Pat> {
    const row: Selectable<PatsTable> = {
      id: pat.id,
      user_id: pat.userId,
      name: pat.name,
      description: pat.description,
      token_hash: pat.tokenHash,
      pepper_key_id: pat.pepperKeyId,
      display_hint: pat.displayHint,
      prefix: pat.prefix,
      scopes: encodeJson(pat.scopes),
      audiences: encodeJson(pat.audiences),
      allowed_ips: encodeJson(pat.allowedIps),
      created_at: pat.createdAt,
      expires_at: pat.expiresAt,
      last_used_at: null,
      last_used_ip: null,
      revoked_at: null,
      revoked_by: null,
      revoke_reason: null,
      rotated_from_id: pat.rotatedFromId,
      created_by_token_id: pat.createdByTokenId,
    };
    if (this.dialect !== 'sqlite') await this.db.insertInto('pats').values(row).execute();
    else {
      try {
        // rowid is SQLite's own column, not one of the table's: Kysely's types do not know it.
        await this.db.insertInto('pats').values({ ...row, rowid: rowKeyOf(pat.tokenHash) } as Selectable<PatsTable>).execute();
      } catch (error) {
        if (!isRowidTaken(error)) throw error;
        await this.db.insertInto('pats').values(row).execute();
      }
    }
    if (pat.scopes.length > 0) {
      await this.db.insertInto('pat_scopes').values(pat.scopes.map((scope) => ({ pat_id: pat.id, scope }))).execute();
    }
    return toPat(row);
  }

  async findById(id: string): Promise<Pat | undefined> {
    const row = await this.db.selectFrom('pats').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toPat(row);
  }

  async findByHash(hash: string): Promise<Pat | undefined> {
    const row = await this.db.selectFrom('pats').selectAll().where('token_hash', '=', hash).executeTakeFirst();
    return row && toPat(row);
  }

  /**
   * The hot-path read: a token and its owner in one round trip. On SQLite by the rowid the hash
   * keys (rowKeyOf), then by token_hash when that row is not this token's.
   */
  async findByHashWithOwner(hash: string): Promise<{ pat: Pat; owner: Account } | undefined> {
    let values: readonly unknown[] | undefined;
    if (this.dialect === 'sqlite') {
      const byKey = (this.#byKeyQuery ??= this.withOwner().where(sql<number>`pats.rowid`, '=', 0).compile());
      values = await this.#row(byKey, rowKeyOf(hash));
      if (values !== undefined && values[TOKEN_HASH_AT] !== hash) values = undefined;
    }
    if (values === undefined) {
      // token_hash is unique and the hash the only parameter of the compiled text.
      const byHash = (this.#byHashQuery ??= this.withOwner().where('pats.token_hash', '=', hash).compile());
      values = await this.#row(byHash, hash);
    }
    if (!values) return undefined;
    return { pat: toPat(patRow(values)), owner: this.#owner(values) };
  }

  /**
   * One row of a compiled one-parameter query, as its values in select order. Whether the reader
   * may be used is asked at each read: a SQLite transaction may have opened since the last one.
   */
  async #row(query: CompiledQuery, parameter: unknown): Promise<readonly unknown[] | undefined> {
    const reader = this.reader?.();
    if (reader) return reader.values(query.sql, [parameter]);
    // Inside a SQLite transaction: Kysely's row object, whose keys are in select order too.
    const { rows } = await this.db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(query.sql, [parameter]));
    return rows[0] && Object.values(rows[0]);
  }

  /**
   * The owner of a looked-up token: the Account built the last time this user's columns read the
   * same, else a new one. Most lookups are of tokens whose owners were seen moments ago; this
   * saves parsing their settings and building their dates again, and lets the verifier's builder
   * know the owner unchanged by identity.
   */
  #owner(values: readonly unknown[]): Account {
    const id = values[1] as string;
    const known = this.#owners.get(id);
    if (known !== undefined && sameValues(known.values, values, PAT_COLUMNS.length)) return known.owner;
    if (this.#owners.size >= OWNERS_REMEMBERED) this.#owners.clear();
    const owner = toAccount(ownerRow(values));
    this.#owners.set(id, { values: values.slice(PAT_COLUMNS.length), owner });
    return owner;
  }

  /** The hot-path select, built and compiled by Kysely once per lookup kind; each call only binds its key. */
  private withOwner() {
    return this.db
      .selectFrom('pats')
      .innerJoin('users', 'users.id', 'pats.user_id')
      // Named columns, not pats.*: a PostgreSQL statement prepared before a migration that adds a
      // column would otherwise fail ("cached plan must not change result type") until reconnect.
      // The order is the one patRow and ownerRow read the values in.
      .select(PAT_COLUMNS.map((c) => `pats.${c}` as const))
      .select(OWNER_COLUMNS.map((c) => `users.${c} as owner_${c}` as const));
  }

  async list(filter: PatFilter, now: number, cursor: Cursor | undefined, limit: number): Promise<Pat[]> {
    let query = this.db.selectFrom('pats').selectAll('pats').where(matching(filter, now));
    if (cursor) query = query.where(beforeCursor(cursor, 'pats'));
    const rows = await query.orderBy('pats.created_at', 'desc').orderBy('pats.id', 'desc').limit(limit + 1).execute();
    return rows.map(toPat);
  }

  async countActive(userId: string, now: number): Promise<number> {
    const row = await this.db
      .selectFrom('pats')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', userId)
      .where((eb) => eb.and([notRevoked(eb, now), notExpired(eb, now)]))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Names are unique among a user's tokens that are neither revoked nor rotated away nor expired. */
  async activeNameTaken(userId: string, name: string, now: number, exceptId?: string): Promise<boolean> {
    let query = this.db
      .selectFrom('pats')
      .select('id')
      .where('user_id', '=', userId)
      .where('name', '=', name)
      .where('revoked_at', 'is', null)
      .where((eb) => notExpired(eb, now));
    if (exceptId !== undefined) query = query.where('id', '!=', exceptId);
    return (await query.executeTakeFirst()) !== undefined;
  }

  async countActiveHoldingScope(scope: string, now: number): Promise<number> {
    const row = await this.db
      .selectFrom('pats')
      .innerJoin('pat_scopes', 'pat_scopes.pat_id', 'pats.id')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('pat_scopes.scope', '=', scope)
      .where((eb) => eb.and([notRevoked(eb, now), notExpired(eb, now)]))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async updateText(id: string, changes: { name?: string; description?: string }): Promise<void> {
    if (changes.name === undefined && changes.description === undefined) return;
    await this.db.updateTable('pats').set(changes).where('id', '=', id).execute();
  }

  /**
   * Marks a token revoked at `at` unless it is already revoked by then. Returns whether this call
   * changed anything, so that a repeated revoke stays idempotent and is not audited twice.
   */
  async revoke(id: string, at: number, by: string | null, reason: string): Promise<boolean> {
    const result = await this.db
      .updateTable('pats')
      .set({ revoked_at: at, revoked_by: by, revoke_reason: reason })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('revoked_at', 'is', null), eb('revoked_at', '>', at)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Revokes every token matching the filter that is still usable; returns the ids it revoked. */
  async revokeMatching(filter: PatFilter, now: number, by: string | null, reason: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('pats')
      .select('pats.id')
      .where((eb) => notRevoked(eb, now))
      .where(matching(filter, now))
      .execute();
    const ids = rows.map((r) => r.id);
    for (let i = 0; i < ids.length; i += 500) {
      await this.db
        .updateTable('pats')
        .set({ revoked_at: now, revoked_by: by, revoke_reason: reason })
        .where('id', 'in', ids.slice(i, i + 500))
        .execute();
    }
    return ids;
  }

  /**
   * Applies coalesced usage: last-used time and IP (never moved backwards) and the daily use
   * counts. Tokens deleted since the uses were recorded are skipped.
   */
  /**
   * Writes a batch of use in two statements per chunk, whatever the number of tokens: one
   * UPDATE … FROM (VALUES …) for the newest use, one INSERT … SELECT … ON CONFLICT for the daily
   * counts. A token deleted since it was used is skipped (the join finds no row). Columns of a
   * VALUES list are column1, column2, … in both SQLite and PostgreSQL; the casts give PostgreSQL
   * their types.
   */
  async recordUsage(updates: readonly UsageUpdate[]): Promise<void> {
    // One order for every instance: two PostgreSQL flushes touching the same rows cannot deadlock.
    const sorted = [...updates].sort((a, b) => (a.patId < b.patId ? -1 : a.patId > b.patId ? 1 : 0));
    const lastUses = sorted.flatMap((u) => (u.lastUse ? [sql`(CAST(${u.patId} AS TEXT), CAST(${u.lastUse.at} AS BIGINT), CAST(${u.lastUse.ip} AS TEXT))`] : []));
    for (const rows of chunks(lastUses, LAST_USE_ROWS_PER_STATEMENT)) {
      await sql`UPDATE pats SET last_used_at = v.column2, last_used_ip = COALESCE(v.column3, pats.last_used_ip)
        FROM (VALUES ${sql.join(rows)}) AS v
        WHERE pats.id = v.column1 AND (pats.last_used_at IS NULL OR pats.last_used_at < v.column2)`.execute(this.db);
    }
    const counts = sorted.flatMap((u) =>
      u.counts.map((c) => sql`(CAST(${u.patId} AS TEXT), CAST(${c.hour} AS BIGINT), CAST(${c.outcome} AS TEXT), CAST(${c.count} AS BIGINT))`),
    );
    for (const rows of chunks(counts, USAGE_ROWS_PER_STATEMENT)) {
      await sql`INSERT INTO usage_hourly (pat_id, hour, outcome, count)
        SELECT v.column1, v.column2, v.column3, v.column4 FROM (VALUES ${sql.join(rows)}) AS v
        WHERE v.column1 IN (SELECT id FROM pats)
        ON CONFLICT (pat_id, hour, outcome) DO UPDATE SET count = usage_hourly.count + excluded.count`.execute(this.db);
    }
    const addresses = sorted.flatMap((u) =>
      (u.addresses ?? []).map((a) => sql`(CAST(${u.patId} AS TEXT), CAST(${a.ip} AS TEXT), CAST(${a.firstSeen} AS BIGINT), CAST(${a.lastSeen} AS BIGINT), CAST(${a.uses} AS BIGINT))`),
    );
    for (const rows of chunks(addresses, USAGE_ROWS_PER_STATEMENT)) {
      // CASE rather than GREATEST/MAX: the same text on both dialects.
      await sql`INSERT INTO pat_ips (pat_id, ip, first_seen, last_seen, uses)
        SELECT v.column1, v.column2, v.column3, v.column4, v.column5 FROM (VALUES ${sql.join(rows)}) AS v
        WHERE v.column1 IN (SELECT id FROM pats)
        ON CONFLICT (pat_id, ip) DO UPDATE SET
          uses = pat_ips.uses + excluded.uses,
          last_seen = CASE WHEN excluded.last_seen > pat_ips.last_seen THEN excluded.last_seen ELSE pat_ips.last_seen END,
          first_seen = CASE WHEN excluded.first_seen < pat_ips.first_seen THEN excluded.first_seen ELSE pat_ips.first_seen END`.execute(this.db);
    }
  }

  /** Of these uses, those from an address its token has no row for yet. */
  async unseenAddresses<T extends { readonly patId: string; readonly ip: string }>(uses: readonly T[]): Promise<T[]> {
    if (uses.length === 0) return [];
    const known = new Set<string>();
    for (const ids of chunks([...new Set(uses.map((u) => u.patId))], 500)) {
      const rows = await this.db.selectFrom('pat_ips').select(['pat_id', 'ip']).where('pat_id', 'in', ids).execute();
      for (const r of rows) known.add(`${r.pat_id} ${r.ip}`);
    }
    return uses.filter((u) => !known.has(`${u.patId} ${u.ip}`));
  }

  /** The addresses a token was used from, most recent first. */
  async addresses(patId: string, limit: number): Promise<AddressUse[]> {
    const rows = await this.db.selectFrom('pat_ips').select(['ip', 'first_seen', 'last_seen', 'uses']).where('pat_id', '=', patId).orderBy('last_seen', 'desc').orderBy('ip').limit(limit).execute();
    return rows.map((r) => ({ ip: r.ip, firstSeen: Number(r.first_seen), lastSeen: Number(r.last_seen), uses: Number(r.uses) }));
  }

  /** Successful uses of one token by UTC day (YYYY-MM-DD), oldest first. */
  async usageByDay(patId: string): Promise<{ day: string; count: number }[]> {
    const byDay = new Map<string, number>();
    for (const c of await this.usageSince(patId, 0)) {
      if (c.outcome !== 'ok') continue;
      const day = new Date(c.hour).toISOString().slice(0, 10);
      byDay.set(day, (byDay.get(day) ?? 0) + c.count);
    }
    return [...byDay].map(([day, count]) => ({ day, count }));
  }

  /** One token's counts by hour and outcome from `since` (epoch ms) on, oldest first. */
  async usageSince(patId: string, since: number): Promise<UsageCount[]> {
    const rows = await this.db.selectFrom('usage_hourly').select(['hour', 'outcome', 'count']).where('pat_id', '=', patId).where('hour', '>=', since).orderBy('hour').orderBy('outcome').execute();
    return rows.map((r) => ({ hour: Number(r.hour), outcome: r.outcome, count: Number(r.count) }));
  }

  /** Forgets counts of hours before `before` (retention); returns how many rows went. */
  async pruneUsage(before: number): Promise<number> {
    const counts = await this.db.deleteFrom('usage_hourly').where('hour', '<', before).executeTakeFirst();
    const addresses = await this.db.deleteFrom('pat_ips').where('last_seen', '<', before).executeTakeFirst();
    return Number(counts.numDeletedRows) + Number(addresses.numDeletedRows);
  }

  async deleteByUser(userId: string): Promise<void> {
    await this.db.deleteFrom('pats').where('user_id', '=', userId).execute();
  }

  /** Used by tests that check no plaintext reaches the store. */
  async allHashes(): Promise<string[]> {
    return (await this.db.selectFrom('pats').select('token_hash').execute()).map((r) => r.token_hash);
  }
}

