// One client's subscription to one view. Streaming, it shares the view's
// encoded Deltas. Accumulating (its connection is slow, or it asked for an
// interval), it keeps only WHAT changed since the last frame it was sent:
// the set of changed prices per side (valued at the current view when the
// catch-up frame is built) and the trades — O(levels changed), never
// O(time or messages). Past conflation_levels_max changed prices it stops
// tracking and its catch-up is a fresh Snapshot.

import type { ViewLevels } from '../book/view.js';
import type { DeltaMsg, LevelUpdate, TradeAggregateRec, TradeRec } from '../wire/feed_types.js';
import { now_ns } from '../util/clock.js';
import type { ViewChannel } from './view_channel.js';

/** Individual trades kept for an accumulating subscriber; past it they fold into an aggregate. */
export const conflation_trades_max = 256;

export type SubscriptionMode = 'waiting' | 'streaming' | 'accumulating';

export interface SubscriptionOwner {
  readonly id: number;
  /** True while the connection is too slow to stream (conflating). */
  readonly slow: boolean;
}

export class Subscription {
  mode: SubscriptionMode = 'waiting';
  /** Last seq and epoch this subscriber was sent (its book's position). */
  seq_sent = 0;
  epoch_sent = 0;
  next_due_ms = 0;
  /** Accumulated since seq_sent (mode 'accumulating'). */
  private readonly dirty_bids = new Set<number>();
  private readonly dirty_asks = new Set<number>();
  private overflow = false;
  private trades: TradeRec[] = [];
  private aggregate: TradeAggregateRec | null = null;
  private notional = 0;
  private merged = 0;
  /** What the last catch_up() sent: a Snapshot or a Delta, and how many updates it merged. */
  last_catch_up_snapshot = false;
  last_catch_up_merged = 0;

  constructor(
    readonly owner: SubscriptionOwner,
    readonly channel: ViewChannel,
    public interval_ms: number,
    private readonly conflation_levels_max: number,
  ) {}

  get key(): string {
    return this.channel.symbol_feed.symbol + '|' + this.channel.depth;
  }

  /** Updates this subscriber has not been sent yet. */
  get merged_pending(): number {
    return this.merged;
  }

  /** Changed prices remembered now (both sides); never above conflation_levels_max. */
  get dirty_levels(): number {
    return this.dirty_bids.size + this.dirty_asks.size;
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
    return this.overflow;
  }

  accumulate(changes: ViewLevels, trades: readonly TradeRec[], merged: number): void {
    this.merged += merged;
    if (!this.overflow) {
      for (let i = 0; i < changes.bid_count; i++) this.dirty_bids.add(changes.bids[i].price);
      for (let i = 0; i < changes.ask_count; i++) this.dirty_asks.add(changes.asks[i].price);
      if (this.dirty_bids.size + this.dirty_asks.size > this.conflation_levels_max) {
        this.overflow = true;
        this.dirty_bids.clear();
        this.dirty_asks.clear();
      }
    }
    if (trades.length === 0) return;
    if (this.aggregate === null && this.trades.length + trades.length <= conflation_trades_max) {
      for (const t of trades) this.trades.push(t);
      return;
    }
    for (const t of this.trades) this.fold(t);
    this.trades = [];
    for (const t of trades) this.fold(t);
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
    if (t.aggressor === 0) a.buy_volume += t.size;
  }

  /** The next catch-up is a full Snapshot (the view restarted, e.g. after recovery). */
  force_snapshot(): void {
    this.overflow = true;
    this.dirty_bids.clear();
    this.dirty_asks.clear();
  }

  /** Forget what was accumulated (after a snapshot or a catch-up was sent). */
  clear(): void {
    this.dirty_bids.clear();
    this.dirty_asks.clear();
    this.overflow = false;
    this.trades = [];
    this.aggregate = null;
    this.notional = 0;
    this.merged = 0;
  }

  /**
   * The frame that brings this subscriber from seq_sent to the view's seq:
   * a conflated Delta (changed levels valued now, trades or their aggregate),
   * or, past the level bound or across an epoch, a Snapshot followed by a
   * Delta-free state (trades before a snapshot are reported in the Snapshot's
   * trade fields). Returns null when there is nothing to send.
   */
  catch_up(): Uint8Array | null {
    const ch = this.channel;
    if (!this.overflow && ch.seq === this.seq_sent && this.epoch_sent === ch.epoch && this.merged === 0 && this.trades.length === 0 && this.aggregate === null) return null;
    let frame: Uint8Array;
    this.last_catch_up_merged = this.merged;
    this.last_catch_up_snapshot = this.overflow || this.epoch_sent !== ch.epoch;
    if (this.last_catch_up_snapshot) {
      frame = ch.snapshot_with_trades(this.trades, this.aggregate);
    } else {
      const f = ch.symbol_feed;
      const msg: DeltaMsg = {
        type: 'delta', symbol: f.symbol, depth: ch.depth, epoch: ch.epoch,
        seq_first: this.seq_sent + 1, seq: ch.seq, digest: ch.view.digest,
        bids: valued(ch, 0, this.dirty_bids), asks: valued(ch, 1, this.dirty_asks),
        trades: this.trades, trade_aggregate: this.aggregate,
        updates_merged: this.merged, conflated: true,
        ts_engine_ns: f.ts_engine_ns, ts_ingest_ns: f.ts_ingest_ns, ts_send_ns: now_ns(),
      };
      frame = ch.encode_catch_up(msg);
    }
    this.seq_sent = ch.seq;
    this.epoch_sent = ch.epoch;
    this.clear();
    return frame;
  }
}

function valued(ch: ViewChannel, side: 0 | 1, prices: Set<number>): LevelUpdate[] {
  const out: LevelUpdate[] = [];
  for (const price of prices) out.push(ch.shown_level(side, price, { price, size: 0, orders: 0 }));
  return out;
}
