import type { Pat, User } from '../domain/models.js';

export interface CachedVerification {
  readonly pat: Pat;
  readonly user: User;
}

interface Entry extends CachedVerification {
  readonly key: string;
  readonly storedAt: number;
  readonly bytes: number;
}

export interface VerificationCacheOptions {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly ttlMs: number;
}

/** Rough heap cost of an entry: the strings it holds plus fixed object overhead. */
function estimateBytes(key: string, pat: Pat, user: User): number {
  let strings = key.length + pat.id.length + pat.userId.length + pat.name.length + pat.description.length + pat.tokenHash.length + pat.displayHint.length;
  for (const list of [pat.scopes, pat.audiences, pat.allowedIps]) for (const s of list) strings += s.length + 16;
  strings += user.id.length + user.username.length + user.displayName.length + (user.email?.length ?? 0) + (user.passwordHash?.length ?? 0);
  return strings * 2 + 600;
}

/**
 * Per-instance cache of successful store lookups, keyed by a digest of the token (never the
 * token). Bounded by entries and bytes (least recently used out first) and by a short TTL. It
 * holds lookups, not verdicts: the verifier re-checks expiry, revocation time, owner and scopes
 * on every hit, so a hit never extends anything.
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

  get(key: string, now: number): CachedVerification | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (now - entry.storedAt >= this.options.ttlMs || now < entry.storedAt) {
      this.#remove(entry);
      return undefined;
    }
    // Map keeps insertion order: re-inserting marks the entry most recently used.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry;
  }

  /** Stores a lookup unless an invalidation happened since `epochAtStart`. */
  set(key: string, value: CachedVerification, now: number, epochAtStart: number): void {
    if (epochAtStart !== this.#epoch) return;
    const existing = this.#entries.get(key);
    if (existing) this.#remove(existing);
    const entry: Entry = { ...value, key, storedAt: now, bytes: estimateBytes(key, value.pat, value.user) };
    this.#entries.set(key, entry);
    this.#byPat.set(value.pat.id, key);
    this.#bytes += entry.bytes;
    while (this.#entries.size > this.options.maxEntries || this.#bytes > this.options.maxBytes) {
      const oldest = this.#entries.values().next().value;
      if (!oldest) break;
      this.#remove(oldest);
    }
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
    for (const entry of [...this.#entries.values()]) if (entry.user.id === userId) this.#remove(entry);
  }

  clear(): void {
    this.#epoch++;
    this.#entries.clear();
    this.#byPat.clear();
    this.#bytes = 0;
  }

  #remove(entry: Entry): void {
    if (this.#entries.get(entry.key) !== entry) return;
    this.#entries.delete(entry.key);
    if (this.#byPat.get(entry.pat.id) === entry.key) this.#byPat.delete(entry.pat.id);
    this.#bytes -= entry.bytes;
  }
}
