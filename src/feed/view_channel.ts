// One view (symbol, depth, group): the BookView a client of it sees, the frames that
// move it forward, and its subscribers. A Delta is encoded ONCE here per
// update and the same bytes go to every streaming subscriber; a Snapshot is
// encoded once per (epoch, seq) and cached, so a reconnect storm of N clients
// costs one encode, not N. Subscribers that accumulate (slow connections,
// interval subscriptions) share one ChangeLog of the prices that changed:
// per update the view records its changes once, whatever their number.
// Which set a subscriber is in is decided by its Session (Session.settle,
// written by Session.set_mode), never here: enter and leave only move it. A streaming subscriber whose
// connection takes topics (transport.ts) is in `published`: the Delta goes to
// all of them in one publish to the view's topic (Fanout), and each counts
// its share lazily from published_bytes; the others are in `streaming` and
// get the same bytes queued one by one.
// A grouped view (group > 1) reads a GroupedSource (grouped_source.ts): the
// symbol's book in price buckets, updated once per flush for all its depths.

import type { L2Book } from '../book/l2_book.js';
import { BookView, ViewLevels } from '../book/view.js';
import { side_ask, side_bid } from '../book/types.js';
import type { TradeAggregateRec, TradeIdRange, TradeRec } from '../wire/feed_types.js';
import type { DeltaFields, FrameEncoder, SnapshotFields } from '../wire/feed_encoder.js';
import { now_ns } from '../util/clock.js';
import { ChangeLog } from './change_log.js';
import { check } from './invariants.js';
import type { GroupedSource } from './grouped_source.js';
import type { SymbolFeed } from './symbol_feed.js';
import type { HeldFrames, SubscriptionMode, ViewSubscriber } from './feed_types.js';
import { view_key } from '../util/symbol.js';

/** Accumulating updates between two trims of the shared change log (forgetting what every reader has). */
export const changes_trim_every_updates = 256;
const no_trades: TradeRec[] = [];

export class ViewChannel<S extends ViewSubscriber = ViewSubscriber> {
  readonly view: BookView;
  /** Last seq this view's frames cover; the next Delta starts at seq + 1. */
  seq = 0;
  epoch = 0;
  /** SymbolFeed.versions at `seq` (for updates_merged). */
  versions = 0;
  /** Every subscription of the view, whatever its mode (waiting ones included): who hears of a reset or a state change. */
  readonly subscribers = new Set<S>();
  /** Streaming subscribers that are sent each Delta one by one (their connection takes no topics). */
  readonly streaming = new Set<S>();
  /** Streaming subscribers that receive the view's Deltas through its topic (one publish for all). */
  readonly published = new Set<S>();
  /** The topic this view's Deltas are published to (uWS topics are per app: one name per view). */
  readonly topic: string;
  /** Bytes and frames published to the topic since the channel was made (a subscriber's share is the growth since it joined). */
  published_bytes = 0;
  published_frames = 0;
  /**
   * The view's topics of write-delay classes with subscribers (write_delay.ts): each holds the view's Deltas
   * for its class's next write. Their subscribers are in `published` too, and counted in delayed_members.
   */
  readonly delayed: HeldFrames[] = [];
  delayed_members = 0;
  /** Conflating or interval subscribers: they accumulate instead of receiving each Delta. */
  readonly accumulating = new Set<S>();
  /** Prices changed while anyone accumulates, with the seq of their last change (kept only then). */
  readonly changed: ChangeLog;
  private updates_since_trim = 0;
  /** The latest changes (valid during fan-out of one update). */
  readonly changes = new ViewLevels();
  /** Snapshot frames encoded for this view (shared ones; per-client catch-ups not counted): a reconnect storm should add ~1 per seq, not 1 per client. */
  snapshot_encodes = 0;
  private snapshot_bytes: Uint8Array | null = null;
  private snapshot_key_seq = -1;
  private snapshot_key_epoch = -1;
  private readonly snapshot_levels = new ViewLevels();
  private readonly delta_msg: DeltaFields;
  /** A catch-up's levels and fields (catch_up_delta), reused across catch-ups of every subscriber of the view. */
  private readonly catch_up_levels = new ViewLevels();
  private readonly catch_up_msg: DeltaFields;
  /** When the last Delta update() encoded was stamped sent (its ts_send_ns): the fan-out records the same instant. */
  get delta_sent_ns(): number {
    return this.delta_msg.ts_send_ns;
  }

  /** Price bucket in ticks; 1 = the symbol's own book. */
  readonly group: number;

  constructor(readonly symbol_feed: SymbolFeed, readonly depth: number, private readonly encoder: FrameEncoder, conflation_levels_max: number,
    readonly grouped_source: GroupedSource | null = null) {
    this.group = grouped_source?.group ?? 1;
    this.topic = view_key(symbol_feed.symbol, depth, this.group);
    this.view = new BookView(depth);
    this.changed = new ChangeLog(conflation_levels_max);
    this.delta_msg = {
      symbol: symbol_feed.symbol, depth, group: this.group, epoch: 0, seq_first: 0, seq: 0, digest: 0,
      bids: this.changes.bids, asks: this.changes.asks, trades: [], trade_aggregate: null, updates_merged: 0, conflated: false,
      ts_engine_ns: 0, ts_ingest_ns: 0, ts_send_ns: 0,
    };
    this.catch_up_msg = { ...this.delta_msg, bids: this.catch_up_levels.bids, asks: this.catch_up_levels.asks, trades: no_trades, conflated: true };
  }

