// The recent trades of the shown symbol, in a fixed ring of typed arrays.
// Trades arrive per frame, also while the tab is hidden; the ring makes that
// O(1) and allocation-free, and bounds what is kept to what the page can show.
// Trades the feed never had (a rebuild within the epoch, docs/PROTOCOL.md §5.5)
// are a row of their own, where the hole is: the tape never looks complete
// when it is not.
import { side_ask, side_bid, type Side, type TradeAggregateRec, type TradeIdRange, type TradeRec } from 'depthcast/client';

export const trade_kind = { trade: 0, aggregate: 1, missing: 2 } as const;

/** One row as the renderer reads it (one reusable object; copy what you keep). */
export interface TapeRow {
  kind: number;            // trade_kind
  price: number;           // ticks; for an aggregate, its last price
  size: number;            // lots; for an aggregate, its volume
  ts_engine_ns: number;    // 0 for an aggregate (it spans many)
  aggressor: Side;         // side_bid: a buyer lifted the ask, side_ask: a seller hit the bid; aggregate: side of most volume
  folded: number;          // aggregate: trades folded; else 0
  vwap: number;            // aggregate: vwap in ticks; else the price
  first_trade_id: number;  // missing: the first id the feed never had; else 0
  last_trade_id: number;   // missing: the last one; else 0
}

export class TradeTape {
  /** Increments on every push: the renderer redraws only when it moved. */
  version = 0;
  /** Trades seen, including folded ones, since the last clear. */
  trades_seen = 0;
  /** Trade ids named missing (never to come), since the last clear. */
  trades_missing = 0;
  private readonly kind: Uint8Array;
  private readonly price: Float64Array;
  private readonly size: Float64Array;
  private readonly ts: Float64Array;
  private readonly aggressor: Uint8Array;
  private readonly folded: Float64Array;
  private readonly vwap: Float64Array;
  private readonly first_id: Float64Array;
  private readonly last_id: Float64Array;
  private next = 0;       // slot the next push writes
  private filled = 0;

  constructor(readonly capacity: number) {
    if (!(Number.isInteger(capacity) && capacity > 0)) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.kind = new Uint8Array(capacity);
    this.price = new Float64Array(capacity);
    this.size = new Float64Array(capacity);
    this.ts = new Float64Array(capacity);
    this.aggressor = new Uint8Array(capacity);
    this.folded = new Float64Array(capacity);
    this.vwap = new Float64Array(capacity);
    this.first_id = new Float64Array(capacity);
    this.last_id = new Float64Array(capacity);
  }

  get length(): number {
    return this.filled;
  }

  push_trade(t: TradeRec): void {
    const i = this.claim();
    this.kind[i] = trade_kind.trade;
    this.price[i] = t.price;
    this.size[i] = t.size;
    this.ts[i] = t.ts_engine_ns;
    this.aggressor[i] = t.aggressor;
    this.folded[i] = 0;
    this.vwap[i] = t.price;
    this.first_id[i] = 0;
    this.last_id[i] = 0;
    this.trades_seen++;
  }

  push_aggregate(a: TradeAggregateRec): void {
    const i = this.claim();
    this.kind[i] = trade_kind.aggregate;
    this.price[i] = a.last;
    this.size[i] = a.volume;
    this.ts[i] = 0;
    this.aggressor[i] = a.buy_volume * 2 >= a.volume ? side_bid : side_ask;
    this.folded[i] = a.count;
    this.vwap[i] = a.vwap;
    this.first_id[i] = 0;
    this.last_id[i] = 0;
    this.trades_seen += a.count;
  }

  /** Trade ids the feed never had: one row saying so (no price, size or side: nothing is known of them). */
  push_missing(range: TradeIdRange): void {
    const i = this.claim();
    this.kind[i] = trade_kind.missing;
    this.price[i] = 0;
    this.size[i] = 0;
    this.ts[i] = 0;
    this.aggressor[i] = side_bid;
    this.folded[i] = 0;
    this.vwap[i] = 0;
    this.first_id[i] = range.first_trade_id;
    this.last_id[i] = range.last_trade_id;
    this.trades_missing += range.last_trade_id - range.first_trade_id + 1;
  }

  /** Row `age` (0 = newest) written into out; false past the end. */
  read(age: number, out: TapeRow): boolean {
    if (age < 0 || age >= this.filled) return false;
    const i = (this.next - 1 - age + this.capacity) % this.capacity;
    out.kind = this.kind[i];
    out.price = this.price[i];
    out.size = this.size[i];
    out.ts_engine_ns = this.ts[i];
    out.aggressor = this.aggressor[i] as Side;
    out.folded = this.folded[i];
    out.vwap = this.vwap[i];
    out.first_trade_id = this.first_id[i];
    out.last_trade_id = this.last_id[i];
    return true;
  }

  clear(): void {
    this.next = 0;
    this.filled = 0;
    this.trades_seen = 0;
    this.trades_missing = 0;
    this.version++;
  }

  private claim(): number {
    const i = this.next;
    this.next = (this.next + 1) % this.capacity;
    if (this.filled < this.capacity) this.filled++;
    this.version++;
    return i;
  }
}

export function new_tape_row(): TapeRow {
  return { kind: 0, price: 0, size: 0, ts_engine_ns: 0, aggressor: side_bid, folded: 0, vwap: 0, first_trade_id: 0, last_trade_id: 0 };
}
