import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { Repositories } from '../repositories/store.js';
import type { ClientAuthCache } from './client-auth-cache.js';
import type { VerificationCache } from './verification-cache.js';

/** What became invalid. Bulk changes send `all`: one coarse message, never thousands. */
export type Invalidation =
  | { readonly kind: 'pats'; readonly ids: readonly string[] }
  | { readonly kind: 'user'; readonly id: string }
  | { readonly kind: 'clients' }
  | { readonly kind: 'policy' }
  | { readonly kind: 'all' };

export const INVALIDATE_CHANNEL = 'keyfob_invalidate';
const HEARTBEAT_CHANNEL = 'keyfob_heartbeat';
/** NOTIFY payloads are limited to 8000 bytes; long id lists become `all`. */
const MAX_IDS_PER_MESSAGE = 100;

/**
 * Keeps every instance's verification cache honest. `publishIn` runs inside the transaction that
 * makes the change (so the message is sent exactly when it commits); `applyLocal` runs after the
 * commit and before the answer. `trusted` says whether the cache may be used at all right now.
 */
export interface InvalidationBus {
  publishIn(repos: Repositories, message: Invalidation): Promise<void>;
  applyLocal(message: Invalidation): void;
  trusted(): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The caches of one instance that invalidations reach (each undefined when caching is off). */
export class LocalCaches {
  readonly #policyListeners: (() => void)[] = [];

  constructor(
    readonly tokens: VerificationCache | undefined,
    readonly clients: ClientAuthCache | undefined,
  ) {}

  /** For the policy service, built after the bus these caches feed. */
  onPolicyChange(forget: () => void): void {
    this.#policyListeners.push(forget);
  }

  apply(message: Invalidation): void {
    if (message.kind === 'pats') this.tokens?.dropPats(message.ids);
    else if (message.kind === 'user') this.tokens?.dropUser(message.id);
    else if (message.kind === 'clients') this.clients?.clear();
    else if (message.kind === 'policy') for (const forget of this.#policyListeners) forget();
    else this.clear();
  }

  clear(): void {
    this.tokens?.clear();
    this.clients?.clear();
    for (const forget of this.#policyListeners) forget();
  }
}

function normalize(message: Invalidation): Invalidation {
  return message.kind === 'pats' && message.ids.length > MAX_IDS_PER_MESSAGE ? { kind: 'all' } : message;
}

/** One process (SQLite): changes and verifications meet in the same cache. */
export class LocalBus implements InvalidationBus {
  constructor(private readonly caches: LocalCaches) {}
  async publishIn(): Promise<void> {}
  applyLocal(message: Invalidation): void {
    this.caches.apply(message);
  }
  trusted(): boolean {
    return true;
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

export interface PgNotifyBusOptions {
  readonly url: string;
  readonly caches: LocalCaches;
  readonly heartbeatMs: number;
  readonly onStateChange?: (state: 'listening' | 'lost', detail?: unknown) => void;
}

/**
 * PostgreSQL LISTEN/NOTIFY. One dedicated listener connection per instance: on (re)connect it
 * LISTENs first and only then flushes the cache, so no change can fall between the two. A
 * heartbeat sent through the listener connection must come back within three periods; if it does
 * not (a silently dead connection) the cache is bypassed and flushed, and the connection replaced.
 */
export class PgNotifyBus implements InvalidationBus {
  readonly #instance = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  #client: pg.Client | undefined;
  #connected = false;
  #lastBeat = -Infinity;
  #connectedAt = 0;
  #seq = 0;
  #stale = true;
  #timer: NodeJS.Timeout | undefined;
  #reconnect: NodeJS.Timeout | undefined;
  #backoffMs = 100;
  #stopped = false;

  constructor(private readonly options: PgNotifyBusOptions) {}

  async publishIn(repos: Repositories, message: Invalidation): Promise<void> {
    await repos.events.notify(INVALIDATE_CHANNEL, JSON.stringify(normalize(message)));
  }

  applyLocal(message: Invalidation): void {
    this.options.caches.apply(message);
  }

  trusted(): boolean {
    const fresh = this.#connected && performance.now() - this.#lastBeat < this.options.heartbeatMs * 3;
    if (!fresh) {
      if (!this.#stale) this.options.caches.clear();
      this.#stale = true;
      return false;
    }
    if (this.#stale) {
      // Notifications may have been missed while the listener was not trusted.
      this.options.caches.clear();
      this.#stale = false;
    }
    return true;
  }

  async start(): Promise<void> {
    this.#stopped = false;
    this.#timer = setInterval(() => this.#beat(), this.options.heartbeatMs);
    this.#timer.unref();
    await this.#connect();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#reconnect) clearTimeout(this.#reconnect);
    const client = this.#client;
    this.#client = undefined;
    this.#connected = false;
    await client?.end().catch(() => {});
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    const client = new pg.Client({ connectionString: this.options.url, application_name: `keyfob-listener-${process.pid}`, connectionTimeoutMillis: 3000, keepAlive: true });
    client.on('notification', (n) => this.#onNotification(n));
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${INVALIDATE_CHANNEL}`);
      await client.query(`LISTEN ${HEARTBEAT_CHANNEL}`);
    } catch (error) {
      this.#lost(client, error);
      return;
    }
    if (this.#stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#connected = true;
    this.#connectedAt = performance.now();
    this.#backoffMs = 100;
    // Listening now: whatever the cache held may have missed messages while we were away.
    this.options.caches.clear();
    this.options.onStateChange?.('listening');
    this.#beat();
  }

  #lost(client: pg.Client, error?: unknown): void {
    if (this.#client !== undefined && this.#client !== client) return;
    const wasConnected = this.#connected;
    this.#client = undefined;
    this.#connected = false;
    this.options.caches.clear();
    if (wasConnected) this.options.onStateChange?.('lost', error);
    client.removeAllListeners('end');
    client.on('error', () => {});
    void client.end().catch(() => {});
    if (this.#stopped || this.#reconnect) return;
    this.#reconnect = setTimeout(() => {
      this.#reconnect = undefined;
      void this.#connect();
    }, this.#backoffMs);
    this.#reconnect.unref();
    this.#backoffMs = Math.min(this.#backoffMs * 2, 5000);
  }

  #beat(): void {
    const client = this.#client;
    if (!client || !this.#connected) return;
    // Measured from the later of the last heartbeat and this connection's start: a beat from
    // before an outage must not condemn the connection that replaced it.
    if (performance.now() - Math.max(this.#lastBeat, this.#connectedAt) > this.options.heartbeatMs * 6) {
      // Nothing has come back for a while: the connection is dead without having said so.
      this.#lost(client, new Error('listener heartbeat timed out'));
      return;
    }
    this.#seq++;
    client.query('select pg_notify($1, $2)', [HEARTBEAT_CHANNEL, `${this.#instance}:${this.#seq}`]).catch(() => {});
  }

  #onNotification(n: pg.Notification): void {
    if (n.channel === HEARTBEAT_CHANNEL) {
      if (n.payload?.startsWith(`${this.#instance}:`)) this.#lastBeat = performance.now();
      return;
    }
    if (n.channel !== INVALIDATE_CHANNEL || !n.payload) return;
    try {
      this.options.caches.apply(JSON.parse(n.payload) as Invalidation);
    } catch {
      // A message we cannot read could have been anything: drop everything.
      this.options.caches.clear();
    }
  }
}
