// Fan-out: each symbol's views (one ViewChannel per (symbol, depth, group))
// moved forward at the book's commit points, and their frames queued to the
// sessions that subscribe. The Feed (feed.ts) owns the sessions and the
// books and wires this in; requests.ts starts and stops subscriptions through
// it.
//
// Per event-loop turn: commit points mark symbols dirty (mark_dirty) and
// sessions with queued frames mark themselves (schedule_session); one flush
// (a microtask: see "When the flush runs") moves each dirty symbol's views forward, encoding one Delta
// per view, publishing it once to the view's topic for the subscribers whose
// connections take topics (uWS sends it to each from C++) and queueing the
// same bytes to every other streaming subscriber; then each dirty session
// sends what it has, corked.
//
// Cost per flush: per dirty symbol one change list taken from the book, per
// view O(levels changed) (BookView) and one encode, then one publish, and
// one queue() per streaming subscriber without topics: no per-subscriber
// encode, no scan of sessions. State changes and resets reach only the
// sessions subscribed to that symbol (through its channels), a Status
// encoded once for all of them.
//
// When the flush runs: right after the callback that ingested (a microtask:
// after the whole engine turn or bus read, so its batches go out together),
// not in a later phase of the loop. uWS writes what is published to a topic
// only when its loop hook drains the topic tree: before the poll phase and at
// the start of the check phase, before Node's immediates. A flush in an
// immediate was written only at the next loop turn's drain, after that turn's
// timers and after every immediate queued behind it; slow readers' catch-ups
// ran there (what is now Feed.run_pumps), so each one held the fast
// readers' Deltas (bench/results/slow_readers.json, "fast readers").
// Flushed here, the drain comes before any immediate; the catch-ups run in
// immediates (Feed), after it.
//
// Owner of: whether a waiting subscription may start (start_sub: only while
// its symbol's book is live; the reset that makes it live starts the rest).
//
// Invariants: a view is updated only at a commit point of a live book (half
// an engine event is never shown); a subscription is started (start_sub) only
// after its view reached the current commit point, so no Delta is lost or
// applied twice; a reset restarts every view of the symbol from a Snapshot.

import type { Config } from '../config.js';
import type { HopHistograms, HopRecorder } from '../metrics/hop_histograms.js';
import { logger_for } from '../util/log.js';
import type { FrameEncoder } from '../wire/feed_encoder.js';
import { count_by, type FeedCounters } from './counters.js';
import { GroupedSource } from './grouped_source.js';
import { status_of } from './requests.js';
import type { ResumeHistory } from './resume_history.js';
import type { Outbound } from './outbound.js';
import type { PublishedTopic } from './published_topic.js';
import type { Session } from './session.js';
import type { Subscription, SubscriptionChannel, SubscriptionOwner } from './subscription.js';
import type { TopicPublisher } from './transport.js';
import type { ResetReason, SymbolFeed } from './symbol_feed.js';
import { ViewChannel } from './view_channel.js';
import type { DelayedTopic } from './write_delay.js';

const log = logger_for('feed');

/** What the fan-out shares with its Feed, fixed at construction. */
export interface FanoutContext {
  readonly config: Readonly<Config>;
  readonly counters: FeedCounters;
  /** Counts what leaves (outbound.ts, the one owner of the outbound counts). */
  readonly outbound: Outbound;
  readonly latency: HopHistograms;
  readonly encoder: FrameEncoder;
  readonly resume_history: ResumeHistory;
  /** Frames were published to topics in this turn (the scheduler sends the probes waiting for one: FeedScheduler.published). */
  readonly on_publish: () => void;
}

export class Fanout {
  /** The views of each symbol that has any (every allowed depth from the start, grouped ones on demand). */
  readonly channels = new Map<SymbolFeed, SubscriptionChannel[]>();
  private readonly dirty_symbols = new Set<SymbolFeed>();
  /** Sessions with frames queued this turn, in queueing order (Session.pending_queued keeps each in once). */
  private readonly dirty_sessions: Session[] = [];
  private flush_scheduled = false;
  /** Publishes to the views' topics; set by the server whose transports take topics (Feed.set_publisher). */
  publisher: TopicPublisher | null = null;
  /** Views that published since the feed's last published tick: their subscribers' connections are due a tick. */
  readonly published_since_tick = new Set<SubscriptionChannel | PublishedTopic | DelayedTopic>();
  private readonly config: Readonly<Config>;
  private readonly counters: FeedCounters;
  private readonly outbound: Outbound;
  /** Held, not looked up by hop name per frame. */
  private readonly ingest_to_send: HopRecorder;
  private readonly engine_to_send: HopRecorder;
  private readonly encoder: FrameEncoder;
  private readonly resume_history: ResumeHistory;
  private readonly on_publish: () => void;

