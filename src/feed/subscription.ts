// One client's subscription to one view. Streaming, it shares the view's
// encoded Deltas. Accumulating (its connection is slow, or it asked for an
// interval), it remembers only the seq it was last sent (the prices changed
// since are in the view's shared ChangeLog, valued at the current view when
// the catch-up frame is built) and the trades since, at most
// conflation_trades_max of them one by one, past that folded into one
// aggregate. So its memory is O(1), never O(time or messages). When more than
// conflation_levels_max prices of the view changed since its seq, or the view
// restarted, its catch-up is a fresh Snapshot.

import { side_bid } from '../book/types.js';
import type { TradeAggregateRec, TradeIdRange, TradeRec } from '../wire/feed_types.js';
import { check } from './invariants.js';
import type { SubscriptionMode, ViewSubscriber } from './feed_types.js';
import type { ViewChannel } from './view_channel.js';
import type { TopicCounters } from './write_delay.js';
import { view_key } from '../util/symbol.js';

/** Individual trades kept for an accumulating subscriber; past it they fold into an aggregate. */
export const conflation_trades_max = 256;
/** Fewest trades a catch-up lists one by one, however small its reader's cap (src/feed/session.ts). */
export const catch_up_trades_min = 16;

export type { SubscriptionMode } from './feed_types.js';
/** A view whose subscribers are Subscriptions. */
export type SubscriptionChannel = ViewChannel<Subscription>;

/** What the fan-out and the scheduler need of a subscription's connection (its Session), so none of them casts to it. */
export interface SubscriptionOwner {
  readonly id: number;
  /** True while the connection is too slow to stream (conflating). */
  readonly slow: boolean;
  queue(frame: Uint8Array): void;
  /** The view restarted: false when the subscription needs a Snapshot now (see Session.defer_restart). */
  defer_restart(sub: Subscription): boolean;
  start_view(sub: Subscription, now_ms: number): void;
  tick_published(now_ms: number): void;
  /** The last published tick that listed this connection (FeedScheduler's: a number compared, not a Set lookup per subscription). */
  published_tick_mark: number;
}

export class Subscription implements ViewSubscriber {
  mode: SubscriptionMode = 'waiting';
  /** Last seq, epoch and version count this subscriber was sent (its book's position). */
  seq_sent = 0;
  epoch_sent = 0;
  versions_sent = 0;
  next_due_ms = 0;
  /** The view's published_bytes/frames when this subscriber's connection last counted its share (published subscribers only). */
  published_bytes_seen = 0;
  published_frames_seen = 0;
  /** Whose published counts its share is read from: its view's topic, or its write-delay class's topic of the view (SessionTopics.join). */
  topic_counters: TopicCounters;
  /** Accumulated since seq_sent (modes accumulating, snapshot_pending). */
  private readonly trades: TradeRec[] = [];
  private aggregate: TradeAggregateRec | null = null;
  /** Trade ids that never reached the feed within seq_sent..now (a rebuild continued the view, PROTOCOL.md §5.5). */
  private missing: TradeIdRange | undefined = undefined;
  private notional = 0;
  /** What the last catch_up() sent: a Snapshot or a Delta, and how many updates it merged. */
  last_catch_up_snapshot = false;
  last_catch_up_merged = 0;

  constructor(
    readonly owner: SubscriptionOwner,
    readonly channel: ViewChannel<Subscription>,
    public interval_ms: number,
  ) {
    this.topic_counters = channel;
  }

  get key(): string {
    return view_key(this.channel.symbol_feed.symbol, this.channel.depth, this.channel.group);
  }

  /** This subscriber's position is the view's now (it was queued everything up to the view's seq). */
  mark_sent(): void {
    const ch = this.channel;
    // Seq contiguity per subscriber: within an epoch its position only moves forward (a catch-up covers seq_sent + 1 .. the view's seq).
    check(ch.epoch !== this.epoch_sent || ch.seq >= this.seq_sent, 'a subscriber\'s position never goes back within an epoch');
    this.seq_sent = ch.seq;
    this.epoch_sent = ch.epoch;
    this.versions_sent = ch.versions;
  }

  /** Updates (engine events) an accumulating subscriber has not been sent yet (a streaming one is sent each as it comes). */
  get merged_pending(): number {
    if ((this.mode !== 'accumulating' && this.mode !== 'snapshot_pending') || this.epoch_sent !== this.channel.epoch) return 0;
    return this.channel.versions - this.versions_sent;
  }

