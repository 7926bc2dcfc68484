import { KeyfobError } from '../errors/keyfob-error.js';
import type { LimitName, LimitRules } from '../domain/rate-limits.js';
import type { Clock } from './clock.js';

/** A subject's count in its current window, and when that window ends. */
export interface WindowCount {
  readonly count: number;
  readonly resetAtMs: number;
}

/** Fixed-window counters: in this process, or shared by every instance (Redis). */
export interface CounterStore {
  /** Adds `cost` to `key`'s count, opening a window of `windowMs` if none is open. */
  hit(key: string, windowMs: number, now: number, cost?: number): Promise<WindowCount>;
  /** Takes one back from an open window (an attempt that turned out fine). */
  refund(key: string, now: number): Promise<void>;
  close(): Promise<void>;
}

/** Past this many subjects a table evicts its oldest windows: an attacker rotating addresses cannot grow it. */
export const DEFAULT_MAX_SUBJECTS = 100_000;

/**
 * A map of windows bounded by `maxKeys`. Windows are inserted in the order they open and never
 * re-inserted, so the oldest are evicted first: when full, the ones already over go, then the
 * oldest open ones until a tenth of the room is free (so eviction is not paid on every insert).
 */
class BoundedWindows<T extends { resetAtMs: number }> {
  readonly #entries = new Map<string, T>();
  constructor(private readonly maxKeys: number) {}

  get(key: string, now: number): T | undefined {
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.resetAtMs <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  set(key: string, entry: T, now: number): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.maxKeys) this.#evict(now);
    this.#entries.set(key, entry);
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Whether any entry is still open. Drops the over ones from the oldest on and stops at the first
   * open one: entries of one limit share a window length, so insertion order is nearly expiry
   * order, and an open entry ahead of over ones only makes the answer a cautious yes.
   */
  anyOpen(now: number): boolean {
    for (const [key, entry] of this.#entries) {
      if (entry.resetAtMs > now) return true;
      this.#entries.delete(key);
    }
    return false;
  }

  #evict(now: number): void {
    const target = Math.max(0, this.maxKeys - Math.max(1, Math.ceil(this.maxKeys / 10)));
    for (const [key, entry] of this.#entries) if (entry.resetAtMs <= now) this.#entries.delete(key);
    for (const key of this.#entries.keys()) {
      if (this.#entries.size <= target) break;
      this.#entries.delete(key);
    }
  }
}

export class MemoryCounterStore implements CounterStore {
  readonly #windows: BoundedWindows<{ count: number; resetAtMs: number }>;
  constructor(maxKeys = DEFAULT_MAX_SUBJECTS) {
    this.#windows = new BoundedWindows(maxKeys);
  }

  hit(key: string, windowMs: number, now: number, cost = 1): Promise<WindowCount> {
    return Promise.resolve(this.hitNow(key, windowMs, now, cost));
  }

  /** The same as `hit`, synchronously. */
  hitNow(key: string, windowMs: number, now: number, cost = 1): WindowCount {
    let window = this.#windows.get(key, now);
    if (window === undefined) this.#windows.set(key, (window = { count: 0, resetAtMs: now + windowMs }), now);
    window.count += cost;
    return { count: window.count, resetAtMs: window.resetAtMs };
  }

  refund(key: string, now: number): Promise<void> {
    const window = this.#windows.get(key, now);
    if (window !== undefined && window.count > 0) window.count--;
    return Promise.resolve();
  }

  get size(): number {
    return this.#windows.size;
  }

  async close(): Promise<void> {}
}

export interface RateLimiterDeps {
  readonly rules: LimitRules;
  readonly clock: Clock;
  /** Where counts live; the memory fallback alone when unset. */
  readonly store?: CounterStore;
  readonly maxSubjects?: number;
  /** The shared store failed: counting went on in this process. */
  readonly onStoreError?: (error: unknown) => void;
}

const MESSAGES: Record<LimitName, string> = {
  authFailures: 'too many failed authentications from this address',
  loginFailuresPerUser: 'too many failed sign-ins for this username',
  loginFailuresPerIp: 'too many failed sign-ins from this address',
  tokenCreations: 'too many tokens created by this user',
  exchanges: 'too many exchanges of this token',
  credentialReports: 'too many credential reports from this address',
};

/**
 * Abuse limits. Attempts (`consume`) are counted before the action and refuse it once over (and
 * can be given back, `refund`, when the attempt turns out fine); failures (`recordFailure`) are
 * counted after the fact and block the subject once it reaches the limit. Counts are shared
 * through the store; a subject found over its limit is also remembered here, so that a blocked
 * address is refused on the hot path without a round trip (`blockedFor`). Another instance learns
 * of the block at the subject's next counted event there.
 *
 * A shared store that fails does not open the gates: counting goes on in this process.
 */
export class RateLimiter {
  // One table per limit: subjects rotated through one limit cannot evict another limit's counts.
  readonly #fallback = new Map<LimitName, MemoryCounterStore>();
  readonly #blocks = new Map<LimitName, BoundedWindows<{ resetAtMs: number }>>();
  /** Whether any block was ever recorded: until then the hot-path check is one branch. */
  #anyBlock = false;

