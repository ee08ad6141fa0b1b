// One connection's flow control, as a pure part (like stream_gate.ts): its
// inputs are the reader's acknowledgements (pongs, Acks), the bytes sent, uWS's
// buffered amount and the clock; its outputs are verdicts. No sockets, no
// subscriptions: Session (session.ts) feeds it and carries out what it says.
//
// The one owner of every slow judgement, and of each close code for it:
//   - streaming → conflating (hysteresis, once per crossing as nats.js's
//     SlowNotifier): the reader lags (ReaderFlow: more bytes probed and unread than it
//     drains within the lag target AND its oldest unanswered probe waits longer
//     than the path explains, or more in flight than in_flight_bytes_max:
//     'lag'), or uWS's own buffer passes slow_enter_bytes ('buffer');
//     with slow_policy 'close' that is a close with 4008 instead, and for
//     'lag' the reader must be more than reader_lag_target_ms behind, not
//     only lag_gate_ms: a close is final (the client re-syncs from scratch),
//     so it waits for a reader clearly behind, not one that a burst or a
//     pause put a few tens of ms late over a window that starts at
//     in_flight_bytes_min (docs/GATEWAYS.md: Binance readers);
//   - conflating → streaming: uWS's buffer under slow_exit_bytes, nothing in
//     flight, and StreamGate says the reader can take the stream;
//   - room for a conflating connection's next round of catch-ups: its reader
//     acknowledged everything (one round in flight at a time, so each catch-up
//     is valued as late as possible) and uWS's buffer is drained;
//   - close 4009: more than send_buffer_bytes_max buffered (or a send the
//     socket refused: Session reports it, this names the code);
//   - close 4010: a conflating reader too slow even for catch-ups
//     (ReaderFlow.too_slow);
//   - the stream cap: a fast reader that stalls holds at most
//     stream_cap_factor lag targets of what its stream needs.
// slow_close_reasons is the one place each of those close codes is written.
//
// Invariant (asserted in the session and property-tested in
// test/unit/feed_flow_control.test.ts): a connection judged after every
// turn never has more than in_flight_bytes_max plus one turn's frames in
// flight while it streams, and at most one round while it conflates.
//
// Cost: per judgement a few comparisons of JS numbers (the buffered amount is
// read by the caller, natively, only when it asks for it); a conflating
// reader's too-slow check sorts at most 16 rate samples.

import { close_code } from '../wire/codes.js';
import type { ConflationCause, FlowLimits } from './feed_types.js';
import { ReaderFlow } from './reader_flow.js';
import { StreamGate } from './stream_gate.js';
import { catch_up_trades_min, conflation_trades_max } from './subscription.js';

/** A connection's in-flight cap is at most this many lag targets of its stream (a fast reader that stalls). */
export const stream_cap_factor = 1.5;
/** Bytes of one Trade struct on the wire (schemas/feed.fbs), for sizing a slow reader's catch-up. */
const trade_wire_bytes = 40;

/** Verdicts (any other value is a close code: see slow_close_reasons). */
export const verdict_none = 0;
/** Start conflating, for `FlowControl.cause`. */
export const verdict_conflate = 1;
/** A conflating connection may stream again. */
export const verdict_stream = 2;
/** Conflating, and no room for a round of catch-ups yet. */
export const verdict_wait = 3;
/** Conflating, no room, and bytes in flight with no probe behind them: send one, or room could never be seen to open. */
export const verdict_probe = 4;
/** Conflating with room: send a round of catch-ups. */
export const verdict_catch_up = 5;

/** The close codes flow control decides, with their reasons: each written here once. */
export const slow_close_reasons: Readonly<Record<number, string>> = {
  [close_code.slow_consumer]: 'slow consumer',
  [close_code.send_buffer_overflow]: 'send buffer limit reached',
  [close_code.reader_too_slow]: 'reader too slow even for conflated catch-ups',
};

/** Buffered amount not read for this judgement (a JS-only look at the reader's lag). */
export const buffered_unknown = -1;

export class FlowControl {
  readonly reader: ReaderFlow;
  /** When a conflating connection may stream again (and what the stream needs). */
  readonly gate: StreamGate;
  /** Why the last verdict_conflate was given. */
  cause: ConflationCause = 'lag';

