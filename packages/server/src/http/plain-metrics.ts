import type { Metric, Registry } from 'prom-client';

interface Sample {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName?: string;
}

/** A latency histogram in plain numbers: an observation is a bucket search and three additions. */
export class PlainHistogram {
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly #buckets: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.#buckets = new Float64Array(bounds.length + 1);
  }

  observe(seconds: number): void {
    let slot = 0;
    while (slot < this.bounds.length && seconds > this.bounds[slot]!) slot++;
    this.#buckets[slot]!++;
    this.#sum += seconds;
    this.#count++;
  }

  /** Prometheus samples: cumulative buckets, then sum and count. */
  samples(name: string, labels: Readonly<Record<string, string>>): Sample[] {
    const out: Sample[] = [];
    let cumulative = 0;
    for (let i = 0; i <= this.bounds.length; i++) {
      cumulative += this.#buckets[i]!;
      out.push({ labels: { ...labels, le: i < this.bounds.length ? this.bounds[i]! : '+Inf' }, value: cumulative, metricName: `${name}_bucket` });
    }
    out.push({ labels, value: this.#sum, metricName: `${name}_sum` });
    out.push({ labels, value: this.#count, metricName: `${name}_count` });
    return out;
  }
}

/**
 * Registers a metric whose samples are computed when /metrics is read. The registry reads any
 * object with a name and get(); its type lists only prom-client's own classes.
 */
export function registerCollected(registry: Registry, name: string, help: string, type: 'counter' | 'histogram', values: () => Sample[]): void {
  const get = async () => ({ name, help, type, aggregator: 'sum' as const, values: values() });
  registry.registerMetric({ name, help, type, aggregator: 'sum', get } as unknown as Metric);
}

interface RouteSeries {
  readonly statuses: Map<number, number>;
  readonly latency: PlainHistogram;
}

/**
 * Request counts by method, route and status, and latency by method and route, kept in plain
 * numbers per route. prom-client's labelled metrics hash and validate their labels and build a
 * closure on every update, a cost paid by every request; these series are updated with a few
 * array writes and turned into Prometheus samples only when /metrics is read.
 */
export class RequestMetrics {
  readonly #routes = new Map<string, Map<string, RouteSeries>>();

  constructor(private readonly bounds: readonly number[]) {}

  observe(method: string, route: string, status: number, seconds: number): void {
    let byMethod = this.#routes.get(route);
    if (byMethod === undefined) this.#routes.set(route, (byMethod = new Map()));
    let series = byMethod.get(method);
    if (series === undefined) byMethod.set(method, (series = { statuses: new Map(), latency: new PlainHistogram(this.bounds) }));
    series.statuses.set(status, (series.statuses.get(status) ?? 0) + 1);
    series.latency.observe(seconds);
  }

  /** Registers the two series under their Prometheus names. */
  register(registry: Registry, names: { requests: string; duration: string }): void {
    registerCollected(registry, names.requests, 'HTTP requests by method, route and status', 'counter', () => this.#requestSamples());
    registerCollected(registry, names.duration, 'HTTP request latency by method and route', 'histogram', () => this.#durationSamples(names.duration));
  }

  #requestSamples(): Sample[] {
    const out: Sample[] = [];
    for (const [route, byMethod] of this.#routes) {
      for (const [method, series] of byMethod) {
        for (const [status, n] of series.statuses) out.push({ labels: { method, route, status: String(status) }, value: n });
      }
    }
    return out;
  }

  #durationSamples(name: string): Sample[] {
    const out: Sample[] = [];
    for (const [route, byMethod] of this.#routes) {
      for (const [method, series] of byMethod) out.push(...series.latency.samples(name, { method, route }));
    }
    return out;
  }
}
