// What a feed remembers so that a client reconnecting from another feed (or
// from this one, after a drop) can resume a view it holds at (epoch, seq)
// with no Snapshot: per view, which prices changed and at which seq (its own
// ChangeLog, fed by every view update, separate from the conflation log so a
// resume window never costs slow clients any of theirs), plus the symbol's
// recent trades (SymbolFeed.trades_between).
//
// A resume is one conflated Delta from the client's seq + 1 to the view's seq:
// every price changed in that range valued as the view shows it now (size 0:
// gone), the range's trades, the view's digest. Changes recorded at a flush
// seq s happened at book versions <= s, so those at or below the client's seq
// are already in its book and those above are all listed (some possibly
// unchanged for it: applying them is harmless, PROTOCOL.md §5.6).
//
// Refused (a Snapshot follows, Status says why): another epoch; a seq past
// this feed's view (it lags); a seq before the log's horizon (more than
// --conflation-levels-max prices changed since, or the view restarted since);
// trades no longer remembered (a symbol's TradeHistory keeps recent_trades_max). More than
// conflation_trades_max trades in the range are folded into one exact
// aggregate, as for a conflating client (PROTOCOL.md §5.5).
//
// Cost: per view update O(levels changed) into a log of at most
// conflation_levels_max prices per view; a resume costs O(changes since).
import type { ResumeName, ResumePoint, TradeAggregateRec, TradeRec } from '../wire/feed_types.js';
import { side_ask, side_bid } from '../book/types.js';
import { ChangeLog } from './change_log.js';
import { conflation_trades_max } from './subscription.js';
import type { ViewChannel } from './view_channel.js';

export interface ResumeDecision {
  outcome: ResumeName;
  /** For 'resumed': the catch-up Delta (null when the client is already at the view's seq). */
  frame: Uint8Array | null;
}

export class ResumeHistory {
  private readonly logs = new Map<ViewChannel, ChangeLog>();

  constructor(private readonly levels_max: number) {}

  /** A new channel: its history starts at its current seq. */
  track(ch: ViewChannel): void {
    if (this.logs.has(ch)) return;
    const log = new ChangeLog(this.levels_max);
    log.clear(ch.seq);
    this.logs.set(ch, log);
  }

  /** The view moved to ch.seq; ch.changes holds what changed (call right after ViewChannel.update). */
  record(ch: ViewChannel): void {
    const log = this.logs.get(ch);
    if (log === undefined) return;
    const c = ch.changes;
    for (let i = 0; i < c.bid_count; i++) log.record(side_bid, c.bids[i].price, ch.seq);
    for (let i = 0; i < c.ask_count; i++) log.record(side_ask, c.asks[i].price, ch.seq);
  }

  /** The view restarted from a snapshot (recovery, new epoch): nothing before it can be resumed. */
  reset(ch: ViewChannel): void {
    this.logs.get(ch)?.clear(ch.seq);
  }

  /** Can a client holding the view at `point` continue from it? The caller brought the view current. */
  decide(ch: ViewChannel, point: ResumePoint): ResumeDecision {
    const log = this.logs.get(ch);
    if (ch.symbol_feed.state !== 'live') return { outcome: 'not_live', frame: null };
    if (point.epoch !== ch.epoch) return { outcome: 'new_epoch', frame: null };
    if (point.seq > ch.seq) return { outcome: 'ahead', frame: null };
    if (log === undefined || !log.complete_since(point.seq)) return { outcome: 'too_old', frame: null };
    const trades = ch.symbol_feed.trades_between(point.seq, ch.seq);
    if (trades === null) return { outcome: 'too_old', frame: null };
    if (point.seq === ch.seq) return { outcome: 'resumed', frame: null };
    return { outcome: 'resumed', frame: this.catch_up(ch, log, point.seq, trades) };
  }

  private catch_up(ch: ViewChannel, log: ChangeLog, after_seq: number, trades: TradeRec[]): Uint8Array {
    // How many engine events the range covers is not known for a position another feed sent: updates_merged 0.
    return trades.length <= conflation_trades_max
      ? ch.catch_up_delta(log, after_seq, trades, null, 0)
      : ch.catch_up_delta(log, after_seq, no_trades, aggregate_of(trades), 0);
  }
}

const no_trades: TradeRec[] = [];

/** Every trade of the range in one record (count, ids, volumes, vwap, high, low, last); `trades` is not empty. */
function aggregate_of(trades: readonly TradeRec[]): TradeAggregateRec {
  let volume = 0;
  let buy_volume = 0;
  let notional = 0;
  let high = trades[0].price;
  let low = high;
  for (const t of trades) {
    volume += t.size;
    notional += t.price * t.size;
    if (t.aggressor === side_bid) buy_volume += t.size;
    high = Math.max(high, t.price);
    low = Math.min(low, t.price);
  }
  const last = trades[trades.length - 1];
  return { count: trades.length, first_trade_id: trades[0].trade_id, last_trade_id: last.trade_id, volume, vwap: notional / volume, high, low, last: last.price, buy_volume };
}