  constructor(context: FanoutContext) {
    this.on_publish = context.on_publish;
    this.config = context.config;
    this.counters = context.counters;
    this.outbound = context.outbound;
    this.ingest_to_send = context.latency.recorder('ingest_to_send');
    this.engine_to_send = context.latency.recorder('engine_to_send');
    this.encoder = context.encoder;
    this.resume_history = context.resume_history;
  }

  /** The view (symbol, depth, group), made on first use; one made while the book is live starts from the book now. */
  channel_for(f: SymbolFeed, depth: number, group: number): SubscriptionChannel {
    let list = this.channels.get(f);
    if (list === undefined) this.channels.set(f, (list = []));
    let ch = list.find((c) => c.depth === depth && c.group === group);
    if (ch === undefined) {
      // A group's views of every depth share one grouped book (grouped_source.ts).
      const source = group === 1 ? null : list.find((c) => c.group === group)?.grouped_source ?? new GroupedSource(group);
      ch = new ViewChannel<Subscription>(f, depth, this.encoder, this.config.conflation_levels_max, source);
      this.resume_history.track(ch);
      if (f.state === 'live') {
        this.flush_symbol(f); // other views of the symbol must not lose the changes we are about to skip
        ch.reset();
      }
      list.push(ch);
    }
    return ch;
  }

  /**
   * The one place that decides whether a waiting subscription may start: only
   * while its symbol's book is live (otherwise it waits, and the reset that
   * makes the book live starts it: on_reset). The owner starts it from the
   * view as of now (a Session queues the Snapshot and counts it).
   */
  start_sub(session: SubscriptionOwner, sub: Subscription): void {
    if (sub.channel.symbol_feed.state !== 'live') return;
    this.flush_symbol(sub.channel.symbol_feed); // the view reaches the current commit point first
    session.start_view(sub, Date.now());
  }

  /** A frame that is not a view's (Status, Error, Pong): counted, then queued. */
  queue_other(session: SubscriptionOwner, frame: Uint8Array): void {
    this.outbound.other();
    session.queue(frame);
  }

  // ---- one flush per event-loop turn ----

  /** The book reached a commit point. */
  mark_dirty(f: SymbolFeed): void {
    this.dirty_symbols.add(f);
    this.schedule_flush();
  }

  /** The session has frames queued. */
  schedule_session(s: Session): void {
    this.dirty_sessions.push(s);
    this.schedule_flush();
  }

  /** Every dirty symbol's views to the latest commit point (the pump's catch-ups are as of it). */
  flush_dirty_symbols(): void {
    for (const f of this.dirty_symbols) this.flush_symbol(f);
  }

  private schedule_flush(): void {
    if (this.flush_scheduled) return;
    this.flush_scheduled = true;
    queueMicrotask(this.flush_all);
  }

  private readonly flush_all = (): void => {
    this.flush_scheduled = false;
    for (const f of this.dirty_symbols) this.flush_symbol(f);
    this.flush_sessions();
  };

  /**
   * A session's flush can queue more for itself (a drained slow session's
   * catch-ups): it is then re-added and visited again in this loop, never
   * dropped from the set with frames still pending.
   */
  flush_sessions(): void {
    const now_ms = Date.now();
    const dirty = this.dirty_sessions;
    // Indexed on purpose: a flush that queues more for its own session appends it again, and it is visited again here.
    for (let i = 0; i < dirty.length; i++) dirty[i].flush(now_ms);
    dirty.length = 0;
  }

