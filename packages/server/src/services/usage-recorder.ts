import type { Store } from '../repositories/store.js';
import type { UsageUpdate } from '../repositories/pats.js';

export interface UsageRecorderOptions {
  readonly store: Store;
  readonly flushIntervalMs: number;
  /** Upper bound on distinct tokens held between flushes; beyond it, new tokens wait for a flush. */
  readonly maxPending?: number;
  readonly onError?: (error: unknown) => void;
}

/**
 * Write-behind recording of last use: verifications only touch a map; a timer writes the newest
 * use of each token in one transaction. A failed flush keeps its entries for the next attempt.
 */
export class UsageRecorder {
  #pending = new Map<string, UsageUpdate>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  readonly #maxPending: number;

  constructor(private readonly options: UsageRecorderOptions) {
    this.#maxPending = options.maxPending ?? 100_000;
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.flush(), this.options.flushIntervalMs);
    this.#timer.unref();
  }

  record(patId: string, at: number, ip: string | null): void {
    const current = this.#pending.get(patId);
    if (current && current.at >= at) return;
    if (!current && this.#pending.size >= this.#maxPending) return;
    this.#pending.set(patId, { patId, at, ip });
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Writes everything pending; concurrent calls share one flush. */
  flush(): Promise<void> {
    this.#flushing ??= this.#write().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #write(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = [...this.#pending.values()];
    this.#pending = new Map();
    try {
      await this.options.store.transaction((repos) => repos.pats.recordUsage(batch));
    } catch (error) {
      for (const u of batch) this.record(u.patId, u.at, u.ip);
      this.options.onError?.(error);
    }
  }

  /** Stops the timer and writes what is pending (SIGTERM). */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }
}
