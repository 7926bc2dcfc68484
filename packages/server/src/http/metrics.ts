import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { VerificationStats } from '../services/verifier.js';
import type { PoolStats } from '../db/connect.js';
import { PlainHistogram, RequestMetrics, registerCollected } from './plain-metrics.js';

/** A labelled counter whose values are plain numbers kept elsewhere, brought up to date at scrape. */
function countersFrom(registry: Registry, name: string, help: string, label: string, read: () => Readonly<Record<string, number>>): void {
  const reported = new Map<string, number>();
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      for (const [value, total] of Object.entries(read())) {
        const delta = total - (reported.get(value) ?? 0);
        if (delta > 0) this.inc({ [label]: value }, delta);
        reported.set(value, total);
      }
    },
  });
}

/** Counts by label value, bumped on a hot path as a plain increment (a labelled prom-client counter hashes its labels on every update). */
export class PlainCounts {
  readonly counts: Record<string, number> = Object.create(null) as Record<string, number>;

  inc(value: string): void {
    this.counts[value] = (this.counts[value] ?? 0) + 1;
  }
}

/** Prometheus metrics of one keyfob instance, on a registry of its own (no global state). */
export class Metrics {
  readonly registry = new Registry();
  /** Requests and their latency by route: plain numbers on the request path, read at scrape. */
  readonly http = new RequestMetrics([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);
  /** Verifications that read the store (cache misses and bypasses); hits are counted, not timed. */
  readonly verificationDuration = new PlainHistogram([0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1]);

  /** RFC 8693 token exchanges by outcome: plain counts on the request path, read at scrape. */
  readonly exchanges = new PlainCounts();
  readonly webhookAttempts = new Counter({
    name: 'keyfob_webhook_delivery_attempts_total',
    help: 'Webhook delivery attempts by outcome (succeeded or failed)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly emails = new Counter({
    name: 'keyfob_email_notices_total',
    help: 'Email notices by outcome (sent, failed; unreachable: a round skipped because the SMTP server did not answer)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  /** RFC 7662 introspections by result: plain counts, read at scrape. */
  readonly introspections = new PlainCounts();

  readonly listenerUp = new Gauge({
    name: 'keyfob_invalidation_listener_up',
    help: 'PostgreSQL: 1 while the invalidation listener is connected, 0 otherwise',
    registers: [this.registry],
  });
  readonly rateLimitStoreErrors = new Counter({
    name: 'keyfob_rate_limit_store_errors_total',
    help: 'Rate-limit counts that could not reach Redis and were counted in this process instead',
    registers: [this.registry],
  });

  readonly oauthErrors = new Counter({
    name: 'keyfob_oauth_errors_total',
    help: 'Error answers of the /oauth endpoints by endpoint and OAuth error code',
    labelNames: ['endpoint', 'error'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'keyfob_' });
    this.http.register(this.registry, { requests: 'keyfob_http_requests_total', duration: 'keyfob_http_request_duration_seconds' });
    countersFrom(this.registry, 'keyfob_oauth_token_exchanges_total', 'RFC 8693 token exchanges by outcome (ok or the OAuth error code)', 'outcome', () => this.exchanges.counts);
    countersFrom(this.registry, 'keyfob_oauth_introspections_total', 'RFC 7662 introspections by result (active, inactive)', 'outcome', () => this.introspections.counts);
    const verifyName = 'keyfob_token_verification_duration_seconds';
    registerCollected(this.registry, verifyName, 'Latency of token verifications that read the store (cache misses and bypasses; hits are counted, not timed)', 'histogram', () =>
      this.verificationDuration.samples(verifyName, {}),
    );
  }

  /** Gauges read at scrape time from the cache itself. */
  observeCache(cache: { readonly size: number; readonly bytes: number } | undefined): void {
    if (!cache) return;
    new Gauge({ name: 'keyfob_verify_cache_entries', help: 'Entries in the verification cache', registers: [this.registry], collect() { this.set(cache.size); } });
    new Gauge({ name: 'keyfob_verify_cache_bytes', help: 'Estimated bytes held by the verification cache', registers: [this.registry], collect() { this.set(cache.bytes); } });
  }

  /** PostgreSQL pool connections by state, read at scrape time. */
  observePool(stats: (() => PoolStats) | undefined): void {
    if (!stats) return;
    new Gauge({
      name: 'keyfob_db_pool_connections',
      help: 'PostgreSQL pool: open connections (total, of which idle) and requests waiting for one',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const now = stats();
        this.set({ state: 'total' }, now.total);
        this.set({ state: 'idle' }, now.idle);
        this.set({ state: 'waiting' }, now.waiting);
      },
    });
  }

  /**
   * Verification outcomes and cache lookups, read at scrape time from the verifier's plain
   * counters (the hot path never touches a labelled metric).
   */
  observeVerifications(stats: VerificationStats): void {
    countersFrom(this.registry, 'keyfob_token_verifications_total', 'Token verifications by outcome (ok or the failure reason)', 'outcome', () => stats.outcomes);
    countersFrom(this.registry, 'keyfob_verify_cache_lookups_total', 'Verification cache lookups: hit, miss, or bypass (cache off or invalidation listener not trusted)', 'result', () => stats.cache);
  }
}
