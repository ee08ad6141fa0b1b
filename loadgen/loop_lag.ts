// A process's own event-loop lag: the one definition for the load generator,
// the benches and the timing tests. A harness that is held up (a loaded
// machine, GC) delays everything it measures by that much, so each reports
// its lag beside its result or leaves its late samples out.
//
// Lag is what Node's monitorEventLoopDelay records beyond its timer's period
// (an idle loop records about the period itself): per timer fire, how much
// later than asked it ran. From it: percentiles, the worst, and the total
// (the sum of every fire's lateness: how long the loop was held up in all,
// e.g. while a test waited for something).
//
// Cost: a libuv timer every resolution_ms and an HDR histogram record per
// fire (native); nothing on the measured path.

import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** Event-loop lag (µs) from a monitorEventLoopDelay value (ns) at `resolution_ms`: the delay beyond the timer's own period, never negative. */
export function loop_lag_us(delay_ns: number, resolution_ms: number): number {
  return Math.max(0, Math.round((delay_ns - resolution_ms * 1e6) / 1000));
}

export class LoopLagMeter {
  private readonly histogram: IntervalHistogram;

  /** `resolution_ms`: the timer's period (10 ms: 100 samples/s at little cost); measures from now on unless `started` is false (then from start()). */
  constructor(readonly resolution_ms = 10, started = true) {
    this.histogram = monitorEventLoopDelay({ resolution: resolution_ms });
    if (started) this.histogram.enable();
  }

  /** Timer fires recorded since the last reset. */
  get samples(): number {
    return this.histogram.count;
  }

  /** Lag (µs) at percentile p (0-100) since the last reset; 0 without samples. */
  percentile_us(p: number): number {
    return this.samples > 0 ? loop_lag_us(this.histogram.percentile(p), this.resolution_ms) : 0;
  }

  /** The longest single stall (µs) since the last reset. */
  get worst_us(): number {
    return this.samples > 0 ? loop_lag_us(this.histogram.max, this.resolution_ms) : 0;
  }

  /** Every fire's lateness added up (µs) since the last reset: how long the loop was held up in all. */
  get total_us(): number {
    return this.samples > 0 ? this.samples * loop_lag_us(this.histogram.mean, this.resolution_ms) : 0;
  }

  percentile_ms(p: number): number {
    return this.percentile_us(p) / 1000;
  }

  get worst_ms(): number {
    return this.worst_us / 1000;
  }

  get total_ms(): number {
    return this.total_us / 1000;
  }

  reset(): void {
    this.histogram.reset();
  }

  /** Measures again after stop() (what was recorded is kept until reset()). */
  start(): void {
    this.histogram.enable();
  }

  stop(): void {
    this.histogram.disable();
  }
}
