import type { Kysely } from 'kysely';
import type { RowWriter } from '../db/connect.js';
import type { DB } from '../db/types.js';
import type { AuditEvent } from '../domain/models.js';
import type { Cursor } from '../domain/cursor.js';
import { decodeJsonObject, encodeJson } from './json.js';
import { beforeCursor } from './sql-helpers.js';

export interface AuditFilter {
  readonly action?: string | undefined;
  readonly actorUserId?: string | undefined;
  readonly targetId?: string | undefined;
  readonly since?: number | undefined;
  readonly until?: number | undefined;
}

const AUDIT_COLUMNS = ['id', 'created_at', 'action', 'actor_user_id', 'actor_token_id', 'target_type', 'target_id', 'ip', 'user_agent', 'details'] as const;
const INSERT_ONE = `INSERT INTO audit_events (${AUDIT_COLUMNS.join(', ')}) VALUES (${AUDIT_COLUMNS.map(() => '?').join(', ')})`;

function auditRow(event: AuditEvent) {
  return {
    id: event.id,
    created_at: event.createdAt.getTime(),
    action: event.action,
    actor_user_id: event.actorUserId,
    actor_token_id: event.actorTokenId,
    target_type: event.targetType,
    target_id: event.targetId,
    ip: event.ip,
    user_agent: event.userAgent?.slice(0, 512) ?? null,
    details: encodeJson(event.details),
  } satisfies Record<(typeof AUDIT_COLUMNS)[number], unknown>;
}

export class AuditRepository {
  constructor(
    private readonly db: Kysely<DB>,
    /** SQLite outside a transaction: the batch written by one prepared statement. */
    private readonly writer?: () => RowWriter | undefined,
  ) {}

  async insert(event: AuditEvent): Promise<void> {
    await this.insertMany([event]);
  }

  /** Many events at once, all or none (a group commit of standalone events). */
  async insertMany(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const writer = this.writer?.();
    if (writer !== undefined) {
      await writer.runEach(INSERT_ONE, events.map((event) => {
        const row = auditRow(event);
        return AUDIT_COLUMNS.map((column) => row[column]);
      }));
      return;
    }
    await this.db.insertInto('audit_events').values(events.map(auditRow)).execute();
  }

  async list(filter: AuditFilter, cursor: Cursor | undefined, limit: number): Promise<AuditEvent[]> {
    let query = this.db.selectFrom('audit_events').selectAll();
    if (filter.action !== undefined) {
      // "token.*" selects a family of actions.
      query = filter.action.endsWith('.*')
        ? query.where('action', 'like', `${filter.action.slice(0, -1)}%`)
        : query.where('action', '=', filter.action);
    }
    if (filter.actorUserId !== undefined) query = query.where('actor_user_id', '=', filter.actorUserId);
    if (filter.targetId !== undefined) query = query.where('target_id', '=', filter.targetId);
    if (filter.since !== undefined) query = query.where('created_at', '>=', filter.since);
    if (filter.until !== undefined) query = query.where('created_at', '<', filter.until);
    if (cursor) query = query.where(beforeCursor(cursor, 'audit_events'));
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
    return rows.map((r) => ({
      id: r.id,
      createdAt: new Date(r.created_at),
      action: r.action,
      actorUserId: r.actor_user_id,
      actorTokenId: r.actor_token_id,
      targetType: r.target_type,
      targetId: r.target_id,
      ip: r.ip,
      userAgent: r.user_agent,
      details: decodeJsonObject(r.details),
    }));
  }
}
