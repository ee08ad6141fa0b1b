// One client connection as a link: its outgoing frames for this event-loop
// turn (sent corked, in one syscall, by session_sender.ts, with every probe),
// its inbound rate limit, and its flow control (flow_control.ts, pure), whose
// verdicts are carried out here, in one place (apply). What a verdict means
// for the connection's subscriptions (conflating, streaming again, a round of
// catch-ups) is its Session's (session.ts), through the three abstract
// methods below; Session is this class's only subclass.
//
// Order with topics: uWS writes a socket's published messages before any
// later direct send to it, so while the connection holds a topic each queued
// frame is sent at once instead of at the turn's end (a Status queued before
// a publish must not arrive after it). Nothing published is ever skipped: the
// server sets uWS's maxBackpressure to 0 (no limit) for topics, and flow
// control bounds the buffer per tick (Session.tick_published): its in-flight
// cap moves the connection to conflation (off the topics) long before
// send_buffer_bytes_max.
//
// Invariant (asserted, src/feed/invariants.ts): while it streams and its
// reader is probed, what is in flight when more is sent is at most
// in_flight_bytes_max plus what was sent since the last judgement (one
// turn's frames); while it conflates, a round of catch-ups starts with
// nothing in flight.
//
// Cost per flush: the sends, one judgement (JS comparisons), one native
// buffered-amount read only when a send reported backpressure or several
// frames went out corked, and a ping every reader_probe_interval_ms.

import type { ConflationCause, SessionLimits } from './feed_types.js';
import {
  buffered_unknown, FlowControl, slow_close_reasons, verdict_catch_up, verdict_conflate, verdict_none, verdict_probe, verdict_stream, verdict_wait,
} from './flow_control.js';
import { check } from './invariants.js';
import { TokenBucket } from './rate_limiter.js';
import type { ReaderFlow } from './reader_flow.js';
import type { StreamGate } from './stream_gate.js';
import { FrameSender, queued_first, queued_full } from './session_sender.js';
import { send_backpressure, send_dropped, type ClientTransport } from './transport.js';
import { close_code } from '../wire/codes.js';

/** What a link reports to the feed (one object for all sessions: each call gets its session). */
export interface LinkEvents<S> {
  /** Bytes the socket accepted in one flush (counted once per flush, not per frame). */
  on_bytes_sent(bytes: number): void;
  on_slow_change(session: S, slow: boolean, cause: ConflationCause): void;
  on_close_decision(session: S, code: number): void;
  /** The socket refused a send (uWS returned 2); the connection is closed for it. */
  on_send_dropped(session: S): void;
  /** A probe was answered: its delay, in ms. */
  on_lag_sample(session: S, lag_ms: number): void;
  /** The conflating session's reader acknowledged: pump it after the turn's fan-out (feed_scheduler.ts), not before it. */
  pump_soon(session: S): void;
  /** A connection served through topics is due a probe: send it right after the next publish (feed_scheduler.ts), or a delayed one's right after its class's next write (write_delay.ts), in the same write. */
  probe_with_publish(session: S): void;
}

export abstract class SessionLink<S extends SessionLink<S>> {
  /** Conflating: every subscription accumulates and gets catch-ups at the reader's pace. */
  slow = false;
  slow_cause: ConflationCause | null = null;
  /** Set when we decided to close: nothing is queued or sent after it. */
  closing = false;
  readonly inbound: TokenBucket;
  /** Every slow judgement of this connection (pure: fed here, its verdicts carried out here). */
  readonly flow_control: FlowControl;
  inbound_refused = 0;
  slow_episodes = 0;
  /** Most bytes ever seen buffered for this connection (sampled after each flush, on drain and every slow tick). */
  buffered_bytes_max = 0;
  /** The close code we decided on, if we closed the connection. */
  close_decision: number | null = null;
  /** The transport can send pings: the reader's lag is measured. */
  protected readonly probing: boolean;
  /** Sends what this connection queued, corked, with its probes. */
  protected readonly sender: FrameSender;
  /** Bytes sent since flow control last judged (the "one turn's frames" of the in-flight invariant). */
  private unjudged_bytes = 0;

