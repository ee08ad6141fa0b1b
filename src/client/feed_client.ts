// The depthcast client: one WebSocket, many book views, each verified frame by
// frame (src/client/book.ts). Runs in browsers and in Node: no Node imports;
// the WebSocket constructor is injectable (Node 20 has no global WebSocket:
// pass `ws`'s), timers are the standard globals.
//
// This file is the public API (subscribe, unsubscribe, ping, close, events)
// and the frame dispatch. Its parts:
//   connection.ts   socket, watchdog, backoff, connect and stale timeouts
//   book_handle.ts  the per-view record and the BookHandle users hold
//   counters.ts     ClientCounters and FeedClientError
//   options.ts      FeedClientOptions, their defaults and checks
//   view_table.ts   the views by symbol; Subscribe batching
//
// States (connection and per view):
//   connecting  socket opening / waiting to reconnect / view waiting for its snapshot
//   synced      connection: open and hearing from the server; view: verified book
//   stale       nothing heard for 2 heartbeat intervals: the socket is treated as
//               dead (half-open) and replaced
//   resyncing   view only: a check failed; Resync sent in-band, other views flow on
//   closed      client.close(), unsubscribe, a fatal close code, or a view the
//               server refused (unknown symbol, bad depth, ...)
//
// Recovery rules: a check failure resyncs that view alone; a snapshot always
// replaces a book; deltas that arrive before the snapshot of a (re)subscription
// or resync are discarded (counted); after a reconnect everything is
// resubscribed and every book waits for its new snapshot.
//
// Cost per Delta: read in place by a DeltaReader (src/wire/delta_reader.ts:
// checked like decode_server_frame, nothing built), one map lookup plus a scan
// of the symbol's views (a handful of depths), the book's verification applied
// straight from the frame's bytes, latency into recorders resolved at
// construction. Allocation: the views over the received buffer; a TradeRec per
// trade only when someone listens to 'trade' (listeners may keep it).
// Every other frame goes through the verifying decoder (decode_server_frame).
import { now_ns } from '../util/clock.js';
import { error_code } from '../wire/codes.js';
import type {
  ClientMsg, ErrorMsg, PongMsg, ServerMsg, SnapshotMsg, StatusMsg, TradeAggregateRec, TradeRec,
} from '../wire/feed_types.js';
import { decode_server_frame } from '../wire/feed_decoder.js';
import { FrameEncoder } from '../wire/feed_encoder.js';
import { DeltaReader, body_delta } from '../wire/delta_reader.js';
import type { HopHistograms, HopRecorder } from '../metrics/hop_histograms.js';
import type { Verdict } from './book.js';
import { ViewSlot, type BookHandle, type UpdateInfo, type ViewState } from './book_handle.js';
import { Connection, type ConnectionState } from './connection.js';
import { FeedClientError, count_verdict, new_counters, type ClientCounters } from './counters.js';
import { Emitter } from './emitter.js';
import { ReaderProgress } from './reader_progress.js';
import { ViewTable, subscribe_messages } from './view_table.js';
import { client_settings, client_urls, subscription_of, type FeedClientOptions, type SubscribeOptions } from './options.js';

export type { FeedClientOptions, SubscribeOptions } from './options.js';

/** Error codes that mean a view can never be served as asked. */
const view_refused_codes: readonly number[] = [
  error_code.unknown_symbol, error_code.bad_depth, error_code.bad_interval, error_code.not_entitled, error_code.too_many_subscriptions,
];

export type ClientEvents = {
  state: (state: ConnectionState, previous: ConnectionState) => void;
  book_state: (book: BookHandle, state: ViewState, previous: ViewState) => void;
  update: (book: BookHandle, info: UpdateInfo) => void;
  trade: (book: BookHandle, trade: TradeRec) => void;
  trade_aggregate: (book: BookHandle, aggregate: TradeAggregateRec) => void;
  status: (status: StatusMsg) => void;
  error: (error: FeedClientError) => void;
  disconnect: (code: number, reason: string) => void;
};

