// Latency per hop of the data flow, one HDR histogram each, in MICROseconds.
//
//   engine ─▶ ingest ─▶ send ─▶ receive
//   server side: engine_to_ingest, ingest_to_send, engine_to_send
//   client side: engine_to_receive, send_to_receive
//
// Why these choices:
// - Samples arrive in ns (differences of src/util/clock.ts stamps) and are kept
//   in µs: 1 µs .. 60 s at 3 significant digits fits in ~17k buckets, and no
//   feed latency worth distinguishing is below a microsecond.
// - Two clocks (or one clock read on two cores) can disagree, so a difference
//   can be negative. A histogram must never throw on that: negative samples are
//   recorded as 0 and counted per hop, so the report can say how many there were.
//   Samples above the range are recorded at the top and counted too.
// - The plain JS implementation (not WASM): nothing to destroy(), and it runs in
//   browsers unchanged (the client SDK records into these).
// - Totals and a current interval are kept side by side; take_interval() hands
//   the interval out as its own HopHistograms (for .hlog lines, live progress)
//   and starts a new one. encode()/decode() carry everything as compressed
//   base64 (HdrHistogram's V2 format) so worker threads can ship histograms to
//   a parent that merge_from()s them.
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';

// reader_lag: a reader-flow probe's delay, send to acknowledgement (src/feed/reader_flow.ts): how far behind each reader is.
export const hop_names = ['engine_to_ingest', 'ingest_to_send', 'engine_to_send', 'reader_lag', 'engine_to_receive', 'send_to_receive'] as const;
export type HopName = (typeof hop_names)[number];
export const server_hops: readonly HopName[] = ['engine_to_ingest', 'ingest_to_send', 'engine_to_send', 'reader_lag'];
export const client_hops: readonly HopName[] = ['engine_to_receive', 'send_to_receive'];

export const latency_us_lowest = 1;
export const latency_us_max = 60_000_000;
export const significant_digits = 3;

/** Percentiles of one hop, in µs (count is a number of samples). */
export interface HopPercentiles {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p99_9: number;
  p99_99: number;
  max: number;
  negative_samples: number;   // clamped to 0 (clock skew)
  overflow_samples: number;   // above latency_us_max, recorded at the top
}

/** The quantiles exported everywhere (Prometheus, reports), as fractions. */
export const reported_quantiles: readonly { key: 'p50' | 'p90' | 'p99' | 'p99_9' | 'p99_99'; quantile: number }[] = [
  { key: 'p50', quantile: 0.5 },
  { key: 'p90', quantile: 0.9 },
  { key: 'p99', quantile: 0.99 },
  { key: 'p99_9', quantile: 0.999 },
  { key: 'p99_99', quantile: 0.9999 },
];

export interface EncodedHop {
  histogram_b64: string;
  negative_samples: number;
  overflow_samples: number;
}

/** JSON-safe form of HopHistograms' totals (structured-clone friendly for worker threads). */
export interface EncodedHopHistograms {
  format: 'depthcast.hop_histograms.v1';
  start_ms: number;
  end_ms: number;
  hops: Partial<Record<HopName, EncodedHop>>;
}

export class HopHistogramsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HopHistogramsError';
  }
}

export function new_latency_histogram(): Histogram {
  return build({
    bitBucketSize: 32,
    autoResize: false,
    lowestDiscernibleValue: latency_us_lowest,
    highestTrackableValue: latency_us_max,
    numberOfSignificantValueDigits: significant_digits,
    useWebAssembly: false,
  });
}

/** Part of JsHistogram not in hdr-histogram-js's Histogram interface. */
interface EquivalenceRange {
  highestEquivalentValue(value: number): number;
}

class HopCounts {
  negative_samples = 0;
  overflow_samples = 0;
  constructor(readonly histogram: Histogram) {}

  record_us(value_us: number): void {
    this.histogram.recordValue(value_us);
  }

  clear(): void {
    this.histogram.reset();
    this.negative_samples = 0;
    this.overflow_samples = 0;
  }

  add(other: HopCounts): void {
    this.histogram.add(other.histogram);
    this.negative_samples += other.negative_samples;
    this.overflow_samples += other.overflow_samples;
  }
}

/** Records into one hop's totals (and current interval); see HopHistograms.record for the clamping. */
export class HopRecorder {
  /** @internal Made by HopHistograms.recorder(hop). */
  constructor(private readonly total: HopCounts, private readonly interval: HopCounts | undefined) {}

