// The feed: one SymbolFeed (ingest + book) per symbol, their views and
// fan-out (fanout.ts), and the client sessions. Transport-free: src/server
// hands it ClientTransports and bytes.
//
// This file wires the parts and owns the sessions: opening and closing them,
// and the counters their hooks feed (the outbound ones only through
// outbound.ts, their one owner). When sessions are looked at outside a
// flush (pumps, the published tick, heartbeats, the engine-silence check) is
// feed_scheduler.ts; what clients ask for requests.ts; what the feed reports
// feed_report.ts; how a book reaches its subscribers fanout.ts.
//
// Cost: per bus message one clock read (the ingest timestamp); per batch and
// per flush, the hooks' counter and histogram updates (recorders held, no
// lookup by name). Memory per connection: its Session and what that owns
// (bench/micro/session_memory.bench.ts); the limits and hooks a Session is
// handed are made once here, not per connection (a closure each would cost
// ~300 B under tsx, whose keepNames gives every closure its own name).

import type { Config } from '../config.js';
import type { Bus, BusSubscription } from '../bus/bus.js';
import { Subjects } from '../bus/subjects.js';
import { HopHistograms, server_hops } from '../metrics/hop_histograms.js';
import { count_by, new_feed_counters, type FeedCounters } from './counters.js';
import { now_ns } from '../util/clock.js';
import { logger_for } from '../util/log.js';
import { close_code, depths_allowed, slow_close_codes } from '../wire/codes.js';
import { FrameEncoder } from '../wire/feed_encoder.js';
import { Fanout } from './fanout.js';
import { FeedScheduler } from './feed_scheduler.js';
import { Outbound } from './outbound.js';
import { Session, type SessionEvents, type SessionLimits, type SlowPolicy } from './session.js';
import type { SessionOptions } from './feed_types.js';
import type { Subscription } from './subscription.js';
import { ResumeHistory } from './resume_history.js';
import { SymbolFeed, type ResetReason } from './symbol_feed.js';
import type { ClientTransport, TopicPublisher } from './transport.js';
import { FeedReport } from './feed_report.js';
import { PublishedTopic } from './published_topic.js';
import { ViewReader, type ViewLevelsListener } from './view_reader.js';
import { ClientRequests } from './requests.js';
import { WriteDelayClass } from './write_delay.js';
export { inbound_abuse_factor } from './requests.js';
export { distribution } from './feed_report.js';

const log = logger_for('feed');

export { published_tick_sessions_per_turn_max } from './feed_scheduler.js';

export class Feed {
  readonly counters: FeedCounters = new_feed_counters();
  /** The one owner of the outbound counts (outbound.ts): everything that sends counts through it. */
  readonly outbound = new Outbound(this.counters);
  readonly latency = new HopHistograms(server_hops);
  readonly symbols = new Map<string, SymbolFeed>();
  readonly sessions = new Set<Session>();
  private readonly encoder = new FrameEncoder();
  /** Keeps each view's recent changes so a reconnecting client can resume without a Snapshot. */
  private readonly resume_history: ResumeHistory;
  /** Resume points offered on Subscribe, by outcome (resumed, new_epoch, too_old, ahead, not_live). */
  readonly resumes_total = new Map<string, number>();
  private readonly subjects: Subjects;
  private readonly slow_sessions = new Set<Session>();
  /** Write-delay classes by delay (write_delay.ts). */
  private readonly write_delays = new Map<number, WriteDelayClass>();
  /** The sessions sent a Heartbeat when idle (SessionOptions.heartbeats): the heartbeat tick visits only these. */
  private readonly heartbeat_sessions = new Set<Session>();
  /** When sessions are looked at outside a flush: pumps, the published tick, heartbeats (feed_scheduler.ts). */
  private readonly scheduler: FeedScheduler;
  /** Each symbol's views, moved forward at commit points and queued to their subscribers (fanout.ts). */
  private readonly fanout: Fanout;
  /** /stats and the slow-reader picture (feed_report.ts). */
  private readonly report: FeedReport;
  /** What clients ask for: subscribe, unsubscribe, resync, resume, ping, ack (requests.ts). */
  private readonly requests: ClientRequests;
  private bus_subs: BusSubscription[] = [];
  private stopping = false;
  private stop_bus_watch: () => void = () => {};
  /** What every session is handed, made once (a closure or object per connection would be memory per connection). */
  private readonly session_limits: Record<SlowPolicy, SessionLimits>;
  private readonly session_events: SessionEvents;
  private readonly schedule_session: (s: Session) => void;

