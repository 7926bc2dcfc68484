import type { Store } from '../repositories/store.js';
import type { UsageUpdate } from '../repositories/pats.js';

export interface UsageRecorderOptions {
  readonly store: Store;
  readonly flushIntervalMs: number;
  /** Upper bound on distinct tokens held between flushes; beyond it, new tokens wait for a flush. */
  readonly maxPending?: number;
  readonly onError?: (error: unknown) => void;
  /** Called after each flush that wrote something, with the number of tokens written. */
  readonly onFlush?: (tokens: number) => void;
}

const DAY_MS = 86_400_000;

/**
 * "Last used" is kept to a minute: a use within a minute of the stored one, from the same
 * address, adds to the counts only. Rewriting a token's row on every flush is most of what a
 * flush costs on a big store (one dirty page per token); the counts stay exact.
 */
export const LAST_USE_PRECISION_MS = 60_000;

/** Whether a use at `at` from `ip` says something the stored last use does not. */
export function changesLastUse(stored: { readonly lastUsedAt: Date | null; readonly lastUsedIp: string | null }, at: number, ip: string | null): boolean {
  if (stored.lastUsedAt === null || at - stored.lastUsedAt.getTime() >= LAST_USE_PRECISION_MS) return true;
  return ip !== null && ip !== stored.lastUsedIp;
}

interface Pending {
  /** Whether the newest use (`at`, `ip`) is to be written as the token's last use. */
  lastUse: boolean;
  at: number;
  ip: string | null;
  /** Uses on the UTC day (epoch day number) of the first use since the last flush... */
  day: number;
  uses: number;
  /** ...and on any other day (a flush window across midnight, or a failed flush put back). */
  otherDays: Map<number, number> | undefined;
}

/** Uses by UTC date (YYYY-MM-DD). */
function dayCounts(p: Pending): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (day: number, n: number) => {
    if (n === 0) return;
    const date = new Date(day * DAY_MS).toISOString().slice(0, 10);
    counts.set(date, (counts.get(date) ?? 0) + n);
  };
  add(p.day, p.uses);
  for (const [day, n] of p.otherDays ?? []) add(day, n);
  return counts;
}

/**
 * Write-behind recording of use: a verification only touches a map entry (newest time and IP,
 * a count per day); a timer writes every pending token in one transaction. A failed flush keeps
 * its entries for the next attempt. Memory is bounded by `maxPending` tokens.
 */
export class UsageRecorder {
  #pending = new Map<string, Pending>();
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

  /**
   * Counts `uses` at `at`; `lastUse` says whether this use must also reach the token's stored
   * last use (see `changesLastUse`). A later use of a token already due for it wins.
   */
  record(patId: string, at: number, ip: string | null, uses = 1, lastUse = true): void {
    const day = Math.floor(at / DAY_MS);
    let entry = this.#pending.get(patId);
    if (entry === undefined) {
      if (this.#pending.size >= this.#maxPending) return;
      entry = { lastUse, at, ip, day, uses: 0, otherDays: undefined };
      this.#pending.set(patId, entry);
    } else if (lastUse && !entry.lastUse) {
      entry.lastUse = true;
      entry.at = at;
      entry.ip = ip;
    } else if (at >= entry.at) {
      entry.at = at;
      if (ip !== null) entry.ip = ip;
    }
    if (day === entry.day) entry.uses += uses;
    else {
      const other = (entry.otherDays ??= new Map());
      other.set(day, (other.get(day) ?? 0) + uses);
    }
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
    const taken = this.#pending;
    this.#pending = new Map();
    const batch: UsageUpdate[] = [...taken].map(([patId, p]) => ({ patId, lastUse: p.lastUse ? { at: p.at, ip: p.ip } : null, counts: dayCounts(p) }));
    try {
      await this.options.store.transaction((repos) => repos.pats.recordUsage(batch));
      this.options.onFlush?.(batch.length);
    } catch (error) {
      for (const [patId, p] of taken) {
        for (const [day, n] of dayCounts(p)) this.record(patId, Date.parse(day), null, n, false);
        this.record(patId, p.at, p.ip, 0, p.lastUse);
      }
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
