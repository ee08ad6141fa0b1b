// ReaderFlow with time passed in: a fast reader, a slow one, a stalled one,
// and forged answers. Every pong here is what a standard WebSocket client
// would send back: the probe's own payload.
import { describe, expect, it } from 'vitest';
import { probe_payload_bytes, probes_initial, probes_outstanding_max, ReaderFlow, type ReaderFlowLimits } from '../../src/feed/reader_flow.js';
import { quiet_probe_interval_factor } from '../../src/feed/reader_probes.js';

const limits: ReaderFlowLimits = {
  reader_lag_target_ms: 500, in_flight_bytes_min: 4096, in_flight_bytes_max: 240 * 1024, reader_probe_interval_ms: 100, reader_lag_ms_max: 5000,
};

/** A reader on the far side of a queue: reads `rate` bytes/s, answers each probe once it has read up to it. */
class SimReader {
  private read = 0;
  private readonly probes: { offset: number; payload: Uint8Array }[] = [];
  constructor(readonly flow: ReaderFlow, public rate_bytes_per_s: number, readonly rtt_ms = 1) {}

  /** Probes sent to this reader. */
  probes_sent = 0;

  send(bytes: number, now_ms: number): void {
    this.flow.on_sent(bytes);
    if (!this.flow.probe_due(now_ms, false)) return;
    this.probes.push({ offset: this.flow.bytes_sent, payload: this.flow.probe(now_ms).slice() });
    this.probes_sent++;
  }

  /** Advances the reader by dt of reading; answers the probes it has passed. */
  tick(dt_ms: number, now_ms: number): void {
    this.read = Math.min(this.flow.bytes_sent, this.read + (this.rate_bytes_per_s * dt_ms) / 1000);
    while (this.probes.length > 0 && this.probes[0].offset <= this.read) this.flow.on_pong(this.probes.shift()!.payload, now_ms + this.rtt_ms);
  }
}

function payload(offset: number): Uint8Array {
  const b = new Uint8Array(probe_payload_bytes);
  new DataView(b.buffer).setFloat64(0, offset, true);
  return b;
}

