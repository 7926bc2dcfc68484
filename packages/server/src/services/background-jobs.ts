import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Conflict } from '../errors/keyfob-error.js';
import type { Store } from '../repositories/store.js';
import type { Clock } from './clock.js';
import type { EventFanout } from './event-fanout.js';
import type { NoticeSender } from './notice-sender.js';
import type { ExpiryReminders } from './reminders.js';
import { IDLE_TOKENS_PER_RUN, type IdleExpiry } from './idle-expiry.js';
import type { WebhookSender } from './webhook-sender.js';
import { nextTurn } from './next-turn.js';

const LEASE = 'events';
/** Expiry reminders look at times counted in days: once a minute is plenty. */
const REMINDERS_EVERY_MS = 60_000;
/**
 * Idle expiry counts in days too, and reads every usable token (no index on last activity): on a
 * 1,000,000-token SQLite store that step held the process for about a second (docs/PERFORMANCE.md,
 * run O). Once an hour, or a minute after a run that had more than it could take.
 */
const IDLE_EVERY_MS = 3_600_000;
/** Finished deliveries and notices are kept this long in the logs. */
const LOG_RETENTION_MS = 30 * 86_400_000;
/** An attempt still marked as under way after this long belongs to a process that stopped. */
const STALE_ATTEMPT_MS = 5 * 60_000;

export interface BackgroundJobsOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly intervalMs: number;
  readonly reminders: ExpiryReminders;
  readonly idle: IdleExpiry;
  readonly fanout: EventFanout;
  readonly webhooks: WebhookSender;
  /** Undefined when no SMTP server is configured. */
  readonly notices: NoticeSender | undefined;
  readonly onError?: (error: unknown) => void;
}

/**
 * Runs the event jobs on one instance at a time: every tick each instance tries to take or renew
 * a lease in the database, and only its holder fans out the outbox and sends. The lease lasts a
 * few ticks, so a stopped holder is replaced within seconds; claims on each delivery and notice
 * keep two holders (a lease lapsed mid-run) from sending the same one.
 */
export class BackgroundJobs {
  readonly holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  /** Set by stop(): a nudge arriving during shutdown (a webhook queued by a last request) starts nothing. */
  #stopped = false;
  #lastReminders = -Infinity;
  #lastIdle = -Infinity;
  #lastPrune = -Infinity;

  constructor(private readonly options: BackgroundJobsOptions) {}

  start(): void {
    this.#stopped = false;
    this.#timer ??= setInterval(() => this.nudge(), this.options.intervalMs);
    this.#timer.unref();
  }

  /** A tick now (or right after the one under way), e.g. when a delivery was queued here. */
  nudge(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#track(this.#tick()).catch((error: unknown) => this.options.onError?.(error));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#again = false;
    await this.#running;
    await this.options.store.repos.leases.release(LEASE, this.holder).catch(() => {});
  }

  /**
   * One full round whether or not a minute has passed since the last reminders and an hour since
   * the last idle expiry (the tests drive the jobs this way on their own clock): true when this
   * instance held the lease and ran.
   */
  async runOnce(): Promise<boolean> {
    while (this.#running) await this.#running;
    this.#lastReminders = -Infinity;
    this.#lastIdle = -Infinity;
    return this.tick();
  }

  /**
   * One tick as the timer runs it (reminders, idle expiry and prunes only when due), after the one
   * under way: true when this instance held the lease and ran.
   */
  async tick(): Promise<boolean> {
    while (this.#running) await this.#running;
    return this.#track(this.#tick());
  }

  /** One tick at a time: the next waits for `#running`, and a nudge during one runs after it. */
  #track<T>(run: Promise<T>): Promise<T> {
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#running = settled;
    void settled.then(() => {
      if (this.#running === settled) this.#running = undefined;
      if (this.#again && this.#timer) {
        this.#again = false;
        this.nudge();
      }
    });
    return run;
  }

  async #tick(): Promise<boolean> {
    const { store, clock, intervalMs } = this.options;
    const now = clock.now();
    if (!(await store.repos.leases.acquire(LEASE, this.holder, now, Math.max(3 * intervalMs, 15_000)))) return false;
    await store.repos.webhooks.requeueStale(now - STALE_ATTEMPT_MS);
    await store.repos.notices.abandonStale(now - STALE_ATTEMPT_MS);
    // Requests are served between two steps (nextTurn): on a big SQLite store one tick of these
    // steps in a row held the process for 0.25–1.3 s (docs/PERFORMANCE.md, run O).
    if (now - this.#lastReminders >= REMINDERS_EVERY_MS) {
      await nextTurn();
      await this.options.reminders.run();
      this.#lastReminders = now;
    }
    if (now - this.#lastIdle >= IDLE_EVERY_MS) {
      await nextTurn();
      const { warned, revoked } = await this.options.idle.run();
      // A full run leaves more behind (the policy just turned on over many idle tokens): the next
      // comes a minute later, as before, until the backlog is gone.
      const more = warned >= IDLE_TOKENS_PER_RUN || revoked >= IDLE_TOKENS_PER_RUN;
      this.#lastIdle = more ? now - IDLE_EVERY_MS + REMINDERS_EVERY_MS : now;
    }
    // Drain the outbox in batches, but give the senders a turn at least every ten batches.
    try {
      for (let i = 0; i < 10; i++) {
        await nextTurn();
        if ((await this.options.fanout.run()) === 0) break;
      }
    } catch (error) {
      // Another instance fanned out the same events (a lease that lapsed mid-run); ours rolled back.
      if (!(error instanceof Conflict)) throw error;
    }
    await nextTurn();
    await this.options.webhooks.run();
    await nextTurn();
    await this.options.notices?.run(100);
    if (now - this.#lastPrune >= 3_600_000) {
      await nextTurn();
      await store.repos.webhooks.prune(now - LOG_RETENTION_MS);
      await store.repos.notices.prune(now - LOG_RETENTION_MS);
      this.#lastPrune = now;
    }
    return true;
  }
}
