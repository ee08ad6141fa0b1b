// Per-connection write coalescing (docs/PROTOCOL.md §5.10): a client that
// connects with ?write_delay_ms=N gets its frames at most every N ms, in one
// write, instead of one write per engine turn. Fewer, larger writes cost its
// reader far less per frame (one read and one wake-up per write, not per
// frame); the price is up to N ms of latency, which the client asked for.
//
// Connections that asked for the same N form one delay class (a
// WriteDelayClass, shared, made on first use). Encode once per view holds:
// a view's Delta is encoded once by the fan-out, and for each class with
// subscribers of that view the same bytes are held (a reference, no copy) in
// the class's DelayedTopic of the view, then published together to that
// topic (uWS topic `<view>@<N>`) when the class's timer fires, N ms after
// the first frame it held: uWS writes each member socket everything of one
// turn's publishes in one write. Each member counts its share of what was
// published exactly as it counts a view's topic (SessionTopics.collect), so
// flow control (probes, the in-flight cap, conflation, 4008/4009/4010)
// judges it as it judges any topic connection. A connection without topics
// (--no-fanout-topics, in-memory transports) keeps its one queue of
// frames; the class's timer flushes it instead of the turn's end.
//
// Order: a view's held frames are published before a subscription joins or
// leaves the class's topic of that view (a joiner must not get frames from
// before its Snapshot; a leaver was marked sent up to the view's seq), and
// before a Status about the symbol (Fanout.on_state).
//
// Probes: a member's reader probe that falls due (Session.tick_published)
// waits for the class's next write and leaves right after it, in the same
// write (probe_with_write): behind every frame the class held for it, so its
// offset and its delay measure the reader as it gets its data (one write per
// N ms), never a ping that overtakes held frames in a write of its own (which
// woke the reader between its writes and measured a queue it never had). A
// probe due while nothing is held arms the timer: it waits at most N ms.
//
// Owner of: what write_delay_ms values are accepted (parse_write_delay).
// Cost: per Delta per view, one push per delay class with subscribers of the
// view (not per connection); per class timer, one publish per held frame and
// a pass over the sessions it flushes and the members whose probe is due. Memory: the frames of at most N ms
// per view per class (N ≤ write_delay_ms_max).

import type { HeldFrames } from './feed_types.js';
import type { Session } from './session.js';
import type { Subscription, SubscriptionChannel } from './subscription.js';
import type { TopicPublisher } from './transport.js';
import { write_delay_query } from '../wire/codes.js';


/**
 * The delay a connection asked for: `raw` is the query parameter's value
 * (undefined: not given = 0). A value that is not a decimal integer from 0
 * to max_ms is refused: delay 0 and a reason (the connection gets Error
 * bad_write_delay and streams undelayed).
 */
