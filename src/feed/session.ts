// One client connection: its outgoing frames for this event-loop turn (sent
// corked, in one syscall, by session_sender.ts), its inbound rate limit, how
// far behind its reader is (ReaderFlow), and the ONE place where each of its
// subscriptions' delivery mode is decided (`settle`):
//
//   waiting ──start_view──▶ streaming ⇄ accumulating
//
//   streaming     the subscription shares its view's encoded Deltas;
//   accumulating  it keeps only a seq and trades (Subscription) and is sent
//                 ONE catch-up frame when a catch-up is due: every interval_ms
//                 for an interval subscription, and whenever the reader has
//                 room for one while the connection conflates.
//   A subscription accumulates iff it has an interval or its connection is
//   conflating; the interval mechanism and the slow-reader one are the same
//   code path (pump).
//
// Topics (session_topics.ts): when the transport takes them (uWS,
// --fanout-topics), a streaming subscription is on its view's topic and gets
// each Delta from one publish for all its subscribers; this connection's JS
// does no work per Delta. Order: uWS writes a socket's published messages
// before any later direct send to it, so this session sends what it queued
// BEFORE joining a topic, and while on one sends each frame at once instead
// of at the turn's end (a Status queued before a publish must not arrive
// after it). Nothing published is ever skipped: the server sets uWS's
// maxBackpressure to 0 (no limit) for topics, and this session bounds the
// buffer itself, per tick (tick_published): its in-flight cap moves it to
// conflation (off the topics) long before send_buffer_bytes_max.
//
// When the connection conflates, streams again, has room for a round of
// catch-ups, or is closed for slowness (4008, 4009, 4010) is decided by its
// FlowControl (flow_control.ts, pure); this session feeds it (bytes sent,
// pongs, Acks, uWS's buffered amount when read) and carries out its verdicts
// (apply). Every probe leaves through session_sender.ts.
//
// Cost per flush: the sends, one judgement (JS comparisons), one native
// buffered-amount read only when a send reported backpressure or several
// frames went out corked, and a ping every reader_probe_interval_ms. With
// topics, per published_tick_ms in which its views published: a pass over
// its subscriptions (its share of what was published), the judgement, a
// native buffered-amount read only when more than slow_enter_bytes is in
// flight, and the probes.

import { close_code } from '../wire/codes.js';
import type { ConflationCause, SessionLimits } from './feed_types.js';
import { buffered_unknown, FlowControl, slow_close_reasons, verdict_catch_up, verdict_conflate, verdict_none, verdict_probe, verdict_stream, verdict_wait } from './flow_control.js';
import { TokenBucket } from './rate_limiter.js';
import type { ReaderFlow } from './reader_flow.js';
import type { StreamGate } from './stream_gate.js';
import type { Subscription, SubscriptionOwner } from './subscription.js';
import { FrameSender, queued_first, queued_full } from './session_sender.js';
import { SessionTopics } from './session_topics.js';
import { send_backpressure, send_dropped, type ClientTransport } from './transport.js';

export type { ConflationCause, SessionLimits, SlowPolicy } from './feed_types.js';

export interface SessionEvents {
  /** Bytes the socket accepted in one flush (counted once per flush, not per frame). */
  on_bytes_sent(bytes: number): void;
  on_slow_change(session: Session, slow: boolean, cause: ConflationCause): void;
  on_close_decision(session: Session, code: number): void;
  /** A catch-up frame was queued for an accumulating subscription (conflation or interval). */
  on_catch_up(session: Session, sub: Subscription): void;
  /** The socket refused a send (uWS returned 2); the connection is closed for it. */
  on_send_dropped(session: Session): void;
  /** The session now needs (or no longer needs) the feed's periodic pump: it conflates or has interval subscriptions. */
  on_pump_change(session: Session, needed: boolean): void;
  /** A probe was answered: its delay, in ms. */
  on_lag_sample(session: Session, lag_ms: number): void;
  /** The conflating session's reader acknowledged: pump it after the turn's fan-out (Feed), not before it. */
  pump_soon(session: Session): void;
}

