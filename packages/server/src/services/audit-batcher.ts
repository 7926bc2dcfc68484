import type { Actor, AuditEvent } from '../domain/models.js';
import type { Store } from '../repositories/store.js';
import { auditEvent, type AuditEntry } from './audit-log.js';
import { nextTurn } from './next-turn.js';

interface Waiting {
  readonly event: AuditEvent;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Events written per batch at most. Through Kysely a batch is one statement: SQLite binds at most
 * 32,766 parameters and PostgreSQL 65,535, at 10 per event.
 */
const MAX_BATCH = 500;

/**
 * Group commit for audit events that record an act rather than accompany a change (a token
 * exchange). Each `append` resolves only once its event is committed, so an answered request is
 * always audited; events arriving while a commit and its disk flush are in flight wait for the
 * next one and share it. Under load this turns one disk flush per exchange into one per batch.
 */
export class AuditBatcher {
  #queue: Waiting[] = [];
  #writing = false;

  constructor(private readonly store: Store) {}

  append(actor: Actor, entry: AuditEntry, now: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ event: auditEvent(actor, entry, now), resolve, reject });
      if (!this.#writing) void this.#writeBatches();
    });
  }

  async #writeBatches(): Promise<void> {
    this.#writing = true;
    while (this.#queue.length > 0) {
      // The rest of this event-loop turn first, so that the requests already parsed join the batch;
      // later ones join the next. Before every batch: the disk flush of the last one ends in the
      // middle of a turn. A pause between commits was tried (a 5 ms window): with 50 exchanges in
      // flight it capped the rate at 50 per window (docs/PERFORMANCE.md).
      await nextTurn();
      const batch = this.#queue.splice(0, MAX_BATCH);
      try {
        // One statement, or on SQLite one transaction of its own: all of the batch or none of it.
        await this.store.repos.audit.insertMany(batch.map((w) => w.event));
        for (const w of batch) w.resolve();
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
    this.#writing = false;
  }
}
