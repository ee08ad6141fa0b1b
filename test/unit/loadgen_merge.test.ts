// The loadgen's merge path: each worker records into its shared HopHistograms,
// hands out one interval a second (take_interval → to_buckets → structured clone,
// as postMessage does), and the main thread's IntervalMerger decodes and adds
// them. The totals must equal one histogram fed every value directly, bucket
// for bucket, whatever the order and lateness of the reports.
import { describe, expect, it } from 'vitest';
import { seeded_random } from '../../src/util/random.js';
import { HopHistograms, client_hops, type HopName } from '../../src/metrics/hop_histograms.js';
import { IntervalMerger, empty_series } from '../../loadgen/merge.js';
import { to_buckets } from '../../loadgen/hop_buckets.js';
import { series_hops, series_names, type EncodedSeries, type SeriesName } from '../../loadgen/messages.js';
import { percentile_distribution } from '../../loadgen/report.js';

/** A latency in ns: mostly around 1 ms, a heavy tail up to seconds, some negatives (skew) and overflows. */
function sample_ns(random: () => number): number {
  const u = random();
  if (u < 0.01) return -random() * 5e6;
  if (u < 0.012) return 70e9 + random() * 1e9;
  if (u < 0.05) return random() * 2e9;
  return 2e5 + random() * 2e6;
}

