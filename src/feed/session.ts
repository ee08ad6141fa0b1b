// One client connection's subscriptions, and the ONE place where each of
// their delivery modes is decided (`settle`) and written (`set_mode`):
//
//   waiting ──start_view──▶ streaming | published ⇄ accumulating ⇄ snapshot_pending
//
//   streaming         it shares its view's encoded Deltas, queued one by one
//                     (a transport without topics, or --no-fanout-topics);
//   published         the same through its view's topic: one publish for all
//                     its subscribers, written by uWS's C++ (session_topics.ts);
//                     this connection's JS does no work per Delta. A
//                     subscription is on its view's topic iff it is published;
//   accumulating      it keeps only a seq and trades (Subscription) and is sent
//                     ONE catch-up frame when one is due: every interval_ms for
//                     an interval subscription, and whenever flow control says
//                     the reader has room while the connection conflates;
//   snapshot_pending  accumulating, and its view restarted (recovery, a new
//                     epoch): its next catch-up is a Snapshot, and it holds no
//                     trades until then.
//   A subscription accumulates iff it has an interval or its connection is
//   conflating; the interval mechanism and the slow-reader one are the same
//   code path (the pump). Each mode is exactly one set of its view
//   (view_channel.ts), asserted at every transition (invariants.ts).
//
// Order with topics: this session sends what it queued BEFORE a subscription
// joins a topic (uWS writes published messages before later direct sends),
// and counts its share of what was published before it leaves one.
//
// The connection itself (sending, flow control's verdicts, closing) is
// session_link.ts, which this extends; the feed's clock feed_scheduler.ts.
//
// Cost: per mode change a few Set operations (and a topic subscribe or
// unsubscribe, native); per published tick a pass over its subscriptions
// (its share of what was published) and one judgement.

import type { SessionLimits } from './feed_types.js';
import { check, heavy_checks } from './invariants.js';
import { SessionLink, type LinkEvents } from './session_link.js';
import type { PublishedTopic } from './published_topic.js';
import { SessionTopics } from './session_topics.js';
import type { Subscription, SubscriptionMode, SubscriptionOwner } from './subscription.js';
import type { ClientTransport } from './transport.js';
import type { WriteDelayClass } from './write_delay.js';

export type { ConflationCause, SessionLimits, SessionOptions, SlowPolicy } from './feed_types.js';

export interface SessionEvents extends LinkEvents<Session> {
  /** A view's Snapshot was queued to start a subscription (start_view). */
  on_snapshot(session: Session): void;
  /** A catch-up frame was queued for an accumulating subscription (conflation or interval). */
  on_catch_up(session: Session, sub: Subscription): void;
  /** The session now needs (or no longer needs) the feed's periodic pump: it conflates or has interval subscriptions. */
  on_pump_change(session: Session, needed: boolean): void;
}

/** The subscription accumulates (the view's accumulating set). */
function accumulates(mode: SubscriptionMode): boolean {
  return mode === 'accumulating' || mode === 'snapshot_pending';
}

export class Session extends SessionLink<Session> implements SubscriptionOwner {
  private static next_id = 1;
  readonly id = Session.next_id++;
  readonly subs = new Map<string, Subscription>();
  private interval_subs = 0;
  published_tick_mark = 0;
  private pumped = false;
  /** Which subscriptions are on their view's topic (when the transport takes topics). */
  private readonly topics: SessionTopics;

  /**
   * Its frames wait for its write-delay class's timer instead of the turn's end: it has a write delay and
   * takes no topics (with topics, only its views' Deltas wait, in the class's topics: write_delay.ts).
   */
  readonly delays_queue: boolean;

  /** `write_delay`: the class of the write delay the connection asked for (null: none, the default). */
  constructor(transport: ClientTransport, limits: SessionLimits, private readonly events: SessionEvents, schedule_flush: (s: Session) => void, now_ms: number,
    readonly write_delay: WriteDelayClass | null = null) {
    super(transport, limits, events, schedule_flush, now_ms);
    this.topics = new SessionTopics(transport, write_delay);
    this.delays_queue = write_delay !== null && !this.topics.enabled;
  }

  protected get on_topics(): boolean {
    return this.topics.held > 0;
  }

  // ---- topics that are not a view's (PublishedTopic: the gateway's streams) ----

  /**
   * From now on this connection receives what is published to the topic,
   * counted as sent by it exactly as its views' topics are (flow control
   * judges it the same way). What it queued before goes out first.
   */
  join_topic(topic: PublishedTopic): void {
    check(this.topics.enabled, 'only a transport that takes topics joins one');
    if (this.closing) return;
    if (this.sender.pending_frames > 0) this.send_queued(Date.now());
    if (this.closing) return;
    this.topics.join_topic(this, topic);
  }

  /** Leaves the topic; its share of what was published before is counted first. */
  leave_topic(topic: PublishedTopic): void {
    this.collect_published(Date.now());
    this.topics.leave_topic(topic);
  }

  /** Leaves every topic that is not a view's (Feed.close_session). */
  leave_all_topics(): void {
    this.topics.leave_all_topics();
  }

  // ---- the subscription state machine (its only owner) ----

  /** The view's Snapshot goes out now; then the subscription streams or accumulates from there. */
  start_view(sub: Subscription, now_ms: number): void {
    if (!this.closing) this.events.on_snapshot(this);
    this.resume_view(sub, sub.channel.snapshot(), now_ms);
  }

