// Merges the workers' once-a-second reports: decodes each worker's interval
// histograms (one HopHistograms per series, see messages.ts), adds them to the
// run's totals at once, and gathers them per tick so that one interval per
// second (over all workers) can be written to the .hlog and the timeline. A
// report that comes after its tick was closed is not lost: it goes into the
// next interval closed.
import { HopHistograms } from '../src/metrics/hop_histograms.js';
import { series_hops, series_names, type EncodedSeries, type SeriesName } from './messages.js';
import { from_buckets } from './hop_buckets.js';

export type SeriesHistograms = Record<SeriesName, HopHistograms>;

export interface MergedInterval {
  seq: number;
  series: SeriesHistograms;
}

interface Pending {
  series: SeriesHistograms;
  workers: Set<number>;
}

/** One report's histograms as a worker sends them (see messages.ts WorkerReport). */
export interface EncodedIntervals {
  worker: number;
  seq: number;
  series: EncodedSeries;
}

export function empty_series(start_ms: number): SeriesHistograms {
  const out = {} as SeriesHistograms;
  for (const name of series_names) out[name] = new HopHistograms(series_hops[name], { track_intervals: false, start_ms });
  return out;
}

function merge_series(into: SeriesHistograms, from: SeriesHistograms): void {
  for (const name of series_names) into[name].merge_from(from[name]);
}

export class IntervalMerger {
  readonly totals: SeriesHistograms;
  private readonly pending = new Map<number, Pending>();
  private closed_up_to = -1;
  private last_end_ms: number;
  private late: Pending | null = null;

  /** Reports of ticks 1..warmup_ticks go to the intervals but not to the totals. */
  constructor(private readonly workers: number, start_ms: number, private readonly warmup_ticks = 0) {
    this.totals = empty_series(start_ms);
    this.last_end_ms = start_ms;
  }

  /** Adds one worker report. Throws HopHistogramsError on a malformed encoding. */
  add(report: EncodedIntervals): void {
    const decoded = {} as SeriesHistograms;
    for (const name of series_names) decoded[name] = from_buckets(report.series[name]);
    if (report.seq > this.warmup_ticks) merge_series(this.totals, decoded);
    let target: Pending;
    if (report.seq <= this.closed_up_to) {
      target = this.late ??= { series: empty_series(this.last_end_ms), workers: new Set() };
    } else {
      let p = this.pending.get(report.seq);
      if (p === undefined) {
        p = { series: empty_series(this.last_end_ms), workers: new Set() };
        this.pending.set(report.seq, p);
      }
      target = p;
      p.workers.add(report.worker);
    }
    merge_series(target.series, decoded);
  }

  /** Every worker has reported for this tick. */
  complete(seq: number): boolean {
    return (this.pending.get(seq)?.workers.size ?? 0) >= this.workers;
  }

  /**
   * Closes ticks up to `seq` (whatever arrived for them) into one interval
   * ending at end_ms. Returns null if nothing is left to close.
   */
  close(seq: number, end_ms: number): MergedInterval | null {
    if (seq <= this.closed_up_to) return null;
    const out: MergedInterval = { seq, series: empty_series(this.last_end_ms) };
    const parts: Pending[] = [];
    if (this.late) parts.push(this.late);
    this.late = null;
    for (const [s, p] of this.pending) {
      if (s <= seq) {
        parts.push(p);
        this.pending.delete(s);
      }
    }
    for (const p of parts) merge_series(out.series, p.series);
    const interval_end_ms = Math.max(end_ms, this.last_end_ms);
    for (const name of series_names) {
      out.series[name].start_ms = this.last_end_ms;
      out.series[name].end_ms = interval_end_ms;
      this.totals[name].end_ms = Math.max(this.totals[name].end_ms, interval_end_ms);
    }
    this.last_end_ms = interval_end_ms;
    this.closed_up_to = seq;
    return out;
  }
}
