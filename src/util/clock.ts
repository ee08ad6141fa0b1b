// Wall-clock nanoseconds since the Unix epoch, as a JS number.
// Every hop (engine, ingest, send, client receive) stamps with this, so
// latencies across processes on one host are differences of one clock.
// Precision: a double holds ns since 1970 to ~256 ns granularity (2^61 > 1.7e18);
// we anchor performance.now() (sub-µs, monotonic) to Date.now() once at start-up.
const anchor_wall_ms = Date.now();
const anchor_perf_ms = performance.now();

export function now_ns(): number {
  return (anchor_wall_ms + (performance.now() - anchor_perf_ms)) * 1e6;
}

export function ns_to_bigint(ns: number): bigint {
  return BigInt(Math.round(ns));
}
