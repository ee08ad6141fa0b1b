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
// the class's DelayedTopics of the view, then published together to each
// (uWS topic `<view>@<N>`, `<view>@<N>.<phase>` when the class has phases)
// at its phase's next write: uWS writes each member socket everything of one
// turn's publishes in one write. Each member counts its share of what was
// published exactly as it counts a view's topic (SessionTopics.collect), so
// flow control (probes, the in-flight cap, conflation, 4008/4009/4010)
// judges it as it judges any topic connection. A connection without topics
// (--no-fanout-topics, in-memory transports) keeps its one queue of
// frames; its phase's write flushes it instead of the turn's end.
//
// Phases: a class's members are spread over up to write_delay_phases_max
// phases (by connection id), written in turn on a grid of N / phases ms, so
// each phase every N ms (a frame waits at most N ms, N/2 on average) but not
// every member in the same instant: 300 delayed clients of one host, or a
// proxy in front of them, read a quarter of them per burst, four times as
// often (loadgen at --write-delay-ms 20: loadgen/README.md).
//
// Order: a view's held frames are published before a subscription joins or
// leaves its topic of that view (a joiner must not get frames from before
// its Snapshot; a leaver was marked sent up to the view's seq), and before a
// Status about the symbol (Fanout.on_state).
//
// Probes: a member's reader probe that falls due (Session.tick_published)
// waits for its phase's next write and leaves right after it, in the same
// write (probe_with_write): behind every frame held for it, so its offset and
// its delay measure the reader as it gets its data (one write per N ms),
// never a ping that overtakes held frames in a write of its own (which woke
// the reader between its writes and measured a queue it never had). A probe
// due while nothing is held arms the timer: it waits at most N ms.
//
// Owner of: what write_delay_ms values are accepted (parse_write_delay).
// Cost: per Delta per view, one push per delay class phase with subscribers
// of the view (not per connection); per phase write, one publish per held
// frame and a pass over the sessions it flushes and the members whose probe
// is due; a timer per N / phases ms while anything is held. Memory: the
// frames of at most N ms per view per phase (N ≤ write_delay_ms_max).

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

/** One view's frames for one phase of one delay class: held, then published together to its topic. */
export class DelayedTopic implements TopicCounters, HeldFrames {
  readonly topic: string;
  /** The subscriptions on this topic (the published tick visits their owners, as a view's published set). */
  readonly published = new Set<Subscription>();
  published_bytes = 0;
  published_frames = 0;
  /** Frames encoded by the fan-out and not yet published (shared references: no copy). */
  private readonly held: Uint8Array[] = [];

  constructor(readonly channel: SubscriptionChannel, private readonly delay_class: WriteDelayClass, readonly phase: number) {
    this.topic = `${channel.topic}@${delay_class.delay_ms}` + (delay_class.phases > 1 ? `.${phase}` : '');
  }

  /** The fan-out encoded a Delta of the view: it leaves with its phase's next write. */
  hold(frame: Uint8Array): void {
    if (this.held.length === 0) this.delay_class.due(this);
    this.held.push(frame);
  }

  /** Publishes what is held, now (its phase's write, or an order point: see the header). */
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
  /** A DelayedTopic published: its members are due a published tick (Feed). */
  on_publish(topic: DelayedTopic): void;
}

/** A class's phases last at least this long: shorter ones would spread its writes no further on a loaded machine (timers are ms-grained) and cost a publish per frame more. */
export const write_delay_phase_ms_min = 5;
/** At most this many phases per class: each costs one more publish per held frame, and 4 already cut a write's burst to a quarter of the members. */
export const write_delay_phases_max = 4;

/** What one phase of a class has due at its next write. */
class Phase {
  /** Topics holding frames, in the order they first held one. */
  readonly topics: DelayedTopic[] = [];
  /** Sessions without topics whose queued frames wait for this phase's write. */
  readonly sessions: Session[] = [];
  /** Members whose reader probe is due: sent right after this phase's next write (probe_with_write). */
  readonly probes = new Set<Session>();

  get due(): boolean {
    return this.topics.length > 0 || this.sessions.length > 0 || this.probes.size > 0;
  }
}

/**
 * The connections that asked for one write delay: their views' DelayedTopics
 * and their timer. Members are spread over `phases` phases (by connection id),
 * written in turn on a grid of delay_ms / phases: each phase every delay_ms,
 * so a frame waits at most delay_ms, but the class's members are not all
 * written in the same instant (a load generator, a proxy or a host reading
 * hundreds of them would get them as one burst every delay_ms).
 */
export class WriteDelayClass {
  readonly phases: number;
  private readonly phase_ms: number;
  private readonly topics = new Map<SubscriptionChannel, DelayedTopic[]>();
  private readonly due_phases: Phase[] = [];
  /** The grid's origin: slot k starts at epoch_ms + k * phase_ms and writes phase k % phases. */
  private readonly epoch_ms = Date.now();
  /** The last slot written (or current when the timer was armed): the next write serves the slots after it. */
  private slot_done = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Writes to the class's members (phase writes, and views published early at an order point) and the frames they carried: frames per write, for /stats and tests. */
  writes = 0;
  frames_written = 0;
  private in_timer = false;
  private stopped = false;

  constructor(readonly delay_ms: number, private readonly context: WriteDelayContext) {
    this.phases = Math.max(1, Math.min(write_delay_phases_max, Math.floor(delay_ms / write_delay_phase_ms_min)));
    this.phase_ms = delay_ms / this.phases;
    for (let i = 0; i < this.phases; i++) this.due_phases.push(new Phase());
  }