function same_buckets(a: HopHistograms, b: HopHistograms, hop: HopName): void {
  const ha = a.histogram(hop);
  const hb = b.histogram(hop);
  expect(ha.totalCount).toBe(hb.totalCount);
  // The full percentile listing walks every recorded bucket: equal text = equal counts per bucket.
  // Its raw '#[Max' line differs by design: a decoded histogram knows the max only to its bucket.
  const listing = (h: typeof ha) => h.outputPercentileDistribution(5, 1).replace(/#\[Max .*\n/, '');
  expect(listing(ha)).toBe(listing(hb));
  expect(a.percentiles(hop)).toEqual(b.percentiles(hop));
}

/** Empty intervals of every series, with some replaced. */
function encoded_series(some: Partial<EncodedSeries>): EncodedSeries {
  const out = {} as EncodedSeries;
  for (const name of series_names) out[name] = some[name] ?? to_buckets(new HopHistograms(series_hops[name]).take_interval());
  return out;
}

describe('IntervalMerger (loadgen/merge.ts)', () => {
  it('totals merged from several workers equal one histogram fed the same values', () => {
    const worker_count = 3;
    const ticks = 6;
    const random = seeded_random(42);
    // Each worker holds one HopHistograms per series, as loadgen/client_pool.ts does.
    const workers = Array.from({ length: worker_count }, () => {
      const out = {} as Record<SeriesName, HopHistograms>;
      for (const name of series_names) out[name] = new HopHistograms(series_hops[name]);
      return out;
    });
    const reference = empty_series(Date.now());
    const merger = new IntervalMerger(worker_count, Date.now());
    const interval_counts: number[] = [];
    const count_all = (series: Record<SeriesName, HopHistograms>) =>
      series_names.reduce((sum, name) => sum + series[name].hops.reduce((n, hop) => n + series[name].count(hop), 0), 0);
    let late: Parameters<IntervalMerger['add']>[0] | null = null;

    for (let seq = 1; seq <= ticks; seq++) {
      for (let w = 0; w < worker_count; w++) {
        const n = 500 + Math.floor(random() * 1500);
        for (let i = 0; i < n; i++) {
          const name = series_names[Math.floor(random() * series_names.length)];
          const hops = series_hops[name];
          const hop = hops[Math.floor(random() * hops.length)];
          const v = sample_ns(random);
          workers[w][name].record(hop, v);
          reference[name].record(hop, v);
        }
      }
      // Reports arrive in any order; worker 1's report of tick 3 comes after tick 3 was closed.
      const order = seq % 2 === 0 ? [2, 0, 1] : [0, 1, 2];
      for (const w of order) {
        const now = Date.now();
        const series = {} as EncodedSeries;
        for (const name of series_names) series[name] = to_buckets(workers[w][name].take_interval(now));
        // structuredClone: what postMessage does to the report between threads.
        const report = structuredClone({ worker: w, seq, series });
        if (seq === 3 && w === 1) late = report;
        else merger.add(report);
      }
      expect(merger.complete(seq)).toBe(!(seq === 3));
      const closed = merger.close(seq, Date.now());
      expect(closed).not.toBeNull();
      if (seq === 3) {
        merger.add(late!);
        expect(merger.complete(3)).toBe(false);
      }
      interval_counts.push(count_all(closed!.series));
    }
    expect(merger.close(ticks, Date.now())).toBeNull();
    // The late report went into the next interval closed; nothing is left over.
    const last = merger.close(ticks + 1, Date.now());
    expect(last).not.toBeNull();
    interval_counts.push(count_all(last!.series));

    for (const name of series_names) {
      for (const hop of series_hops[name]) {
        same_buckets(merger.totals[name], reference[name], hop);
        expect(merger.totals[name].negative_samples(hop)).toBeGreaterThan(0);
        expect(merger.totals[name].overflow_samples(hop)).toBeGreaterThan(0);
      }
    }
    expect(interval_counts.reduce((a, b) => a + b, 0)).toBe(count_all(reference));
  });

  it('leaves warm-up ticks out of the totals but not out of the intervals', () => {
    const merger = new IntervalMerger(1, Date.now(), 2);
    const worker = new HopHistograms(client_hops);
    const counts: number[] = [];
    for (let seq = 1; seq <= 4; seq++) {
      for (let i = 0; i < seq * 10; i++) worker.record('engine_to_receive', 1e6);
      merger.add({ worker: 0, seq, series: encoded_series({ fast: to_buckets(worker.take_interval()) }) });
      counts.push(merger.close(seq, Date.now())!.series.fast.count('engine_to_receive'));
    }
    expect(counts).toEqual([10, 20, 30, 40]);
    expect(merger.totals.fast.count('engine_to_receive')).toBe(70);
  });

  it('refuses a malformed report instead of dropping it silently', () => {
    const merger = new IntervalMerger(1, Date.now());
    const good = encoded_series({});
    expect(() => merger.add({ worker: 0, seq: 1, series: { ...good, slow: { ...good.slow, format: 'nope' } as never } })).toThrow(/format/);
    const bucket = (index: number, count: number) => ({ indexes: new Uint32Array([index]), counts: new Float64Array([count]), negative_samples: 0, overflow_samples: 0 });
    expect(() => merger.add({ worker: 0, seq: 1, series: { ...good, fast: { ...good.fast, hops: { engine_to_receive: bucket(1e7, 1) } } } })).toThrow(/outside/);
    expect(() => merger.add({ worker: 0, seq: 1, series: { ...good, fast: { ...good.fast, hops: { engine_to_receive: bucket(5, 0.5) } } } })).toThrow(/outside/);
    expect(() => merger.add({ worker: 0, seq: 1, series: { ...good, fast: { ...good.fast, hops: { engine_to_receive: { ...bucket(0, 1), negative_samples: 3 } } } } })).toThrow(/clamped/);
  });
});

describe('percentile_distribution', () => {
  it('rises monotonically to the max, with points deep into the tail', () => {
    const h = new HopHistograms(client_hops, { track_intervals: false });
    const random = seeded_random(7);
    for (let i = 0; i < 100_000; i++) h.record('engine_to_receive', sample_ns(random));
    const points = percentile_distribution(h, 'engine_to_receive');
    for (let i = 1; i < points.length; i++) {
      expect(points[i].percentile).toBeGreaterThan(points[i - 1].percentile);
      expect(points[i].value_us).toBeGreaterThanOrEqual(points[i - 1].value_us);
    }
    expect(points[points.length - 1]).toEqual({ percentile: 100, value_us: h.percentiles('engine_to_receive').max });
    expect(points.some((p) => p.percentile > 99.99)).toBe(true);
    expect(percentile_distribution(new HopHistograms(client_hops), 'engine_to_receive')).toEqual([]);
  });
});
