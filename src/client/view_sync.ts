// The client's views kept in step with the server: what a frame about a view
// (Snapshot, Delta, Status, Error) means for it, and every view that lacks a
// verified book asking for one (Subscribe; Resync where the socket's server
// already knows the view). FeedClient decodes and dispatches; this decides.
//
// Recovery rules: a check failure resyncs that view alone; a snapshot always
// replaces a book; deltas before the snapshot of a (re)subscription or resync
// are discarded (counted); after a reconnect every view is resubscribed and
// waits for a snapshot (or a Status saying the feed resumed it); an overdue
// snapshot is asked again, unless the symbol is recovering (it comes when live).
//
// Cost per Delta: one map lookup plus a scan of the symbol's views (a handful
// of depths), the book's verification straight from the frame's bytes
// (DeltaReader), latency into recorders resolved at construction. Allocation:
// a TradeRec per trade only when someone listens to 'trade' (listeners may
// keep it); the per-tick deadline check only when some view is overdue.
//
// Invariants: at most one view per (symbol, depth, group) (ViewTable); a view's
// state changes only through set_view_state, which emits 'book_state' once per
// change and never leaves 'closed'; awaiting_since_ns != 0 exactly while a
// view waits for a snapshot it asked for.
import { side_bid } from '../book/types.js';
import { error_code } from '../wire/codes.js';
import type { ClientMsg, ErrorMsg, SnapshotMsg, StatusMsg, TradeAggregateRec, TradeRec } from '../wire/feed_types.js';
import type { DeltaReader } from '../wire/delta_reader.js';
import type { Verdict } from './book.js';
import { ViewSlot, type BookHandle, type UpdateInfo, type ViewState } from './book_handle.js';
import type { Connection } from './connection.js';
import { FeedClientError, count_verdict, type ClientCounters } from './counters.js';
import type { Emitter } from './emitter.js';
import type { ClientEvents } from './feed_client.js';
import type { ClientSettings, HopSampleRecorder } from './options.js';
import { ViewTable, subscribe_messages } from './view_table.js';

/** Error codes that mean a view can never be served as asked. */
const view_refused_codes: readonly number[] = [
  error_code.unknown_symbol, error_code.bad_depth, error_code.bad_interval, error_code.not_entitled, error_code.too_many_subscriptions,
];

export class ViewSync {
  private readonly views = new ViewTable();
  private readonly clock_ns: () => number;
  private readonly snapshot_timeout_ns: number;
  /** Both undefined unless options.hops opted in to latency recording. */
  private readonly engine_to_receive: HopSampleRecorder | undefined;
  private readonly send_to_receive: HopSampleRecorder | undefined;
  /** The listed trades of the Delta being read (reused: a TradeRec per trade only when someone listens to them). */
  private readonly delta_trades: TradeRec[] = [];

  /** The counters, events and connection are the client's own; `send` encodes and sends (nothing when the socket is not writable). */
  constructor(
    private readonly counters: ClientCounters,
    private readonly events: Emitter<ClientEvents>,
    private readonly connection: Connection,
    private readonly send: (msg: ClientMsg) => void,
    private readonly listener_failed: (err: unknown, event: string) => void,
    settings: ClientSettings,
  ) {
    this.clock_ns = settings.clock_ns;
    this.snapshot_timeout_ns = settings.snapshot_timeout_ms * 1e6;
    this.engine_to_receive = settings.hops?.recorder('engine_to_receive');
    this.send_to_receive = settings.hops?.recorder('send_to_receive');
  }

  find(symbol: string, depth: number, group: number): ViewSlot | undefined {
    return this.views.find(symbol, depth, group);
  }

  for_each(fn: (view: ViewSlot) => void): void {
    this.views.for_each(fn);
  }