  get subscriber_count(): number {
    return this.subscribers.size;
  }

  /** The book this view shows: the symbol's, or its grouped one. */
  private get book(): L2Book {
    return this.grouped_source === null ? this.symbol_feed.book : this.grouped_source.book;
  }

  /** Restart from the symbol's book (new channel, new epoch, recovery). */
  reset(): void {
    const f = this.symbol_feed;
    this.grouped_source?.reset(f);
    this.view.reset_from(this.book);
    this.seq = f.committed_seq;
    this.epoch = f.epoch;
    this.versions = f.versions;
    this.snapshot_bytes = null;
    this.changed.clear(this.seq);
  }

  /**
   * Moves the view to the symbol's current commit point. Returns the encoded
   * Delta (shared by all streaming subscribers) or null when nothing in the
   * view changed and no trade happened (the next Delta's range covers it).
   */
  update(changed_bids: Parameters<BookView['update']>[1], changed_asks: Parameters<BookView['update']>[2], trades: TradeRec[]): Uint8Array | null {
    const f = this.symbol_feed;
    let n: number;
    if (this.grouped_source === null) {
      n = this.view.update(f.book, changed_bids, changed_asks, this.changes);
    } else {
      const g = this.grouped_source.changes(f, changed_bids, changed_asks);
      n = this.view.update(this.grouped_source.book, g.bids, g.asks, this.changes);
    }
    const missing = f.trades_missing;
    if (n === 0 && trades.length === 0 && missing === undefined) return null;
    const seq_first = this.seq + 1;
    // Seq contiguity per view: the next Delta starts right after the last, and a view never goes back within an epoch.
    check(f.epoch === this.epoch && f.committed_seq >= this.seq, 'a view moves forward within its epoch');
    const merged = f.versions - this.versions;
    this.seq = f.committed_seq;
    this.versions = f.versions;
    if (this.accumulating.size > 0) this.accumulate(trades, missing);
    if (this.streaming.size === 0 && this.published.size === 0) return null;
    const m = this.delta_msg;
    const c = this.changes;
    this.fill_delta(m, seq_first, c.bid_count, c.ask_count, trades, null, merged, missing);
    return this.encoder.delta(m);
  }

  /** Once per update for all accumulating subscribers: changed prices into the shared log; trades to each (they fold their own). */
  private accumulate(trades: readonly TradeRec[], missing: TradeIdRange | undefined): void {
    const c = this.changes;
    if (missing !== undefined) for (const sub of this.accumulating) sub.accumulate_missing(missing);
    for (let i = 0; i < c.bid_count; i++) this.changed.record(side_bid, c.bids[i].price, this.seq);
    for (let i = 0; i < c.ask_count; i++) this.changed.record(side_ask, c.asks[i].price, this.seq);
    if (trades.length > 0) for (const sub of this.accumulating) sub.accumulate_trades(trades);
    if (++this.updates_since_trim >= changes_trim_every_updates) this.trim_changes();
  }

  /** Forgets changes every accumulating subscriber already has (their seq_sent is past them). */
  trim_changes(): void {
    this.updates_since_trim = 0;
    let oldest = Infinity;
    for (const sub of this.accumulating) {
      if (!sub.overflowed && sub.seq_sent < oldest) oldest = sub.seq_sent;
    }
    if (oldest === Infinity) this.changed.clear(this.seq);
    else this.changed.drop_through(oldest);
  }

  /** The view's current state as a Snapshot frame, encoded once per (epoch, seq). */
  snapshot(): Uint8Array {
    if (this.snapshot_bytes !== null && this.snapshot_key_seq === this.seq && this.snapshot_key_epoch === this.epoch) {
      return this.snapshot_bytes;
    }
    this.snapshot_bytes = this.encoder.snapshot(this.snapshot_fields());
    this.snapshot_encodes++;
    this.snapshot_key_seq = this.seq;
    this.snapshot_key_epoch = this.epoch;
    return this.snapshot_bytes;
  }

  /**
   * A Snapshot for one subscriber that also reports the trades it missed
   * since its previous frame (a conflating client whose catch-up had to be a
   * snapshot): per-client encode, slow clients only.
   */
  snapshot_with_trades(trades: TradeRec[], aggregate: TradeAggregateRec | null, missing?: TradeIdRange): Uint8Array {
    if (trades.length === 0 && aggregate === null && missing === undefined) return this.snapshot();
    const fields = this.snapshot_fields();
    fields.trades = trades;
    fields.trade_aggregate = aggregate;
    fields.missing_trades = missing;
    return this.encoder.snapshot(fields);
  }