  constructor(
    readonly transport: ClientTransport,
    readonly limits: SessionLimits,
    protected readonly link_events: LinkEvents<S>,
    private readonly schedule_flush: (s: S) => void,
    now_ms: number,
  ) {
    this.probing = transport.ping !== undefined && limits.reader_probe_interval_ms > 0;
    this.flow_control = new FlowControl(limits, this.probing, now_ms);
    this.sender = new FrameSender(transport, this.flow_control.reader, this.probing, link_events, now_ms);
    // Bursts up to one second's worth: a client subscribing to many symbols at once is fine.
    this.inbound = new TokenBucket(limits.inbound_messages_per_s_max, limits.inbound_messages_per_s_max, now_ms);
  }

  /** The connection conflates now (slow was set): its subscriptions accumulate. */
  protected abstract conflation_changed(now_ms: number): void;
  /** A round of the catch-ups that are due. */
  protected abstract send_catch_ups(now_ms: number): void;
  /** Frames published to this connection's topics since the last count: counted as sent (before any direct send). */
  protected abstract collect_published(now_ms: number): void;
  /** The connection holds a topic: queued frames go at once (see the header). */
  protected abstract get on_topics(): boolean;

  private get self(): S {
    return this as unknown as S;
  }

  /** The reader's flow (its two estimators), for reports. */
  get flow(): ReaderFlow {
    return this.flow_control.reader;
  }

  /** When this connection may stream again, for reports. */
  get gate(): StreamGate {
    return this.flow_control.gate;
  }

  /** Frames and bytes the socket accepted (sent or buffered); nothing is added after the close decision. */
  get frames_sent(): number {
    return this.sender.frames_sent;
  }

  get bytes_sent(): number {
    return this.sender.bytes_sent;
  }

  get last_send_ms(): number {
    return this.sender.last_send_ms;
  }

  // ---- sending ----

  /** Queues a frame for this turn's corked flush (sent at once while the connection holds topics: see the header). */
  queue(frame: Uint8Array): void {
    if (this.closing) return;
    const next = this.sender.queue(frame);
    if (next === queued_full || this.on_topics) this.flush();
    else if (next === queued_first) this.schedule_flush(this.self);
  }

  /** Sends every queued frame (session_sender.ts), then re-evaluates the connection. */
  flush(now_ms: number = Date.now()): void {
    this.sender.unschedule();
    if (this.closing) {
      this.sender.drop_pending();
      return;
    }
    const n = this.sender.pending_frames;
    if (n === 0) {
      this.evaluate(now_ms, true);
      return;
    }
    const status = this.send_queued(now_ms);
    if (status === send_dropped) return;
    const read_buffer = n > 1 || status === send_backpressure || this.slow;
    // Unprobed, streaming and nothing left buffered, nothing can have changed (the common fan-out case).
    if (read_buffer || this.probing) this.evaluate(now_ms, read_buffer);
  }

  /** Sends what is queued (there is something); a send the socket refused closes the connection. Returns the send status. */
  protected send_queued(now_ms: number): number {
    this.collect_published(now_ms);
    this.check_in_flight();
    const status = this.sender.send(now_ms, this.slow);
    this.unjudged_bytes += this.sender.last_flush_bytes;
    if (!this.slow) this.flow_control.streamed(this.sender.last_flush_bytes, now_ms);
    if (status === send_dropped) this.refused();
    return status;
  }

  /** Bytes published to this connection's topics were counted as sent (Session.collect_published). */
  protected published_sent(frames: number, bytes: number, now_ms: number): void {
    this.check_in_flight();
    this.sender.count_published(frames, bytes, now_ms);
    this.unjudged_bytes += bytes;
    this.flow_control.streamed(bytes, now_ms);
  }

  /** In flight before more is sent: at most in_flight_bytes_max plus what went since the last judgement (streaming, probed). */
  private check_in_flight(): void {
    if (this.slow || !this.probing) return;
    check(this.flow.in_flight <= this.limits.in_flight_bytes_max + this.unjudged_bytes, 'in flight within the cap plus one turn');
  }

  /** A probe alone (bytes in flight and none outstanding, or one due while topics carry the data). */
  protected send_probe(now_ms: number): void {
    if (this.sender.probe(now_ms) === send_dropped) this.refused();
  }

