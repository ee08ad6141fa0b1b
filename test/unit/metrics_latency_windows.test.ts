import { describe, expect, it } from 'vitest';
import { HopHistograms } from '../../src/metrics/hop_histograms.js';
import { latency_interval_ms, latency_intervals_kept, LatencyWindows } from '../../src/metrics/latency_windows.js';

const t0 = 1_700_000_000_000;

describe('LatencyWindows (/stats latency: since start, last 10 s, last 1 min)', () => {
  it('is empty before the first interval closes, while since-start already counts', () => {
    const hops = new HopHistograms(['engine_to_send'], { start_ms: t0 });
    const windows = new LatencyWindows(hops);
    hops.record('engine_to_send', 1_000_000);
    const s = windows.stats(t0 + 5_000);
    expect(s.since_start).toMatchObject({ start_ms: t0, end_ms: t0 + 5_000 });
    expect(s.since_start.hops.engine_to_send!.count).toBe(1);
    expect(s.last_10s).toMatchObject({ start_ms: 0, end_ms: 0 });
    expect(s.last_10s.hops.engine_to_send!.count).toBe(0);
  });

  it('last_10s is the newest closed interval, last_1m the last six; a bad minute leaves the window, not since-start', () => {
    const hops = new HopHistograms(['engine_to_ingest', 'engine_to_send'], { start_ms: t0 });
    const windows = new LatencyWindows(hops);
    // One bad interval (100 ms each), then quiet ones (1 ms each), one per interval.
    for (let k = 0; k < 100; k++) hops.record('engine_to_send', 100_000_000);
    windows.tick(t0 + latency_interval_ms);
    for (let i = 2; i <= latency_intervals_kept; i++) {
      for (let k = 0; k < 100; k++) hops.record('engine_to_send', 1_000_000);
      windows.tick(t0 + i * latency_interval_ms);
    }
    let s = windows.stats();
    expect(s.last_10s).toMatchObject({ start_ms: t0 + 5 * latency_interval_ms, end_ms: t0 + 6 * latency_interval_ms });
    expect(s.last_10s.hops.engine_to_send).toMatchObject({ count: 100, p99: 1000 });
    expect(s.last_1m).toMatchObject({ start_ms: t0, end_ms: t0 + 6 * latency_interval_ms });
    expect(s.last_1m.hops.engine_to_send!.count).toBe(600);
    expect(s.last_1m.hops.engine_to_send!.p99).toBeGreaterThanOrEqual(100_000); // the bad interval is in the minute
    expect(s.last_1m.hops.engine_to_ingest!.count).toBe(0);

    // One more quiet interval: the bad one leaves the minute, but not since-start.
    for (let k = 0; k < 100; k++) hops.record('engine_to_send', 1_000_000);
    windows.tick(t0 + 7 * latency_interval_ms);
    s = windows.stats();
    expect(s.last_1m).toMatchObject({ start_ms: t0 + latency_interval_ms, end_ms: t0 + 7 * latency_interval_ms });
    expect(s.last_1m.hops.engine_to_send).toMatchObject({ count: 600, p99: 1000 });
    expect(s.since_start.hops.engine_to_send!.count).toBe(700);
    expect(s.since_start.hops.engine_to_send!.max).toBeGreaterThanOrEqual(100_000);
  });
});
