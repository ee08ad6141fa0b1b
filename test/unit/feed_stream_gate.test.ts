// StreamGate with time passed in: when a conflating connection may stream
// again, and how its tries back off while they keep failing.
import { describe, expect, it } from 'vitest';
import { ReaderFlow } from '../../src/feed/reader_flow.js';
import { instant_rounds_min, stream_capacity_headroom, stream_retry_ms_max, stream_retry_ms_min, stream_stable_ms, StreamGate } from '../../src/feed/stream_gate.js';

const limits = { reader_lag_target_ms: 500, in_flight_bytes_min: 4096, in_flight_bytes_max: 240 * 1024, reader_probe_interval_ms: 100, reader_lag_ms_max: 5000 };

/** A flow whose reader read `bytes` in one catch-up round taking `ms` (a capacity sample). */
function flow_with_round(bytes: number, ms: number): ReaderFlow {
  const flow = new ReaderFlow(limits);
  flow.start_round(0);
  flow.on_sent(bytes);
  flow.on_pong(flow.probe(0).slice(), ms);
  return flow;
}

describe('StreamGate', () => {
  it('measures the stream over streaming time only, added up across short stretches', () => {
    const gate = new StreamGate(0, 500);
    gate.streamed(15_000, 150); // 150 ms streaming: not enough to measure
    expect(gate.stream_bytes_per_s).toBe(0);
    gate.conflating('lag', 150);
    gate.streaming(10_000); // 9.85 s conflating: not counted
    gate.streamed(10_000, 10_100); // 100 ms more: 250 ms in all
    expect(gate.stream_bytes_per_s).toBe(100_000);
  });

  it('lets a reader stream again only with capacity above what the stream needs', () => {
    const gate = new StreamGate(0, 500);
    gate.streamed(100_000, 1000); // the stream needs 100 KB/s
    expect(gate.stream_bytes_per_s).toBe(100_000);
    gate.conflating('lag', 1000);
    expect(gate.may_stream(flow_with_round(10_000, 500), 2000)).toBe(false); // 20 KB/s
    expect(gate.may_stream(flow_with_round(30_000, 25), 2000)).toBe(true); // 1.2 MB/s
    const just = flow_with_round(Math.ceil(100 * stream_capacity_headroom * 25) + 100, 25);
    expect(just.rate_bytes_per_s).toBeGreaterThan(100_000 * stream_capacity_headroom);
    expect(gate.may_stream(just, 2000)).toBe(true);
    expect(gate.may_stream(null, 2000)).toBe(true); // not probed: only the buffer's hysteresis decides
  });

  it('backs off while tries keep failing soon, and forgets after a stable stretch', () => {
    const gate = new StreamGate(0, 500);
    const fast = flow_with_round(100_000, 25);
    let now = 0;
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      gate.conflating('lag', now);
      let wait = 0;
      while (!gate.may_stream(fast, now + wait)) wait += 10;
      waits.push(wait);
      now += wait;
      gate.streaming(now);
      now += 100; // streams 100 ms, then lags again
    }
    expect(waits[0]).toBe(0); // the first episode may end at once
    expect(waits[1]).toBe(stream_retry_ms_min);
    expect(waits[2]).toBe(2 * stream_retry_ms_min);
    expect(Math.max(...waits)).toBe(stream_retry_ms_max);
    now += stream_stable_ms; // a long stable stretch
    gate.conflating('lag', now);
    expect(gate.may_stream(fast, now)).toBe(true);
    gate.streaming(now);
    gate.conflating('buffer', now + 1); // buffer episodes never back off
    expect(gate.may_stream(fast, now + 1)).toBe(true);
  });

  it('a round read at once shows latency, not bandwidth: only a lower bound of capacity, and enough of them in a row let it stream', () => {
    const gate = new StreamGate(0, 500);
    gate.streamed(100_000, 1000);
    gate.conflating('lag', 1000);
    const flow = new ReaderFlow(limits);
    for (let i = 0; i < instant_rounds_min; i++) {
      const t = 2000 + i * 10;
      expect(gate.may_stream(flow, t)).toBe(false);
      flow.start_round(t);
      flow.on_sent(1500);
      flow.on_pong(flow.probe(t).slice(), t + 2); // read within 2 ms: it fitted in the reader's buffers
    }
    expect(flow.rate_bytes_per_s).toBe(75_000); // 1500 bytes as if over 20 ms, not over 2 ms
    expect(flow.instant_rounds).toBe(instant_rounds_min);
    expect(gate.may_stream(flow, 3000)).toBe(true);
  });

  it('small rounds read within the instant bound by a reader far below the stream do not let it stream', () => {
    // A reader at a fifth of a 130 KB/s stream gets catch-ups of ~400 bytes, one per round trip: each
    // comes back in ~12 ms, under round_transfer_ms_min, but together they show ~33 KB/s.
    const gate = new StreamGate(0, 500);
    gate.streamed(130_000, 1000);
    gate.conflating('lag', 1000);
    const flow = new ReaderFlow(limits);
    flow.on_pong(flow.path_probe(1990).slice(), 1990); // the path alone: under a millisecond
    let t = 2000;
    for (let i = 0; i < 4 * instant_rounds_min; i++) {
      flow.start_round(t);
      flow.on_sent(400);
      flow.on_pong(flow.probe(t).slice(), t + 12);
      t += 13;
      expect(gate.may_stream(flow, t)).toBe(false);
    }
    expect(flow.instant_rounds).toBe(4 * instant_rounds_min);
    expect(flow.instant_rate_bytes_per_s).toBeCloseTo(400_000 / 11, 0); // 12 ms, less the clock's 1 ms resolution
    // The same reader once its rounds come back at once (it sped up): 600 bytes within the clock's resolution. The rate
    // weighs the latest rounds most, so it shows within a few rounds (not after as many as came before).
    const fast_round = (): void => {
      flow.start_round(t);
      flow.on_sent(600);
      flow.on_pong(flow.probe(t).slice(), t + 1);
      t += 2;
    };
    for (let i = 0; i < 5; i++) fast_round();
    expect(flow.instant_rounds).toBe(4 * instant_rounds_min + 5); // still one streak
    expect(gate.may_stream(flow, t)).toBe(false);
    for (let i = 0; i < 5; i++) fast_round();
    expect(flow.instant_rate_bytes_per_s).toBeGreaterThan(stream_capacity_headroom * 130_000);
    expect(gate.may_stream(flow, t)).toBe(true);
  });
});