  constructor(
    readonly limits: FlowLimits,
    /** The transport can send pings and probing is on: the reader's lag is measured. */
    readonly probing: boolean,
    now_ms: number,
  ) {
    this.reader = new ReaderFlow(limits);
    this.gate = new StreamGate(now_ms, limits.reader_lag_target_ms);
  }

  // ---- inputs ----

  /** A pong: true when it answered a data probe (a new delay sample). */
  on_pong(payload: Uint8Array, now_ms: number): boolean {
    return this.reader.on_pong(payload, now_ms);
  }

  /** An Ack frame: true when it gave a new delay sample. */
  on_ack(bytes_processed: number, now_ms: number): boolean {
    const samples = this.reader.lag_samples;
    this.reader.on_ack(bytes_processed, now_ms);
    return this.reader.lag_samples !== samples;
  }

  /** Bytes went out while streaming: the stream's rate, and from it the cap on what a stalled reader may hold. */
  streamed(bytes: number, now_ms: number): void {
    if (!this.gate.streamed(bytes, now_ms) || this.gate.stream_bytes_per_s === 0) return;
    this.reader.stream_cap_bytes = (stream_cap_factor * this.gate.stream_bytes_per_s * this.limits.reader_lag_target_ms) / 1000;
  }

  /** The connection started conflating (after verdict_conflate). */
  conflating(now_ms: number): void {
    this.gate.conflating(this.cause, now_ms);
  }

  /** The connection streams again (after verdict_stream). */
  streaming(now_ms: number): void {
    this.gate.streaming(now_ms);
  }

  // ---- decisions ----

  /**
   * A streaming connection after a flush, a tick or a drain: the hard cap,
   * then whether it must conflate. `buffered`: uWS's buffered amount, or
   * buffered_unknown when it was not read (only the reader's lag is looked at).
   */
  judge_streaming(now_ms: number, buffered: number): number {
    const l = this.limits;
    if (buffered > l.send_buffer_bytes_max) return close_code.send_buffer_overflow;
    const r = this.reader;
    let cause: ConflationCause;
    if (buffered > l.slow_enter_bytes) cause = 'buffer';
    else if (this.probing && (r.over_cap() || (r.over_window() && this.behind(now_ms)))) cause = 'lag';
    else return verdict_none;
    if (l.slow_policy === 'close') return close_code.slow_consumer;
    this.cause = cause;
    return verdict_conflate;
  }

  /** Behind enough to act on: lagging (conflation can be undone), or with policy 'close' a lag target behind (a close cannot). */
  private behind(now_ms: number): boolean {
    const r = this.reader;
    if (this.limits.slow_policy !== 'close') return r.lagging(now_ms);
    return r.lag_now_ms(now_ms) - r.path_delay_ms > this.limits.reader_lag_target_ms;
  }

  /** A conflating connection (uWS's buffered amount read): close it, wait, probe, stream again, or send a round of catch-ups. */
  judge_conflating(now_ms: number, buffered: number): number {
    if (buffered > this.limits.send_buffer_bytes_max) return close_code.send_buffer_overflow;
    const r = this.reader;
    if (r.too_slow(now_ms)) return close_code.reader_too_slow;
    if (!this.has_room(buffered)) {
      // Bytes sent since the last probe (one was not due then): without a probe after them, room could never be seen to open.
      return this.probing && r.probe_due(now_ms, true) ? verdict_probe : verdict_wait;
    }
    if (this.gate.may_stream(this.probing ? r : null, now_ms)) return verdict_stream;
    return verdict_catch_up;
  }

  /**
   * Room for a conflating connection's next catch-ups: its reader has
   * acknowledged everything sent (one round in flight at a time, so each
   * catch-up is valued as late as possible and never queues behind another),
   * and uWS's buffer is drained.
   */
  has_room(buffered: number): boolean {
    return (!this.probing || this.reader.in_flight === 0) && buffered <= this.limits.slow_exit_bytes;
  }

  /** A streaming connection served through topics is due a probe (a conflating one probes with its catch-ups). */
  probe_due_streaming(now_ms: number): boolean {
    return this.probing && this.reader.probe_due(now_ms, false);
  }

  /** Trades a catch-up lists one by one: for a conflating reader at most a quarter of its window; the rest fold into one exact aggregate. */
  trades_listed_max(conflating: boolean): number {
    if (!conflating || !this.probing) return conflation_trades_max;
    return Math.min(conflation_trades_max, Math.max(catch_up_trades_min, Math.floor(this.reader.window_bytes / 4 / trade_wire_bytes)));
  }
}
