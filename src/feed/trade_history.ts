// The recent trades of one symbol with the seq of the event that made each, so
// that a resumed view's catch-up (resume_history.ts) can list exactly the
// trades of the range it missed, or learn that it cannot.
//
// Cost: remember() is an amortized O(1) push into two parallel arrays (the
// forgotten half is dropped in one splice every recent_trades_max trades);
// between() scans what is remembered (a resume, not the live path) and
// allocates its answer. Memory: at most 2 × recent_trades_max entries.
//
// Invariant: every trade with a seq above complete_after_seq is remembered, in
// seq order; between() answers null rather than a list with holes.
import type { TradeRec } from '../wire/feed_types.js';

/** Trades remembered with their seq, so a resumed view's catch-up can list the trades of its range. */
export const recent_trades_max = 4096;

export class TradeHistory {
  private readonly trades: TradeRec[] = [];
  private readonly seqs: number[] = [];
  /** First entry still remembered. */
  private start = 0;
  /** Every trade with a seq above this is remembered. */
  private complete_after_seq = 0;

  /** The book was replaced by a snapshot at `seq`: trades before it are not ours to report (a resume from before it gets a Snapshot). */
  forget_through(seq: number): void {
    this.trades.length = 0;
    this.seqs.length = 0;
    this.start = 0;
    this.complete_after_seq = seq;
  }

  remember(seq: number, trade: TradeRec): void {
    this.trades.push(trade);
    this.seqs.push(seq);
    if (this.trades.length - this.start > recent_trades_max) {
      this.complete_after_seq = this.seqs[this.start];
      this.start++;
      if (this.start >= recent_trades_max) {
        // Amortized O(1): drop the forgotten half in one splice.
        this.trades.splice(0, this.start);
        this.seqs.splice(0, this.start);
        this.start = 0;
      }
    }
  }

  /**
   * The trades with a seq in (after_seq, through_seq], in order; null when
   * some of them are no longer remembered (or came before the last reset).
   */
  between(after_seq: number, through_seq: number): TradeRec[] | null {
    if (after_seq < this.complete_after_seq) return null;
    const out: TradeRec[] = [];
    const seqs = this.seqs;
    for (let i = this.start; i < seqs.length; i++) {
      if (seqs[i] > after_seq && seqs[i] <= through_seq) out.push(this.trades[i]);
    }
    return out;
  }
}
