import { performance } from 'node:perf_hooks';
import type { Actor, AuditEvent } from '../domain/models.js';
import type { Store } from '../repositories/store.js';
import { auditEvent, type AuditEntry } from './audit-log.js';

interface Waiting {
  readonly event: AuditEvent;
  resolve(): void;
  reject(error: unknown): void;
}

/** Events written per statement at most (SQLite binds at most 32,766 parameters; 10 per event). */
const MAX_BATCH = 500;
/**
 * Shortest time between two commits. A commit on SQLite runs synchronously, so without a window
 * each batch would hold only the events of one event-loop turn; an idle server still writes at
 * once (the window only delays a commit that follows another within it).
 */
const WINDOW_MS = 5;

/**
 * Group commit for audit events that record an act rather than accompany a change (a token
 * exchange). Each `append` resolves only once its event is committed, so an answered request is
 * always audited; events arriving while a commit is in flight wait for the next one and share
 * it. Under load this turns one synchronous disk flush per exchange into one per batch.
 */
export class AuditBatcher {
  #queue: Waiting[] = [];
  #writing = false;
  #lastCommitAt = -Infinity;

  constructor(private readonly store: Store) {}

  append(actor: Actor, entry: AuditEntry, now: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ event: auditEvent(actor, entry, now), resolve, reject });
      if (!this.#writing) this.#drain();
    });
  }

  #drain(): void {
    this.#writing = true;
    const wait = this.#lastCommitAt + WINDOW_MS - performance.now();
    // At least the rest of this event-loop turn, so the requests already parsed join the batch.
    if (wait <= 0) setImmediate(() => void this.#writeBatches());
    else setTimeout(() => void this.#writeBatches(), wait);
  }

  async #writeBatches(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, MAX_BATCH);
      try {
        // One statement, or on SQLite one transaction of its own: all of the batch or none of it.
        await this.store.repos.audit.insertMany(batch.map((w) => w.event));
        this.#lastCommitAt = performance.now();
        for (const w of batch) w.resolve();
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
    this.#writing = false;
  }
}
