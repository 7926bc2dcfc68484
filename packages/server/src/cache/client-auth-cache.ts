import type { OAuthClient } from '../domain/models.js';
import { isFresh } from './freshness.js';

interface Entry {
  readonly client: OAuthClient;
  readonly storedAt: number;
}

/**
 * Successful client authentications at /oauth, keyed by a digest of client id and secret, so
 * that a resource server introspecting at full rate costs neither a store read nor an HMAC per
 * call. Short TTL, bounded, dropped whole on any change to any client (pushed through the
 * invalidation bus like token changes), and never filled from a lookup that raced a change.
 */
export class ClientAuthCache {
  readonly #entries = new Map<string, Entry>();
  #epoch = 0;

  constructor(private readonly options: { readonly ttlMs: number; readonly maxEntries: number }) {}

  get epoch(): number {
    return this.#epoch;
  }

  get(key: string, now: number): OAuthClient | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (!isFresh(entry.storedAt, now, this.options.ttlMs)) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.client;
  }

  set(key: string, client: OAuthClient, now: number, epochAtStart: number): void {
    if (epochAtStart !== this.#epoch) return;
    this.#entries.delete(key);
    this.#entries.set(key, { client, storedAt: now });
    // Oldest first: a handful of clients authenticate, so plain insertion order is enough.
    while (this.#entries.size > this.options.maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
  }

  clear(): void {
    this.#epoch++;
    this.#entries.clear();
  }
}