interface PendingPing {
  resolve: (rtt_ns: number) => void;
  reject: (err: Error) => void;
}

export class FeedClient {
  readonly counters: ClientCounters = new_counters();
  readonly hops: HopHistograms;
  /** Last round trip measured by ping() (ns), NaN before the first. */
  last_rtt_ns = Number.NaN;
  /** server_time_ns - receive time of the last Heartbeat/Pong: clock offset plus one-way delay. */
  server_clock_offset_ns = Number.NaN;

  private readonly events: Emitter<ClientEvents>;
  private readonly views = new ViewTable();
  private readonly connection: Connection;
  private readonly encoder = new FrameEncoder();
  private readonly clock_ns: () => number;
  private readonly snapshot_timeout_ns: number;
  private readonly record_latency: boolean;
  private next_nonce = 1;
  private readonly pings = new Map<number, PendingPing>();
  private readonly progress: ReaderProgress;
  private readonly behind_ms: number;
  private readonly delta_reader = new DeltaReader();
  private readonly engine_to_receive: HopRecorder;
  private readonly send_to_receive: HopRecorder;

  /** `url`: one feed, or several to fail over between (each reconnect tries the next, after a jittered backoff). */
  constructor(url: string | readonly string[], options: FeedClientOptions = {}) {
    const settings = client_settings(url, options, now_ns);
    this.snapshot_timeout_ns = settings.snapshot_timeout_ms * 1e6;
    this.record_latency = settings.record_latency;
    this.clock_ns = settings.clock_ns;
    this.hops = settings.hops;
    this.engine_to_receive = this.hops.recorder('engine_to_receive');
    this.send_to_receive = this.hops.recorder('send_to_receive');
    this.behind_ms = settings.behind_ms;
    this.progress = new ReaderProgress(settings.ack_interval_ms,
      settings.ack ? (bytes_processed) => this.send({ type: 'ack', bytes_processed }) : null, this.clock_ns);
    this.events = new Emitter<ClientEvents>((err, event) => this.listener_failed(err, event));
    this.connection = new Connection(
      { urls: client_urls(url), ...settings },
      this.counters,
      {
        state: (next, previous) => this.events.emit('state', next, previous),
        opened: (now) => this.on_open(now),
        message: (data, receive_ns) => this.on_message(data, receive_ns),
        stale: () => this.views.for_each((view) => this.set_view_state(view, 'stale')),
        disconnected: (code, reason) => this.on_disconnect(code, reason),
        give_up: () => this.close(),
        tick: (now) => this.check_snapshot_deadlines(now),
        error: (err) => this.emit_error(err),
      },
    );
    this.connection.start();
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  /** The feed URL in use now (several given: the one this client has failed over to). */
  get url(): string {
    return this.connection.url;
  }

  on<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): this {
    this.events.on(event, listener);
    return this;
  }