  constructor(private readonly config: Readonly<Config>, private readonly bus: Bus) {
    this.resume_history = new ResumeHistory(config.conflation_levels_max);
    this.fanout = new Fanout({ config, counters: this.counters, outbound: this.outbound, latency: this.latency, encoder: this.encoder, resume_history: this.resume_history,
      on_publish: () => this.scheduler.published() });
    const fanout = this.fanout;
    this.requests = new ClientRequests({
      config, counters: this.counters, outbound: this.outbound, encoder: this.encoder, symbols: this.symbols,
      resume_history: this.resume_history, resumes_total: this.resumes_total,
      channel_for: (f, depth, group) => fanout.channel_for(f, depth, group),
      flush_symbol: (f) => fanout.flush_symbol(f),
      start_sub: (session, sub) => fanout.start_sub(session, sub),
      remove_sub: (session, sub) => this.remove_sub(session, sub),
      queue_other: (session, frame) => fanout.queue_other(session, frame),
      send_error: (session, code, message, symbol) => this.send_error(session, code, message, symbol),
    });
    this.report = new FeedReport({
      symbols: this.symbols, sessions: this.sessions, channels: fanout.channels, slow_sessions: this.slow_sessions,
      counters: this.counters, latency: this.latency, resumes_total: this.resumes_total, bus,
    });
    this.scheduler = new FeedScheduler({ config, outbound: this.outbound, encoder: this.encoder, fanout, symbols: this.symbols, heartbeat_sessions: this.heartbeat_sessions });
    this.subjects = new Subjects(config.subject_prefix);
    this.session_limits = this.make_session_limits();
    this.session_events = this.make_session_events();
    this.schedule_session = (s) => {
      if (s.delays_queue) s.write_delay!.schedule_session(s);
      else fanout.schedule_session(s);
    };
    const engine_to_ingest = this.latency.recorder('engine_to_ingest');
    const hooks = {
      on_commit: (f: SymbolFeed) => fanout.mark_dirty(f),
      on_reset: (f: SymbolFeed, reason: ResetReason) => fanout.on_reset(f, reason),
      on_continue: (f: SymbolFeed) => fanout.on_continue(f),
      on_state: (f: SymbolFeed) => fanout.on_state(f),
      before_recovery: (f: SymbolFeed) => fanout.flush_symbol(f),
      on_batch_applied: (ns: number, events: number) => {
        engine_to_ingest.record(ns);
        this.counters.ingest_events_total += events;
      },
    };
    // The durable stream when the bus has one (NATS with --stream): recovery without the engine.
    const recovery = { stream: config.stream ? bus.event_stream?.(this.subjects) ?? null : null, engine_silence_ms_max: config.engine_silence_ms_max,
      path_hold_ms_max: config.path_hold_ms_max };
    for (const symbol of config.symbols) {
      this.symbols.set(symbol, new SymbolFeed(symbol, bus, this.subjects, hooks, config.snapshot_timeout_ms, recovery));
    }
  }

  start(): void {
    for (const [symbol, f] of this.symbols) {
      const on_batch = (data: Uint8Array): void => f.on_message(data, now_ns());
      this.bus_subs.push(this.bus.subscribe(this.subjects.events(symbol), on_batch));
      // What the engine sends again after its NATS node was lost (engine/resend_ring.ts): taken like any batch, by seq.
      this.bus_subs.push(this.bus.subscribe(this.subjects.resend(symbol), on_batch));
      // Every view exists from the start with its resume history, so a client failing over from another feed
      // finds the changes since its seq here too (resume_history.ts; the cost is one view update per flush each).
      for (const depth of depths_allowed) this.fanout.channel_for(f, depth, 1);
      f.start();
    }
    this.stop_bus_watch = this.bus.on_status((status) => {
      if (status === 'disconnected') for (const f of this.symbols.values()) f.upstream_lost();
      else if (status === 'reconnected') for (const f of this.symbols.values()) f.upstream_back();
    });
    this.scheduler.start();
    log.info({ symbols: this.config.symbols, bus: this.bus.kind }, 'feed started');
  }

  /** Ready when the bus is connected and every book is live. */
  health(): { ready: boolean; bus_connected: boolean; symbols: Record<string, string> } {
    const symbols: Record<string, string> = {};
    let all_live = true;
    for (const [s, f] of this.symbols) {
      symbols[s] = f.engine_silent ? 'engine_silent' : f.state;
      if (f.state !== 'live' || f.engine_silent) all_live = false;
    }
    const bus_connected = this.bus.is_connected();
    return { ready: bus_connected && all_live && !this.stopping, bus_connected, symbols };
  }

