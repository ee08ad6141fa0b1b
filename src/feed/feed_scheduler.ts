// The feed's clock: the one owner of WHEN sessions are looked at outside a
// flush. Three timers and one immediate:
//   - the pump tick (pump_tick_ms): conflating connections and those with
//     interval subscriptions are due a look;
//   - a reader's acknowledgement (Session → pump_soon): that conflating
//     connection is due a look;
//   - both are served by run_pumps, in ONE immediate: the only place a
//     catch-up round is sent from outside a flush (Session.pump). An immediate
//     runs after uWS has written what the turn published (its drain precedes
//     the immediates: fanout.ts, "When the flush runs"), so neither a pump
//     tick nor a pong read in the same turn as an engine batch holds that
//     batch's Deltas behind encoding (and deflating) catch-ups; the dirty
//     symbols flush first, so the catch-ups are as of the latest commit point;
//   - the published tick (published_tick_ms): connections served through
//     topics whose views published since the last tick (Session.tick_published),
//     at most published_tick_sessions_per_turn_max per turn; a probe it finds
//     due waits for the next publish and leaves in the same write as the
//     published frames (probe_with_publish; at most two ticks);
//   - the heartbeat tick: the engine-silence check per symbol (not on the
//     first tick after this process was held up: util/tick_guard.ts), and a Heartbeat
//     (encoded once for all) to each connection idle for heartbeat_interval_ms
//     among those opened with heartbeats (SessionOptions).
// (A flush of a session's own frames, and what its verdicts then call for,
// is fanout.ts's and the session's; a conflating session's first catch-ups
// after it streamed are Session.settle's.)
//
// Cost: per pump tick O(pumped sessions); per published tick O(subscribers
// of the views that published), each visited once however often its views
// published; per heartbeat tick O(symbols + sessions).

import type { Config } from '../config.js';
import { now_ns } from '../util/clock.js';
import { TickGuard } from '../util/tick_guard.js';
import type { FrameEncoder } from '../wire/feed_encoder.js';
import type { Fanout } from './fanout.js';
import type { Outbound } from './outbound.js';
import type { Session } from './session.js';
import type { SubscriptionOwner } from './subscription.js';
import type { SymbolFeed } from './symbol_feed.js';

/** How often conflating sessions are re-checked and due catch-ups (intervals, slow readers) sent. */
export const pump_tick_ms = 10;
/**
 * How often the connections with topic subscriptions (no JS work per Delta)
 * whose views published since the last tick are looked at: their share of
 * what was published, the lag gate, their probes. Their conflation may start
 * this much later than a flush would start it. The tick costs O(subscribers
 * of the views that published), once per tick however often they published:
 * idle connections are not visited.
 */
export const published_tick_ms = 50;
/**
 * Connections one turn of the published tick visits; the rest wait for the
 * next turn (setImmediate), so that engine data arriving meanwhile is flushed
 * in between. At ~5-10 µs a visit (a probe is a syscall), 1,000 connections
 * visited in one turn held every view's next Delta for 5-10 ms: a tick that
 * lands on it waits that long, at every load (the latency sweep at the wire).
 */
export const published_tick_sessions_per_turn_max = 64;

export interface SchedulerContext {
  readonly config: Readonly<Config>;
  readonly outbound: Outbound;
  readonly encoder: FrameEncoder;
  readonly fanout: Fanout;
  readonly symbols: ReadonlyMap<string, SymbolFeed>;
  /** The sessions that get Heartbeats when idle (Feed.open_session's option). */
  readonly heartbeat_sessions: ReadonlySet<Session>;
}