  /** The view's handle; a new view is subscribed at once when the socket is open. */
  subscribe(symbol: string, depth: number, interval_ms: number, group: number): BookHandle {
    const existing = this.views.find(symbol, depth, group);
    if (existing) return existing.handle;
    const view = new ViewSlot(symbol, depth, interval_ms, this.listener_failed, group);
    this.views.add(view);
    if (this.connection.is_open()) {
      view.awaiting_since_ns = this.clock_ns();
      this.send({ type: 'subscribe', symbols: [symbol], depth, interval_ms, ...group_field(group) });
    }
    return view.handle;
  }

  /** Closes the view and sends Unsubscribe; nothing if it was not held. */
  unsubscribe(view: ViewSlot): void {
    if (this.remove_view(view)) this.send({ type: 'unsubscribe', symbols: [view.symbol], depth: view.depth, ...group_field(view.group) });
  }

  /** client.close(): every view goes 'closed' and is forgotten. */
  close_all(): void {
    this.views.for_each((view) => this.set_view_state(view, 'closed'));
    this.views.clear();
  }

  // ---- the connection's lifecycle ----

  /** A new socket opened: every view asks again, in as few Subscribes as the protocol allows. */
  opened(now: number): void {
    const views: ViewSlot[] = [];
    this.views.for_each((view) => {
      view.confirmed = false;
      view.awaiting_since_ns = now;
      views.push(view);
    });
    this.send_subscribes(views);
  }

  /** The connection went stale: so is every book shown. */
  stale(): void {
    this.views.for_each((view) => this.set_view_state(view, 'stale'));
  }

  /** The socket is gone: no view is known to the server any more. */
  disconnected(): void {
    this.views.for_each((view) => {
      view.confirmed = false;
      view.awaiting_since_ns = 0;
      if (view.state !== 'stale') this.set_view_state(view, 'connecting');
    });
  }

  /** A frame broke the client mid-way (FeedClient.dispatch threw): no book it may have touched is trusted; each view with a book resyncs. */
  distrust_all(): void {
    this.views.for_each((view) => {
      if (!view.book.has_snapshot) return;
      view.book.clear(); // Deltas until the fresh Snapshot are discarded, not applied to what may be wrong
      view.book.last_problem = 'a frame broke the client while it was applied';
      this.check_failed(view, 'invalid');
    });
  }

