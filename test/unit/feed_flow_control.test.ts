// FlowControl (src/feed/flow_control.ts) as the pure part it is: random
// connections (readers of random speed that stall and resume, answer probes
// late, forge pongs and Acks, uWS buffers that fill) driven turn by turn with
// the clock passed in, and its invariants checked after every judgement with
// fast-check. A failure prints the seed and the shrunk scenario.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { close_code } from '../../src/wire/codes.js';
import type { FlowLimits } from '../../src/feed/feed_types.js';
import {
  FlowControl, buffered_unknown, slow_close_reasons, verdict_catch_up, verdict_conflate, verdict_none, verdict_probe, verdict_stream, verdict_wait,
} from '../../src/feed/flow_control.js';
import { probe_payload_bytes, probes_outstanding_max } from '../../src/feed/reader_flow.js';
import { quiet_cap_divisor, quiet_probe_interval_factor, unprobed_cap_divisor } from '../../src/feed/reader_probes.js';

const base_limits: FlowLimits = {
  reader_lag_target_ms: 500, in_flight_bytes_min: 4096, in_flight_bytes_max: 240 * 1024, reader_probe_interval_ms: 100, reader_lag_ms_max: 5000,
  slow_enter_bytes: 256 * 1024, slow_exit_bytes: 64 * 1024, send_buffer_bytes_max: 4 * 1024 * 1024, slow_policy: 'conflate',
};
/** Most bytes one turn sends: a streaming turn's frames, or one round of catch-ups. */
const turn_bytes_max = 64 * 1024;

interface Turn {
  /** Clock advance before the turn. */
  dt_ms: number;
  /** Bytes the turn's frames carry while streaming (and a catch-up round's size while conflating). */
  bytes: number;
  /** Bytes/s the reader reads during the turn (0: stalled). */
  read_bytes_per_s: number;
  /** uWS's buffered amount this turn (read, or not read for a JS-only judgement). */
  buffered: number;
  read_buffer: boolean;
  /** A forged pong or Ack arrives (an offset never probed, or past what was sent). */
  forged: 'none' | 'pong' | 'ack';
  forged_offset: number;
}

const turn: fc.Arbitrary<Turn> = fc.record({
  dt_ms: fc.integer({ min: 0, max: 400 }),
  bytes: fc.integer({ min: 0, max: turn_bytes_max }),
  read_bytes_per_s: fc.oneof(fc.constant(0), fc.integer({ min: 100, max: 50_000_000 })),
  buffered: fc.oneof(fc.integer({ min: 0, max: 1024 }), fc.integer({ min: 0, max: 8 * 1024 * 1024 })),
  read_buffer: fc.boolean(),
  forged: fc.constantFrom('none', 'none', 'none', 'pong', 'ack'),
  forged_offset: fc.integer({ min: -5, max: 1e9 }),
});

function payload(offset: number): Uint8Array {
  const b = new Uint8Array(probe_payload_bytes);
  new DataView(b.buffer).setFloat64(0, offset, true);
  return b;
}

/**
 * Drives one connection through `turns` as Session does: streaming turns send
 * their frames and judge; conflating ones judge and send a round only on
 * verdict_catch_up. The reader reads at its turn's rate and answers the probes
 * it has passed. Checks every invariant after every step.
 */
