// How a worker's interval histograms travel to the main thread: each hop as
// its non-empty buckets (index, count), not HdrHistogram's compressed base64.
//
// Why: the V2 encoding deflates (pako, in JS) and base64s each hop: 0.5-1 ms
// per series warm and 8-10 ms cold, on the worker's event loop, whose lag is
// what the load generator judges its own saturation on (loadgen/saturation.ts).
// A bucket list is a scan of the interval's counts (~17k slots, a few tens of
// µs per hop) and two small typed arrays that postMessage copies; the main
// thread rebuilds the histograms (its lag is not the clients').
//
// Exact: the rebuilt HopHistograms has the same count in every bucket and the
// same negative and overflow sample counts (replayed through HopHistograms.record,
// which clamps them to the buckets they were recorded in).
//
// Cost: per hop, O(buckets) to make; O(non-empty buckets + negative and
// overflow samples) to rebuild.
import { HopHistograms, HopHistogramsError, hop_names, latency_us_max, type HopName } from '../src/metrics/hop_histograms.js';

/** One hop's samples: the histogram's non-empty buckets, and how many of them were clamped (HopHistograms.record). */
export interface HopBuckets {
  indexes: Uint32Array;
  counts: Float64Array;
  negative_samples: number;
  overflow_samples: number;
}

/** A HopHistograms' totals as bucket lists (structured-clone friendly). */
export interface BucketedHopHistograms {
  format: 'depthcast.hop_buckets.v1';
  start_ms: number;
  end_ms: number;
  hops: Partial<Record<HopName, HopBuckets>>;
}

/** The part of hdr-histogram-js's JsHistogram this reads (public there, not in its Histogram interface). */
interface BucketAccess {
  readonly countsArrayLength: number;
  getCountAtIndex(index: number): number;
  valueFromIndex(index: number): number;
  countsArrayIndex(value: number): number;
  recordValueWithCount(value: number, count: number): void;
}

/** Scratch for one scan (a hop has at most countsArrayLength buckets; the result is copied out). */
let scratch_indexes = new Uint32Array(0);
let scratch_counts = new Float64Array(0);

/** The totals of `h` (e.g. an interval from take_interval) as bucket lists. */
export function to_buckets(h: HopHistograms): BucketedHopHistograms {
  const hops: Partial<Record<HopName, HopBuckets>> = {};
  for (const hop of h.hops) {
    const histogram = h.histogram(hop) as unknown as BucketAccess;
    const n = histogram.countsArrayLength;
    if (scratch_indexes.length < n) {
      scratch_indexes = new Uint32Array(n);
      scratch_counts = new Float64Array(n);
    }
    let used = 0;
    if (h.count(hop) > 0) {
      for (let i = 0; i < n; i++) {
        const c = histogram.getCountAtIndex(i);
        if (c === 0) continue;
        scratch_indexes[used] = i;
        scratch_counts[used++] = c;
      }
    }
    hops[hop] = {
      indexes: scratch_indexes.slice(0, used), counts: scratch_counts.slice(0, used),
      negative_samples: h.negative_samples(hop), overflow_samples: h.overflow_samples(hop),
    };
  }
  return { format: 'depthcast.hop_buckets.v1', start_ms: h.start_ms, end_ms: h.end_ms, hops };
}

/** Rebuilds what to_buckets gave (totals only). Throws HopHistogramsError on anything malformed. */
export function from_buckets(b: BucketedHopHistograms): HopHistograms {
  if (b === null || typeof b !== 'object' || b.format !== 'depthcast.hop_buckets.v1') {
    throw new HopHistogramsError('not bucketed HopHistograms (format depthcast.hop_buckets.v1 expected)');
  }
  const names = Object.keys(b.hops ?? {});
  const unknown = names.find((name) => !(hop_names as readonly string[]).includes(name));
  if (unknown !== undefined) throw new HopHistogramsError(`unknown hop '${unknown}' in bucketed histograms`);
  const out = new HopHistograms(names as HopName[], { track_intervals: false, start_ms: b.start_ms });
  out.end_ms = b.end_ms;
  for (const hop of names as HopName[]) {
    const { indexes, counts, negative_samples, overflow_samples } = b.hops[hop]!;
    const histogram = out.histogram(hop) as unknown as BucketAccess;
    if (!(indexes instanceof Uint32Array) || !(counts instanceof Float64Array) || indexes.length !== counts.length) {
      throw new HopHistogramsError(`hop '${hop}': bucket indexes and counts must be a Uint32Array and a Float64Array of one length`);
    }
    // Clamped samples are replayed through record(), which counts them; their buckets get the rest directly.
    const negative = Math.max(0, Math.floor(Number(negative_samples) || 0));
    const overflow = Math.max(0, Math.floor(Number(overflow_samples) || 0));
    const negative_index = histogram.countsArrayIndex(0);
    const overflow_index = histogram.countsArrayIndex(latency_us_max);
    for (let i = 0; i < indexes.length; i++) {
      const index = indexes[i];
      let count = counts[i];
      if (index >= histogram.countsArrayLength || !(count > 0) || !Number.isInteger(count)) {
        throw new HopHistogramsError(`hop '${hop}': bucket ${index} with count ${count} is outside the histogram`);
      }
      const value = histogram.valueFromIndex(index);
      if (index === negative_index) count -= negative;
      if (index === overflow_index) count -= overflow;
      if (count < 0) throw new HopHistogramsError(`hop '${hop}': more clamped samples than its bucket holds`);
      if (count > 0) histogram.recordValueWithCount(value, count);
    }
    for (let i = 0; i < negative; i++) out.record(hop, -1);
    for (let i = 0; i < overflow; i++) out.record(hop, Infinity);
  }
  return out;
}