export class Session implements SubscriptionOwner {
  private static next_id = 1;
  readonly id = Session.next_id++;
  readonly subs = new Map<string, Subscription>();
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
  private readonly probing: boolean;
  /** Sends what this connection queued, corked, with its probes. */
  private readonly sender: FrameSender;
  private interval_subs = 0;
  private pumped = false;
  /** Which subscriptions are on their view's topic (when the transport takes topics). */
  private readonly topics: SessionTopics;

  constructor(
    readonly transport: ClientTransport,
    readonly limits: SessionLimits,
    private readonly events: SessionEvents,
    private readonly schedule_flush: (s: Session) => void,
    now_ms: number,
  ) {
    this.probing = transport.ping !== undefined && limits.reader_probe_interval_ms > 0;
    this.flow_control = new FlowControl(limits, this.probing, now_ms);
    this.sender = new FrameSender(transport, this.flow_control.reader, this.probing, events, now_ms);
    this.topics = new SessionTopics(transport);
    // Bursts up to one second's worth: a client subscribing to many symbols at once is fine.
    this.inbound = new TokenBucket(limits.inbound_messages_per_s_max, limits.inbound_messages_per_s_max, now_ms);
  }

  /** The reader's flow (its two estimators), for reports. */
  get flow(): ReaderFlow {
    return this.flow_control.reader;
  }

  /** When this connection may stream again, for reports. */
  get gate(): StreamGate {
    return this.flow_control.gate;
  }

  // ---- the subscription state machine (its only owner) ----

  /** The view's Snapshot goes out now; then the subscription streams or accumulates from there. */
  start_view(sub: Subscription, now_ms: number): void {
    this.detach(sub);
    this.queue(sub.channel.snapshot());
    sub.mark_sent();
    sub.clear();
    this.settle(sub, now_ms, true);
  }

  /**
   * Like start_view, for a client that already holds the view from an
   * earlier connection (ResumeHistory decided it can continue): instead of a
   * Snapshot, the catch-up Delta from its seq to the view's (none when it is
   * at the view's seq); then the subscription streams or accumulates from there.
   */
  resume_view(sub: Subscription, catch_up: Uint8Array | null, now_ms: number): void {
    this.detach(sub);
    if (catch_up !== null) this.queue(catch_up);
    sub.mark_sent();
    sub.clear();
    this.settle(sub, now_ms, true);
  }

  /**
   * The view restarted (recovery, new epoch). An accumulating subscription's
   * next catch-up becomes a Snapshot; returns false for one that needs a
   * Snapshot now (the caller brings the view current and calls start_view).
   */
  defer_restart(sub: Subscription): boolean {
    if (sub.mode !== 'accumulating') return false;
    sub.force_snapshot();
    return true;
  }

  set_interval(sub: Subscription, interval_ms: number, now_ms: number): void {
    if (sub.interval_ms === interval_ms) return;
    if ((sub.interval_ms > 0) !== (interval_ms > 0)) this.count_interval_sub(interval_ms > 0 ? 1 : -1);
    sub.interval_ms = interval_ms;
    sub.next_due_ms = now_ms + interval_ms;
    this.settle(sub, now_ms);
  }

  add_view(sub: Subscription, now_ms: number): void {
    this.subs.set(sub.key, sub);
    sub.channel.subscribers.add(sub);
    if (sub.interval_ms > 0) {
      sub.next_due_ms = now_ms + sub.interval_ms;
      this.count_interval_sub(1);
    }
  }

  remove_view(sub: Subscription): void {
    this.detach(sub);
    sub.channel.subscribers.delete(sub);
    if (this.subs.delete(sub.key) && sub.interval_ms > 0) this.count_interval_sub(-1);
  }

  /**
   * Moves a subscription to the mode its interval and this connection's state
   * call for. `positioned`: it was just sent a Snapshot (its position is the
   * view's now), so it may enter either mode directly.
   */
  private settle(sub: Subscription, now_ms: number, positioned = false): void {
    const accumulate = this.slow || sub.interval_ms > 0;
    const ch = sub.channel;
    if (positioned) {
      if (accumulate) ch.start_accumulating(sub);
      else this.stream(sub);
    } else if (accumulate && sub.mode === 'streaming') {
      this.leave_topic(sub);
      ch.start_accumulating(sub);
    } else if (!accumulate && sub.mode === 'accumulating') {
      this.send_catch_up(sub); // to the view's seq: then it can share the view's Deltas
      this.stream(sub);
    } else {
      return;
    }
    if (accumulate) sub.next_due_ms = now_ms + sub.interval_ms;
  }

