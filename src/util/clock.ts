// Wall-clock nanoseconds since the Unix epoch, as a JS number.
// Every hop (engine, ingest, send, client receive) stamps with this, so
// latencies across processes on one host are differences of one clock.
// Precision: a double holds ns since 1970 to ~256 ns granularity (2^61 > 1.7e18).
// performance.now() gives sub-µs steps but is monotonic, not wall time: it
// does not follow the wall clock when NTP (or a VM) steps it, so we re-anchor
// it when the two drift apart by more than a millisecond (checked at most once
// a second). Browser-safe: no Node imports.
//
// The anchor must be exact to the microsecond, not to Date.now()'s whole
// millisecond: an anchor taken as (Date.now(), performance.now()) lags the
// true time by a random 0..1 ms per process and per thread, so sub-millisecond
// hops between two of them came out negative. performance.timeOrigin is the
// wall time of performance.now() = 0 to the microsecond; a re-anchor waits for
// Date.now() to tick, the one instant its millisecond value is exact.

/** How often the anchor is compared with the wall clock. */
const realign_interval_ms = 1000;
/** Drift that triggers a re-anchor (Date.now() has 1 ms resolution). */
const drift_ms_max = 1;
/** Ticks of Date.now() a re-anchor watches (about 1 ms each); the tightest bracket wins. */
const anchor_ticks = 3;
/** Longest wait for one tick (browsers may coarsen Date.now()): then a plain anchor. */
const tick_wait_ms_max = 5;

let anchor_wall_ms = performance.timeOrigin;
let anchor_perf_ms = 0;
let last_check_perf_ms = performance.now();

/**
 * Re-anchors where Date.now() ticks: the tick lies between two of its reads,
 * and performance.now() read before the first and after the second brackets
 * it. Preemption only widens a bracket, so the narrowest of a few ticks wins
 * and the anchor is its middle.
 */
function anchor_at_tick(): void {
  let best_width_ms = Infinity;
  let best_offset_ms = Date.now() - performance.now();
  for (let tick = 0; tick < anchor_ticks; tick++) {
    let before_ms = performance.now();
    let wall_ms = Date.now();
    const give_up_ms = before_ms + tick_wait_ms_max;
    for (;;) {
      const start_ms = performance.now();
      const next_wall_ms = Date.now();
      const end_ms = performance.now();
      if (next_wall_ms !== wall_ms) {
        const width_ms = end_ms - before_ms;
        if (next_wall_ms === wall_ms + 1 && width_ms < best_width_ms) {
          best_width_ms = width_ms;
          best_offset_ms = next_wall_ms - (before_ms + end_ms) / 2;
        }
        break;
      }
      if (end_ms > give_up_ms) break;
      before_ms = start_ms;
      wall_ms = next_wall_ms;
    }
  }
  anchor_wall_ms = best_offset_ms;
  anchor_perf_ms = 0;
}

function realign(perf_ms: number): void {
  last_check_perf_ms = perf_ms;
  const wall_ms = Date.now();
  const estimate_ms = anchor_wall_ms + (perf_ms - anchor_perf_ms);
  // Date.now() is the true time rounded down: a right estimate is in [wall_ms, wall_ms + 1).
  if (estimate_ms < wall_ms - drift_ms_max || estimate_ms >= wall_ms + 1 + drift_ms_max) anchor_at_tick();
}

export function now_ns(): number {
  const perf_ms = performance.now();
  if (perf_ms - last_check_perf_ms > realign_interval_ms) realign(perf_ms);
  return (anchor_wall_ms + (perf_ms - anchor_perf_ms)) * 1e6;
}
