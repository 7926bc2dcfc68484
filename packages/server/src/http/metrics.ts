import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one keyfob instance, on a registry of its own (no global state). */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'keyfob_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'keyfob_http_request_duration_seconds',
    help: 'HTTP request latency by method and route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly verifications = new Counter({
    name: 'keyfob_token_verifications_total',
    help: 'Token verifications by outcome (ok or the failure reason)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly verificationDuration = new Histogram({
    name: 'keyfob_token_verification_duration_seconds',
    help: 'Token verification latency',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers: [this.registry],
  });

  readonly exchanges = new Counter({
    name: 'keyfob_oauth_token_exchanges_total',
    help: 'RFC 8693 token exchanges by outcome (ok or the OAuth error code)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly introspections = new Counter({
    name: 'keyfob_oauth_introspections_total',
    help: 'RFC 7662 introspections by result (active, inactive)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly cacheLookups = new Counter({
    name: 'keyfob_verify_cache_lookups_total',
    help: 'Verification cache lookups: hit, miss, or bypass (cache off or invalidation listener not trusted)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly listenerUp = new Gauge({
    name: 'keyfob_invalidation_listener_up',
    help: 'PostgreSQL: 1 while the invalidation listener is connected, 0 otherwise',
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
  }

  /** Gauges read at scrape time from the cache itself. */
  observeCache(cache: { readonly size: number; readonly bytes: number } | undefined): void {
    if (!cache) return;
    new Gauge({ name: 'keyfob_verify_cache_entries', help: 'Entries in the verification cache', registers: [this.registry], collect() { this.set(cache.size); } });
    new Gauge({ name: 'keyfob_verify_cache_bytes', help: 'Estimated bytes held by the verification cache', registers: [this.registry], collect() { this.set(cache.bytes); } });
  }

  recordVerification(outcome: string, seconds: number): void {
    this.verifications.inc({ outcome });
    this.verificationDuration.observe(seconds);
  }
}