  constructor(private readonly deps: RateLimiterDeps) {}

  /**
   * Whether this instance has recorded any block yet: until then callers on the hot path need not
   * work out a subject to ask `blockedFor` about.
   */
  get hasBlocks(): boolean {
    return this.#anyBlock;
  }

  /**
   * Whether this instance knows of any subject blocked under `name` now: until a block is recorded
   * one branch, after the blocks are over a few map steps. For a path that can only skip the
   * per-subject check when no one at all is blocked.
   */
  hasOpenBlocks(name: LimitName): boolean {
    if (!this.#anyBlock) return false;
    const blocks = this.#blocks.get(name);
    return blocks !== undefined && blocks.anyOpen(this.deps.clock.now());
  }

  /** Seconds until the subject may try again, when this instance knows it is blocked. Synchronous. */
  blockedFor(name: LimitName, subject: string): number | undefined {
    if (!this.#anyBlock) return undefined;
    const blocks = this.#blocks.get(name);
    if (blocks === undefined || this.deps.rules[name] === null) return undefined;
    const now = this.deps.clock.now();
    const block = blocks.get(subject, now);
    return block === undefined ? undefined : secondsUntil(block.resetAtMs, now);
  }

  /**
   * Counts one failure. Returns the error to answer with when this failure went past the limit;
   * once the limit is reached the subject is blocked here until its window ends.
   */
  async recordFailure(name: LimitName, subject: string): Promise<KeyfobError | undefined> {
    const rule = this.deps.rules[name];
    if (rule === null) return undefined;
    const now = this.deps.clock.now();
    const count = await this.#shared(name, (store) => store.hit(this.#key(name, subject), rule.windowMs, now));
    if (count.count < rule.limit) return undefined;
    const error = this.#block(name, subject, count.resetAtMs, now);
    return count.count > rule.limit ? error : undefined;
  }

  /**
   * Counts an attempt (worth `cost`) before the action and throws `rate_limited` if it goes past
   * the limit: the action must not happen. Counting first makes the limit hold for attempts made
   * in parallel, too.
   */
  async consume(name: LimitName, subject: string, cost = 1): Promise<void> {
    const rule = this.deps.rules[name];
    if (rule === null) return;
    const now = this.deps.clock.now();
    const count = await this.#shared(name, (store) => store.hit(this.#key(name, subject), rule.windowMs, now, cost));
    if (count.count > rule.limit) throw this.#block(name, subject, count.resetAtMs, now);
  }

  /** Gives back one `consume` whose attempt turned out fine (a successful sign-in is not a failure). */
  async refund(name: LimitName, subject: string): Promise<void> {
    if (this.deps.rules[name] === null) return;
    const now = this.deps.clock.now();
    await this.#shared(name, (store) => store.refund(this.#key(name, subject), now));
  }

  /** Subjects held in this process (counts kept here and known blocks), for tests of its bound. */
  get trackedSubjects(): number {
    let n = 0;
    for (const table of [...this.#fallback.values(), ...this.#blocks.values()]) n += table.size;
    return n;
  }

  async close(): Promise<void> {
    await this.deps.store?.close();
  }

  #key(name: LimitName, subject: string): string {
    return `${name}:${subject}`;
  }

  #block(name: LimitName, subject: string, resetAtMs: number, now: number): KeyfobError {
    let blocks = this.#blocks.get(name);
    if (blocks === undefined) this.#blocks.set(name, (blocks = new BoundedWindows(this.deps.maxSubjects ?? DEFAULT_MAX_SUBJECTS)));
    blocks.set(subject, { resetAtMs }, now);
    this.#anyBlock = true;
    return rateLimited(name, secondsUntil(resetAtMs, now));
  }

  async #shared<T>(name: LimitName, op: (store: CounterStore) => Promise<T>): Promise<T> {
    const store = this.deps.store;
    if (store !== undefined) {
      try {
        return await op(store);
      } catch (error) {
        this.deps.onStoreError?.(error);
      }
    }
    let fallback = this.#fallback.get(name);
    if (fallback === undefined) this.#fallback.set(name, (fallback = new MemoryCounterStore(this.deps.maxSubjects)));
    return op(fallback);
  }
}

function secondsUntil(resetAtMs: number, now: number): number {
  return Math.max(1, Math.ceil((resetAtMs - now) / 1000));
}

/** The `rate_limited` error of a limit, with its Retry-After. */
export function rateLimited(name: LimitName, retryAfterSeconds: number): KeyfobError {
  return new KeyfobError('rate_limited', `${MESSAGES[name]}; retry in ${retryAfterSeconds} s`, { headers: { 'retry-after': String(retryAfterSeconds) } });
}
