import type { Store } from '../repositories/store.js';
import type { UsageCount, UsageUpdate } from '../repositories/pats.js';
import type { OutboxEntry } from '../repositories/outbox.js';
import { newAddressEventId } from '../domain/events.js';
import { nextTurn } from './next-turn.js';

export interface UsageRecorderOptions {
  readonly store: Store;
  readonly flushIntervalMs: number;
  /**
   * Upper bound on distinct tokens held between flushes; half-way a flush starts early, and beyond
   * it uses of tokens not yet held are not counted.
   */
  readonly maxPending?: number;
  /** Tokens written per transaction (USAGE_TOKENS_PER_TRANSACTION unless a test sets it). */
  readonly tokensPerTransaction?: number;
  readonly onError?: (error: unknown) => void;
  /** Called after each flush that wrote something, with the number of tokens written. */
  readonly onFlush?: (tokens: number) => void;
  /** Counts older than this are deleted, once an hour (KEYFOB_USAGE_RETENTION_DAYS). */
  readonly retentionMs?: number;
  readonly now?: () => number;
}

export const HOUR_MS = 3_600_000;

/**
 * A flush writes its tokens in transactions of at most this many, and lets the event loop run
 * between two of them. On SQLite a transaction runs on the process's one thread from BEGIN to
 * COMMIT: one transaction for every token used in the interval held every request for 0.4 s
 * (20,000 tokens, counts only) to 1.8 s (every last use rewritten) on a 1,000,000-token store,
 * and 1,000 tokens for 17 ms to 0.9 s there (docs/PERFORMANCE.md, run O).
 */
export const USAGE_TOKENS_PER_TRANSACTION = 500;

/** What a use of a known token came to: `ok`, or why it was refused (revoked, expired, …). */
export type UseOutcome = string;

/**
 * "Last used" is kept to a minute: a use within a minute of the stored one, from the same
 * address, adds to the counts only. Rewriting a token's row on every flush is most of what a
 * flush costs on a big store (one dirty page per token); the counts stay exact.
 */
export const LAST_USE_PRECISION_MS = 60_000;
const MINUTE_MS = 60_000;

/** Whether a use at `at` from `ip` says something the stored last use does not. */
export function changesLastUse(storedAtMs: number, storedIp: string | null, at: number, ip: string | null): boolean {
  // A token never used has -Infinity: any use is news.
  if (at - storedAtMs >= LAST_USE_PRECISION_MS) return true;
  return ip !== null && ip !== storedIp;
}

interface Pending {
  /** Whether the newest use (`at`, `ip`) is to be written as the token's last use. */
  lastUse: boolean;
  at: number;
  ip: string | null;
  /** Successful uses in the hour (epoch ms of its start) of the first use since the last flush... */
  hour: number;
  ok: number;
  /** ...and everything else: other hours (a flush across the hour, a failed flush put back) and refusals. */
  other: Map<string, number> | undefined;
  /** Addresses of successful uses since the last flush (at most MAX_ADDRESSES_PER_FLUSH). */
  addresses: Map<string, AddressSeen> | undefined;
}

interface AddressSeen {
  first: number;
  last: number;
  uses: number;
}

/** Addresses kept per token between two flushes: a token used from thousands cannot grow memory. */
const MAX_ADDRESSES_PER_FLUSH = 16;

/** The key of a count: the hour's start and the outcome. */
const countKey = (hour: number, outcome: UseOutcome) => `${hour}\u0000${outcome}`;

/** Counts by hour and outcome. */
function countsOf(p: Pending): UsageCount[] {
  const counts = new Map<string, number>();
  if (p.ok > 0) counts.set(countKey(p.hour, 'ok'), p.ok);
  for (const [key, n] of p.other ?? []) if (n > 0) counts.set(key, (counts.get(key) ?? 0) + n);
  return [...counts].map(([key, count]) => {
    const cut = key.indexOf('\u0000');
    return { hour: Number(key.slice(0, cut)), outcome: key.slice(cut + 1), count };
  });
}

function seeAddress(entry: Pending, ip: string, first: number, last: number, uses: number): void {
  const addresses = (entry.addresses ??= new Map());
  const seen = addresses.get(ip);
  if (seen !== undefined) {
    seen.uses += uses;
    if (last > seen.last) seen.last = last;
    if (first < seen.first) seen.first = first;
  } else if (addresses.size < MAX_ADDRESSES_PER_FLUSH) addresses.set(ip, { first, last, uses });
}

