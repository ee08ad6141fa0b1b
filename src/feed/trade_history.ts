// The recent trades of one symbol with the seq of the event that made each, so
// that a resumed view's catch-up (resume_history.ts) can list exactly the
// trades of the range it missed, or learn that it cannot.
//
// Cost: remember() writes one slot of a ring of parallel typed arrays (no
// object per trade: a remembered trade lives for thousands of trades, and as
// an object it would survive the young generation and make old-generation GC
// work on the ingest path); between() scans what is remembered (a resume, not
// the live path) and allocates its answer. Memory: fixed, about 41 bytes ×
// recent_trades_max.
//
// Invariant: every trade with a seq above complete_after_seq is remembered, in
// seq order; between() answers null rather than a list with holes.
import type { Side } from '../book/types.js';
import type { TradeRec } from '../wire/feed_types.js';

/** Trades remembered with their seq, so a resumed view's catch-up can list the trades of its range. */
export const recent_trades_max = 4096;

export class TradeHistory {
  private readonly seqs = new Float64Array(recent_trades_max);
  private readonly trade_ids = new Float64Array(recent_trades_max);
  private readonly prices = new Float64Array(recent_trades_max);
  private readonly sizes = new Float64Array(recent_trades_max);
  private readonly ts_engine_ns = new Float64Array(recent_trades_max);
  private readonly aggressors = new Uint8Array(recent_trades_max);
  /** Slot of the oldest remembered trade. */
  private head = 0;
  private count = 0;
  /** Every trade with a seq above this is remembered. */
  private complete_after_seq = 0;

  /** The book was replaced by a snapshot at `seq`: trades before it are not ours to report (a resume from before it gets a Snapshot). */
  forget_through(seq: number): void {
    this.head = 0;
    this.count = 0;
    this.complete_after_seq = seq;
  }

  remember(seq: number, trade_id: number, price: number, size: number, ts_engine_ns: number, aggressor: Side): void {
    let slot: number;
    if (this.count === recent_trades_max) {
      // Full: the oldest is forgotten, and with it the promise for its seq.
      slot = this.head;
      this.complete_after_seq = this.seqs[slot];
      this.head = (this.head + 1) % recent_trades_max;
    } else {
      slot = (this.head + this.count) % recent_trades_max;
      this.count++;
    }
    this.seqs[slot] = seq;
    this.trade_ids[slot] = trade_id;
    this.prices[slot] = price;
    this.sizes[slot] = size;
    this.ts_engine_ns[slot] = ts_engine_ns;
    this.aggressors[slot] = aggressor;
  }

  /**
   * The trades with a seq in (after_seq, through_seq], in order; null when
   * some of them are no longer remembered (or came before the last reset).
   */
  between(after_seq: number, through_seq: number): TradeRec[] | null {
    if (after_seq < this.complete_after_seq) return null;
    const out: TradeRec[] = [];
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) % recent_trades_max;
      const seq = this.seqs[i];
      if (seq > after_seq && seq <= through_seq) {
        out.push({ trade_id: this.trade_ids[i], price: this.prices[i], size: this.sizes[i], ts_engine_ns: this.ts_engine_ns[i], aggressor: this.aggressors[i] as Side });
      }
    }
    return out;
  }
}