function drive(limits: FlowLimits, turns: Turn[]): void {
  const flow = new FlowControl(limits, true, 0);
  const r = flow.reader;
  let now = 0;
  let conflating = false;
  let closed = false;
  let read = 0;
  let acked_before = 0;
  let acks_seen_before = false;
  const probes: { offset: number; payload: Uint8Array }[] = [];

  // The model of adaptive probing: the newest probe sent, and from it the backlog (probed, not yet acknowledged).
  let probe_offset = 0;
  let probe_ms = -Infinity;
  const probe = (): void => {
    probes.push({ offset: r.bytes_sent, payload: r.probe(now).slice() });
    probe_offset = r.bytes_sent;
    probe_ms = now;
  };

  /**
   * A streaming send that no probe followed: the cadence's bounds. Whatever the reader, bytes never go unprobed for
   * quiet_probe_interval_factor intervals; one that is not keeping up comfortably (its latest answer late, a quarter
   * of its cap probed and unanswered, or half of it sent since its last probe) is probed every interval as before.
   */
  const check_cadence = (): void => {
    const unprobed = r.bytes_sent - probe_offset;
    if (unprobed === 0 || probes.length === probes_outstanding_max) return;
    const backlog = Math.max(0, probe_offset - r.bytes_acked);
    expect(r.backlog_bytes).toBe(backlog);
    expect(backlog).toBeLessThanOrEqual(r.in_flight);
    const since_ms = now - probe_ms;
    expect(since_ms).toBeLessThan(quiet_probe_interval_factor * limits.reader_probe_interval_ms);
    if (!r.prompt || backlog * quiet_cap_divisor > r.cap_bytes || unprobed * unprobed_cap_divisor > r.cap_bytes) {
      expect(since_ms).toBeLessThan(limits.reader_probe_interval_ms);
    }
  };

  const send = (bytes: number, round: boolean): void => {
    if (bytes === 0) return;
    if (round) r.start_round(now);
    r.on_sent(bytes);
    if (r.probe_due(now, conflating)) probe();
    else if (!conflating) check_cadence();
    if (!conflating) flow.streamed(bytes, now);
  };

  for (const t of turns) {
    if (closed) break;
    now += t.dt_ms;
    // The reader reads for dt and answers the probes it has passed, in order.
    read = Math.min(r.bytes_sent, read + (t.read_bytes_per_s * t.dt_ms) / 1000);
    while (probes.length > 0 && probes[0].offset <= read) flow.on_pong(probes.shift()!.payload, now);
    // (An offset some outstanding probe carries is no forgery: seed 1586464684 drew one.)
    if (t.forged === 'pong' && !probes.some((p) => p.offset === t.forged_offset)) expect(flow.on_pong(payload(t.forged_offset), now)).toBe(false);
    if (t.forged === 'ack') flow.on_ack(Math.min(t.forged_offset, read), now); // an application cannot have processed more than was read

    // What is acknowledged never goes back (but at a client's first Ack, from which on the lower of read and
    // processed counts), and never passes what was sent.
    if (r.acks_seen === acks_seen_before) expect(r.bytes_acked).toBeGreaterThanOrEqual(acked_before);
    acks_seen_before = r.acks_seen;
    // What a first Ack took back is in flight again without a send (SessionLink counts it as unjudged too).
    const retracted = Math.max(0, acked_before - r.bytes_acked);
    expect(r.bytes_acked).toBeLessThanOrEqual(r.bytes_sent);
    acked_before = r.bytes_acked;

    if (!conflating) {
      send(t.bytes, false);
      // Bytes in flight ≤ cap + one turn's frames: a streaming connection judged after every turn never holds more.
      // (While it conflates nothing streams, and a round starts with nothing in flight: checked at verdict_catch_up.
      // Checked there too, a turn's frames plus a first Ack's retraction left in flight as it started conflating
      // exceeded this turn's bound by the earlier turn's: seed -125001897, a failure of the test, not of the part.)
      expect(r.in_flight).toBeLessThanOrEqual(limits.in_flight_bytes_max + turn_bytes_max + retracted);
    }

    const buffered = conflating || t.read_buffer ? t.buffered : buffered_unknown;
    const v = conflating ? flow.judge_conflating(now, buffered) : flow.judge_streaming(now, buffered);
    if (conflating) {
      expect([verdict_wait, verdict_probe, verdict_stream, verdict_catch_up, close_code.send_buffer_overflow, close_code.reader_too_slow]).toContain(v);
      if (v === verdict_stream || v === verdict_catch_up) {
        // Room: everything acknowledged and uWS's buffer drained (one round in flight at a time).
        expect(r.in_flight).toBe(0);
        expect(buffered).toBeLessThanOrEqual(limits.slow_exit_bytes);
      }
      if (v === close_code.reader_too_slow) expect(r.lag_now_ms(now)).toBeGreaterThan(limits.reader_lag_ms_max);
    } else {
      expect([verdict_none, verdict_conflate, close_code.slow_consumer, close_code.send_buffer_overflow]).toContain(v);
      if (v === verdict_none && buffered !== buffered_unknown) expect(buffered).toBeLessThanOrEqual(limits.slow_enter_bytes);
      if (v === verdict_none) expect(r.over_cap()).toBe(false); // over the hard cap always ends streaming
      // The policy decides between conflating and closing, never both.
      if (limits.slow_policy === 'close') expect(v).not.toBe(verdict_conflate);
      else expect(v).not.toBe(close_code.slow_consumer);
      // A close for the reader's lag (not the buffer, not the hard cap) needs it a lag target behind: a close is final.
      if (v === close_code.slow_consumer && !r.over_cap() && (buffered === buffered_unknown || buffered <= limits.slow_enter_bytes)) {
        expect(r.lag_now_ms(now) - r.path_delay_ms).toBeGreaterThan(limits.reader_lag_target_ms);
      }
    }
    // 4009 exactly when more than send_buffer_bytes_max is buffered.
    expect(v === close_code.send_buffer_overflow).toBe(buffered > limits.send_buffer_bytes_max);
    if (v >= 4000) expect(slow_close_reasons[v]).toBeTypeOf('string');

    // The estimators stay in their bounds.
    expect(r.cap_bytes).toBeGreaterThanOrEqual(limits.in_flight_bytes_min);
    expect(r.window_bytes).toBeGreaterThanOrEqual(limits.in_flight_bytes_min);
    expect(r.window_bytes).toBeLessThanOrEqual(limits.in_flight_bytes_max);
    expect(Number.isFinite(r.rate_bytes_per_s)).toBe(true);
    expect(r.lag_ms).toBeGreaterThanOrEqual(0);

    switch (v) {
      case verdict_conflate:
        conflating = true;
        flow.conflating(now);
        break;
      case verdict_stream:
        conflating = false;
        flow.streaming(now);
        break;
      case verdict_catch_up:
        send(t.bytes, true);
        break;
      case verdict_probe:
        probe();
        break;
      default:
        if (v >= 4000) closed = true;
    }
  }
}