  /** Moves every view of the symbol to the book's current commit point. */
  flush_symbol(f: SymbolFeed): void {
    if (!this.dirty_symbols.has(f)) return;
    if (f.state !== 'live' || !f.is_committed) return; // half an engine event is never shown
    this.dirty_symbols.delete(f);
    const changes = f.book.take_changes();
    const trades = f.pending_trades;
    const channels = this.channels.get(f);
    if (channels !== undefined) {
      let any_published = false;
      for (const ch of channels) {
        const seq_before = ch.seq;
        const frame = ch.update(changes.bids, changes.asks, trades);
        if (ch.seq !== seq_before) this.resume_history.record(ch);
        if (frame === null) continue;
        const sent_ns = ch.delta_sent_ns; // the instant encoded in the frame: one clock read per frame
        this.ingest_to_send.record(sent_ns - f.ts_ingest_ns);
        this.engine_to_send.record(sent_ns - f.ts_engine_ns);
        const published = ch.published.size;
        if (published > ch.delayed_members) {
          // Sessions subscribe a view's topic only when the server gave us its publisher.
          this.publisher!.publish(ch.topic, frame);
          ch.on_published(frame.byteLength);
          this.published_since_tick.add(ch);
          any_published = true;
        }
        // Connections with a write delay: the same bytes, held for their class's next write (write_delay.ts).
        for (let i = 0; i < ch.delayed.length; i++) ch.delayed[i].hold(frame);
        for (const sub of ch.streaming) {
          sub.owner.queue(frame);
        }
        this.outbound.view_delta(frame.byteLength, ch.streaming.size, published);
      }
      if (any_published) this.on_publish();
    }
    trades.length = 0;
    f.trades_missing = undefined;
  }

  // ---- what the book's state changes mean for the views ----

  /** The symbol went live or recovering, or its engine silent or heard again: every subscribed session hears once. */
  on_state(f: SymbolFeed): void {
    if (f.state === 'recovering') {
      count_by(this.counters.recoveries_total, f.symbol);
      this.counters.ingest_gaps_total++;
    }
    const channels = this.channels.get(f);
    if (channels === undefined) return; // nobody ever subscribed to it
    // Held Deltas of write-delayed connections go before the Status (write_delay.ts, "Order").
    for (const ch of channels) for (const d of ch.delayed) d.publish_held();
    // Every session with a subscription to the symbol, whatever its mode (waiting ones included), hears once.
    let frame: Uint8Array | null = null;
    const told = new Set<SubscriptionOwner>();
    for (const ch of channels) {
      for (const sub of ch.subscribers) {
        const session = sub.owner;
        if (told.has(session)) continue;
        told.add(session);
        frame ??= this.encoder.status({ symbols: [status_of(f)] });
        this.queue_other(session, frame);
      }
    }
  }

  /**
   * The book was rebuilt within its epoch, past every view: each view moves to
   * it with one Delta (the book's change list holds every price of the old and
   * new book, so the view emits exactly the difference; its trades and the ids
   * missing, docs/PROTOCOL.md §5.5), and subscriptions waiting for the symbol start.
   */
  on_continue(f: SymbolFeed): void {
    const missing_trades = f.trades_missing;
    this.dirty_symbols.add(f);
    this.flush_symbol(f);
    for (const ch of this.channels.get(f) ?? []) {
      for (const sub of [...ch.subscribers]) if (sub.mode === 'waiting') this.start_sub(sub.owner, sub);
    }
    log.info({ symbol: f.symbol, epoch: f.epoch, seq: f.committed_seq, missing_trades }, 'views continued across a rebuild');
  }

  /** The book was replaced from a snapshot: every subscriber of the symbol starts over from a fresh Snapshot. */
  on_reset(f: SymbolFeed, reason: ResetReason): void {
    this.dirty_symbols.delete(f);
    f.pending_trades.length = 0;
    const channels = this.channels.get(f) ?? [];
    for (const ch of channels) {
      ch.reset();
      this.resume_history.reset(ch);
    }
    for (const ch of channels) {
      for (const sub of [...ch.subscribers]) {
        const session = sub.owner;
        if (!session.defer_restart(sub)) this.start_sub(session, sub);
      }
    }
    if (reason !== 'start') log.info({ symbol: f.symbol, reason, epoch: f.epoch, seq: f.committed_seq }, 'views restarted from snapshot');
  }
}
