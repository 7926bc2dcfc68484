import { Redis } from 'ioredis';
import type { CounterStore, WindowCount } from './rate-limiter.js';

// One round trip, atomic: a key without an expiry (its first INCRBY raced a crash) gets one here.
const HIT = `
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}`;

// Never below zero, never a key without an expiry.
const REFUND = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then redis.call('DECR', KEYS[1]) end
return 0`;

export interface RedisCounterStoreOptions {
  readonly url: string;
  /** Prepended to every key: several keyfob deployments (or test runs) can share one Redis. */
  readonly prefix: string;
  /** A command that takes longer fails, and the limiter counts in memory instead. */
  readonly commandTimeoutMs?: number;
}

/**
 * Counters shared by every instance. Commands fail at once while Redis is unreachable (no
 * offline queue): the limiter then counts in its own memory until Redis is back; ioredis
 * reconnects by itself.
 */
export class RedisCounterStore implements CounterStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(options: RedisCounterStoreOptions) {
    this.#prefix = options.prefix;
    this.#redis = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: options.commandTimeoutMs ?? 500,
      connectTimeout: 2000,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    });
    // Connection errors are reported through failed commands; without a listener ioredis logs them.
    this.#redis.on('error', () => {});
  }

  /** Connects once at start; a Redis that is down then is not fatal (see the class comment). */
  async connect(): Promise<boolean> {
    try {
      await this.#redis.connect();
      return true;
    } catch {
      return false;
    }
  }

  async hit(key: string, windowMs: number, now: number, cost = 1): Promise<WindowCount> {
    const [count, ttl] = (await this.#redis.eval(HIT, 1, this.#prefix + key, String(windowMs), String(cost))) as [number, number];
    return { count, resetAtMs: now + ttl };
  }

  async refund(key: string): Promise<void> {
    await this.#redis.eval(REFUND, 1, this.#prefix + key);
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
  }
}