  /** The subscription shares its view's Deltas: through the view's topic when the transport takes topics. */
  private stream(sub: Subscription): void {
    if (!this.topics.enabled) {
      sub.channel.start_streaming(sub);
      return;
    }
    // Everything queued so far was made before the view's next Delta: it must be on the socket before the topic is.
    if (this.sender.pending_frames > 0) this.send_queued(Date.now());
    if (this.closing) return;
    this.topics.join(sub);
  }

  /** The subscription stops receiving its view's topic (its share of what was published is counted first, while it still counts). */
  private leave_topic(sub: Subscription): void {
    if (!sub.channel.published.has(sub)) return;
    this.collect_published(Date.now());
    this.topics.leave(sub);
  }

  /** Out of every set of its view (waiting); off the view's topic first if it was on it. */
  private detach(sub: Subscription): void {
    this.leave_topic(sub);
    sub.channel.remove(sub);
  }

  /**
   * Counts what was published to this connection's topics since the last
   * count as sent by it (the reader flow, the stream's rate, idleness): its
   * share, the growth of each view's published bytes. Called before any
   * direct send, so a probe's offset covers every byte on the socket before it.
   */
  private collect_published(now_ms: number): void {
    if (this.topics.count === 0) return;
    const bytes = this.topics.collect(this.subs.values());
    if (bytes === 0) return;
    this.sender.count_published(this.topics.collected_frames, bytes, now_ms);
    this.flow_control.streamed(bytes, now_ms);
  }

  /**
   * The feed's tick for a connection with topic subscriptions (it has no
   * flush per Delta), when one of its views published since the last tick:
   * counts what was published to it, then does what a flush of those frames
   * would: the hard cap, the lag gate, a probe if one is due. (As on the JS
   * path, a connection nothing is sent to is looked at again on its next
   * frame, a pong or a drain.)
   */
  tick_published(now_ms: number): void {
    if (this.closing || this.topics.count === 0) return;
    this.collect_published(now_ms);
    // What is buffered was sent and not yet read: never more than what is in flight.
    this.evaluate(now_ms, !this.probing || this.flow.in_flight > this.limits.slow_enter_bytes);
    if (this.closing || this.slow || !this.flow_control.probe_due_streaming(now_ms)) return;
    // After a publish a probe always waits behind data, so path probes go with direct frames (session_sender.ts).
    this.send_probe(now_ms);
  }

  /**
   * Sends the catch-ups that are due and fit: an interval subscription's
   * when its interval has passed, a conflating connection's whenever its
   * reader has room. Called by the feed's tick and when the reader acknowledges.
   */
  pump(now_ms: number): void {
    if (this.closing) return;
    if (this.slow) this.apply(this.flow_control.judge_conflating(now_ms, this.transport.buffered_bytes()), now_ms);
    else this.send_catch_ups(now_ms);
  }

  /** The catch-ups that are due: every accumulating subscription's (an interval one's when its interval has passed). */
  private send_catch_ups(now_ms: number): void {
    for (const sub of this.subs.values()) {
      if (sub.mode !== 'accumulating') continue;
      if (sub.interval_ms > 0) {
        if (now_ms < sub.next_due_ms) continue;
        sub.next_due_ms = now_ms + sub.interval_ms;
      }
      this.send_catch_up(sub);
    }
  }

  /** Queues the frame that brings an accumulating subscription to its view's current seq, if anything changed. */
  private send_catch_up(sub: Subscription): void {
    if (this.closing) return;
    const frame = sub.catch_up(this.flow_control.trades_listed_max(this.slow));
    if (frame === null) return;
    this.queue(frame);
    this.events.on_catch_up(this, sub);
  }

  private count_interval_sub(delta: number): void {
    this.interval_subs += delta;
    this.update_pumped();
  }

  private update_pumped(): void {
    const needed = this.slow || this.interval_subs > 0;
    if (needed === this.pumped) return;
    this.pumped = needed;
    this.events.on_pump_change(this, needed);
  }

  // ---- reader flow ----