  /**
   * Like start_view, for a client that already holds the view from an
   * earlier connection (ResumeHistory decided it can continue): instead of a
   * Snapshot, the catch-up Delta from its seq to the view's (none when it is
   * at the view's seq); then the subscription streams or accumulates from there.
   */
  resume_view(sub: Subscription, frame: Uint8Array | null, now_ms: number): void {
    this.set_mode(sub, 'waiting');
    if (frame !== null) this.queue(frame);
    sub.mark_sent();
    sub.clear();
    this.settle(sub, now_ms, true);
  }

  /**
   * The view restarted (recovery, new epoch). An accumulating subscription's
   * next catch-up becomes a Snapshot (snapshot_pending); returns false for one
   * that needs a Snapshot now (the caller brings the view current and calls
   * start_view).
   */
  defer_restart(sub: Subscription): boolean {
    if (!accumulates(sub.mode)) return false;
    // The trades between its last frame and the restart never reached the feed: what it holds is dropped (PROTOCOL.md §5.5).
    sub.clear();
    this.set_mode(sub, 'snapshot_pending');
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
    this.set_mode(sub, 'waiting');
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
    if (positioned) {
      if (accumulate) this.set_mode(sub, 'accumulating');
      else this.stream(sub);
    } else if (accumulate && (sub.mode === 'streaming' || sub.mode === 'published')) {
      this.set_mode(sub, 'accumulating');
    } else if (!accumulate && accumulates(sub.mode)) {
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
      this.set_mode(sub, 'streaming');
      return;
    }
    // Everything queued so far was made before the view's next Delta: it must be on the socket before the topic is.
    if (this.sender.pending_frames > 0) this.send_queued(Date.now());
    if (this.closing) return;
    this.set_mode(sub, 'published');
  }

  /** The one writer of a subscription's mode: moves it between its view's sets, and on or off the view's topic. */
  private set_mode(sub: Subscription, to: SubscriptionMode): void {
    const from = sub.mode;
    if (from === to) return;
    const ch = sub.channel;
    if (from === 'published') {
      // Its share of what was published is counted first, while it still counts (a write delay's held frames go first).
      if (!this.closing) this.topics.before_leave(sub);
      this.collect_published(Date.now());
      this.topics.leave(sub);
    }
    if (accumulates(to) && (from === 'streaming' || from === 'published')) sub.mark_sent(); // it was queued every Delta up to the view's seq
    if (to === 'accumulating' && from !== 'snapshot_pending') sub.clear();
    if (!(accumulates(from) && accumulates(to))) {
      ch.leave(sub, from);
      ch.enter(sub, to);
    }
    sub.mode = to;
    if (to === 'published') this.topics.join(sub);
    this.check_mode(sub);
  }

  /** Mode ⇔ the view's set it is in ⇔ topic membership. */
  private check_mode(sub: Subscription): void {
    const ch = sub.channel;
    const mode = sub.mode;
    check(ch.streaming.has(sub) === (mode === 'streaming'), 'streaming iff in the view\'s streaming set');
    check(ch.published.has(sub) === (mode === 'published'), 'published iff on the view\'s topic');
    check(ch.accumulating.has(sub) === accumulates(mode), 'accumulating iff in the view\'s accumulating set');
    if (!heavy_checks) return;
    let published = 0;
    for (const s of this.subs.values()) if (s.mode === 'published') published++;
    check(published === this.topics.count, 'the topics held are the published subscriptions\'');
  }

  /**
   * Counts what was published to this connection's topics since the last
   * count as sent by it (the reader flow, the stream's rate, idleness): its
   * share, the growth of each view's published bytes. Called before any
   * direct send, so a probe's offset covers every byte on the socket before it.
   */
  protected collect_published(now_ms: number): void {
    if (this.topics.held === 0) return;
    const bytes = this.topics.collect();
    if (bytes > 0) this.published_sent(this.topics.collected_frames, bytes, now_ms);
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
    if (this.closing || this.topics.held === 0) return;
    this.collect_published(now_ms);
    // What is buffered was sent and not yet read: never more than what is in flight.
    this.evaluate(now_ms, !this.probing || this.flow.in_flight > this.limits.slow_enter_bytes);
    if (this.closing || this.slow || !this.flow_control.probe_due_streaming(now_ms)) return;
    // Sent now, the ping would leave in a write of its own (what this turn published to the socket was written
    // already): it waits for the next publish and leaves with that, in one write (FeedScheduler.published); a delayed
    // connection's waits for its class's own write (write_delay.ts, "Probes").
    this.events.probe_with_publish(this);
  }

  /**
   * The probe tick_published found due, right after a publish (or a tick
   * later, if none came): uWS writes what was published to this socket and
   * the ping in one write. Counts what was published first, so the probe's
   * offset covers every byte before it on the socket.
   */
  send_waiting_probe(now_ms: number): void {
    if (this.closing || this.slow || this.topics.held === 0) return;
    this.collect_published(now_ms);
    // After a publish a probe always waits behind data, so path probes go with direct frames (session_sender.ts).
    if (this.flow_control.probe_due_streaming(now_ms)) this.send_probe(now_ms);
  }

  /** Flow control moved the connection to conflation or back: every subscription to the mode that calls for. */
  protected conflation_changed(now_ms: number): void {
    for (const sub of this.subs.values()) this.settle(sub, now_ms);
    this.update_pumped();
  }

  /** The catch-ups that are due: every accumulating subscription's (an interval one's when its interval has passed). */
  protected send_catch_ups(now_ms: number): void {
    for (const sub of this.subs.values()) {
      if (!accumulates(sub.mode)) continue;
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
    if (sub.mode === 'snapshot_pending') this.set_mode(sub, 'accumulating'); // the Snapshot it waited for is this frame
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
}
