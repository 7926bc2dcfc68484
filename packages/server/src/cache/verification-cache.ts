import type { VerifiedToken } from '../domain/verified-token.js';
import { isFresh } from './freshness.js';

interface Entry {
  readonly key: string;
  readonly token: VerifiedToken;
  readonly storedAt: number;
  readonly bytes: number;
  /** Second-chance bit: set by a hit, cleared when eviction passes over the entry. */
  used: boolean;
}

export interface VerificationCacheOptions {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly ttlMs: number;
}

/**
 * Heap cost of an entry, as measured by `npm run bench` (figure "memory", with the usage
 * recorder's minute of the token's last written use): the fixed part covers the entry, the
 * token's own objects, its times (numbers, not Dates) and the map slots; the strings a token does
 * not share with others (id, name, description, hint, key) are counted by length. Owners and scope
 * lists are shared between tokens (VerifiedTokenBuilder) and counted once, in the fixed part.
 */
const FIXED_ENTRY_BYTES = 740;
function estimateBytes(key: string, token: VerifiedToken): number {
  const pat = token.pat;
  return FIXED_ENTRY_BYTES + key.length + pat.id.length + pat.name.length + pat.description.length + pat.displayHint.length;
}

/**
 * Per-instance cache of successful store lookups, keyed by a digest of the token (never the
 * token). Bounded by entries and bytes and by a short TTL; eviction is second-chance (CLOCK) over
 * insertion order, so a hit only sets a flag instead of re-ordering a map. It holds lookups, not
 * verdicts: the verifier re-checks expiry, revocation time, owner and scopes on every hit, so a
 * hit never extends anything.
 *
 * `epoch` moves on every invalidation; a lookup that started before an invalidation must not be
 * stored after it (it may have read the old state).
 */
export class VerificationCache {
  readonly #entries = new Map<string, Entry>();
  readonly #byPat = new Map<string, string>();
  #bytes = 0;
  #epoch = 0;

  constructor(private readonly options: VerificationCacheOptions) {}

  get epoch(): number {
    return this.#epoch;
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get(key: string, now: number): VerifiedToken | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (!isFresh(entry.storedAt, now, this.options.ttlMs)) {
      this.#remove(entry);
      return undefined;
    }
    entry.used = true;
    return entry.token;
  }

  /** Stores a lookup unless an invalidation happened since `epochAtStart`. */
  set(key: string, token: VerifiedToken, now: number, epochAtStart: number): void {
    if (epochAtStart !== this.#epoch) return;
    const existing = this.#entries.get(key);
    if (existing) this.#remove(existing);
    const entry: Entry = { key, token, storedAt: now, bytes: estimateBytes(key, token), used: false };
    this.#entries.set(key, entry);
    this.#byPat.set(token.pat.id, key);
    this.#bytes += entry.bytes;
    while (this.#entries.size > this.options.maxEntries || this.#bytes > this.options.maxBytes) this.#evictOne();
  }

  dropPats(ids: readonly string[]): void {
    this.#epoch++;
    for (const id of ids) {
      const key = this.#byPat.get(id);
      const entry = key === undefined ? undefined : this.#entries.get(key);
      if (entry) this.#remove(entry);
    }
  }

  dropUser(userId: string): void {
    this.#epoch++;
    for (const entry of [...this.#entries.values()]) if (entry.token.pat.userId === userId) this.#remove(entry);
  }

  clear(): void {
    this.#epoch++;
    this.#entries.clear();
    this.#byPat.clear();
    this.#bytes = 0;
  }

  /** The oldest entry not hit since eviction last passed it; hit ones move to the back once. */
  #evictOne(): void {
    for (const entry of this.#entries.values()) {
      if (entry.used) {
        entry.used = false;
        this.#entries.delete(entry.key);
        this.#entries.set(entry.key, entry);
        continue;
      }
      this.#remove(entry);
      return;
    }
  }

  #remove(entry: Entry): void {
    if (this.#entries.get(entry.key) !== entry) return;
    this.#entries.delete(entry.key);
    if (this.#byPat.get(entry.token.pat.id) === entry.key) this.#byPat.delete(entry.token.pat.id);
    this.#bytes -= entry.bytes;
  }
}