/**
 * Write-behind recording of use: a verification only touches a map entry (newest time and IP,
 * a count per hour and outcome); a timer writes every pending token, in transactions of at most
 * USAGE_TOKENS_PER_TRANSACTION. A failed transaction keeps its entries, and those of the
 * transactions after it, for the next attempt. Memory is bounded by `maxPending` tokens (twice
 * that while writes fail).
 */
export class UsageRecorder {
  #pending = new Map<string, Pending>();
  /**
   * The minute (epoch ms / 60,000, a small integer V8 keeps unboxed) of the last use this recorder
   * wrote per token: a caller's idea of the stored last use can be stale (a cached token read
   * before the last flush), and must not make every flush rewrite it. One number per token used,
   * kept beside the verification cache's entry, so it counts against that entry's kilobyte.
   */
  #written = new Map<string, number>();
  /** The address of that last use, for the tokens whose written last use had one. */
  #writtenIp = new Map<string, string>();
  /** "<token id> <address>" pairs known to be stored: no lookup for them on the next flush. */
  #knownAddresses = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #restoring = false;
  readonly #maxPending: number;
  readonly #tokensPerTransaction: number;

  constructor(private readonly options: UsageRecorderOptions) {
    this.#maxPending = options.maxPending ?? 100_000;
    this.#tokensPerTransaction = options.tokensPerTransaction ?? USAGE_TOKENS_PER_TRANSACTION;
    if (!Number.isSafeInteger(this.#tokensPerTransaction) || this.#tokensPerTransaction < 1) {
      throw new RangeError(`tokensPerTransaction must be a positive integer, not ${this.#tokensPerTransaction}`);
    }
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.flush(), this.options.flushIntervalMs);
    this.#timer.unref();
    if (this.options.retentionMs !== undefined) {
      this.#pruneTimer ??= setInterval(() => void this.prune().catch((error: unknown) => this.options.onError?.(error)), HOUR_MS);
      this.#pruneTimer.unref();
    }
  }

  /** Deletes counts and addresses older than the retention period; returns how many rows went. */
  async prune(): Promise<number> {
    if (this.options.retentionMs === undefined) return 0;
    const now = (this.options.now ?? Date.now)();
    return this.options.store.repos.pats.pruneUsage(now - this.options.retentionMs);
  }