  private snapshot_fields(): SnapshotFields {
    const f = this.symbol_feed;
    const levels = this.snapshot_levels;
    this.view.snapshot(levels);
    return {
      symbol: f.symbol, depth: this.depth, group: this.group, epoch: this.epoch, seq: this.seq, digest: levels.digest,
      tick_size: f.instrument.tick_size, lot_size: f.instrument.lot_size,
      price_decimals: f.instrument.price_decimals, size_decimals: f.instrument.size_decimals,
      bids: levels.bids, bid_count: levels.bid_count, asks: levels.asks, ask_count: levels.ask_count,
      ts_engine_ns: f.ts_engine_ns, ts_ingest_ns: f.ts_ingest_ns, ts_send_ns: now_ns(),
    };
  }

  /** The set of this view a subscription in `mode` is in (null: waiting, in none). */
  private set_for(mode: SubscriptionMode): Set<S> | null {
    switch (mode) {
      case 'streaming': return this.streaming;
      case 'published': return this.published;
      case 'accumulating':
      case 'snapshot_pending': return this.accumulating;
      default: return null;
    }
  }

  /** Puts a subscription in the set of `mode` (its Session decides the mode and writes it: Session.set_mode). */
  enter(sub: S, mode: SubscriptionMode): void {
    if (mode === 'published') {
      // Its share of what is published is the growth from here (SessionTopics.collect).
      sub.published_bytes_seen = this.published_bytes;
      sub.published_frames_seen = this.published_frames;
    }
    this.set_for(mode)?.add(sub);
  }

  /** Takes a subscription out of the set of `mode`; the last accumulating one out clears the shared change log. */
  leave(sub: S, mode: SubscriptionMode): void {
    const set = this.set_for(mode);
    if (set === null || !set.delete(sub)) return;
    if (set === this.accumulating && set.size === 0) this.changed.clear(this.seq);
  }

  /** Counts a publish of `bytes` to the topic (Fanout, after app.publish). */
  on_published(bytes: number): void {
    this.published_bytes += bytes;
    this.published_frames++;
  }

  /**
   * A conflated Delta for one subscriber (per-client work, slow and interval
   * subscribers only; a resume, from the resume history's `log`): from
   * `seq_sent` to the view's seq, each price `log` says changed since valued as the view shows it now (size 0: not shown), with the
   * trades or their aggregate. The levels and the fields are this view's,
   * reused: no allocation per catch-up or per level.
   */
  catch_up_delta(log: ChangeLog, seq_sent: number, trades: TradeRec[], aggregate: TradeAggregateRec | null, updates_merged: number,
    missing?: TradeIdRange): Uint8Array {
    const out = this.changed_levels(log, seq_sent);
    const m = this.catch_up_msg;
    this.fill_delta(m, seq_sent + 1, out.bid_count, out.ask_count, trades, aggregate, updates_merged, missing);
    const frame = this.encoder.delta(m);
    m.trades = no_trades; // not kept alive by the view
    m.trade_aggregate = null;
    return frame;
  }

  /**
   * Each price `log` says changed since `seq_sent`, once, valued as the view
   * shows it now (size 0: not shown), in the log's order (not sorted): a
   * catch-up's levels (catch_up_delta encodes them; an in-process reader,
   * view_reader.ts, reads them as they are). The levels are this view's,
   * reused: valid until its next catch-up; no allocation per level.
   */
  changed_levels(log: ChangeLog, seq_sent: number): ViewLevels {
    const out = this.catch_up_levels;
    let bid_count = 0;
    let ask_count = 0;
    for (let i = log.cursor(seq_sent), end = log.end; i < end; i++) {
      if (!log.live_at(i)) continue;
      const side = log.side_at(i);
      const levels = side === side_bid ? out.bids : out.asks;
      const k = side === side_bid ? bid_count++ : ask_count++;
      this.view.shown_level(side, log.price_at(i), levels[k] ?? (levels[k] = { price: 0, size: 0, orders: 0 }));
    }
    out.bid_count = bid_count;
    out.ask_count = ask_count;
    return out;
  }

  /** A Delta's fields from seq_first to the view's seq (m's level arrays are fixed at construction), stamped sent now. */
  private fill_delta(m: DeltaFields, seq_first: number, bid_count: number, ask_count: number, trades: TradeRec[],
    aggregate: TradeAggregateRec | null, updates_merged: number, missing: TradeIdRange | undefined = undefined): void {
    const f = this.symbol_feed;
    m.missing_trades = missing;
    m.epoch = this.epoch;
    m.seq_first = seq_first;
    m.seq = this.seq;
    m.digest = this.view.digest;
    m.bid_count = bid_count;
    m.ask_count = ask_count;
    m.trades = trades;
    m.trade_aggregate = aggregate;
    m.updates_merged = updates_merged;
    m.ts_engine_ns = f.ts_engine_ns;
    m.ts_ingest_ns = f.ts_ingest_ns;
    m.ts_send_ns = now_ns();
  }
}