  once<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): this {
    this.events.once(event, listener);
    return this;
  }

  off<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): this {
    this.events.off(event, listener);
    return this;
  }

  /**
   * Subscribes to a view and returns its book. Subscribing again to the same
   * (symbol, depth) returns the same handle. Throws RangeError on a bad symbol,
   * depth or interval (nothing is sent).
   */
  subscribe(symbol: string, options: SubscribeOptions = {}): BookHandle {
    if (this.connection.state === 'closed') throw new FeedClientError('socket', 'client is closed');
    const { depth, interval_ms, group } = subscription_of(symbol, options);
    const existing = this.views.find(symbol, depth, group);
    if (existing) return existing.handle;
    const view = new ViewSlot(symbol, depth, interval_ms, (err, event) => this.listener_failed(err, event), group);
    this.views.add(view);
    if (this.connection.is_open()) {
      view.awaiting_since_ns = this.clock_ns();
      this.send({ type: 'subscribe', symbols: [symbol], depth, interval_ms, ...group_field(group) });
    }
    return view.handle;
  }

  /** Stops a view: Unsubscribe is sent, the book goes 'closed' and receives nothing more. */
  unsubscribe(symbol_or_book: string | BookHandle, depth?: number, group = 1): void {
    const view = typeof symbol_or_book === 'string'
      ? this.views.find(symbol_or_book, depth ?? 10, group)
      : this.views.find(symbol_or_book.symbol, symbol_or_book.depth, symbol_or_book.group);
    if (view === undefined || (typeof symbol_or_book !== 'string' && view.handle !== symbol_or_book)) return;
    if (this.remove_view(view)) this.send({ type: 'unsubscribe', symbols: [view.symbol], depth: view.depth, ...group_field(view.group) });
  }

  /** The handle of a subscribed view, or undefined. */
  book(symbol: string, depth = 10, group = 1): BookHandle | undefined {
    return this.views.find(symbol, depth, group)?.handle;
  }

  books(): BookHandle[] {
    const out: BookHandle[] = [];
    this.views.for_each((view) => out.push(view.handle));
    return out;
  }

  /**
   * How old (ms) the newest state this client has processed is, beyond what
   * an idle path would make it: 0 when it keeps up; grows while frames wait
   * (a busy page) or the server conflates it. Needs no clock agreement.
   */
  staleness_ms(): number {
    return this.progress.staleness_ms(this.clock_ns());
  }

  /** Hearing from the server, but what it processed is older than options.behind_ms. */
  get behind(): boolean {
    return this.connection.state === 'synced' && this.staleness_ms() > this.behind_ms;
  }

  /** Acks sent on this connection so far. */
  get acks_sent(): number {
    return this.progress.acks_sent;
  }

  /** Round trip to the server and back (ns), via Ping/Pong. Rejects if the socket goes away first. */
  ping(): Promise<number> {
    if (!this.connection.is_open()) return Promise.reject(new FeedClientError('socket', 'not connected'));
    const nonce = this.next_nonce++;
    return new Promise<number>((resolve, reject) => {
      this.pings.set(nonce, { resolve, reject });
      this.send({ type: 'ping', nonce, client_time_ns: this.clock_ns() });
    });
  }

  /** Closes for good: no reconnect; every view goes 'closed'. */
  close(): void {
    if (this.connection.state === 'closed') return;
    this.connection.close();
    this.reject_pings('client closed');
    this.progress.stop();
    this.connection.mark_closed();
    this.views.for_each((view) => this.set_view_state(view, 'closed'));
    this.views.clear();
  }

  // ---- connection lifecycle (called by Connection) ----

  private on_open(now: number): void {
    this.progress.reset();
    const views: ViewSlot[] = [];
    this.views.for_each((view) => {
      view.confirmed = false;
      view.awaiting_since_ns = now;
      views.push(view);
    });
    this.send_subscribes(views);
  }

  private on_disconnect(code: number, reason: string): void {
    this.counters.closes++;
    this.reject_pings('connection closed');
    this.progress.reset();
    this.events.emit('disconnect', code, reason);
    this.views.for_each((view) => {
      view.confirmed = false;
      view.awaiting_since_ns = 0;
      if (view.state !== 'stale') this.set_view_state(view, 'connecting');
    });
  }

  /** Views whose snapshot is overdue ask again; no allocation when none is. */
  private check_snapshot_deadlines(now: number): void {
    let unconfirmed: ViewSlot[] | undefined;
    for (const list of this.views.lists()) {
      for (const view of list) {
        // A recovering symbol's snapshot comes when it is live again: asking again would not hurry it.
        if (view.awaiting_since_ns !== 0 && now - view.awaiting_since_ns > this.snapshot_timeout_ns && view.feed_state !== 'recovering') {
          this.counters.snapshot_timeouts++;
          view.awaiting_since_ns = now;
          if (view.confirmed) this.ask_snapshot(view);
          else (unconfirmed ??= []).push(view);
        }
      }
    }
    if (unconfirmed) this.send_subscribes(unconfirmed);
  }

  // ---- frames ----

  private on_message(data: unknown, receive_ns: number): void {
    const c = this.counters;
    c.frames++;
    if (!(data instanceof ArrayBuffer)) {
      c.decode_errors++;
      this.emit_error(new FeedClientError('decode', `expected a binary frame, got ${typeof data === 'string' ? 'text' : typeof data}`));
      return;
    }
    c.bytes += data.byteLength;
    const bytes = new Uint8Array(data);
    const delta = this.delta_reader;
    let msg: ServerMsg | null = null;
    try {
      if (delta.read(bytes) !== body_delta) msg = decode_server_frame(bytes);
    } catch (err) {
      c.decode_errors++;
      this.progress.processed(data.byteLength, 0, this.clock_ns());
      this.emit_error(new FeedClientError('decode', `undecodable frame (${data.byteLength} bytes): ${(err as Error).message}`));
      return;
    }
    let sent_ns = 0;
    if (msg === null) {
      this.on_delta(delta, receive_ns);
      sent_ns = delta.ts_send_ns;
    } else switch (msg.type) {
      case 'delta': break; // read by delta_reader above
      case 'snapshot': this.on_snapshot(msg, receive_ns); sent_ns = msg.ts_send_ns; break;
      case 'heartbeat':
        c.heartbeats++;
        this.server_clock_offset_ns = msg.server_time_ns - receive_ns;
        this.connection.healthy();
        sent_ns = msg.server_time_ns;
        break;
      case 'status': this.on_status(msg); break;
      case 'error': this.on_server_error(msg); break;
      case 'pong': this.on_pong(msg, receive_ns); sent_ns = msg.server_time_ns; break;
    }
    // After every listener ran: what the application has really processed.
    this.progress.processed(data.byteLength, sent_ns, this.clock_ns());
  }

  private on_snapshot(msg: SnapshotMsg, receive_ns: number): void {
    this.counters.snapshots++;
    const view = this.views.find(msg.symbol, msg.depth, msg.group ?? 1);
    if (!view) {
      this.counters.unknown_view_frames++;
      return;
    }
    view.confirmed = true;
    // A catch-up snapshot to a conflating client carries the trades since its previous frame.
    const trades = msg.trades ?? [];
    const aggregate = msg.trade_aggregate ?? null;
    if (trades.length > 0 || aggregate !== null) this.emit_trades(view, trades, aggregate);
    const verdict = view.book.load_snapshot(msg);
    if (verdict !== 'ok') {
      this.check_failed(view, verdict);
      return;
    }
    // A connection that delivers verified books has recovered: the next outage starts from a short delay.
    this.connection.healthy();
    view.awaiting_since_ns = 0;
    view.last_receive_ns = receive_ns;
    const info = view.info;
    info.kind = 'snapshot';
    info.seq_first = msg.seq;
    info.seq = msg.seq;
    info.conflated = false;
    info.updates_merged = 0;
    info.trades = trades.length;
    info.engine_to_receive_ns = Number.NaN;
    info.receive_ns = receive_ns;
    this.set_view_state(view, 'synced');
    this.emit_update(view, info);
  }

  private on_delta(msg: DeltaReader, receive_ns: number): void {
    const c = this.counters;
    c.deltas++;
    const view = this.views.find(msg.symbol, msg.depth, msg.group);
    if (!view) {
      c.unknown_view_frames++;
      return;
    }
    const book = view.book;
    if (!book.has_snapshot) {
      c.discarded_deltas++;
      return;
    }
    const removals_before = book.unknown_level_removals;
    const verdict = book.apply_delta_from(msg);
    c.unknown_level_removals += book.unknown_level_removals - removals_before;
    if (verdict === 'duplicate') {
      c.duplicates++;
      return;
    }
    // Range and epoch were right for every other verdict: the trades belong to this stream.
    if (verdict !== 'range_break' && verdict !== 'epoch_change') this.emit_delta_trades(view, msg);
    if (verdict !== 'ok') {
      this.check_failed(view, verdict);
      return;
    }
    if (msg.conflated) c.conflated_frames++;
    c.updates_merged += msg.updates_merged;
    let engine_to_receive_ns = Number.NaN;
    if (this.record_latency) {
      if (msg.ts_engine_ns > 0) {
        engine_to_receive_ns = receive_ns - msg.ts_engine_ns;
        this.engine_to_receive.record(engine_to_receive_ns);
      }
      if (msg.ts_send_ns > 0) this.send_to_receive.record(receive_ns - msg.ts_send_ns);
    }
    view.last_receive_ns = receive_ns;
    const info = view.info;
    info.kind = 'delta';
    info.seq_first = msg.seq_first;
    info.seq = msg.seq;
    info.conflated = msg.conflated;
    info.updates_merged = msg.updates_merged;
    info.trades = msg.trade_count;
    info.engine_to_receive_ns = engine_to_receive_ns;
    info.receive_ns = receive_ns;
    this.emit_update(view, info);
  }

  /** Takes a view out of the client and closes it; false if it was not in. */
  private remove_view(view: ViewSlot): boolean {
    if (!this.views.remove(view)) return false;
    view.awaiting_since_ns = 0;
    this.set_view_state(view, 'closed');
    return true;
  }

  private emit_trades(view: ViewSlot, trades: readonly TradeRec[], agg: TradeAggregateRec | null): void {
    this.counters.trades += trades.length;
    const to_client = this.events.has_listeners('trade');
    for (const trade of trades) this.emit_trade(view, trade, to_client);
    this.emit_aggregate(view, agg);
  }

  /** emit_trades for a Delta read in place: a TradeRec is built per trade only if someone listens. */
  private emit_delta_trades(view: ViewSlot, d: DeltaReader): void {
    const n = d.trade_count;
    this.counters.trades += n;
    const to_client = this.events.has_listeners('trade');
    if (n > 0 && (to_client || view.events.has_listeners('trade'))) {
      for (let i = 0; i < n; i++) this.emit_trade(view, d.trade_into(i, { trade_id: 0, price: 0, size: 0, ts_engine_ns: 0, aggressor: 0 }), to_client);
    }
    this.emit_aggregate(view, d.trade_aggregate);
  }

  private emit_trade(view: ViewSlot, trade: TradeRec, to_client: boolean): void {
    view.events.emit('trade', trade);
    if (to_client) this.events.emit('trade', view.handle, trade);
  }

  private emit_aggregate(view: ViewSlot, agg: TradeAggregateRec | null): void {
    const c = this.counters;
    if (agg !== null) {
      c.trade_aggregates++;
      c.trades_folded += agg.count;
      view.events.emit('trade_aggregate', agg);
      this.events.emit('trade_aggregate', view.handle, agg);
    }
  }

  private emit_update(view: ViewSlot, info: UpdateInfo): void {
    view.events.emit('update', info);
    this.events.emit('update', view.handle, info);
  }

  private check_failed(view: ViewSlot, verdict: Verdict): void {
    const c = this.counters;
    count_verdict(c, verdict);
    this.emit_error(new FeedClientError('verify', `${view.symbol}@${view.depth}: ${verdict}: ${view.book.last_problem}; resyncing`, 0, view.symbol, verdict));
    this.set_view_state(view, 'resyncing');
    c.resyncs++;
    view.awaiting_since_ns = this.clock_ns();
    this.ask_snapshot(view);
  }

  /** Resync if the server knows the view on this socket, else (re)subscribe. */
  private ask_snapshot(view: ViewSlot): void {
    if (!this.connection.is_open()) return;
    if (view.confirmed) this.send({ type: 'resync', symbol: view.symbol, depth: view.depth, ...group_field(view.group) });
    else this.send({ type: 'subscribe', symbols: [view.symbol], depth: view.depth, interval_ms: view.interval_ms, ...group_field(view.group) });
  }

  private on_status(msg: StatusMsg): void {
    this.counters.statuses++;
    for (const s of msg.symbols) {
      const list = this.views.of_symbol(s.symbol);
      if (!list) continue;
      for (const view of list) {
        view.feed_state = s.state;
        view.engine_silent = s.engine_silent === true;
        // The feed is rebuilding this book: no Deltas until a fresh Snapshot, so what we show is stale.
        if (s.state === 'recovering' && view.state === 'synced') this.set_view_state(view, 'stale');
        if (s.resume === undefined || s.resume === 'none' || view.depth !== s.resume_depth || view.group !== (s.resume_group ?? 1)) continue;
        if (s.resume === 'resumed' && view.book.has_snapshot && !view.confirmed) {
          // The feed continues this view from the seq we hold: no Snapshot comes; the next Delta starts at seq + 1.
          view.confirmed = true;
          view.awaiting_since_ns = 0;
          this.counters.resumed_views++;
          this.set_view_state(view, 'synced');
        } else if (s.resume !== 'resumed' && !view.confirmed) {
          this.counters.resume_refused++;
        }
      }
    }
    this.events.emit('status', msg);
  }

  private on_server_error(msg: ErrorMsg): void {
    this.counters.server_errors++;
    const views = msg.symbol ? (this.views.of_symbol(msg.symbol) ?? []) : [];
    // Error frames name a symbol, not a depth: act only on views of that symbol still waiting for a snapshot.
    const waiting = views.filter((v) => v.awaiting_since_ns !== 0 && !v.book.has_snapshot);
    if (msg.code === error_code.not_subscribed) {
      // Our Resync found no subscription (the server lost it): subscribe again.
      for (const view of waiting) {
        view.confirmed = false;
        this.ask_snapshot(view);
      }
    }
    if (view_refused_codes.includes(msg.code) && waiting.length > 0) {
      for (const view of waiting) {
        this.emit_error(new FeedClientError('refused', `${view.symbol}@${view.depth}: refused by the server: ${msg.message}`, msg.code, view.symbol));
        this.remove_view(view);
      }
      return;
    }
    this.emit_error(new FeedClientError('server', `server error ${msg.code}: ${msg.message}`, msg.code, msg.symbol));
  }

  private on_pong(msg: PongMsg, receive_ns: number): void {
    this.counters.pongs++;
    const pending = this.pings.get(msg.nonce);
    if (!pending) return;
    this.pings.delete(msg.nonce);
    this.last_rtt_ns = receive_ns - msg.client_time_ns;
    if (msg.server_time_ns > 0) this.server_clock_offset_ns = msg.server_time_ns - (receive_ns + msg.client_time_ns) / 2;
    pending.resolve(this.last_rtt_ns);
  }

  private reject_pings(why: string): void {
    for (const p of this.pings.values()) p.reject(new FeedClientError('socket', why));
    this.pings.clear();
  }

  // ---- helpers ----

  private send_subscribes(views: readonly ViewSlot[]): void {
    for (const msg of subscribe_messages(views)) this.send(msg);
  }

  private send(msg: ClientMsg): void {
    if (!this.connection.is_writable()) return;
    try {
      // FrameEncoder returns a copy, which the socket may keep until it is written.
      this.connection.send(this.encoder.client(msg));
    } catch (err) {
      this.emit_error(new FeedClientError('socket', `send failed: ${(err as Error).message}`));
    }
  }

  private set_view_state(view: ViewSlot, next: ViewState): void {
    if (view.state === 'closed') return;
    const previous = view.set_state(next);
    if (previous !== next) this.events.emit('book_state', view.handle, next, previous);
  }

  private emit_error(err: FeedClientError): void {
    this.events.emit('error', err);
  }

  private listener_failed(err: unknown, event: string): void {
    this.counters.listener_errors++;
    if (event === 'error') return; // an 'error' listener that throws must not loop
    this.events.emit('error', new FeedClientError('listener', `a '${event}' listener threw: ${(err as Error)?.message ?? String(err)}`));
  }
}

/** Opens a client. Equivalent to new FeedClient(url, options). */
export function connect(url: string | readonly string[], options: FeedClientOptions = {}): FeedClient {
  return new FeedClient(url, options);
}

/** The group field of a client message: only for a grouped view (ungrouped messages stay as they were). */
function group_field(group: number): { group?: number } {
  return group > 1 ? { group } : {};
}