  /** Views whose snapshot is overdue ask again; no allocation when none is. */
  check_snapshot_deadlines(now: number): void {
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

  // ---- frames about views ----

  on_snapshot(msg: SnapshotMsg, receive_ns: number): void {
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
    const missing = msg.missing_trades;
    if (trades.length > 0 || aggregate !== null || missing !== undefined) {
      this.emit_trades(view, trades, aggregate, missing?.first_trade_id ?? 0, missing?.last_trade_id ?? 0);
    }
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

  on_delta(msg: DeltaReader, receive_ns: number): void {
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
    const engine_to_receive_ns = msg.ts_engine_ns > 0 ? receive_ns - msg.ts_engine_ns : Number.NaN;
    if (this.engine_to_receive !== undefined && msg.ts_engine_ns > 0) this.engine_to_receive.record(engine_to_receive_ns);
    if (this.send_to_receive !== undefined && msg.ts_send_ns > 0) this.send_to_receive.record(receive_ns - msg.ts_send_ns);
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

  on_status(msg: StatusMsg): void {
    this.counters.statuses++;
    for (const s of msg.symbols) {
      const list = this.views.of_symbol(s.symbol);
      if (!list) continue;
      for (const view of list) {
        const was_recovering = view.feed_state === 'recovering';
        view.feed_state = s.state;
        view.engine_silent = s.engine_silent === true;
        // The feed is rebuilding this book: no Deltas until it is live again, so what we show is stale.
        if (s.state === 'recovering' && view.state === 'synced') this.set_view_state(view, 'stale');
        // Live again in the epoch we hold: the feed continues the view (a Delta with the difference, PROTOCOL.md §5.5,
        // or nothing when the book did not change); a new epoch's Snapshot is still awaited.
        else if (s.state === 'live' && was_recovering && view.state === 'stale' && view.book.has_snapshot && s.epoch === view.book.epoch) {
          this.set_view_state(view, 'synced');
        }
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

  on_server_error(msg: ErrorMsg): void {
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
    // not_entitled may also come for a streaming view, dropped by the server after a token Refresh (PROTOCOL §5.9).
    const refused = msg.code === error_code.not_entitled ? views.slice() : waiting;
    if (view_refused_codes.includes(msg.code) && refused.length > 0) {
      for (const view of refused) {
        this.emit_error(new FeedClientError('refused', `${view.symbol}@${view.depth}: refused by the server: ${msg.message}`, msg.code, view.symbol));
        this.remove_view(view);
      }
      return;
    }
    this.emit_error(new FeedClientError('server', `server error ${msg.code}: ${msg.message}`, msg.code, msg.symbol));
  }

  /** Takes a view out of the client and closes it; false if it was not in. */
  private remove_view(view: ViewSlot): boolean {
    if (!this.views.remove(view)) return false;
    view.awaiting_since_ns = 0;
    this.set_view_state(view, 'closed');
    return true;
  }

  /**
   * A frame's trades, folded trades and missing ids, in trade id order (§5.5): `trades_missing` comes before the
   * first listed trade past the range (and before an aggregate that starts past it), so a tape shows the hole where
   * it is. missing_first 0: none.
   */
  private emit_trades(view: ViewSlot, trades: readonly TradeRec[], agg: TradeAggregateRec | null, missing_first = 0, missing_last = 0): void {
    this.counters.trades += trades.length;
    const to_client = this.events.has_listeners('trade');
    let missing_due = missing_first > 0;
    for (const trade of trades) {
      if (missing_due && trade.trade_id > missing_last) missing_due = this.emit_missing(view, missing_first, missing_last);
      this.emit_trade(view, trade, to_client);
    }
    if (missing_due && agg !== null && agg.first_trade_id > missing_last) missing_due = this.emit_missing(view, missing_first, missing_last);
    this.emit_aggregate(view, agg);
    if (missing_due) this.emit_missing(view, missing_first, missing_last);
  }

  /** emit_trades for a Delta read in place: a TradeRec is built per trade only if someone listens. */
  private emit_delta_trades(view: ViewSlot, d: DeltaReader): void {
    const n = d.trade_count;
    const listed = n > 0 && (this.events.has_listeners('trade') || view.events.has_listeners('trade'));
    const trades = this.delta_trades;
    for (let i = 0; listed && i < n; i++) trades.push(d.trade_into(i, { trade_id: 0, price: 0, size: 0, ts_engine_ns: 0, aggressor: side_bid }));
    this.emit_trades(view, trades, d.trade_aggregate, d.missing_first_trade_id, d.missing_last_trade_id);
    trades.length = 0;
    if (!listed) this.counters.trades += n;
  }

  /** Trades first..last never reached the feed (§5.5): said once per frame that says so; a fresh record per event (rare). Returns false (no longer due). */
  private emit_missing(view: ViewSlot, first_trade_id: number, last_trade_id: number): false {
    this.counters.trades_missing += last_trade_id - first_trade_id + 1;
    view.events.emit('trades_missing', { first_trade_id, last_trade_id });
    this.events.emit('trades_missing', view.handle, { first_trade_id, last_trade_id });
    return false;
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

  // ---- helpers ----

  private send_subscribes(views: readonly ViewSlot[]): void {
    for (const msg of subscribe_messages(views)) this.send(msg);
  }

  private set_view_state(view: ViewSlot, next: ViewState): void {
    if (view.state === 'closed') return;
    const previous = view.set_state(next);
    if (previous !== next) this.events.emit('book_state', view.handle, next, previous);
  }

  private emit_error(err: FeedClientError): void {
    this.events.emit('error', err);
  }
}

/** The group field of a client message: only for a grouped view (ungrouped messages stay as they were). */
function group_field(group: number): { group?: number } {
  return group > 1 ? { group } : {};
}
