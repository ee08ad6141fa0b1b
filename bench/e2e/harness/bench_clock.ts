// Wall-clock ns for stamps compared ACROSS processes (server stamps, client
// receive times). performance.timeOrigin is the process start in wall-clock
// ms with sub-ms precision, so two processes agree to microseconds.
// (src/util/clock.ts anchors to Date.now(), whole milliseconds: two processes
// can disagree by up to 1 ms, which turns sub-millisecond latencies negative.)
export function bench_now_ns(): number {
  return (performance.timeOrigin + performance.now()) * 1e6;
}