  record(value_ns: number): void {
    const total = this.total;
    const interval = this.interval;
    let value_us: number;
    if (!(value_ns >= 0)) {
      value_us = 0;
      total.negative_samples++;
      if (interval) interval.negative_samples++;
    } else {
      value_us = Math.round(value_ns / 1000);
      if (value_us > latency_us_max) {
        value_us = latency_us_max;
        total.overflow_samples++;
        if (interval) interval.overflow_samples++;
      }
    }
    total.record_us(value_us);
    if (interval) interval.record_us(value_us);
  }
}

function is_hop_name(name: string): name is HopName {
  return (hop_names as readonly string[]).includes(name);
}

export interface HopHistogramsOptions {
  /** Keep a current interval beside the totals (for take_interval). Default true. */
  track_intervals?: boolean;
  /** Wall-clock ms used as the start of totals and the first interval. Default Date.now(). */
  start_ms?: number;
}

export class HopHistograms {
  readonly hops: readonly HopName[];
  /** Wall-clock ms: totals cover [start_ms, end_ms]; end_ms advances on take_interval/close_at. */
  start_ms: number;
  end_ms: number;
  private interval_start_ms: number;
  private readonly totals = new Map<HopName, HopCounts>();
  private readonly intervals: Map<HopName, HopCounts> | undefined;
  private readonly recorders = new Map<HopName, HopRecorder>();

  constructor(hops: readonly HopName[] = hop_names, options: HopHistogramsOptions = {}) {
    if (hops.length === 0) throw new HopHistogramsError('at least one hop is required');
    for (const hop of hops) if (!is_hop_name(hop)) throw new HopHistogramsError(`unknown hop '${String(hop)}' (known: ${hop_names.join(', ')})`);
    this.hops = [...new Set(hops)];
    this.start_ms = options.start_ms ?? Date.now();
    this.end_ms = this.start_ms;
    this.interval_start_ms = this.start_ms;
    for (const hop of this.hops) this.totals.set(hop, new HopCounts(new_latency_histogram()));
    if (options.track_intervals ?? true) {
      this.intervals = new Map();
      for (const hop of this.hops) this.intervals.set(hop, new HopCounts(new_latency_histogram()));
    }
    for (const hop of this.hops) this.recorders.set(hop, new HopRecorder(this.totals.get(hop)!, this.intervals?.get(hop)));
  }

  has(hop: HopName): boolean {
    return this.totals.has(hop);
  }

  /**
   * Records one latency sample given in ns. Never throws for a value: negative
   * (clock skew) and NaN become 0 and are counted; above 60 s is recorded at 60 s
   * and counted. Throws only for a hop this instance does not track (a bug).
   * Per-sample callers hold a recorder(hop) instead: no lookup by name.
   */
  record(hop: HopName, value_ns: number): void {
    this.recorder(hop).record(value_ns);
  }

  /** The recorder of one hop, resolved once (valid for this instance's life: reset and take_interval keep it). */
  recorder(hop: HopName): HopRecorder {
    const r = this.recorders.get(hop);
    if (r === undefined) throw new HopHistogramsError(`hop '${hop}' is not tracked here (tracked: ${this.hops.join(', ')})`);
    return r;
  }

  count(hop: HopName): number {
    return this.counts(hop).histogram.totalCount;
  }

  negative_samples(hop: HopName): number {
    return this.counts(hop).negative_samples;
  }

  overflow_samples(hop: HopName): number {
    return this.counts(hop).overflow_samples;
  }

  /** The totals histogram of one hop (µs). Read it; do not record into it. */
  histogram(hop: HopName): Histogram {
    return this.counts(hop).histogram;
  }

  percentiles(hop: HopName): HopPercentiles {
    const c = this.counts(hop);
    const h = c.histogram;
    const empty = h.totalCount === 0;
    return {
      count: h.totalCount,
      mean: empty ? 0 : h.mean,
      p50: h.getValueAtPercentile(50),
      p90: h.getValueAtPercentile(90),
      p99: h.getValueAtPercentile(99),
      p99_9: h.getValueAtPercentile(99.9),
      p99_99: h.getValueAtPercentile(99.99),
      // Like Java's getMaxValue(): the top of the max's bucket, so max >= every
      // percentile and equal whether or not the histogram went through encode().
      max: empty ? 0 : (h as unknown as EquivalenceRange).highestEquivalentValue(h.maxValue),
      negative_samples: c.negative_samples,
      overflow_samples: c.overflow_samples,
    };
  }

  summary(): Partial<Record<HopName, HopPercentiles>> {
    const out: Partial<Record<HopName, HopPercentiles>> = {};
    for (const hop of this.hops) out[hop] = this.percentiles(hop);
    return out;
  }