  // ---- sessions ----

  /** A new connection. `options.slow_policy` overrides the server's policy for it (e.g. /ws?slow=close). */
  open_session(transport: ClientTransport, options: SessionOptions = {}): Session {
    const limits = this.session_limits[options.slow_policy ?? this.config.slow_policy];
    const delay_ms = options.write_delay_ms ?? 0;
    const session = new Session(transport, limits, this.session_events, this.schedule_session, Date.now(), delay_ms > 0 ? this.write_delay_class(delay_ms) : null);
    this.sessions.add(session);
    if (options.heartbeats !== false) this.heartbeat_sessions.add(session);
    this.counters.connections = this.sessions.size;
    this.counters.connections_opened_total++;
    return session;
  }

  /** The connections that asked for this write delay (one class per value, made on first use: write_delay.ts). */
  private write_delay_class(delay_ms: number): WriteDelayClass {
    let c = this.write_delays.get(delay_ms);
    if (c === undefined) {
      c = new WriteDelayClass(delay_ms, {
        publisher: () => this.fanout.publisher!, // a delayed connection joins a topic only when the server gave us the publisher
        on_publish: (topic) => {
          this.fanout.published_since_tick.add(topic);
          this.scheduler.published();
        },
      });
      this.write_delays.set(delay_ms, c);
    }
    return c;
  }

  /** Every session's limits, one object per slow policy (shared: nothing per connection). */
  private make_session_limits(): Record<SlowPolicy, SessionLimits> {
    const c = this.config;
    const limits = (slow_policy: SlowPolicy): SessionLimits => Object.freeze({
      slow_enter_bytes: c.slow_enter_bytes, slow_exit_bytes: c.slow_exit_bytes, send_buffer_bytes_max: c.send_buffer_bytes_max,
      slow_policy, inbound_messages_per_s_max: c.inbound_messages_per_s_max,
      reader_lag_target_ms: c.reader_lag_target_ms, in_flight_bytes_min: c.in_flight_bytes_min, in_flight_bytes_max: c.in_flight_bytes_max,
      reader_probe_interval_ms: c.reader_probe_interval_ms, reader_lag_ms_max: c.reader_lag_ms_max,
    });
    return { conflate: limits('conflate'), close: limits('close') };
  }

  /** The hooks every session reports to (shared: each gets its session as an argument, so no closures per connection). */
  private make_session_events(): SessionEvents {
    const reader_lag = this.latency.recorder('reader_lag');
    return {
      on_bytes_sent: (bytes) => this.outbound.bytes_sent(bytes),
      on_slow_change: (s, slow, cause) => {
        if (slow) {
          this.counters.conflation_episodes_total++;
          count_by(this.counters.conflation_episodes_by_cause_total, cause);
          this.slow_sessions.add(s);
        } else {
          this.slow_sessions.delete(s);
        }
        this.counters.conflating_connections = this.slow_sessions.size;
      },
      on_close_decision: (s, code) => {
        if (slow_close_codes.includes(code)) count_by(this.counters.slow_closes_total, code);
        this.drop_subscriptions(s);
      },
      on_snapshot: () => this.outbound.snapshot(),
      on_catch_up: (_s, sub) => this.outbound.catch_up(sub.last_catch_up_snapshot, sub.last_catch_up_merged),
      on_send_dropped: () => { this.counters.sends_dropped_total++; },
      on_pump_change: (s, needed) => this.scheduler.set_pumped(s, needed),
      on_lag_sample: (_s, lag_ms) => { reader_lag.record(lag_ms * 1e6); },
      pump_soon: (s) => this.scheduler.pump_soon(s),
      // A delayed connection's probe goes with its class's own write (write_delay.ts), not with any topic's publish.
      probe_with_publish: (s) => {
        if (s.write_delay !== null) s.write_delay.probe_with_write(s);
        else this.scheduler.probe_with_publish(s);
      },
    };
  }

  /** The connection is gone (closed by either side). */
  close_session(session: Session, code: number): void {
    if (!this.sessions.delete(session)) return;
    this.heartbeat_sessions.delete(session);
    count_by(this.counters.closes_total, code);
    if (session.buffered_bytes_max > this.counters.buffered_bytes_peak) this.counters.buffered_bytes_peak = session.buffered_bytes_max;
    session.closing = true;
    this.drop_subscriptions(session);
    session.leave_all_topics();
    this.slow_sessions.delete(session);
    this.scheduler.forget(session);
    session.write_delay?.forget(session);
    this.counters.connections = this.sessions.size;
    this.counters.conflating_connections = this.slow_sessions.size;
  }

