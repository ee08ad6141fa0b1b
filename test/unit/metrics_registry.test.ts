import { describe, expect, it } from 'vitest';
import { HopHistograms } from '../../src/metrics/hop_histograms.js';
import { count_by, new_feed_counters } from '../../src/feed/counters.js';
import { create_registry, register_feed_metrics, register_hop_histograms } from '../../src/metrics/registry.js';

describe('Prometheus registry', () => {
  it('exposes hop percentiles computed at scrape time', async () => {
    const registry = create_registry({ process_metrics: false });
    const hops = new HopHistograms(['engine_to_ingest', 'ingest_to_send', 'engine_to_send']);
    register_hop_histograms(registry, hops);
    for (let i = 1; i <= 1000; i++) hops.record('engine_to_send', i * 1000);
    hops.record('engine_to_ingest', -10);
    let text = await registry.metrics();
    expect(text).toContain('depthcast_latency_us{hop="engine_to_send",quantile="0.99"} 990');
    expect(text).toContain('depthcast_latency_us{hop="engine_to_send",quantile="0.5"} 500');
    expect(text).toContain('depthcast_latency_us{hop="engine_to_send",quantile="0.9999"} 1000');
    expect(text).toContain('depthcast_latency_max_us{hop="engine_to_send"} 1000');
    expect(text).toContain('depthcast_latency_samples_total{hop="engine_to_send"} 1000');
    expect(text).toContain('depthcast_latency_negative_samples_total{hop="engine_to_ingest"} 1');
    // recomputed on the next scrape, not frozen at registration
    for (let i = 0; i < 1000; i++) hops.record('engine_to_send', 5_000_000);
    text = await registry.metrics();
    expect(text).toContain('depthcast_latency_us{hop="engine_to_send",quantile="0.99"} 5003');
    expect(text).toContain('depthcast_latency_samples_total{hop="engine_to_send"} 2000');
  });

  it('exports the feed counters the server increments as plain numbers', async () => {
    const registry = create_registry({ process_metrics: false });
    const counters = new_feed_counters();
    register_feed_metrics(registry, counters, { symbol_live: () => [['BTC-USD', true], ['ETH-USD', false]] });
    counters.connections = 3;
    counters.deltas_out_total += 7;
    counters.bytes_out_total += 1234;
    count_by(counters.errors_total, 5);
    count_by(counters.errors_total, 5);
    count_by(counters.recoveries_total, 'ETH-USD');
    const text = await registry.metrics();
    expect(text).toContain('depthcast_connections 3');
    expect(text).toContain('depthcast_frames_out_total{kind="delta"} 7');
    expect(text).toContain('depthcast_bytes_out_total 1234');
    expect(text).toContain('depthcast_errors_total{code="5"} 2');
    expect(text).toContain('depthcast_recoveries_total{symbol="ETH-USD"} 1');
    expect(text).toContain('depthcast_symbol_live{symbol="ETH-USD"} 0');
    expect(text).toContain('# TYPE depthcast_bytes_out_total counter');
  });

  it('includes process metrics by default, under the depthcast_ prefix', async () => {
    const registry = create_registry();
    expect(await registry.metrics()).toContain('depthcast_process_cpu_seconds_total');
  });
});
