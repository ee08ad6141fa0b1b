// Wall-clock nanoseconds since the Unix epoch, as a JS number.
// Every hop (engine, ingest, send, client receive) stamps with this, so
// latencies across processes on one host are differences of one clock.
// Precision: a double holds ns since 1970 to ~256 ns granularity (2^61 > 1.7e18).
// performance.timeOrigin is the wall-clock start of this process or thread to
// the microsecond, and performance.now() (monotonic, sub-µs) runs from it.
// Anchoring to Date.now() instead (whole milliseconds, read apart from
// performance.now()) put processes and worker threads up to ~2 ms apart:
// sub-millisecond hops came out negative.
const origin_ms = performance.timeOrigin;

export function now_ns(): number {
  return (origin_ms + performance.now()) * 1e6;
}

export function ns_to_bigint(ns: number): bigint {
  return BigInt(Math.round(ns));
}