  /** Prices changed since seq_sent (0 once the catch-up must be a Snapshot). Never above conflation_levels_max. */
  get dirty_levels(): number {
    return this.overflowed ? 0 : this.channel.changed.count_since(this.seq_sent);
  }

  /** Individual trades held now; never above conflation_trades_max (the rest are folded). */
  get held_trades(): number {
    return this.trades.length;
  }

  /** Trades folded into the aggregate so far. */
  get folded_trades(): number {
    return this.aggregate === null ? 0 : this.aggregate.count;
  }

  /** The next catch-up will be a Snapshot (too many levels changed, or the view restarted). */
  get overflowed(): boolean {
    return this.mode === 'snapshot_pending' || this.epoch_sent !== this.channel.epoch || !this.channel.changed.complete_since(this.seq_sent);
  }

  accumulate_trades(trades: readonly TradeRec[]): void {
    if (this.mode === 'snapshot_pending') return; // the restart's Snapshot is a new baseline: it lists no trades (Session.defer_restart)
    if (this.aggregate === null && this.trades.length + trades.length <= conflation_trades_max) {
      for (const t of trades) this.trades.push(t);
      return;
    }
    for (const t of this.trades) this.fold(t);
    this.trades.length = 0;
    for (const t of trades) this.fold(t);
  }

  /** A rebuild continued the view: these trade ids are in no frame; the next catch-up says so. */
  accumulate_missing(range: TradeIdRange): void {
    if (this.mode === 'snapshot_pending') return;
    this.missing = this.missing === undefined ? { ...range }
      : { first_trade_id: Math.min(this.missing.first_trade_id, range.first_trade_id), last_trade_id: Math.max(this.missing.last_trade_id, range.last_trade_id) };
  }

  private fold(t: TradeRec): void {
    let a = this.aggregate;
    if (a === null) {
      a = this.aggregate = { count: 0, first_trade_id: t.trade_id, last_trade_id: t.trade_id, volume: 0, vwap: 0, high: t.price, low: t.price, last: t.price, buy_volume: 0 };
      this.notional = 0;
    }
    a.count++;
    a.last_trade_id = t.trade_id;
    a.volume += t.size;
    this.notional += t.price * t.size;
    a.vwap = this.notional / a.volume;
    if (t.price > a.high) a.high = t.price;
    if (t.price < a.low) a.low = t.price;
    a.last = t.price;
    if (t.aggressor === side_bid) a.buy_volume += t.size;
  }

  /** Forget what was accumulated (after a snapshot or a catch-up was sent). */
  clear(): void {
    this.trades.length = 0; // encoded already: the array is reused, not reallocated per catch-up
    this.aggregate = null;
    this.notional = 0;
    this.missing = undefined;
  }

  /**
   * The frame that brings this subscriber from seq_sent to the view's seq:
   * a conflated Delta (changed levels valued now, trades or their aggregate),
   * or a Snapshot (trades before it reported in its trade fields) past the
   * level bound or across an epoch. More than
   * `trades_listed_max` trades go as one exact aggregate: a slow reader's
   * catch-up stays small. Returns null when there is nothing to send.
   */
  catch_up(trades_listed_max: number = conflation_trades_max): Uint8Array | null {
    const ch = this.channel;
    if (this.mode !== 'snapshot_pending' && ch.seq === this.seq_sent && this.epoch_sent === ch.epoch && this.trades.length === 0 && this.aggregate === null
      && this.missing === undefined) return null;
    let frame: Uint8Array;
    this.last_catch_up_merged = this.epoch_sent === ch.epoch ? ch.versions - this.versions_sent : 0;
    this.last_catch_up_snapshot = this.overflowed;
    if (this.trades.length > trades_listed_max) {
      for (const t of this.trades) this.fold(t);
      this.trades.length = 0;
    }
    if (this.last_catch_up_snapshot) {
      // Within the epoch the trades since seq_sent are accounted for here too, missing ones included (§5.5).
      frame = ch.snapshot_with_trades(this.trades, this.aggregate, this.epoch_sent === ch.epoch ? this.missing : undefined);
    } else {
      frame = ch.catch_up_delta(ch.changed, this.seq_sent, this.trades, this.aggregate, this.last_catch_up_merged, this.missing);
    }
    this.mark_sent();
    this.clear();
    return frame;
  }
}