export class FeedScheduler {
  /** Sessions that conflate or have interval subscriptions: the pump tick visits only these. */
  private readonly pumped_sessions = new Set<Session>();
  /**
   * The connections a published tick visits, ticked[ticked_next ..] still to
   * visit: each listed once, however many of its views published (an array,
   * not a Set: no hash lookups for thousands of connections 20 times a second).
   */
  private readonly ticked: SubscriptionOwner[] = [];
  private ticked_next = 0;
  /**
   * Numbers the published ticks: a connection listed and not yet visited
   * carries it (published_tick_mark; its visit clears it), so each of its
   * subscriptions costs a comparison, and a connection is listed once.
   */
  private published_tick_count = 0;
  /** Conflating connections whose reader acknowledged since the last run_pumps. */
  private readonly acknowledged_sessions = new Set<Session>();
  /** pump_tick fired since the last run_pumps: every pumped session is due a look. */
  private pump_tick_due = false;
  /** run_pumps is queued (one immediate for both causes). */
  private pumps_scheduled = false;
  /** Streaming topic connections due a probe, waiting for the next publish (probe_with_publish), and those that waited a tick already. */
  private probes_waiting = new Set<Session>();
  private probes_overdue = new Set<Session>();
  private probes_queued = false;
  private timers: ReturnType<typeof setInterval>[] = [];
  /** A heartbeat tick right after this process was held up does not judge engine silence (util/tick_guard.ts). */
  private silence_guard: TickGuard | null = null;
  private stopped = false;

  constructor(private readonly context: SchedulerContext) {}

