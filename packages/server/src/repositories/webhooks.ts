import { sql, type Kysely, type Selectable } from 'kysely';
import type { DB, WebhookDeliveriesTable, WebhooksTable } from '../db/types.js';
import type { Cursor } from '../domain/cursor.js';
import type { Webhook, WebhookDelivery } from '../domain/models.js';
import { decodeJsonArray, encodeJson, toDate } from './json.js';
import { beforeCursor, chunks } from './sql-helpers.js';

function toWebhook(row: Selectable<WebhooksTable>): Webhook {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    events: decodeJsonArray(row.events),
    sealedSecret: row.secret,
    disabledAt: toDate(row.disabled_at === null ? null : Number(row.disabled_at)),
    createdBy: row.created_by,
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
  };
}

function toDelivery(row: Selectable<WebhookDeliveriesTable>): WebhookDelivery {
  const at = (ms: number | null) => toDate(ms === null ? null : Number(ms));
  return {
    id: row.id,
    webhookId: row.webhook_id,
    eventId: row.event_id,
    eventType: row.event_type,
    body: row.body,
    status: row.status,
    attempts: Number(row.attempts),
    nextAttemptAt: at(row.next_attempt_at),
    lastAttemptAt: at(row.last_attempt_at),
    responseStatus: row.response_status === null ? null : Number(row.response_status),
    error: row.error,
    redeliveryOf: row.redelivery_of,
    createdAt: new Date(Number(row.created_at)),
    deliveredAt: at(row.delivered_at),
  };
}

export interface WebhookChanges {
  url?: string;
  description?: string;
  events?: readonly string[];
  disabledAt?: number | null;
  sealedSecret?: string;
}

export interface NewDelivery {
  readonly id: string;
  readonly webhookId: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly body: string;
  readonly createdAt: number;
  readonly redeliveryOf?: string;
}

export interface AttemptOutcome {
  readonly at: number;
  readonly responseStatus: number | null;
  readonly error: string | null;
  /** When to try again; undefined: succeeded (no error) or given up (error). */
  readonly retryAt: number | undefined;
}

export class WebhooksRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async insert(webhook: Webhook): Promise<void> {
    await this.db
      .insertInto('webhooks')
      .values({
        id: webhook.id,
        url: webhook.url,
        description: webhook.description,
        events: encodeJson(webhook.events),
        secret: webhook.sealedSecret,
        disabled_at: webhook.disabledAt?.getTime() ?? null,
        created_by: webhook.createdBy,
        created_at: webhook.createdAt.getTime(),
        updated_at: webhook.updatedAt.getTime(),
      })
      .execute();
  }

  async findById(id: string): Promise<Webhook | undefined> {
    const row = await this.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toWebhook(row);
  }

  async list(): Promise<Webhook[]> {
    const rows = await this.db.selectFrom('webhooks').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
    return rows.map(toWebhook);
  }

  async active(): Promise<Webhook[]> {
    const rows = await this.db.selectFrom('webhooks').selectAll().where('disabled_at', 'is', null).execute();
    return rows.map(toWebhook);
  }

  async update(id: string, changes: WebhookChanges, now: number): Promise<void> {
    const set: Partial<Selectable<WebhooksTable>> = { updated_at: now };
    if (changes.url !== undefined) set.url = changes.url;
    if (changes.description !== undefined) set.description = changes.description;
    if (changes.events !== undefined) set.events = encodeJson(changes.events);
    if (changes.disabledAt !== undefined) set.disabled_at = changes.disabledAt;
    if (changes.sealedSecret !== undefined) set.secret = changes.sealedSecret;
    await this.db.updateTable('webhooks').set(set).where('id', '=', id).execute();
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('webhooks').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async insertDeliveries(deliveries: readonly NewDelivery[]): Promise<void> {
    for (const slice of chunks(deliveries, 500)) {
      await this.db
        .insertInto('webhook_deliveries')
        .values(
          slice.map((d) => ({
            id: d.id,
            webhook_id: d.webhookId,
            event_id: d.eventId,
            event_type: d.eventType,
            body: d.body,
            status: 'pending' as const,
            attempts: 0,
            next_attempt_at: d.createdAt,
            last_attempt_at: null,
            response_status: null,
            error: null,
            redelivery_of: d.redeliveryOf ?? null,
            created_at: d.createdAt,
            delivered_at: null,
          })),
        )
        .execute();
    }
  }

  async findDelivery(webhookId: string, id: string): Promise<WebhookDelivery | undefined> {
    const row = await this.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).where('webhook_id', '=', webhookId).executeTakeFirst();
    return row && toDelivery(row);
  }

  /** A webhook's delivery log, newest first. */
  async deliveries(webhookId: string, cursor: Cursor | undefined, limit: number): Promise<WebhookDelivery[]> {
    let query = this.db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId);
    if (cursor) query = query.where(beforeCursor(cursor, 'webhook_deliveries'));
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
    return rows.map(toDelivery);
  }

  /** Deliveries whose time has come, oldest first. */
  async due(now: number, limit: number): Promise<WebhookDelivery[]> {
    const rows = await this.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .orderBy('next_attempt_at')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(toDelivery);
  }

  /**
   * Takes a pending delivery for one attempt; false when another instance took it first, or
   * retried and re-queued it since `seen` was read (its attempts moved on).
   */
  async claim(seen: Pick<WebhookDelivery, 'id' | 'attempts'>, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('webhook_deliveries')
      .set({ status: 'sending', last_attempt_at: now, attempts: sql`attempts + 1` })
      .where('id', '=', seen.id)
      .where('status', '=', 'pending')
      .where('attempts', '=', seen.attempts)
      .where('next_attempt_at', '<=', now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async finishAttempt(id: string, outcome: AttemptOutcome): Promise<void> {
    const succeeded = outcome.error === null;
    await this.db
      .updateTable('webhook_deliveries')
      .set({
        status: succeeded ? 'succeeded' : outcome.retryAt === undefined ? 'failed' : 'pending',
        next_attempt_at: succeeded ? null : (outcome.retryAt ?? null),
        response_status: outcome.responseStatus,
        error: outcome.error?.slice(0, 500) ?? null,
        delivered_at: succeeded ? outcome.at : null,
      })
      .where('id', '=', id)
      .where('status', '=', 'sending')
      .execute();
  }

  /**
   * Attempts cut short by a stopped process go back in the queue (a receiver may see one twice:
   * webhooks are at least once, and the event id lets it tell).
   */
  async requeueStale(startedBefore: number): Promise<number> {
    const result = await this.db
      .updateTable('webhook_deliveries')
      .set({ status: 'pending', next_attempt_at: startedBefore, error: 'interrupted' })
      .where('status', '=', 'sending')
      .where('last_attempt_at', '<', startedBefore)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Forgets finished deliveries older than `before`. */
  async prune(before: number): Promise<number> {
    const result = await this.db.deleteFrom('webhook_deliveries').where('status', 'in', ['succeeded', 'failed']).where('created_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