describe('FlowControl (property tests)', () => {
  it('holds its invariants for random readers, buffers and forged answers (policy conflate)', () => {
    fc.assert(fc.property(fc.array(turn, { minLength: 1, maxLength: 300 }), (turns) => drive(base_limits, turns)), { numRuns: 200 });
  });

  it('holds its invariants with policy close, and closes with 4008 rather than conflating', () => {
    fc.assert(fc.property(fc.array(turn, { minLength: 1, maxLength: 100 }), (turns) => drive({ ...base_limits, slow_policy: 'close' }, turns)), { numRuns: 100 });
  });

  it('holds them for any limits the config accepts', () => {
    const limits = fc.record({
      reader_lag_target_ms: fc.integer({ min: 20, max: 60_000 }),
      in_flight_bytes_min: fc.integer({ min: 512, max: 64 * 1024 }),
      in_flight_extra_bytes: fc.integer({ min: 0, max: 1024 * 1024 }),
      reader_probe_interval_ms: fc.integer({ min: 1, max: 10_000 }),
      reader_lag_ms_max: fc.integer({ min: 100, max: 600_000 }),
    }).map((l): FlowLimits => ({
      ...base_limits, reader_lag_target_ms: l.reader_lag_target_ms, in_flight_bytes_min: l.in_flight_bytes_min,
      in_flight_bytes_max: l.in_flight_bytes_min + l.in_flight_extra_bytes, reader_probe_interval_ms: l.reader_probe_interval_ms, reader_lag_ms_max: l.reader_lag_ms_max,
    }));
    fc.assert(fc.property(limits, fc.array(turn, { minLength: 1, maxLength: 150 }), (l, turns) => drive(l, turns)), { numRuns: Number(process.env.FC_RUNS ?? 100) });
  });

  it("policy 'close': a reader a gate late over its first window streams on; one a lag target behind is closed (4008)", () => {
    for (const policy of ['conflate', 'close'] as const) {
      const flow = new FlowControl({ ...base_limits, slow_policy: policy }, true, 0);
      const r = flow.reader;
      r.on_sent(2 * base_limits.in_flight_bytes_min); // a burst over the starting window (in_flight_bytes_min)
      r.probe(0);
      // 100 ms without an answer: past the gate (lag_gate_ms, 50 ms), far under the lag target (500 ms).
      expect(r.lagging(100)).toBe(true);
      expect(flow.judge_streaming(100, 0)).toBe(policy === 'close' ? verdict_none : verdict_conflate);
      if (policy === 'close') expect(flow.judge_streaming(base_limits.reader_lag_target_ms + 1, 0)).toBe(close_code.slow_consumer);
    }
  });

  it('a reader that stops reading entirely is moved to conflation, then waits with one probe out, never a second round', () => {
    fc.assert(fc.property(fc.integer({ min: 1000, max: turn_bytes_max }), fc.integer({ min: 1, max: 50 }), (bytes, dt_ms) => {
      const flow = new FlowControl(base_limits, true, 0);
      const r = flow.reader;
      let now = 0;
      let v = verdict_none;
      for (let i = 0; i < 2000 && v === verdict_none; i++, now += dt_ms) {
        r.on_sent(bytes);
        if (r.probe_due(now, false)) r.probe(now);
        v = flow.judge_streaming(now, 0);
      }
      expect(v).toBe(verdict_conflate);
      flow.conflating(now);
      for (let i = 0; i < 50; i++, now += dt_ms) {
        const w = flow.judge_conflating(now, 0);
        expect([verdict_wait, verdict_probe]).toContain(w);
        if (w === verdict_probe) r.probe(now);
      }
    }), { numRuns: 50 });
  });
});
