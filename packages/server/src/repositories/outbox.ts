import type { Kysely } from 'kysely';
import type { DB } from '../db/types.js';
import { isPublishedEvent, type EventRecord, type PendingEvent } from '../domain/events.js';
import { decodeJsonObject, encodeJson } from './json.js';
import { chunks } from './sql-helpers.js';

export interface OutboxEntry {
  readonly id: string;
  readonly type: string;
  readonly createdAt: number;
  readonly record: EventRecord;
}

/**
 * Events written in the same transaction as the change that caused them, and taken out once they
 * have become webhook deliveries and notices. Ids name the event, so making one twice is a no-op.
 */
export class OutboxRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async insertMany(entries: readonly OutboxEntry[]): Promise<void> {
    for (const slice of chunks(entries, 1000)) {
      await this.db
        .insertInto('outbox')
        .values(slice.map((e) => ({ id: e.id, type: e.type, created_at: e.createdAt, data: encodeJson(e.record) })))
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
    }
  }

  /**
   * The oldest waiting rows: their ids, and the events among them this version publishes (a row of
   * a type it no longer knows is only taken out).
   */
  async oldest(limit: number): Promise<{ ids: string[]; events: PendingEvent[] }> {
    const rows = await this.db.selectFrom('outbox').selectAll().orderBy('created_at').orderBy('id').limit(limit).execute();
    const events = rows.flatMap((r): PendingEvent[] =>
      isPublishedEvent(r.type) ? [{ id: r.id, type: r.type, createdAt: new Date(Number(r.created_at)), record: decodeJsonObject(r.data) as unknown as EventRecord }] : [],
    );
    return { ids: rows.map((r) => r.id), events };
  }

  /** Takes rows out; returns how many were still there. */
  async delete(ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const result = await this.db.deleteFrom('outbox').where('id', 'in', ids).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