  /** Forgets every sample (totals and interval) and restarts the clock at now_ms. */
  reset(now_ms: number = Date.now()): void {
    for (const c of this.totals.values()) c.clear();
    if (this.intervals) for (const c of this.intervals.values()) c.clear();
    this.start_ms = now_ms;
    this.end_ms = now_ms;
    this.interval_start_ms = now_ms;
  }

  /**
   * Ends the current interval at now_ms and returns its samples as a new
   * HopHistograms (totals only, start_ms..end_ms = the interval); the next
   * interval starts empty. Totals are unaffected.
   */
  take_interval(now_ms: number = Date.now()): HopHistograms {
    if (!this.intervals) throw new HopHistogramsError('this HopHistograms was built with track_intervals: false');
    const out = new HopHistograms(this.hops, { track_intervals: false, start_ms: this.interval_start_ms });
    out.end_ms = now_ms;
    for (const hop of this.hops) {
      const current = this.intervals.get(hop)!;
      const taken = out.totals.get(hop)!;
      taken.add(current);
      taken.histogram.startTimeStampMsec = this.interval_start_ms;
      taken.histogram.endTimeStampMsec = now_ms;
      taken.histogram.tag = hop;
      current.clear();
    }
    this.interval_start_ms = now_ms;
    this.end_ms = now_ms;
    return out;
  }

  /**
   * Adds other's totals into this one's totals (and into the current interval
   * if this one tracks intervals), hop by hop. Hops other tracks and this one
   * does not are refused, so a merge never silently drops samples.
   */
  merge_from(other: HopHistograms): void {
    for (const hop of other.hops) {
      if (!this.totals.has(hop)) throw new HopHistogramsError(`cannot merge hop '${hop}': not tracked here (tracked: ${this.hops.join(', ')})`);
    }
    for (const hop of other.hops) {
      const from = other.totals.get(hop)!;
      this.totals.get(hop)!.add(from);
      this.intervals?.get(hop)!.add(from);
    }
    this.start_ms = Math.min(this.start_ms, other.start_ms);
    this.end_ms = Math.max(this.end_ms, other.end_ms);
  }

  encode(): EncodedHopHistograms {
    const hops: Partial<Record<HopName, EncodedHop>> = {};
    for (const hop of this.hops) {
      const c = this.totals.get(hop)!;
      c.histogram.startTimeStampMsec = this.start_ms;
      c.histogram.endTimeStampMsec = this.end_ms;
      hops[hop] = {
        histogram_b64: encodeIntoCompressedBase64(c.histogram),
        negative_samples: c.negative_samples,
        overflow_samples: c.overflow_samples,
      };
    }
    return { format: 'depthcast.hop_histograms.v1', start_ms: this.start_ms, end_ms: this.end_ms, hops };
  }

  /** Rebuilds totals from encode()'s output. Throws HopHistogramsError on anything malformed. */
  static decode(encoded: EncodedHopHistograms, options: { track_intervals?: boolean } = {}): HopHistograms {
    if (encoded === null || typeof encoded !== 'object' || encoded.format !== 'depthcast.hop_histograms.v1') {
      throw new HopHistogramsError('not an encoded HopHistograms (format depthcast.hop_histograms.v1 expected)');
    }
    const names = Object.keys(encoded.hops ?? {});
    const unknown = names.find((n) => !is_hop_name(n));
    if (unknown !== undefined) throw new HopHistogramsError(`unknown hop '${unknown}' in encoded histograms`);
    const hops = names as HopName[];
    const out = new HopHistograms(hops, { track_intervals: options.track_intervals ?? false, start_ms: encoded.start_ms });
    out.end_ms = encoded.end_ms;
    for (const hop of hops) {
      const e = encoded.hops[hop]!;
      let decoded: Histogram;
      try {
        decoded = decodeFromCompressedBase64(e.histogram_b64, 32, false);
      } catch (err) {
        throw new HopHistogramsError(`hop '${hop}': cannot decode histogram: ${(err as Error).message}`);
      }
      const target = out.totals.get(hop)!;
      try {
        target.histogram.add(decoded);
      } catch (err) {
        throw new HopHistogramsError(`hop '${hop}': ${(err as Error).message} (range is ${latency_us_lowest}..${latency_us_max} µs)`);
      }
      target.negative_samples = Number(e.negative_samples) || 0;
      target.overflow_samples = Number(e.overflow_samples) || 0;
    }
    return out;
  }

  private counts(hop: HopName): HopCounts {
    const c = this.totals.get(hop);
    if (c === undefined) throw new HopHistogramsError(`hop '${hop}' is not tracked here (tracked: ${this.hops.join(', ')})`);
    return c;
  }
}