  on_drain(session: Session): void {
    session.check_backpressure();
  }

  /** A WebSocket pong: a reader-flow probe answered (payload valid only during the call). */
  on_pong(session: Session, payload: Uint8Array): void {
    session.on_pong(payload, Date.now());
  }

  /** A binary frame from a client. `bytes` is only valid during the call (requests.ts). */
  on_client_frame(session: Session, bytes: Uint8Array): void {
    this.requests.on_client_frame(session, bytes);
  }

  /** Text frames are not part of the protocol. */
  on_text_frame(session: Session): void {
    this.requests.on_text_frame(session);
  }

  send_error(session: Session, code: number, message: string, symbol: string): void {
    count_by(this.counters.errors_total, code);
    this.fanout.queue_other(session, this.encoder.error({ code, message, symbol }));
  }

  private remove_sub(session: Session, sub: Subscription): void {
    session.remove_view(sub);
    this.counters.subscriptions--;
  }

  private drop_subscriptions(session: Session): void {
    for (const sub of [...session.subs.values()]) this.remove_sub(session, sub);
  }

  /** The server's publisher for the views' topics (its transports take topics: ClientTransport.subscribe). */
  set_publisher(publisher: TopicPublisher): void {
    this.fanout.publisher = publisher;
  }

  /**
   * A topic that is not a view's, published through `publisher` (the app its
   * members' sockets belong to): its members' shares are accounted and ticked
   * like a view's (published_topic.ts).
   */
  open_topic(topic: string, publisher: TopicPublisher): PublishedTopic {
    return new PublishedTopic(topic, publisher, this.mark_published);
  }

  private readonly mark_published = (t: PublishedTopic, frame_bytes: number): void => {
    this.fanout.published_since_tick.add(t);
    this.outbound.topic_published(frame_bytes, t.published.size);
    this.scheduler.published();
  };

  /**
   * An in-process reader of the listed symbols' full-depth views, every
   * interval_ms: their levels as values, never frames (view_reader.ts; the
   * Binance gateway reads its books through it). An unknown symbol throws.
   */
  read_views(symbols: readonly string[], interval_ms: number, listener: ViewLevelsListener): ViewReader {
    const reader = new ViewReader(interval_ms, listener, (owner, sub) => this.fanout.start_sub(owner, sub));
    for (const symbol of symbols) {
      const f = this.symbols.get(symbol);
      if (f === undefined) throw new Error(`read_views: the feed serves no symbol ${symbol}`);
      reader.add(this.fanout.channel_for(f, 0, 1));
    }
    return reader;
  }

  /** /stats: symbols, views, connections, counters, since-start latency (src/feed/feed_report.ts). */
  stats(): Record<string, unknown> {
    return { ...this.report.stats(), write_delay_classes: this.write_delay_stats() };
  }

  /** Each write-delay class: its delay, writes to its members and the frames they carried (frames per write). */
  write_delay_stats(): { delay_ms: number; writes: number; frames_written: number }[] {
    return [...this.write_delays.values()].map((c) => ({ delay_ms: c.delay_ms, writes: c.writes, frames_written: c.frames_written }));
  }

  /** Bytes buffered for each open connection now (user space, above the kernel's socket buffer). */
  buffered_bytes_now(): number[] {
    return this.report.buffered_bytes_now();
  }

  /** Each open connection's reader flow now: lag, bytes in flight, its cap (for /metrics and /stats). */
  reader_flows_now(now_ms: number = Date.now()): { lag_ms: number; in_flight_bytes: number; cap_bytes: number }[] {
    return this.report.reader_flows_now(now_ms);
  }

  /** Most bytes ever buffered for one connection, open or closed. */
  buffered_bytes_peak(): number {
    return this.report.buffered_bytes_peak();
  }

  /** The slow-reader picture for /stats (src/feed/feed_report.ts). */
  slow_consumer_stats(now_ms: number = Date.now()): Record<string, unknown> {
    return this.report.slow_consumer_stats(now_ms);
  }

  /** Graceful shutdown: stop ingest, close every client with 1001 going-away after what is queued. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.scheduler.stop();
    for (const c of this.write_delays.values()) c.stop();
    this.stop_bus_watch();
    for (const s of this.bus_subs) s.unsubscribe();
    this.bus_subs = [];
    for (const f of this.symbols.values()) f.stop();
    this.fanout.flush_sessions();
    for (const s of [...this.sessions]) s.close(close_code.going_away, 'server shutting down');
  }
}