  /**
   * Counts `uses` at `at` with `outcome`; `lastUse` says whether this use must also reach the
   * token's stored last use (see `changesLastUse`; never for a refused use). A later use of a
   * token already due for it wins.
   */
  record(patId: string, at: number, ip: string | null, uses = 1, lastUse = true, outcome: UseOutcome = 'ok'): void {
    const hour = at - (at % HOUR_MS);
    if (lastUse && uses > 0) {
      const writtenMinute = this.#written.get(patId);
      // At least the real distance, never less: a token is rewritten no later than before.
      if (writtenMinute !== undefined && at - writtenMinute * MINUTE_MS < LAST_USE_PRECISION_MS && (ip === null || ip === this.#writtenIp.get(patId))) lastUse = false;
    }
    let entry = this.#pending.get(patId);
    if (entry === undefined) {
      // A failed write putting its entries back may go up to twice the bound: those uses were
      // counted already, beside the ones recorded while it ran.
      if (this.#pending.size >= (this.#restoring ? 2 * this.#maxPending : this.#maxPending)) return;
      // Many distinct tokens: write before the bound is reached rather than drop their counts.
      // Not while a failed flush puts its entries back: that would retry at once, in a loop, for
      // as long as the store fails; the timer retries.
      if (this.#pending.size === this.#maxPending >> 1 && !this.#restoring) void this.flush().catch((error: unknown) => this.options.onError?.(error));
      entry = { lastUse, at, ip, hour, ok: 0, other: undefined, addresses: undefined };
      this.#pending.set(patId, entry);
    } else if (lastUse && !entry.lastUse) {
      entry.lastUse = true;
      entry.at = at;
      entry.ip = ip;
    } else if (lastUse && at >= entry.at) {
      entry.at = at;
      if (ip !== null) entry.ip = ip;
    }
    if (outcome === 'ok' && hour === entry.hour) entry.ok += uses;
    else {
      const other = (entry.other ??= new Map());
      const key = countKey(hour, outcome);
      other.set(key, (other.get(key) ?? 0) + uses);
    }
    if (outcome === 'ok' && ip !== null && uses > 0) seeAddress(entry, ip, at, at, uses);
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  /**
   * Writes everything recorded before the call. A flush already under way may have taken its
   * entries before this call's were recorded: it is waited for, then one more runs (shared with
   * concurrent callers).
   */
  async flush(): Promise<void> {
    if (this.#flushing) await this.#flushing.catch(() => {});
    // Another caller waiting on the same flush may have started the next one first: it took this
    // call's entries, and this call is done only once that write is.
    if (this.#flushing) return this.#flushing;
    if (this.#pending.size === 0) return;
    this.#flushing ??= this.#write().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #write(): Promise<void> {
    if (this.#pending.size === 0) return;
    const taken = [...this.#pending];
    this.#pending = new Map();
    let written = 0;
    for (let start = 0; start < taken.length; start += this.#tokensPerTransaction) {
      // Between two transactions the event loop serves what arrived meanwhile: on SQLite each
      // transaction holds the process's one thread from its first statement to its COMMIT.
      if (start > 0) await nextTurn();
      const part = taken.slice(start, start + this.#tokensPerTransaction);
      try {
        await this.#writePart(part);
        written += part.length;
      } catch (error) {
        // This part and every later one come back; the parts already committed stay written.
        this.#restore(taken.slice(start));
        this.options.onError?.(error);
        break;
      }
    }
    if (written > 0) this.options.onFlush?.(written);
  }

  /** One transaction: the counts, last uses and addresses of these tokens, and their events. */
  async #writePart(part: readonly (readonly [string, Pending])[]): Promise<void> {
    const batch: UsageUpdate[] = part.map(([patId, p]) => ({
      patId,
      lastUse: p.lastUse ? { at: p.at, ip: p.ip } : null,
      counts: countsOf(p),
      addresses: [...(p.addresses ?? [])].map(([ip, a]) => ({ ip, firstSeen: a.first, lastSeen: a.last, uses: a.uses })),
    }));
    const unknown = batch.flatMap((u) => (u.addresses ?? []).filter((a) => !this.#knownAddresses.has(`${u.patId} ${a.ip}`)).map((a) => ({ patId: u.patId, ...a })));
    await this.options.store.transaction(async (repos) => {
      const fresh = await repos.pats.unseenAddresses(unknown);
      await repos.pats.recordUsage(batch);
      // Committed with the address rows: the "new address" event exists once its address does.
      await repos.outbox.insertMany(fresh.map((a) => newAddressEvent(a.patId, a.ip, a.firstSeen)));
    });
    if (this.#knownAddresses.size + unknown.length > this.#maxPending) this.#knownAddresses.clear();
    for (const a of unknown) this.#knownAddresses.add(`${a.patId} ${a.ip}`);
    if (this.#written.size > this.#maxPending) {
      this.#written.clear();
      this.#writtenIp.clear();
    }
    for (const u of batch) {
      if (u.lastUse === null) continue;
      this.#written.set(u.patId, Math.floor(u.lastUse.at / MINUTE_MS));
      if (u.lastUse.ip !== null) this.#writtenIp.set(u.patId, u.lastUse.ip);
      else this.#writtenIp.delete(u.patId);
    }
  }

  /** Puts entries a failed write took back among the pending ones, merged with uses since. */
  #restore(entries: readonly (readonly [string, Pending])[]): void {
    this.#restoring = true;
    try {
      for (const [patId, p] of entries) {
        for (const c of countsOf(p)) this.record(patId, c.hour, null, c.count, false, c.outcome);
        this.record(patId, p.at, p.ip, 0, p.lastUse);
        const entry = this.#pending.get(patId);
        if (entry !== undefined) for (const [ip, a] of p.addresses ?? []) seeAddress(entry, ip, a.first, a.last, a.uses);
      }
    } finally {
      this.#restoring = false;
    }
  }

  /** Stops the timer and writes what is pending (SIGTERM). */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#pruneTimer) clearInterval(this.#pruneTimer);
    this.#timer = undefined;
    this.#pruneTimer = undefined;
    await this.flush();
  }
}

function newAddressEvent(patId: string, ip: string, firstSeen: number): OutboxEntry {
  return {
    id: newAddressEventId(patId, ip),
    type: 'token.new_ip',
    createdAt: firstSeen,
    record: { actor: null, target: { type: 'token', id: patId }, details: { ip, firstSeen: new Date(firstSeen).toISOString() } },
  };
}
