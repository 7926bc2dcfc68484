import { KeyfobError } from '../errors/keyfob-error.js';
import type { LimitName, LimitRule, LimitRules } from '../domain/rate-limits.js';
import type { Clock } from './clock.js';

/** A subject's count in its current window, and when that window ends. */
export interface WindowCount {
  readonly count: number;
  readonly resetAtMs: number;
}

/** Fixed-window counters: in this process, or shared by every instance (Redis). */
export interface CounterStore {
  /** Adds one to `key`'s count, opening a window of `windowMs` if none is open. */
  hit(key: string, windowMs: number, now: number): Promise<WindowCount>;
  /** The open window's count, without adding to it. */
  peek(key: string, now: number): Promise<WindowCount | undefined>;
  close(): Promise<void>;
}

/** Past this many subjects a table evicts its oldest windows: an attacker rotating addresses cannot grow it. */
export const DEFAULT_MAX_SUBJECTS = 100_000;

/**
 * A map of windows bounded by `maxKeys`. Windows are inserted in the order they open and never
 * re-inserted, so the oldest are evicted first: first the ones already over, then the oldest open.
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

  #evict(now: number): void {
    for (const [key, entry] of this.#entries) if (entry.resetAtMs <= now) this.#entries.delete(key);
    // Still full: drop the oldest tenth, so eviction is not paid on every insert.
    if (this.#entries.size >= this.maxKeys) {
      let drop = Math.max(1, Math.ceil(this.maxKeys / 10));
      for (const key of this.#entries.keys()) {
        this.#entries.delete(key);
        if (--drop === 0) break;
      }
    }
  }
}

export class MemoryCounterStore implements CounterStore {
  readonly #windows: BoundedWindows<{ count: number; resetAtMs: number }>;
  constructor(maxKeys = DEFAULT_MAX_SUBJECTS) {
    this.#windows = new BoundedWindows(maxKeys);
  }

  hit(key: string, windowMs: number, now: number): Promise<WindowCount> {
    return Promise.resolve(this.hitNow(key, windowMs, now));
  }

  /** The same as `hit`, synchronously. */
  hitNow(key: string, windowMs: number, now: number): WindowCount {
    let window = this.#windows.get(key, now);
    if (window === undefined) this.#windows.set(key, (window = { count: 0, resetAtMs: now + windowMs }), now);
    window.count++;
    return { count: window.count, resetAtMs: window.resetAtMs };
  }

  peek(key: string, now: number): Promise<WindowCount | undefined> {
    const window = this.#windows.get(key, now);
    return Promise.resolve(window && { count: window.count, resetAtMs: window.resetAtMs });
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
 * Abuse limits. Failures (`recordFailure`) are counted after the fact and block the subject once
 * over; attempts (`consume`) are counted before the action and refuse it once over. Counts are
 * shared through the store; a subject found over its limit is also remembered here, so that
 * a blocked address is refused on the hot path without a round trip (`blockedFor`).
 *
 * A shared store that fails does not open the gates: counting goes on in this process.
 */
export class RateLimiter {
  readonly #fallback: MemoryCounterStore;
  readonly #blocks: BoundedWindows<{ resetAtMs: number }>;

  constructor(private readonly deps: RateLimiterDeps) {
    this.#fallback = new MemoryCounterStore(deps.maxSubjects);
    this.#blocks = new BoundedWindows(deps.maxSubjects ?? DEFAULT_MAX_SUBJECTS);
  }

  rule(name: LimitName): LimitRule | null {
    return this.deps.rules[name];
  }

  /** Seconds until the subject may try again, when this instance knows it is blocked. Synchronous. */
  blockedFor(name: LimitName, subject: string): number | undefined {
    if (this.#blocks.size === 0 || this.deps.rules[name] === null) return undefined;
    const now = this.deps.clock.now();
    const block = this.#blocks.get(`${name}\u0000${subject}`, now);
    return block === undefined ? undefined : secondsUntil(block.resetAtMs, now);
  }

  /** Throws `rate_limited` when the subject has used up its limit (reads the shared count). */
  async check(name: LimitName, subject: string): Promise<void> {
    const rule = this.deps.rules[name];
    if (rule === null) return;
    const local = this.blockedFor(name, subject);
    if (local !== undefined) throw rateLimited(name, local);
    const now = this.deps.clock.now();
    const count = await this.#shared((store) => store.peek(this.#key(name, subject), now));
    if (count !== undefined && count.count >= rule.limit) throw this.#block(name, subject, count.resetAtMs, now);
  }

  /**
   * Counts one failure. Returns the error to answer with when this failure went past the limit;
   * once the limit is reached the subject is blocked here until its window ends.
   */
  async recordFailure(name: LimitName, subject: string): Promise<KeyfobError | undefined> {
    const rule = this.deps.rules[name];
    if (rule === null) return undefined;
    const now = this.deps.clock.now();
    const count = await this.#shared((store) => store.hit(this.#key(name, subject), rule.windowMs, now));
    if (count.count < rule.limit) return undefined;
    const error = this.#block(name, subject, count.resetAtMs, now);
    return count.count > rule.limit ? error : undefined;
  }

  /** Counts one attempt and throws `rate_limited` if it goes past the limit (the action must not happen). */
  async consume(name: LimitName, subject: string): Promise<void> {
    const rule = this.deps.rules[name];
    if (rule === null) return;
    const now = this.deps.clock.now();
    const count = await this.#shared((store) => store.hit(this.#key(name, subject), rule.windowMs, now));
    if (count.count > rule.limit) throw rateLimited(name, secondsUntil(count.resetAtMs, now));
  }

  /** Subjects held in this process (counts kept here and known blocks), for tests of its bound. */
  get trackedSubjects(): number {
    return this.#fallback.size + this.#blocks.size;
  }

  async close(): Promise<void> {
    await this.deps.store?.close();
  }

  #key(name: LimitName, subject: string): string {
    return `${name}:${subject}`;
  }

  #block(name: LimitName, subject: string, resetAtMs: number, now: number): KeyfobError {
    this.#blocks.set(`${name}\u0000${subject}`, { resetAtMs }, now);
    return rateLimited(name, secondsUntil(resetAtMs, now));
  }

  async #shared<T>(op: (store: CounterStore) => Promise<T>): Promise<T> {
    const store = this.deps.store;
    if (store === undefined) return op(this.#fallback);
    try {
      return await op(store);
    } catch (error) {
      this.deps.onStoreError?.(error);
      return op(this.#fallback);
    }
  }
}

function secondsUntil(resetAtMs: number, now: number): number {
  return Math.max(1, Math.ceil((resetAtMs - now) / 1000));
}

/** The `rate_limited` error of a limit, with its Retry-After. */
export function rateLimited(name: LimitName, retryAfterSeconds: number): KeyfobError {
  return new KeyfobError('rate_limited', `${MESSAGES[name]}; retry in ${retryAfterSeconds} s`, { headers: { 'retry-after': String(retryAfterSeconds) } });
}
