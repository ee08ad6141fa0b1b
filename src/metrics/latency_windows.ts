// Recent latency percentiles for /stats: the last 10 s and the last minute,
// beside the since-start ones, from the HDR histograms' interval mechanism.
//
// Every interval_ms (10 s) tick() closes the source's current interval
// (HopHistograms.take_interval) and keeps it in a ring of intervals_kept (6).
// "last 10 s" is the newest closed interval; "last 1 min" merges all six.
// Each window reports the span it really covers (start_ms..end_ms): it ends
// at the last tick, so it lags by up to one interval, and it is shorter than
// its name until the ring has filled.
//
// Why intervals of 10 s and not 1 s: an interval histogram is ~70 KB per hop
// (HDR, 1 µs..60 s at 3 digits); 6 of them per hop cost 0.4 MB, where a ring
// of 60 one-second ones would cost 4 MB. A window is merged only when /stats
// is read (6 adds of 17k slots per hop), never on the hot path.
import { HopHistograms, type HopName, type HopPercentiles } from './hop_histograms.js';

export const latency_interval_ms = 10_000;
export const latency_intervals_kept = 6;

export interface LatencyWindow {
  /** Wall-clock ms the window covers; both 0 before the first tick. */
  start_ms: number;
  end_ms: number;
  hops: Partial<Record<HopName, HopPercentiles>>;
}

/** /stats latency section: every window, units in the key (µs). */
export interface LatencyWindowStats {
  since_start: LatencyWindow;
  last_10s: LatencyWindow;
  last_1m: LatencyWindow;
}

export class LatencyWindows {
  /** Closed intervals, oldest first; at most intervals_kept. */
  private readonly ring: HopHistograms[] = [];

  constructor(private readonly source: HopHistograms) {}

  /** Closes the current interval at now_ms. Call every latency_interval_ms. */
  tick(now_ms: number = Date.now()): void {
    this.ring.push(this.source.take_interval(now_ms));
    if (this.ring.length > latency_intervals_kept) this.ring.shift();
  }

  /** The newest `intervals` closed intervals merged (fewer if fewer were closed). */
  window(intervals: number): LatencyWindow {
    const taken = this.ring.slice(-intervals);
    if (taken.length === 0) return { start_ms: 0, end_ms: 0, hops: empty_hops(this.source) };
    const merged = new HopHistograms(this.source.hops, { track_intervals: false, start_ms: taken[0].start_ms });
    for (const interval of taken) merged.merge_from(interval);
    return { start_ms: merged.start_ms, end_ms: merged.end_ms, hops: merged.summary() };
  }

  stats(now_ms: number = Date.now()): LatencyWindowStats {
    return {
      since_start: { start_ms: this.source.start_ms, end_ms: now_ms, hops: this.source.summary() },
      last_10s: this.window(1),
      last_1m: this.window(latency_intervals_kept),
    };
  }
}

function empty_hops(source: HopHistograms): Partial<Record<HopName, HopPercentiles>> {
  return new HopHistograms(source.hops, { track_intervals: false }).summary();
}