describe('ReaderFlow', () => {
  it('a fast reader is never lagging, even with a burst over its window in flight', () => {
    const flow = new ReaderFlow(limits);
    const reader = new SimReader(flow, 50e6);
    let now = 0;
    for (let i = 0; i < 2000; i++, now += 1) {
      reader.send(i % 500 === 0 ? 200_000 : 100, now); // bursts of 200 KB every 500 ms
      reader.tick(1, now);
      expect(flow.lagging(now)).toBe(false);
    }
    expect(flow.in_flight).toBeLessThan(250_000);
  });

  it('a slow reader: its rate is measured, the window is rate x target, and it lags once the queue exceeds the gate', () => {
    const flow = new ReaderFlow(limits);
    const reader = new SimReader(flow, 10_000);
    let now = 0;
    let lagging_at = -1;
    for (; now < 3000; now += 5) {
      if (!flow.over_window() || !flow.lagging(now)) reader.send(350, now); // 70 KB/s offered until it lags
      reader.tick(5, now);
      if (lagging_at < 0 && flow.lagging(now)) lagging_at = now;
    }
    expect(lagging_at).toBeGreaterThan(0);
    expect(flow.rate_bytes_per_s).toBeGreaterThan(8_000);
    expect(flow.rate_bytes_per_s).toBeLessThan(15_000);
    expect(flow.window_bytes).toBeGreaterThanOrEqual(limits.in_flight_bytes_min);
    expect(flow.window_bytes).toBeLessThan(8_000); // ~ 10 KB/s x 0.5 s
    expect(flow.lag_ms).toBeGreaterThan(flow.lag_gate_ms);
  });

  it('ignores answers it never asked for: wrong length, unknown offset, beyond what was sent, repeated', () => {
    const flow = new ReaderFlow(limits);
    flow.on_sent(1000);
    const p = flow.probe(0).slice();
    expect(flow.on_pong(new Uint8Array(0), 10)).toBe(false); // uWS's own keep-alive ping
    expect(flow.on_pong(payload(999), 10)).toBe(false);
    expect(flow.on_pong(payload(1e9), 10)).toBe(false);
    expect(flow.bytes_read).toBe(0);
    expect(flow.on_pong(p, 10)).toBe(true);
    expect(flow.bytes_read).toBe(1000);
    expect(flow.on_pong(p, 20)).toBe(false);
    expect(flow.lag_ms).toBe(10);
  });

  it('Acks: once a client sends them, the lower of read and processed counts; never beyond what was sent', () => {
    const flow = new ReaderFlow(limits);
    flow.on_sent(5000);
    flow.on_pong(flow.probe(0).slice(), 5);
    expect(flow.in_flight).toBe(0);
    flow.on_ack(2000, 6);
    expect(flow.bytes_acked).toBe(2000);
    expect(flow.in_flight).toBe(3000);
    flow.on_ack(1e12, 7);
    expect(flow.bytes_processed).toBe(5000);
    expect(flow.in_flight).toBe(0);
  });

  it('a path probe, sent with nothing in flight, measures the round trip alone', () => {
    const flow = new ReaderFlow(limits);
    expect(flow.path_probe_due(0)).toBe(true);
    const p = flow.path_probe(0).slice();
    expect(flow.path_probe_due(10)).toBe(false); // one outstanding at a time
    expect(flow.on_pong(p, 3)).toBe(false); // not a data probe: the reader did not move
    expect(flow.min_delay_ms).toBe(3);
    flow.on_sent(10);
    expect(flow.path_probe_due(5000)).toBe(false); // something in flight: it would wait behind it
  });

  it('too slow: far behind AND too little bandwidth for one catch-up within reader_lag_ms_max; a pause alone is not, nor a stall on a quiet stream', () => {
    // A reader that was fast, then stalls for 15 s: behind, but its measured rate says it is fast.
    const paused = new ReaderFlow(limits);
    const fast = new SimReader(paused, 1e6);
    let now = 0;
    for (; now < 1000; now += 10) {
      fast.send(1000, now);
      fast.tick(10, now);
    }
    paused.on_sent(1000);
    paused.probe(now);
    expect(paused.too_slow(now + 15_000)).toBe(false);
    // A reader at 300 B/s: behind by more than 5 s, and 5 s of its reading is under 4 KB.
    const flow = new ReaderFlow(limits);
    const slow = new SimReader(flow, 300);
    now = 0;
    for (; now < 30_000; now += 10) {
      if (flow.in_flight < 10_000) slow.send(500, now);
      slow.tick(10, now);
    }
    expect(flow.lag_now_ms(now)).toBeGreaterThan(limits.reader_lag_ms_max);
    expect(flow.too_slow(now)).toBe(true);
    // One catch-up round that looks read at once (as when the path delay subtracted from it was itself
    // learnt behind a backlog) does not keep it from being judged for the rest of the ring: 10 s later,
    // behind again at 300 B/s, it is too slow again.
    slow.rate_bytes_per_s = 1e7;
    slow.tick(10, now);
    now += 10;
    flow.on_pong(flow.probe(now).slice(), now + 1); // it has read everything: nothing in flight, a round may start
    now += 10;
    expect(flow.in_flight).toBe(0);
    flow.start_round(now);
    flow.on_sent(2000);
    flow.on_pong(flow.probe(now).slice(), now + 2);
    slow.rate_bytes_per_s = 300;
    const quick_at = now;
    for (now += 10; now < quick_at + 10_000; now += 10) {
      if (flow.in_flight < 10_000 || now % 1000 === 0) slow.send(500, now); // and a frame a second: a probe goes with it
      slow.tick(10, now);
    }
    expect(flow.rate_bytes_per_s, 'the window still follows the quick sample').toBeGreaterThanOrEqual(50_000);
    expect(flow.lag_now_ms(now)).toBeGreaterThan(limits.reader_lag_ms_max);
    expect(flow.too_slow(now)).toBe(true);
    // A fast reader of a quiet stream (600 B/s, under 4 KB per 5 s) that stalls: every sample showed the
    // stream's rate, not the reader's, so nothing says it is slow.
    const quiet = new ReaderFlow(limits);
    const quiet_reader = new SimReader(quiet, 1e6);
    now = 0;
    for (; now < 10_000; now += 100) {
      quiet_reader.send(60, now);
      quiet_reader.tick(100, now);
    }
    expect(quiet.rate_bytes_per_s * limits.reader_lag_ms_max / 1000).toBeLessThan(limits.in_flight_bytes_min);
    quiet.on_sent(60);
    quiet.probe(now);
    for (let i = 0; i < 4; i++) quiet.on_sent(60); // sent during the stall, never read
    expect(quiet.lag_now_ms(now + 15_000)).toBeGreaterThan(limits.reader_lag_ms_max);
    expect(quiet.too_slow(now + 15_000)).toBe(false);
    // The same, with a frame sent between each probe and its answer: each sample then read exactly what was
    // in flight at its start (the stream's rate again, not a backlog the reader could not finish).
    const exact = new ReaderFlow(limits);
    now = 0;
    for (; now < 10_000; now += 200) {
      const probe = exact.probe(now);
      exact.on_sent(60);
      exact.on_pong(probe, now + 1);
    }
    expect(exact.lag_samples).toBeGreaterThanOrEqual(3);
    expect(exact.rate_bytes_per_s * limits.reader_lag_ms_max / 1000).toBeLessThan(limits.in_flight_bytes_min);
    exact.on_sent(60);
    exact.probe(now);
    expect(exact.lag_now_ms(now + 15_000)).toBeGreaterThan(limits.reader_lag_ms_max);
    expect(exact.too_slow(now + 15_000)).toBe(false);
    // One that answered nothing at all is the idle timeout's, not judged here.
    const silent = new ReaderFlow(limits);
    silent.on_sent(1000);
    silent.probe(0);
    expect(silent.too_slow(60_000)).toBe(false);
  });

  it('a stalled reader that reads its backlog at once shows it as a burst', () => {
    const flow = new ReaderFlow(limits);
    flow.on_sent(100);
    flow.on_pong(flow.probe(0).slice(), 1);
    const probes: Uint8Array[] = [];
    for (let i = 1; i <= 10; i++) {
      flow.on_sent(20_000);
      probes.push(flow.probe(i).slice());
    }
    for (const p of probes) flow.on_pong(p, 10_000);
    expect(flow.burst_bytes(10_002)).toBe(200_000);
    expect(flow.burst_bytes(10_100)).toBe(0); // a burst is now, not history
  });

  it('the probe ring grows past probes_initial with its probes in order, wherever its head was', () => {
    const flow = new ReaderFlow(limits);
    let now = 0;
    const send_probe = (): Uint8Array => {
      flow.on_sent(100);
      now += 10;
      return flow.probe(now).slice();
    };
    // Two answered: the head has moved, so the ring wraps before it grows.
    for (let i = 0; i < 2; i++) expect(flow.on_pong(send_probe(), now + 1)).toBe(true);
    const outstanding = Array.from({ length: probes_initial * 4 + 3 }, send_probe);
    const sent_at = outstanding.map((_, k) => now - (outstanding.length - 1 - k) * 10);
    expect(flow.lag_now_ms(now)).toBe(now - sent_at[0]); // the oldest unanswered is the first sent
    expect(flow.on_pong(payload(12_345), now)).toBe(false); // not an offset it sent
    for (let k = 0; k < outstanding.length; k++) {
      expect(flow.on_pong(outstanding[k], now + 5)).toBe(true);
      expect(flow.lag_ms).toBe(now + 5 - sent_at[k]);
      expect(flow.bytes_read).toBe(100 * (3 + k));
    }
    expect(flow.in_flight).toBe(0);
    expect(flow.lagging(now + 1000)).toBe(false); // none outstanding
  });

  it('bounds what it remembers: at most probes_outstanding_max probes, none due while the ring is full', () => {
    const flow = new ReaderFlow(limits);
    for (let i = 0; i < probes_outstanding_max; i++) {
      flow.on_sent(10);
      expect(flow.probe_due(i * 1000, false)).toBe(true);
      flow.probe(i * 1000);
    }
    flow.on_sent(10);
    expect(flow.probe_due(1e9, true)).toBe(false);
  });
  it('adaptive probing: a reader keeping up is probed every few intervals, or each half cap of bytes; one with a backlog every interval', () => {
    // Streams of 2 KB/s and 400 KB/s (a frame every 5 ms; the stream cap as flow control sets it), read at once,
    // then read at half the light stream's rate: the backlog it builds brings the cadence back to every interval.
    const run = (frame_bytes: number, rate_bytes_per_s: number, ms: number): { flow: ReaderFlow; reader: SimReader } => {
      const flow = new ReaderFlow(limits);
      flow.stream_cap_bytes = 1.5 * (frame_bytes * 200) * limits.reader_lag_target_ms / 1000;
      const reader = new SimReader(flow, rate_bytes_per_s);
      for (let now = 0; now < ms; now += 5) {
        reader.send(frame_bytes, now);
        reader.tick(5, now);
      }
      return { flow, reader };
    };
    const quiet_period_ms = quiet_probe_interval_factor * limits.reader_probe_interval_ms;
    const light = run(10, 50e6, 10_000);
    expect(light.reader.probes_sent).toBeLessThanOrEqual(Math.ceil(10_000 / quiet_period_ms) + 1);
    expect(light.reader.probes_sent).toBeGreaterThanOrEqual(Math.floor(10_000 / quiet_period_ms) - 1);
    expect(light.flow.lagging(10_000)).toBe(false);
    // Heavy: the cap is 1.5 lag targets of the stream; half of it goes out in 375 ms, under the quiet period.
    const heavy = run(2000, 50e6, 10_000);
    console.error("PROBES", light.reader.probes_sent, heavy.reader.probes_sent, heavy.flow.cap_bytes, heavy.flow.window_bytes);
    expect(heavy.reader.probes_sent).toBeGreaterThan(10_000 / quiet_period_ms);
    expect(heavy.reader.probes_sent).toBeLessThan(10_000 / (2 * limits.reader_probe_interval_ms));
    expect(heavy.flow.in_flight * 2).toBeLessThanOrEqual(heavy.flow.cap_bytes + 2000);
    // A reader at half the stream's rate: it lags, and is probed about every interval (not every quiet period).
    const slow = run(10, 1_000, 10_000);
    expect(slow.flow.lagging(10_000)).toBe(true);
    expect(slow.reader.probes_sent).toBeGreaterThan(0.8 * 10_000 / limits.reader_probe_interval_ms);
  });
});
