import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { PlainHistogram, RequestMetrics, registerCollected } from '../../src/http/plain-metrics.js';

describe('plain metrics', () => {
  it('writes cumulative buckets, sum and count in the Prometheus text format', async () => {
    const registry = new Registry();
    const histogram = new PlainHistogram([0.001, 0.01]);
    for (const seconds of [0.0005, 0.001, 0.005, 0.5]) histogram.observe(seconds);
    registerCollected(registry, 'x_seconds', 'help', 'histogram', () => histogram.samples('x_seconds', { kind: 'a' }));
    const text = await registry.metrics();
    expect(text).toContain('# TYPE x_seconds histogram');
    expect(text).toContain('x_seconds_bucket{kind="a",le="0.001"} 2');
    expect(text).toContain('x_seconds_bucket{kind="a",le="0.01"} 3');
    expect(text).toContain('x_seconds_bucket{kind="a",le="+Inf"} 4');
    expect(text).toContain('x_seconds_sum{kind="a"} 0.5065');
    expect(text).toContain('x_seconds_count{kind="a"} 4');
  });

  it('counts requests by method, route and status', async () => {
    const registry = new Registry();
    const requests = new RequestMetrics([0.01]);
    requests.register(registry, { requests: 'r_total', duration: 'r_seconds' });
    requests.observe('GET', '/a', 200, 0.002);
    requests.observe('GET', '/a', 200, 0.003);
    requests.observe('GET', '/a', 404, 0.02);
    requests.observe('POST', '/a', 201, 0.001);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE r_total counter');
    expect(text).toContain('r_total{method="GET",route="/a",status="200"} 2');
    expect(text).toContain('r_total{method="GET",route="/a",status="404"} 1');
    expect(text).toContain('r_total{method="POST",route="/a",status="201"} 1');
    expect(text).toContain('r_seconds_bucket{method="GET",route="/a",le="0.01"} 2');
    expect(text).toContain('r_seconds_count{method="GET",route="/a"} 3');
  });
});
