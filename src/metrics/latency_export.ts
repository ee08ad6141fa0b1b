// Per-hop latency for Prometheus: one histogram in SECONDS, label `hop`, read
// from the HDR histograms (src/metrics/hop_histograms.ts) at scrape time.
//
//   depthcast_latency_seconds_bucket{hop,le}, _sum{hop}, _count{hop}
//   histogram_quantile(0.99, sum by (le) (rate(depthcast_latency_seconds_bucket{hop="engine_to_send"}[1m])))
//
// Why this shape:
// - Cumulative bucket counts, not percentiles: a rate() of them gives any
//   window, and a sum over instances gives a fleet quantile. Percentiles
//   since start give neither.
// - Derived at scrape time: recording a sample stays one HDR recordValue (no
//   bucket search, no prom-client call on the hot path). A scrape walks each
//   hop's HDR counts once: ~17k slots, ~0.25 ms per hop on this machine
//   (4 hops: 1.0 ms, on the event loop, once per scrape).
// - The HDR histograms stay the precise source (3 significant digits); these
//   buckets are for aggregation. A sample is counted under `le` when its whole
//   HDR slot is <= le, so a sample within 0.1% of a bound may land just above
//   it (never below: an objective is never met by rounding).
// - Every hop of the source is exported, whatever it is: a hop added to
//   server_hops appears here with no change.
//
// Cost: 24 series per hop per instance (22 buckets, _sum, _count); nothing per sample.
import type { Metric } from 'prom-client';
import type { HopHistograms, HopName } from './hop_histograms.js';

/**
 * Bucket bounds in seconds. The feed spans five decades: engine→ingest over
 * the in-process bus is tens of µs, over NATS on loopback a few hundred µs;
 * ingest→send is one event-loop turn (µs to ms); engine→send under load is
 * 1-30 ms (bench/README.md: p99 7 ms paced, 27 ms saturated); a slow reader's
 * lag or a stall runs to seconds. A 1-2.5-5 series keeps every bucket within
 * 2.5x of its neighbour (3x for 10-30 s; histogram_quantile interpolates inside
 * one bucket), from 10 µs (below it nothing is worth telling apart) to 60 s
 * (the HDR top: a sample above it counts only in +Inf).
 * Latency objectives must use one of these bounds as their threshold.
 */
export const latency_buckets_seconds: readonly number[] = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
  0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/** Bucket counts of one hop, as Prometheus wants them: cumulative; the sum in seconds, from each HDR slot's middle value. */
export interface LatencyBuckets {
  /** cumulative[i] = samples <= latency_buckets_seconds[i]; the +Inf bucket is count. */
  cumulative: number[];
  count: number;
  sum_seconds: number;
}

/** Part of hdr-histogram-js's JsHistogram not in its Histogram interface. */
interface HdrSlots {
  readonly countsArrayLength: number;
  getCountAtIndex(index: number): number;
  valueFromIndex(index: number): number;
  highestEquivalentValue(value: number): number;
  medianEquivalentValue(value: number): number;
}

/** Walks one hop's HDR slots (µs) once, in increasing value, into Prometheus buckets. */
export function latency_buckets(hops: HopHistograms, hop: HopName): LatencyBuckets {
  const h = hops.histogram(hop);
  const slots = h as unknown as HdrSlots;
  const total = h.totalCount;
  const bounds_us = latency_buckets_seconds.map((s) => Math.round(s * 1e6)); // whole µs, like the samples
  const per_bucket = new Array<number>(bounds_us.length + 1).fill(0);
  let seen = 0;
  let sum_us = 0;
  let b = 0;
  for (let i = 0; i < slots.countsArrayLength && seen < total; i++) {
    const n = slots.getCountAtIndex(i);
    if (n === 0) continue;
    const value = slots.valueFromIndex(i);
    const top = slots.highestEquivalentValue(value);
    while (b < bounds_us.length && top > bounds_us[b]) b++;
    per_bucket[b] += n;
    sum_us += n * slots.medianEquivalentValue(value);
    seen += n;
  }
  const cumulative: number[] = [];
  let running = 0;
  for (let k = 0; k < bounds_us.length; k++) cumulative.push((running += per_bucket[k]));
  return { cumulative, count: total, sum_seconds: sum_us / 1e6 };
}

type Sample = { metricName: string; labels: Record<string, string>; value: number };

/**
 * A prom-client collector for the latency histogram. prom-client's own
 * Histogram can only be fed one observation at a time; this one hands the
 * registry the bucket counts computed from HDR (the registry needs only name,
 * help, type, aggregator, get and reset).
 */
class HdrLatencyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly help = 'Latency per hop of the data flow, seconds (from the HDR histograms, at scrape time)';

  constructor(readonly name: string, private readonly source: () => HopHistograms) {}

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const hops = this.source();
    const values: Sample[] = [];
    for (const hop of hops.hops) {
      const buckets = latency_buckets(hops, hop);
      latency_buckets_seconds.forEach((le, k) => {
        values.push({ metricName: `${this.name}_bucket`, labels: { hop, le: String(le) }, value: buckets.cumulative[k] });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { hop, le: '+Inf' }, value: buckets.count });
      values.push({ metricName: `${this.name}_sum`, labels: { hop }, value: buckets.sum_seconds });
      values.push({ metricName: `${this.name}_count`, labels: { hop }, value: buckets.count });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  /** Registry.resetMetrics() calls this; the counts belong to the HDR histograms, so there is nothing to reset here. */
  reset(): void {}
}

/** The latency histogram as a prom-client metric for Registry.registerMetric (a duck-typed collector: the registry formats whatever get() returns). */
export function latency_histogram_metric(name: string, source: () => HopHistograms): Metric {
  return new HdrLatencyHistogram(name, source) as unknown as Metric;
}
