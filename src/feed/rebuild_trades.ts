// Trades a feed had although a rebuild's snapshot covers them (issue 24,
// docs/PROTOCOL.md §5.5): while a symbol recovers, the live batches buffered
// meanwhile are applied on top of the snapshot, and those at or below its seq
// are skipped as duplicates — but their trades never reached the views. They
// are kept here and listed in the continuing Delta; only the ids the feed
// truly never had are named missing.
//
// One missing range per Delta: the kept trades that run without a hole up to
// the snapshot's last trade are listed; anything below a hole joins the
// missing range (named missing, never listed twice).
//
// Cost: nothing outside a recovery; during one, a TradeRec per trade in a
// skipped batch, bounded by the recovery buffer.
import { event_execute, type BookEvent } from '../book/types.js';
import type { EventBatchReader } from '../wire/engine_codec.js';
import type { TradeIdRange, TradeRec } from '../wire/feed_types.js';

export class RebuildTrades {
  private readonly had: TradeRec[] = [];

  /** A new snapshot (each recovery round starts from its own). */
  clear(): void {
    this.had.length = 0;
  }

  /** Events [from, to) of the batch in `r`, skipped as at or below the snapshot: keep their trades after `after_trade_id`. */
  keep(r: EventBatchReader, from: number, to: number, ev: BookEvent, after_trade_id: number): void {
    for (let i = from; i < to; i++) {
      r.event(i, ev);
      if (ev.kind !== event_execute || ev.trade_id <= after_trade_id) continue;
      const last = this.had.length > 0 ? this.had[this.had.length - 1].trade_id : after_trade_id;
      if (ev.trade_id <= last) continue; // a batch seen twice (buffer and stream)
      this.had.push({ trade_id: ev.trade_id, price: ev.price, size: ev.qty, ts_engine_ns: ev.ts_engine_ns, aggressor: ev.aggressor });
    }
  }

  /**
   * The views continue from `from_trade_id` to a snapshot whose last trade is
   * `snapshot_last_trade_id`: puts the trades kept that reach it without a
   * hole at the front of `pending` (in id order, before those replayed after
   * the snapshot) and returns the ids in neither, or undefined.
   */
  settle(from_trade_id: number, snapshot_last_trade_id: number, pending: TradeRec[]): TradeIdRange | undefined {
    let k = this.had.length;
    let next = snapshot_last_trade_id;
    while (k > 0 && this.had[k - 1].trade_id === next) {
      k--;
      next--;
    }
    if (k < this.had.length) pending.unshift(...this.had.slice(k));
    this.had.length = 0;
    return next > from_trade_id ? { first_trade_id: from_trade_id + 1, last_trade_id: next } : undefined;
  }
}