  /** Room for a conflating connection's next catch-ups (FlowControl.has_room; reads uWS's buffered amount). */
  has_room(): boolean {
    return this.flow_control.has_room(this.transport.buffered_bytes());
  }

  on_pong(payload: Uint8Array, now_ms: number): void {
    if (this.closing || !this.flow_control.on_pong(payload, now_ms)) return;
    this.after_acknowledgement();
  }

  on_ack(bytes_processed: number, now_ms: number): void {
    if (this.closing || !this.flow_control.on_ack(bytes_processed, now_ms)) return;
    this.after_acknowledgement();
  }

  private after_acknowledgement(): void {
    this.events.on_lag_sample(this, this.flow.lag_ms);
    if (this.slow) this.events.pump_soon(this);
  }

  // ---- sending ----

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

  /** Queues a frame for this turn's corked flush (sent at once while the connection holds topics: see the header). */
  queue(frame: Uint8Array): void {
    if (this.closing) return;
    const next = this.sender.queue(frame);
    if (next === queued_full || this.topics.count > 0) this.flush();
    else if (next === queued_first) this.schedule_flush(this);
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
  private send_queued(now_ms: number): number {
    this.collect_published(now_ms);
    const status = this.sender.send(now_ms, this.slow);
    if (!this.slow) this.flow_control.streamed(this.sender.last_flush_bytes, now_ms);
    if (status === send_dropped) this.refused();
    return status;
  }

  /** A probe alone (bytes in flight and none outstanding, or one due while topics carry the data). */
  private send_probe(now_ms: number): void {
    if (this.sender.probe(now_ms) === send_dropped) this.refused();
  }

  /** The socket refused a send (uWS returned 2): counted, and closed, since a skipped frame would break the client's book. */
  private refused(): void {
    this.events.on_send_dropped(this);
    this.close_for(close_code.send_buffer_overflow);
  }

  /** On uWS's drain event and the feed's tick: the buffered amount may have changed. */
  check_backpressure(now_ms: number = Date.now()): void {
    this.evaluate(now_ms, true);
  }

  /**
   * Asks flow control for its verdict and carries it out. `read_buffer`:
   * read uWS's buffered amount (a native call) — after corked sends,
   * backpressure, drain or while conflating; otherwise only the reader's lag
   * is looked at (JS numbers).
   */
  private evaluate(now_ms: number, read_buffer: boolean): void {
    if (this.closing) return;
    let buffered = buffered_unknown;
    if (read_buffer || this.slow) {
      buffered = this.transport.buffered_bytes();
      if (buffered > this.buffered_bytes_max) this.buffered_bytes_max = buffered;
    }
    const fc = this.flow_control;
    this.apply(this.slow ? fc.judge_conflating(now_ms, buffered) : fc.judge_streaming(now_ms, buffered), now_ms);
  }

  /** Carries out a verdict of flow control (flow_control.ts): the one place each of them takes effect. */
  private apply(verdict: number, now_ms: number): void {
    switch (verdict) {
      case verdict_none:
      case verdict_wait:
        return;
      case verdict_conflate:
        this.start_conflating(now_ms);
        return;
      case verdict_stream:
        this.stop_conflating(now_ms);
        return;
      case verdict_probe:
        this.send_probe(now_ms);
        return;
      case verdict_catch_up:
        this.send_catch_ups(now_ms);
        return;
      default:
        this.close_for(verdict);
    }
  }

  private start_conflating(now_ms: number): void {
    const cause = this.flow_control.cause;
    this.flow_control.conflating(now_ms);
    this.slow = true;
    this.slow_cause = cause;
    this.slow_episodes++;
    for (const sub of this.subs.values()) this.settle(sub, now_ms);
    this.update_pumped();
    this.events.on_slow_change(this, true, cause);
  }

  private stop_conflating(now_ms: number): void {
    const cause = this.slow_cause ?? 'lag';
    this.slow = false;
    this.slow_cause = null;
    this.flow_control.streaming(now_ms);
    this.events.on_slow_change(this, false, cause);
    // Catch up every view at once: one conflated frame each, then stream again.
    // Interval subscriptions stay accumulating: the pump serves them when due.
    for (const sub of this.subs.values()) this.settle(sub, now_ms);
    this.update_pumped();
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
    this.events.on_close_decision(this, code);
    this.transport.end(code, reason);
  }
}