export function parse_write_delay(raw: string | undefined, max_ms: number): { delay_ms: number; refusal: string | null } {
  if (raw === undefined) return { delay_ms: 0, refusal: null };
  const n = /^[0-9]{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (Number.isInteger(n) && n <= max_ms) return { delay_ms: n, refusal: null };
  return { delay_ms: 0, refusal: `${write_delay_query} must be an integer from 0 to ${max_ms} (the server's write_delay_ms_max); got '${raw.slice(0, 32)}': streaming undelayed` };
}

/** Where a subscription on a topic counts its share from: a view (its own topic) or a DelayedTopic. */
export interface TopicCounters {
  readonly topic: string;
  readonly published_bytes: number;
  readonly published_frames: number;
}

/** One view's frames for one delay class: held, then published together to the class's topic of the view. */
export class DelayedTopic implements TopicCounters, HeldFrames {
  readonly topic: string;
  /** The subscriptions on this topic (the published tick visits their owners, as a view's published set). */
  readonly published = new Set<Subscription>();
  published_bytes = 0;
  published_frames = 0;
  /** Frames encoded by the fan-out and not yet published (shared references: no copy). */
  private readonly held: Uint8Array[] = [];

  constructor(readonly channel: SubscriptionChannel, private readonly delay_class: WriteDelayClass) {
    this.topic = `${channel.topic}@${delay_class.delay_ms}`;
  }

  /** The fan-out encoded a Delta of the view: it leaves with the class's next write. */
  hold(frame: Uint8Array): void {
    if (this.held.length === 0) this.delay_class.due(this);
    this.held.push(frame);
  }

  /** Publishes what is held, now (the class's timer, or an order point: see the header). */
  publish_held(): void {
    const held = this.held;
    if (held.length === 0) return;
    const publisher = this.delay_class.publisher();
    for (let i = 0; i < held.length; i++) {
      publisher.publish(this.topic, held[i]);
      this.published_bytes += held[i].byteLength;
      this.published_frames++;
    }
    this.delay_class.published(held.length);
    held.length = 0;
    this.delay_class.on_publish(this);
  }

  /** Forgets what is held (its last member left: nobody is to get it). */
  drop_held(): void {
    this.held.length = 0;
  }
}

/** What a delay class needs from its feed. */
export interface WriteDelayContext {
  /** The views' publisher (the server's; present whenever a transport takes topics). */
  publisher(): TopicPublisher;
  /** A DelayedTopic published: its members are due a published tick, and waiting probes may go (Feed). */
  on_publish(topic: DelayedTopic): void;
}

/** The connections that asked for one write delay: their views' DelayedTopics and their timer. */
export class WriteDelayClass {
  private readonly topics = new Map<SubscriptionChannel, DelayedTopic>();
  /** Topics holding frames, in the order they first held one. */
  private readonly due_topics: DelayedTopic[] = [];
  /** Sessions without topics whose queued frames wait for this class's timer. */
  private readonly due_sessions: Session[] = [];
  /** Members whose reader probe is due: sent right after the class's next write (probe_with_write). */
  private readonly probes_due = new Set<Session>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Writes to the class's members (timer runs, and views published early at an order point) and the frames they carried: frames per write, for /stats and tests. */
  writes = 0;
  frames_written = 0;
  private in_timer = false;
  private stopped = false;

  constructor(readonly delay_ms: number, private readonly context: WriteDelayContext) {}

  publisher(): TopicPublisher {
    return this.context.publisher();
  }

  on_publish(topic: DelayedTopic): void {
    this.context.on_publish(topic);
  }

  /** A DelayedTopic published `frames` held frames. */
  published(frames: number): void {
    this.frames_written += frames;
    if (!this.in_timer) this.writes++;
  }

  /** The subscription goes on the class's topic of its view (held frames go first: they precede its Snapshot). */
  join(sub: Subscription): DelayedTopic {
    const ch = sub.channel;
    let topic = this.topics.get(ch);
    if (topic === undefined) this.topics.set(ch, (topic = new DelayedTopic(ch, this)));
    topic.publish_held();
    if (topic.published.size === 0) {
      ch.delayed.push(topic);
    }
    topic.published.add(sub);
    ch.delayed_members++;
    return topic;
  }

  /** Before the subscription leaves the class's topic of its view: what is held goes first (the leaver is counted as sent up to the view's seq). */
  before_leave(sub: Subscription): void {
    this.topics.get(sub.channel)?.publish_held();
  }

  leave(sub: Subscription): void {
    const ch = sub.channel;
    const topic = this.topics.get(ch);
    if (topic === undefined || !topic.published.delete(sub)) return;
    ch.delayed_members--;
    if (topic.published.size === 0) {
      topic.drop_held(); // nobody is left to get them
      const list = ch.delayed;
      list[list.indexOf(topic)] = list[list.length - 1];
      list.pop();
    }
  }

  /** A topic of this class holds its first frame: the class writes within delay_ms. */
  due(topic: DelayedTopic): void {
    this.due_topics.push(topic);
    this.arm();
  }

  /** A session without topics queued its first frame since its last flush: flushed within delay_ms. */
  schedule_session(s: Session): void {
    this.due_sessions.push(s);
    this.arm();
  }

  /**
   * A member's probe is due (Session.tick_published): it goes right after the
   * class's next write, in the same write as the frames held for it (uWS
   * writes a socket's published frames before anything sent to it directly).
   */
  probe_with_write(s: Session): void {
    this.probes_due.add(s);
    this.arm();
  }

  /** The member is gone. */
  forget(s: Session): void {
    this.probes_due.delete(s);
  }

  /** The feed stops: what is held goes now (before the sessions' going-away close), then no more timers. */
  stop(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.write();
    }
    this.stopped = true;
  }

  private arm(): void {
    if (this.timer !== null || this.stopped || this.in_timer) return; // in the timer: this write takes it
    this.timer = setTimeout(this.write, this.delay_ms);
  }

  /** The class's write: every held frame of every view published (uWS writes each member's in one write), every due session flushed. */
  private readonly write = (): void => {
    this.timer = null;
    if (this.stopped) return;
    this.writes++;
    this.in_timer = true;
    const topics = this.due_topics;
    for (let i = 0; i < topics.length; i++) topics[i].publish_held();
    topics.length = 0;
    const now_ms = Date.now();
    const sessions = this.due_sessions;
    // Indexed: a flush that queues more for its own session appends it again, and it is visited again here.
    for (let i = 0; i < sessions.length; i++) {
      const s = sessions[i];
      const before = s.frames_sent;
      s.flush(now_ms);
      this.frames_written += s.frames_sent - before;
    }
    sessions.length = 0;
    this.in_timer = false;
    // After every publish of this write: each probe follows its socket's frames (Session.send_waiting_probe counts them first).
    if (this.probes_due.size > 0) {
      for (const s of this.probes_due) s.send_waiting_probe(now_ms);
      this.probes_due.clear();
    }
  };
}