  publisher(): TopicPublisher {
    return this.context.publisher();
  }

  on_publish(topic: DelayedTopic): void {
    this.context.on_publish(topic);
  }

  /** A connection's phase (its id spreads connections opened one after another over every phase). */
  phase_of(owner: { readonly id: number }): number {
    return owner.id % this.phases;
  }

  /** A DelayedTopic published `frames` held frames. */
  published(frames: number): void {
    this.frames_written += frames;
    if (!this.in_timer) this.writes++;
  }

  /** The subscription goes on its phase's topic of its view (held frames go first: they precede its Snapshot). */
  join(sub: Subscription): DelayedTopic {
    const ch = sub.channel;
    const phase = this.phase_of(sub.owner);
    let list = this.topics.get(ch);
    if (list === undefined) this.topics.set(ch, (list = []));
    let topic = list[phase];
    if (topic === undefined) list[phase] = topic = new DelayedTopic(ch, this, phase);
    topic.publish_held();
    if (topic.published.size === 0) ch.delayed.push(topic);
    topic.published.add(sub);
    ch.delayed_members++;
    return topic;
  }

  /** Before the subscription leaves its topic: what is held goes first (the leaver is counted as sent up to the view's seq). */
  before_leave(sub: Subscription): void {
    this.topics.get(sub.channel)?.[this.phase_of(sub.owner)]?.publish_held();
  }

  leave(sub: Subscription): void {
    const ch = sub.channel;
    const topic = this.topics.get(ch)?.[this.phase_of(sub.owner)];
    if (topic === undefined || !topic.published.delete(sub)) return;
    ch.delayed_members--;
    if (topic.published.size === 0) {
      topic.drop_held(); // nobody is left to get them
      const list = ch.delayed;
      list[list.indexOf(topic)] = list[list.length - 1];
      list.pop();
    }
  }

  /** A topic of this class holds its first frame: its phase writes within delay_ms. */
  due(topic: DelayedTopic): void {
    this.due_phases[topic.phase].topics.push(topic);
    this.arm();
  }

  /** A session without topics queued its first frame since its last flush: flushed within delay_ms. */
  schedule_session(s: Session): void {
    this.due_phases[this.phase_of(s)].sessions.push(s);
    this.arm();
  }

  /**
   * A member's probe is due (Session.tick_published): it goes right after its
   * phase's next write, in the same write as the frames held for it (uWS
   * writes a socket's published frames before anything sent to it directly).
   */
  probe_with_write(s: Session): void {
    this.due_phases[this.phase_of(s)].probes.add(s);
    this.arm();
  }

  /** The member is gone. */
  forget(s: Session): void {
    this.due_phases[this.phase_of(s)].probes.delete(s);
  }

  /** The feed stops: what is held goes now (before the sessions' going-away close), then no more timers. */
  stop(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
      this.in_timer = true;
      const now_ms = Date.now();
      for (const phase of this.due_phases) this.write_phase(phase, now_ms);
      this.in_timer = false;
    }
    this.stopped = true;
  }

  private slot_at(now_ms: number): number {
    return Math.floor((now_ms - this.epoch_ms) / this.phase_ms);
  }

  private arm(): void {
    if (this.timer !== null || this.stopped || this.in_timer) return; // in the timer: it re-arms for what is left
    const now_ms = Date.now();
    if (this.slot_done < this.slot_at(now_ms)) this.slot_done = this.slot_at(now_ms); // idle until now: what is due now is served from the next slot
    this.timer = setTimeout(this.on_timer, Math.max(0, this.epoch_ms + (this.slot_done + 1) * this.phase_ms - now_ms));
  }

  /** The grid's timer: every slot since the last one written writes its phase (a late timer serves the slots it missed). */
  private readonly on_timer = (): void => {
    this.timer = null;
    if (this.stopped) return;
    const now_ms = Date.now();
    const slot = Math.max(this.slot_done + 1, this.slot_at(now_ms)); // a timer may fire a hair before its slot's start
    this.in_timer = true;
    for (let k = Math.max(this.slot_done + 1, slot - this.phases + 1); k <= slot; k++) this.write_phase(this.due_phases[k % this.phases], now_ms);
    this.slot_done = slot;
    this.in_timer = false;
    if (this.due_phases.some((p) => p.due)) this.arm();
  };

  /** One phase's write: every held frame of its views published (uWS writes each member's in one write), its due sessions flushed, then its probes. */
  private write_phase(phase: Phase, now_ms: number): void {
    if (!phase.due) return;
    this.writes++;
    const topics = phase.topics;
    for (let i = 0; i < topics.length; i++) topics[i].publish_held();
    topics.length = 0;
    const sessions = phase.sessions;
    // Indexed: a flush that queues more for its own session appends it again, and it is visited again here.
    for (let i = 0; i < sessions.length; i++) {
      const s = sessions[i];
      const before = s.frames_sent;
      s.flush(now_ms);
      this.frames_written += s.frames_sent - before;
    }
    sessions.length = 0;
    // After every publish of this write: each probe follows its socket's frames (Session.send_waiting_probe counts them first).
    if (phase.probes.size > 0) {
      for (const s of phase.probes) s.send_waiting_probe(now_ms);
      phase.probes.clear();
    }
  }
}
