import { describe, expect, it } from 'vitest';
import { count_by, new_feed_counters } from '../../src/feed/counters.js';
import { HopHistograms } from '../../src/metrics/hop_histograms.js';
import { latency_buckets, latency_buckets_seconds } from '../../src/metrics/latency_export.js';
import { create_registry, register_feed_metrics, register_hop_histograms } from '../../src/metrics/registry.js';

/** The value of one exposition line, e.g. line_value(text, 'x_bucket{hop="a",le="0.001"}'). */
function line_value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no series ${series} in:\n${text}`);
  return Number(line.slice(series.length + 1));
}

describe('Prometheus registry', () => {
  it('exports each hop as a histogram in seconds, computed from the HDR histograms at scrape time', async () => {
    const registry = create_registry({ process_metrics: false });
    const hops = new HopHistograms(['engine_to_ingest', 'ingest_to_send', 'engine_to_send']);
    register_hop_histograms(registry, hops);
    for (let i = 1; i <= 1000; i++) hops.record('engine_to_send', i * 1000); // 1 µs … 1 ms
    hops.record('engine_to_ingest', -10);
    let text = await registry.metrics();
    expect(text).toContain('# TYPE depthcast_latency_seconds histogram');
    const bucket = (hop: string, le: string) => line_value(text, `depthcast_latency_seconds_bucket{hop="${hop}",le="${le}"}`);
    expect(bucket('engine_to_send', '0.00001')).toBe(10);
    expect(bucket('engine_to_send', '0.0005')).toBe(500);
    expect(bucket('engine_to_send', '0.001')).toBe(1000);
    expect(bucket('engine_to_send', '+Inf')).toBe(1000);
    expect(line_value(text, 'depthcast_latency_seconds_count{hop="engine_to_send"}')).toBe(1000);
    expect(line_value(text, 'depthcast_latency_seconds_sum{hop="engine_to_send"}')).toBeCloseTo(0.5005, 3);
    expect(bucket('ingest_to_send', '+Inf')).toBe(0); // every tracked hop is there, samples or not
    expect(line_value(text, 'depthcast_latency_negative_samples_total{hop="engine_to_ingest"}')).toBe(1);
    expect(bucket('engine_to_ingest', '0.00001')).toBe(1); // a negative sample counts as 0 s
    expect(text).not.toMatch(/latency_us|quantile=/);
    // recomputed on the next scrape, not frozen at registration
    for (let i = 0; i < 1000; i++) hops.record('engine_to_send', 4_000_000);
    text = await registry.metrics();
    expect(bucket('engine_to_send', '0.0025')).toBe(1000);
    expect(bucket('engine_to_send', '0.005')).toBe(2000);
    expect(line_value(text, 'depthcast_latency_seconds_count{hop="engine_to_send"}')).toBe(2000);
  });

  it('buckets are cumulative and a sample is never counted below its bound', () => {
    const hops = new HopHistograms(['engine_to_send']);
    // 2500 and 2501 µs share one HDR slot (2 µs wide there): both count above 2.5 ms.
    for (const us of [9, 10, 11, 2499, 2500, 2501, 70_000_000]) hops.record('engine_to_send', us * 1000);
    const b = latency_buckets(hops, 'engine_to_send');
    const at = (s: number) => b.cumulative[latency_buckets_seconds.indexOf(s)];
    expect(at(0.00001)).toBe(2);
    expect(at(0.0025)).toBe(4);
    expect(at(0.005)).toBe(6);
    expect(at(60)).toBe(6); // above the HDR top (recorded at its top slot, which reaches past 60 s): only in +Inf
    expect(b.count).toBe(7);
    for (let k = 1; k < b.cumulative.length; k++) expect(b.cumulative[k]).toBeGreaterThanOrEqual(b.cumulative[k - 1]);
  });

  it('exports the feed counters the server increments as plain numbers', async () => {
    const registry = create_registry({ process_metrics: false });
    const counters = new_feed_counters();
    register_feed_metrics(registry, counters, {
      symbol_live: () => [['BTC-USD', true], ['ETH-USD', false]],
      engine_messages: () => [['BTC-USD', 12], ['ETH-USD', 0]],
    });
    counters.connections = 3;
    counters.deltas_out_total += 7;
    counters.bytes_out_total += 1234;
    count_by(counters.errors_total, 5);
    count_by(counters.errors_total, 5);
    count_by(counters.recoveries_total, 'ETH-USD');
    count_by(counters.slow_closes_total, 4009);
    counters.conflation_episodes_total += 2;
    count_by(counters.conflation_episodes_by_cause_total, 'lag', 2);
    const text = await registry.metrics();
    expect(text).toContain('depthcast_connections 3');
    expect(text).toContain('depthcast_outbound_frames_total{kind="delta"} 7');
    expect(text).toContain('depthcast_outbound_bytes_total 1234');
    expect(text).toContain('depthcast_errors_total{code="5"} 2');
    expect(text).toContain('depthcast_recoveries_total{symbol="ETH-USD"} 1');
    expect(text).toContain('depthcast_recoveries_total{symbol="BTC-USD"} 0'); // present before its first recovery
    expect(text).toContain('depthcast_slow_closes_total{code="4008"} 0');
    expect(text).toContain('depthcast_slow_closes_total{code="4009"} 1');
    expect(text).toContain('depthcast_slow_closes_total{code="4010"} 0');
    expect(text).toContain('depthcast_conflation_episodes_total{cause="lag"} 2');
    expect(text).toContain('depthcast_conflation_episodes_total{cause="buffer"} 0');
    expect(text).toContain('depthcast_engine_messages_total{symbol="BTC-USD"} 12');
    expect(text).toContain('depthcast_symbol_live{symbol="ETH-USD"} 0');
    expect(text).toContain('# TYPE depthcast_outbound_bytes_total counter');
  });

  it('includes process metrics by default, under the depthcast_ prefix, without gauges named like counters', async () => {
    const registry = create_registry();
    const text = await registry.metrics();
    expect(text).toContain('depthcast_process_cpu_seconds_total');
    expect(text).not.toContain('depthcast_nodejs_active_handles_total');
  });
});
