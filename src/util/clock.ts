// Wall-clock nanoseconds since the Unix epoch, as a JS number.
// Every hop (engine, ingest, send, client receive) stamps with this, so
// latencies across processes on one host are differences of one clock.
// Precision: a double holds ns since 1970 to ~256 ns granularity (2^61 > 1.7e18).
// performance.now() gives sub-µs steps but is monotonic, not wall time: it
// does not follow the wall clock when NTP (or a VM) steps or slews it, so we
// re-anchor it to Date.now() when the two drift apart by more than a
// millisecond (checked at most once a second). Browser-safe: no Node imports.

/** How often the anchor is compared with the wall clock. */
const realign_interval_ms = 1000;
/** Drift that triggers a re-anchor (Date.now() has 1 ms resolution). */
const drift_ms_max = 1;

let anchor_wall_ms = Date.now();
let anchor_perf_ms = performance.now();
let last_check_perf_ms = anchor_perf_ms;

function realign(perf_ms: number): void {
  last_check_perf_ms = perf_ms;
  const wall_ms = Date.now();
  const estimate_ms = anchor_wall_ms + (perf_ms - anchor_perf_ms);
  if (Math.abs(wall_ms - estimate_ms) > drift_ms_max) {
    anchor_wall_ms = wall_ms;
    anchor_perf_ms = perf_ms;
  }
}

export function now_ns(): number {
  const perf_ms = performance.now();
  if (perf_ms - last_check_perf_ms > realign_interval_ms) realign(perf_ms);
  return (anchor_wall_ms + (perf_ms - anchor_perf_ms)) * 1e6;
}