  start(): void {
    const heartbeat_tick_ms = Math.max(10, Math.floor(this.context.config.heartbeat_interval_ms / 4));
    this.silence_guard = new TickGuard(heartbeat_tick_ms, Date.now());
    this.timers.push(setInterval(() => this.heartbeat_tick(), heartbeat_tick_ms));
    this.timers.push(setInterval(() => this.pump_tick(), pump_tick_ms));
    this.timers.push(setInterval(() => this.published_tick(), published_tick_ms));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  /** The session needs (or no longer needs) the pump tick: it conflates or has interval subscriptions. */
  set_pumped(s: Session, needed: boolean): void {
    if (needed) this.pumped_sessions.add(s);
    else this.pumped_sessions.delete(s);
  }

  /** The conflating session's reader acknowledged: pump it after the turn's fan-out, not before it. */
  pump_soon(s: Session): void {
    this.acknowledged_sessions.add(s);
    this.schedule_pumps();
  }

  /** The session is gone. */
  forget(s: Session): void {
    this.pumped_sessions.delete(s);
    this.probes_waiting.delete(s);
    this.probes_overdue.delete(s);
  }

  /**
   * A connection served through topics is due a probe (Session.tick_published).
   * Sent at once it would leave in a write of its own, a syscall and a TCP
   * segment for the ping alone (and a wake-up of the client): what the turn
   * published was written already. It waits for the next publish instead
   * (published), when uWS writes the published frames and the ping together;
   * at most two published ticks (published_tick_ms each) if nothing is published.
   */
  probe_with_publish(s: Session): void {
    this.probes_waiting.add(s);
  }

  /**
   * Frames were published in this turn: the waiting probes go in a microtask,
   * still before uWS's loop hook writes the turn's publishes (fanout.ts, "When
   * the flush runs"); each probe's cork writes its socket's published frames and the ping in one write.
   */
  published(): void {
    if (this.probes_queued || (this.probes_waiting.size === 0 && this.probes_overdue.size === 0)) return;
    this.probes_queued = true;
    queueMicrotask(this.send_waiting_probes);
  }

  private readonly send_waiting_probes = (): void => {
    this.probes_queued = false;
    if (this.stopped) return;
    const now_ms = Date.now();
    this.send_probes(this.probes_overdue, now_ms);
    this.send_probes(this.probes_waiting, now_ms);
  };

  /** Sends the probes one set holds (each socket's cork writes what uWS holds for it and the ping together) and empties it. */
  private send_probes(waiting: Set<Session>, now_ms: number): void {
    for (const s of waiting) s.send_waiting_probe(now_ms);
    waiting.clear();
  }

  private heartbeat_tick(): void {
    const now_ms = Date.now();
    const { symbols, heartbeat_sessions, config, encoder, outbound } = this.context;
    // Right after a stall the engine's batches and heartbeats that came meanwhile are still unread: not silence.
    if (this.silence_guard?.may_judge(now_ms) !== false) for (const f of symbols.values()) f.check_silence(now_ms);
    const idle_ms = config.heartbeat_interval_ms;
    let frame: Uint8Array | null = null;
    for (const s of heartbeat_sessions) {
      if (s.closing || now_ms - s.last_send_ms < idle_ms || (s.slow && !s.has_room())) continue;
      frame ??= encoder.heartbeat({ server_time_ns: now_ns() });
      outbound.heartbeat();
      s.queue(frame);
    }
  }

  /** Due catch-ups: interval subscriptions, and conflating connections whose reader has room (run_pumps). */
  private pump_tick(): void {
    if (this.pumped_sessions.size === 0) return;
    this.pump_tick_due = true;
    this.schedule_pumps();
  }

  private schedule_pumps(): void {
    if (this.pumps_scheduled) return;
    this.pumps_scheduled = true;
    setImmediate(this.run_pumps);
  }

  /** Every catch-up sent outside a flush is sent here, in an immediate (see the header). */
  private readonly run_pumps = (): void => {
    this.pumps_scheduled = false;
    if (this.stopped) return;
    this.context.fanout.flush_dirty_symbols();
    const now_ms = Date.now();
    const tick = this.pump_tick_due;
    this.pump_tick_due = false;
    if (tick) {
      for (const s of this.pumped_sessions) {
        if (s.slow) s.check_backpressure(now_ms); // reads the buffer, then pumps
        else s.pump(now_ms);
      }
    }
    // No copy: acknowledgements arrive only from I/O, never while this loop pumps, so nothing joins the set meanwhile.
    for (const s of this.acknowledged_sessions) if (s.slow && !(tick && this.pumped_sessions.has(s))) s.pump(now_ms); // pumped above already
    this.acknowledged_sessions.clear();
  };

  /** Connections served through topics: what was published to them, their lag gate and probes (Session.tick_published). */
  private published_tick(): void {
    // Probes that waited two ticks for a publish go alone; those of the last tick wait one more.
    if (this.probes_overdue.size > 0) this.send_probes(this.probes_overdue, Date.now());
    const overdue = this.probes_overdue;
    this.probes_overdue = this.probes_waiting;
    this.probes_waiting = overdue;
    const channels = this.context.fanout.published_since_tick;
    if (channels.size === 0) return;
    const ticked = this.ticked;
    // The previous tick's turns are not done: these join them, under its mark (those still listed carry it).
    const visiting = this.ticked_next < ticked.length;
    const mark = visiting ? this.published_tick_count : ++this.published_tick_count;
    for (const ch of channels) {
      for (const sub of ch.published) {
        const owner = sub.owner;
        if (owner.published_tick_mark === mark) continue;
        owner.published_tick_mark = mark;
        ticked.push(owner);
      }
    }
    channels.clear();
    if (!visiting) this.visit_ticked_sessions();
  }

  /** One turn of the published tick: at most published_tick_sessions_per_turn_max connections, then the next turn. */
  private readonly visit_ticked_sessions = (): void => {
    if (this.stopped) return;
    const ticked = this.ticked;
    const now_ms = Date.now();
    let i = this.ticked_next;
    const end = Math.min(ticked.length, i + published_tick_sessions_per_turn_max);
    for (; i < end; i++) {
      const s = ticked[i];
      s.published_tick_mark = 0; // visited: a later publish lists it again
      s.tick_published(now_ms);
    }
    if (i < ticked.length) {
      this.ticked_next = i;
      setImmediate(this.visit_ticked_sessions);
    } else {
      ticked.length = 0; // every one visited (the slots are not kept: no session held past its visit)
      this.ticked_next = 0;
    }
  };
}