  /** The socket refused a send (uWS returned 2): counted, and closed, since a skipped frame would break the client's book. */
  private refused(): void {
    this.link_events.on_send_dropped(this.self);
    this.close_for(close_code.send_buffer_overflow);
  }

  // ---- flow control ----

  /** Room for a conflating connection's next catch-ups (FlowControl.has_room; reads uWS's buffered amount). */
  has_room(): boolean {
    return this.flow_control.has_room(this.transport.buffered_bytes());
  }

  on_pong(payload: Uint8Array, now_ms: number): void {
    if (this.closing || !this.flow_control.on_pong(payload, now_ms)) return;
    this.after_acknowledgement();
  }

  on_ack(bytes_processed: number, now_ms: number): void {
    if (this.closing) return;
    const in_flight = this.flow.in_flight;
    const sampled = this.flow_control.on_ack(bytes_processed, now_ms);
    // A client's first Ack can lower what counts as acknowledged (from then on the lower of read and processed):
    // in flight grows without a send, unjudged like a send (the in-flight invariant allows for it).
    if (this.flow.in_flight > in_flight) this.unjudged_bytes += this.flow.in_flight - in_flight;
    if (sampled) this.after_acknowledgement();
  }

  private after_acknowledgement(): void {
    this.link_events.on_lag_sample(this.self, this.flow.lag_ms);
    if (this.slow) this.link_events.pump_soon(this.self);
  }

  /** On uWS's drain event and the feed's tick: the buffered amount may have changed. */
  check_backpressure(now_ms: number = Date.now()): void {
    this.evaluate(now_ms, true);
  }

  /**
   * Sends the catch-ups that are due and fit: an interval subscription's
   * when its interval has passed, a conflating connection's whenever flow
   * control says its reader has room. Called by the feed's scheduler.
   */
  pump(now_ms: number): void {
    if (this.closing) return;
    if (this.slow) this.judge(now_ms, this.transport.buffered_bytes());
    else this.send_catch_ups(now_ms);
  }

  /**
   * Asks flow control for its verdict and carries it out. `read_buffer`:
   * read uWS's buffered amount (a native call) — after corked sends,
   * backpressure, drain or while conflating; otherwise only the reader's lag
   * is looked at (JS numbers).
   */
  protected evaluate(now_ms: number, read_buffer: boolean): void {
    if (this.closing) return;
    let buffered = buffered_unknown;
    if (read_buffer || this.slow) {
      buffered = this.transport.buffered_bytes();
      if (buffered > this.buffered_bytes_max) this.buffered_bytes_max = buffered;
    }
    this.judge(now_ms, buffered);
  }

  /** Flow control's verdict, carried out: the one place each of them takes effect. */
  private judge(now_ms: number, buffered: number): void {
    const fc = this.flow_control;
    const verdict = this.slow ? fc.judge_conflating(now_ms, buffered) : fc.judge_streaming(now_ms, buffered);
    this.unjudged_bytes = 0;
    switch (verdict) {
      case verdict_none:
      case verdict_wait:
        return;
      case verdict_conflate:
        this.slow = true;
        this.slow_cause = fc.cause;
        this.slow_episodes++;
        fc.conflating(now_ms);
        this.conflation_changed(now_ms);
        this.link_events.on_slow_change(this.self, true, fc.cause);
        return;
      case verdict_stream: {
        const cause = this.slow_cause ?? 'lag';
        this.slow = false;
        this.slow_cause = null;
        fc.streaming(now_ms);
        this.link_events.on_slow_change(this.self, false, cause);
        // Catch up every view at once: one conflated frame each, then stream again.
        this.conflation_changed(now_ms);
        return;
      }
      case verdict_probe:
        this.send_probe(now_ms);
        return;
      case verdict_catch_up:
        check(!this.probing || this.flow.in_flight === 0, 'a round of catch-ups starts with nothing in flight');
        this.send_catch_ups(now_ms);
        return;
      default:
        this.close_for(verdict);
    }
  }

  /** Closes for slowness with a code flow control decides (its reason written once, there). */
  private close_for(code: number): void {
    this.close(code, slow_close_reasons[code]);
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.close_decision = code;
    this.sender.drop_pending();
    this.link_events.on_close_decision(this.self, code);
    this.transport.end(code, reason);
  }
}
