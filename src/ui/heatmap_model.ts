// The liquidity heatmap's data: the shown book sampled once per column
// interval into price buckets, the last `columns` intervals kept in a ring,
// with the best bid and ask and the trades of each interval. Pure (no DOM):
// panel_heatmap.ts draws it, tests read it.
//
// Layout: `rows` buckets of `ticks_per_row` ticks from `price_lo` up, chosen
// at the first sample from the book's shown span, and kept (a drawn column
// stays valid) until the mid leaves the middle half of the range: then the
// range is re-centred by whole rows, the kept columns shifted with it, and
// `layout_version` moves on (the panel redraws everything once).
// Cost per sample: one pass over the view's levels (level_at, no allocation)
// and one column cleared; per trade, a few stores.

import { side_ask, side_bid, type L2Level, type Side } from 'depthcast/client';

/** What the model reads of a book: BookHandle satisfies it. */
export interface LevelSource {
  readonly version: number;
  level_count(side: Side): number;
  level_at(side: Side, rank: number, out: L2Level): L2Level | null;
}

/** Trade marks kept per column; past it the largest stay. */
export const trades_per_column_max = 16;

export class HeatmapModel {
  /** Columns sampled since reset (monotonic); the newest is (count - 1) % columns. */
  count = 0;
  layout_version = 0;
  price_lo = 0;
  ticks_per_row = 0;
  readonly sizes: Float64Array;
  readonly time_ms: Float64Array;
  /** Book version each column was read at. */
  readonly versions: Float64Array;
  readonly best_bid: Float64Array;
  readonly best_ask: Float64Array;
  /** Per column: trade count, then (price, size, side) triples. */
  readonly trade_counts: Uint8Array;
  readonly trades: Float64Array;
  private pending_trades = 0;
  private readonly pending = new Float64Array(trades_per_column_max * 3);
  private readonly level: L2Level = { price: 0, size: 0, orders: 0 };

  constructor(readonly columns: number, readonly rows: number) {
    this.sizes = new Float64Array(columns * rows);
    this.time_ms = new Float64Array(columns);
    this.versions = new Float64Array(columns);
    this.best_bid = new Float64Array(columns).fill(Number.NaN);
    this.best_ask = new Float64Array(columns).fill(Number.NaN);
    this.trade_counts = new Uint8Array(columns);
    this.trades = new Float64Array(columns * trades_per_column_max * 3);
  }

  reset(): void {
    this.count = 0;
    this.ticks_per_row = 0;
    this.pending_trades = 0;
    this.layout_version++;
  }

  /** Ring slot of the column `age` intervals old (0 = newest); -1 when there is none. */
  slot(age: number): number {
    if (age < 0 || age >= Math.min(this.count, this.columns)) return -1;
    return (this.count - 1 - age) % this.columns;
  }

  row_of(price: number): number {
    return Math.floor((price - this.price_lo) / this.ticks_per_row);
  }

  /** Size in bucket `row` of the column in ring slot `slot`. */
  cell(slot: number, row: number): number {
    return this.sizes[slot * this.rows + row];
  }

  add_trade(price: number, size: number, side: Side): void {
    let i = this.pending_trades;
    if (i === trades_per_column_max) {
      // Full: replace the smallest if this one is larger (the big prints matter most).
      let smallest = 0;
      for (let k = 1; k < i; k++) if (this.pending[k * 3 + 1] < this.pending[smallest * 3 + 1]) smallest = k;
      if (this.pending[smallest * 3 + 1] >= size) return;
      i = smallest;
    } else {
      this.pending_trades++;
    }
    this.pending[i * 3] = price;
    this.pending[i * 3 + 1] = size;
    this.pending[i * 3 + 2] = side;
  }

  /** One column: the book now (null = not synced: an empty column), with the trades since the last one. */
  sample(book: LevelSource | null, now_ms: number): void {
    const bids = book === null ? 0 : book.level_count(side_bid);
    const asks = book === null ? 0 : book.level_count(side_ask);
    if (book !== null && (bids > 0 || asks > 0)) this.fit_layout(book, bids, asks);
    const slot = this.count % this.columns;
    const base = slot * this.rows;
    this.sizes.fill(0, base, base + this.rows);
    this.time_ms[slot] = now_ms;
    this.versions[slot] = book === null ? -1 : book.version;
    this.best_bid[slot] = Number.NaN;
    this.best_ask[slot] = Number.NaN;
    if (book !== null && this.ticks_per_row > 0) {
      const l = this.level;
      for (const [side, n] of [[side_bid, bids], [side_ask, asks]] as const) {
        for (let r = 0; r < n; r++) {
          if (book.level_at(side, r, l) === null) break;
          if (r === 0) (side === side_bid ? this.best_bid : this.best_ask)[slot] = l.price;
          const row = this.row_of(l.price);
          if (row >= 0 && row < this.rows) this.sizes[base + row] += l.size;
        }
      }
    }
    this.trade_counts[slot] = this.pending_trades;
    this.trades.set(this.pending.subarray(0, this.pending_trades * 3), slot * trades_per_column_max * 3);
    this.pending_trades = 0;
    this.count++;
  }

  /** Chooses the layout at the first sample; re-centres when the mid leaves the middle half. */
  private fit_layout(book: LevelSource, bids: number, asks: number): void {
    const l = this.level;
    const best_bid = bids > 0 ? book.level_at(side_bid, 0, l)!.price : Number.NaN;
    const best_ask = asks > 0 ? book.level_at(side_ask, 0, l)!.price : Number.NaN;
    const mid = Number.isNaN(best_bid) ? best_ask : Number.isNaN(best_ask) ? best_bid : (best_bid + best_ask) / 2;
    if (this.ticks_per_row === 0) {
      const lo = bids > 0 ? book.level_at(side_bid, bids - 1, l)!.price : best_ask;
      const hi = asks > 0 ? book.level_at(side_ask, asks - 1, l)!.price : best_bid;
      // The shown span fills most of the height, at least one tick per row.
      this.ticks_per_row = Math.max(1, Math.ceil((hi - lo + 1) / (this.rows * 0.9)));
      this.price_lo = Math.floor(mid - (this.rows * this.ticks_per_row) / 2);
      this.count = 0;
      this.layout_version++;
      return;
    }
    const mid_row = (mid - this.price_lo) / this.ticks_per_row;
    if (mid_row >= this.rows * 0.25 && mid_row <= this.rows * 0.75) return;
    const shift = Math.round(mid_row - this.rows / 2);
    this.price_lo += shift * this.ticks_per_row;
    // Kept columns move with the range: row r becomes row r - shift.
    for (let s = 0; s < Math.min(this.count, this.columns); s++) {
      const col = this.sizes.subarray(s * this.rows, (s + 1) * this.rows);
      if (shift > 0) {
        col.copyWithin(0, Math.min(shift, this.rows));
        col.fill(0, Math.max(0, this.rows - shift));
      } else {
        col.copyWithin(Math.min(-shift, this.rows), 0);
        col.fill(0, 0, Math.min(-shift, this.rows));
      }
    }
    this.layout_version++;
  }
}
