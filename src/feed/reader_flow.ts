// How far behind one connection's reader is, end to end, and how many bytes
// the server may have in flight to it: its two estimators side by side, the
// acknowledgement books (reader_probes.ts: what was sent, read, processed,
// the probes and their delays, the path's delay) and the bandwidth
// (reader_rate.ts: rate samples, rounds, bursts, the window and the cap).
// Pure: time is passed in, no I/O. What to do about what they say is
// flow_control.ts.
//
// This file is the one place an acknowledgement moves both (advance): the
// path's delay as known before the answer, the probes it retires, then the
// rate sample and the round it ends. `too_slow` reads both.
//
// Cost: O(1) per send, probe and acknowledgement (see the two estimators).

import type { ReaderFlowLimits } from './feed_types.js';
import { ReaderProbes } from './reader_probes.js';
import { ReaderRate } from './reader_rate.js';

export type { ReaderFlowLimits } from './feed_types.js';
export { probe_payload_bytes, probes_initial, probes_outstanding_max } from './reader_probes.js';

/** Delay samples a reader must have given before it can be judged too slow (a reader that answers nothing is left to the idle timeout). */
export const too_slow_samples_min = 3;

export class ReaderFlow {
  readonly probes: ReaderProbes;
  readonly rate: ReaderRate;

  constructor(readonly limits: ReaderFlowLimits) {
    this.probes = new ReaderProbes(limits);
    this.rate = new ReaderRate(limits);
  }

  // ---- inputs ----

  on_sent(bytes: number): void {
    this.probes.on_sent(bytes);
  }

  /**
   * The next bytes sent are a round that starts with nothing in flight (a
   * conflating connection's catch-ups): when all of it is acknowledged, its
   * size over its delay beyond the path's is a capacity sample, the reader
   * having had exactly that to read.
   */
  start_round(now_ms: number): void {
    if (this.probes.in_flight !== 0) return;
    this.rate.start_round(this.probes.bytes_sent, now_ms);
  }

  /** A pong: true when it answered a data probe (the reader moved on). Forged or unknown payloads change nothing. */
  on_pong(payload: Uint8Array, now_ms: number): boolean {
    if (!this.probes.on_pong(payload, now_ms)) return false;
    this.advance(now_ms);
    return true;
  }

  /** An Ack frame: bytes the client application processed (clamped to what was sent). */
  on_ack(bytes_processed: number, now_ms: number): void {
    if (this.probes.on_ack(bytes_processed)) this.advance(now_ms);
  }

  /** Retires answered probes (one delay sample: the newest), takes a rate sample, resizes the window. */
  private advance(now_ms: number): void {
    const p = this.probes;
    // The path's delay as known before this answer: the answer itself includes the round's transfer.
    const path_delay_ms = p.path_delay_ms;
    p.retire(now_ms);
    this.rate.on_acknowledged(p.bytes_acked, p.bytes_sent, path_delay_ms, now_ms);
  }

  // ---- what they say ----

  get bytes_sent(): number { return this.probes.bytes_sent; }
  get bytes_read(): number { return this.probes.bytes_read; }
  get bytes_processed(): number { return this.probes.bytes_processed; }
  get bytes_acked(): number { return this.probes.bytes_acked; }
  get acks_seen(): boolean { return this.probes.acks_seen; }
  get in_flight(): number { return this.probes.in_flight; }
  /** Probed and not yet acknowledged (what the probe cadence is judged on; see ReaderProbes.backlog_bytes). */
  get backlog_bytes(): number { return this.probes.backlog_bytes; }
  get lag_ms(): number { return this.probes.lag_ms; }
  get lag_samples(): number { return this.probes.lag_samples; }
  get lag_gate_ms(): number { return this.probes.lag_gate_ms; }
  get min_delay_ms(): number { return this.probes.min_delay_ms; }
  get path_delay_ms(): number { return this.probes.path_delay_ms; }
  /** Its latest answered probe came back about as fast as the path allows. */
  get prompt(): boolean { return this.probes.prompt; }
  get rate_bytes_per_s(): number { return this.rate.rate_bytes_per_s; }
  get instant_rounds(): number { return this.rate.instant_rounds; }
  get instant_rate_bytes_per_s(): number { return this.rate.instant_rate_bytes_per_s; }
  get window_bytes(): number { return this.rate.window_bytes; }
  get cap_bytes(): number { return this.rate.cap_bytes; }

  get wire_factor(): number { return this.rate.wire_factor; }
  set wire_factor(f: number) { this.rate.wire_factor = f; }
  get stream_cap_bytes(): number { return this.rate.stream_cap_bytes; }
  set stream_cap_bytes(bytes: number) { this.rate.stream_cap_bytes = bytes; }

  lag_now_ms(now_ms: number): number {
    return this.probes.lag_now_ms(now_ms);
  }

  lagging(now_ms: number): boolean {
    return this.probes.lagging(now_ms);
  }

  burst_bytes(now_ms: number): number {
    return this.rate.burst_bytes(this.probes.bytes_acked, now_ms);
  }

  /**
   * More probed and unacknowledged than the cap allows (backlog_bytes: the
   * bytes sent since the last probe are left out, so how often a reader is
   * probed never decides whether it conflates; over_cap counts them all).
   */
  over_window(): boolean {
    return this.probes.backlog_bytes > this.rate.cap_bytes;
  }

  /** More in flight than in_flight_bytes_max: the cap holds whatever the reader's lag. */
  over_cap(): boolean {
    return this.probes.in_flight > this.limits.in_flight_bytes_max;
  }

  /**
   * Too slow even for catch-ups: more than reader_lag_ms_max behind now, AND
   * at its measured rate it needs longer than that to read in_flight_bytes_min
   * (about one catch-up round). A paused reader that was fast keeps its
   * measured rate, so a pause alone never makes it too slow; nor does one
   * whose samples all showed its stream's rate, not its own (a quiet stream);
   * one that never answered at all is the idle timeout's (it may be dead, not
   * slow).
   */
  too_slow(now_ms: number): boolean {
    const l = this.limits;
    return this.rate.capacity_measured && this.probes.lag_samples >= too_slow_samples_min && this.probes.lag_now_ms(now_ms) > l.reader_lag_ms_max
      && (this.rate.rate_median() * l.reader_lag_ms_max) / 1000 < l.in_flight_bytes_min;
  }

  probe_due(now_ms: number, eager: boolean): boolean {
    return this.probes.probe_due(now_ms, eager, this.rate.cap_bytes, this.rate.window_bytes);
  }

  probe(now_ms: number): Uint8Array {
    return this.probes.probe(now_ms);
  }

  path_probe_due(now_ms: number): boolean {
    return this.probes.path_probe_due(now_ms);
  }

  path_probe(now_ms: number): Uint8Array {
    return this.probes.path_probe(now_ms);
  }
}
