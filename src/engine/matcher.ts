// One symbol's limit order book with price-time priority, and the book events
// it emits. Single writer, integer ticks and lots, no I/O.
//
// Structures (chosen for ~1M order operations/s in one JS thread):
// - orders live in a pool of typed arrays indexed by a handle, with a free
//   list, so adding and removing an order allocates nothing;
// - each price level is a FIFO doubly linked through the pool (O(1) cancel
//   anywhere in the queue);
// - each side keeps its levels in an array sorted with the best level LAST
//   (most activity is at the touch, so inserts and removals there are O(1)
//   at the array's end) plus a price → level map;
// - a dense array of live handles gives the order-flow generator a uniform
//   random resting order in O(1).
//
// Events go to a sink as one reused BookEvent object: the sink must copy what
// it keeps before returning. The last event caused by one incoming order
// carries flag_end_of_engine_event, so each event is held back until the next
// one (or the end of the order) shows whether it is the last.
//
// One file on purpose (~550 lines): the pool, the levels and the matching loop
// share their arrays and invariants; split, each part would need the others'
// internals.
import {
  type BookEvent, type EventKind, type Instrument, type L2Level, type L2Snapshot, type Side,
  event_add, event_execute, event_reduce, flag_end_of_engine_event, new_book_event, side_ask, side_bid,
} from '../book/types.js';

export const order_limit = 0;   // good till cancelled: matches, then the rest rests
export const order_ioc = 1;     // immediate or cancel: matches up to its price, the rest is dropped
export const order_market = 2;  // matches at any price until filled or the other side is empty
export const order_cancel = 3;
export const order_replace = 4; // new price and/or new total size for a resting order
export type OrderType = 0 | 1 | 2 | 3 | 4;

/** One incoming instruction. Reused by the generator; the matcher keeps nothing of it. */
export interface OrderCommand {
  type: OrderType;
  side: Side;        // limit, ioc, market
  price: number;     // ticks: limit, ioc, replace (new price)
  qty: number;       // lots: limit, ioc, market, replace (new total size)
  order_id: number;  // cancel, replace: the resting order
}

export function new_order_command(): OrderCommand {
  return { type: order_limit, side: side_bid, price: 0, qty: 0, order_id: 0 };
}

/** What apply() returns. Anything but `ok` changed nothing and emitted nothing. */
export const outcome = {
  ok: 0,
  unknown_order: 1,
  bad_price: 2,
  bad_qty: 3,
  bad_side: 4,
  bad_type: 5,
} as const;
export type Outcome = (typeof outcome)[keyof typeof outcome];

/** Prices and sizes stay far below 2^53 so level sums stay exact as numbers. */
export const price_ticks_max = 2 ** 40;
export const qty_lots_max = 2 ** 40;

export type EventSink = (ev: Readonly<BookEvent>) => void;

class Level {
  price = 0;
  size = 0;
  orders = 0;
  head = -1;
  tail = -1;
}

/** One side of the book: levels sorted so the best is last. */
class BookSide {
  readonly levels: Level[] = [];
  readonly by_price = new Map<number, Level>();

  /** bids: better = higher price; asks: better = lower price. */
  constructor(readonly is_bid: boolean) {}

  /** Index where a level at `price` sits (or would be inserted) in `levels`. */
  position(price: number): number {
    const levels = this.levels;
    let lo = 0;
    let hi = levels.length;
    if (this.is_bid) {
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (levels[mid].price < price) lo = mid + 1; else hi = mid;
      }
    } else {
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (levels[mid].price > price) lo = mid + 1; else hi = mid;
      }
    }
    return lo;
  }

  insert(level: Level): void {
    const levels = this.levels;
    const n = levels.length;
    // Fast path: a new best level, the common case near the touch.
    if (n === 0 || (this.is_bid ? level.price > levels[n - 1].price : level.price < levels[n - 1].price)) {
      levels.push(level);
    } else {
      levels.splice(this.position(level.price), 0, level);
    }
    this.by_price.set(level.price, level);
  }

  remove(level: Level): void {
    const levels = this.levels;
    const n = levels.length;
    if (levels[n - 1] === level) levels.pop();
    else levels.splice(this.position(level.price), 1);
    this.by_price.delete(level.price);
  }

  /** Level `depth` steps from the best (0 = best), or undefined. */
  at(depth: number): Level | undefined {
    return this.levels[this.levels.length - 1 - depth];
  }
}

export interface MatcherOptions {
  instrument: Instrument;
  epoch: number;
  sink: EventSink;
  /** Initial order pool size; grows by doubling. */
  orders_capacity?: number;
}

export class Matcher {
  readonly instrument: Instrument;
  readonly epoch: number;
  private readonly sink: EventSink;

  private readonly bids = new BookSide(true);
  private readonly asks = new BookSide(false);
  private readonly free_levels: Level[] = [];

  // Order pool (struct of arrays), indexed by handle.
  private capacity: number;
  private o_id: Float64Array;
  private o_price: Float64Array;
  private o_qty: Float64Array;
  private o_side: Uint8Array;
  private o_next: Int32Array;
  private o_prev: Int32Array;
  private o_live_index: Int32Array;
  private o_level: (Level | null)[];
  private free_head = -1;
  private pool_used = 0;
  private readonly handle_by_id = new Map<number, number>();
  private live: Int32Array;
  private live_count = 0;

  private readonly pending: BookEvent = new_book_event();
  private has_pending = false;
  private now_ns = 0;

  /** Last seq emitted (seq is contiguous from 1). */
  seq = 0;
  /** Last trade id emitted (contiguous from 1). */
  last_trade_id = 0;
  /** Last order id assigned to an incoming limit, IOC or market order. */
  last_order_id = 0;
  /** Engine timestamp of the last order applied. */
  last_ts_ns = 0;

  constructor(options: MatcherOptions) {
    this.instrument = options.instrument;
    this.epoch = options.epoch;
    this.sink = options.sink;
    this.capacity = Math.max(16, options.orders_capacity ?? 4096);
    this.o_id = new Float64Array(this.capacity);
    this.o_price = new Float64Array(this.capacity);
    this.o_qty = new Float64Array(this.capacity);
    this.o_side = new Uint8Array(this.capacity);
    this.o_next = new Int32Array(this.capacity);
    this.o_prev = new Int32Array(this.capacity);
    this.o_live_index = new Int32Array(this.capacity);
    this.o_level = new Array<Level | null>(this.capacity).fill(null);
    this.live = new Int32Array(this.capacity);
  }

  // ---- Incoming orders. Each call is one engine event.

  apply(cmd: Readonly<OrderCommand>, ts_ns: number): Outcome {
    switch (cmd.type) {
      case order_limit: return this.limit(cmd.side, cmd.price, cmd.qty, ts_ns);
      case order_ioc: return this.ioc(cmd.side, cmd.price, cmd.qty, ts_ns);
      case order_market: return this.market(cmd.side, cmd.qty, ts_ns);
      case order_cancel: return this.cancel(cmd.order_id, ts_ns);
      case order_replace: return this.replace(cmd.order_id, cmd.price, cmd.qty, ts_ns);
      default: return outcome.bad_type;
    }
  }

  limit(side: Side, price: number, qty: number, ts_ns: number): Outcome {
    const bad = check_new(side, price, qty);
    if (bad !== outcome.ok) return bad;
    this.begin(ts_ns);
    const id = ++this.last_order_id;
    const left = this.take(id, side, price, qty);
    if (left > 0) this.rest(id, side, price, left);
    this.end();
    return outcome.ok;
  }

  ioc(side: Side, price: number, qty: number, ts_ns: number): Outcome {
    const bad = check_new(side, price, qty);
    if (bad !== outcome.ok) return bad;
    this.begin(ts_ns);
    this.take(++this.last_order_id, side, price, qty);
    this.end();
    return outcome.ok;
  }

  market(side: Side, qty: number, ts_ns: number): Outcome {
    const bad = check_new(side, 1, qty);
    if (bad !== outcome.ok) return bad;
    this.begin(ts_ns);
    this.take(++this.last_order_id, side, side === side_bid ? Infinity : -Infinity, qty);
    this.end();
    return outcome.ok;
  }

  cancel(order_id: number, ts_ns: number): Outcome {
    const h = this.handle_by_id.get(order_id);
    if (h === undefined) return outcome.unknown_order;
    this.begin(ts_ns);
    this.emit(event_reduce, order_id, 0, 0, this.o_price[h], this.o_qty[h], 0, this.o_side[h] as Side, side_bid);
    this.remove_order(h);
    this.end();
    return outcome.ok;
  }

  /**
   * Cancel/replace. A size reduction at the same price keeps the order's place
   * in its queue (one Reduce event). A size increase or a price change loses
   * it: the order is removed (Reduce to 0) and re-enters under the same id as
   * a new limit order at the back of its level — matching first if the new
   * price crosses.
   */
  replace(order_id: number, price: number, qty: number, ts_ns: number): Outcome {
    const h = this.handle_by_id.get(order_id);
    if (h === undefined) return outcome.unknown_order;
    const side = this.o_side[h] as Side;
    const bad = check_new(side, price, qty);
    if (bad !== outcome.ok) return bad;
    const old_price = this.o_price[h];
    const old_qty = this.o_qty[h];
    if (price === old_price && qty === old_qty) return outcome.ok;
    this.begin(ts_ns);
    if (price === old_price && qty < old_qty) {
      const removed = old_qty - qty;
      this.o_qty[h] = qty;
      (this.o_level[h] as Level).size -= removed;
      this.emit(event_reduce, order_id, 0, 0, price, removed, qty, side, side_bid);
    } else {
      this.emit(event_reduce, order_id, 0, 0, old_price, old_qty, 0, side, side_bid);
      this.remove_order(h);
      const left = this.take(order_id, side, price, qty);
      if (left > 0) this.rest(order_id, side, price, left);
    }
    this.end();
    return outcome.ok;
  }

  // ---- Reads for snapshots, the generator and tests.

  l2_snapshot(): L2Snapshot {
    return {
      instrument: this.instrument,
      epoch: this.epoch,
      seq: this.seq,
      last_trade_id: this.last_trade_id,
      ts_engine_ns: this.last_ts_ns,
      bids: l2_levels(this.bids),
      asks: l2_levels(this.asks),
    };
  }

  /** Levels on a side. */
  depth(side: Side): number {
    return (side === side_bid ? this.bids : this.asks).levels.length;
  }

  /** Price of the level `depth` steps from the best (0 = best), NaN if none. */
  level_price(side: Side, depth: number): number {
    return (side === side_bid ? this.bids : this.asks).at(depth)?.price ?? NaN;
  }

  /** Size in lots of the level `depth` steps from the best, 0 if none. */
  level_size(side: Side, depth: number): number {
    return (side === side_bid ? this.bids : this.asks).at(depth)?.size ?? 0;
  }

  get resting_orders(): number {
    return this.live_count;
  }

  /** A resting order id chosen by u in [0, 1), uniform over all resting orders; 0 if none. */
  pick_resting(u: number): number {
    if (this.live_count === 0) return 0;
    return this.o_id[this.live[Math.floor(u * this.live_count)]];
  }

  /** A resting order id in the level `depth` from the best, chosen by u in [0, 1); 0 if none. */
  pick_in_level(side: Side, depth: number, u: number): number {
    const level = (side === side_bid ? this.bids : this.asks).at(depth);
    if (level === undefined) return 0;
    let h = level.head;
    for (let steps = Math.floor(u * level.orders); steps > 0; steps--) h = this.o_next[h];
    return this.o_id[h];
  }

  order_price(order_id: number): number {
    const h = this.handle_by_id.get(order_id);
    return h === undefined ? NaN : this.o_price[h];
  }

  order_qty(order_id: number): number {
    const h = this.handle_by_id.get(order_id);
    return h === undefined ? 0 : this.o_qty[h];
  }

  /** Resting orders of one side in priority order (best price first, then time). For tests. */
  orders_in_priority(side: Side): { order_id: number; price: number; qty: number }[] {
    const book = side === side_bid ? this.bids : this.asks;
    const out: { order_id: number; price: number; qty: number }[] = [];
    for (let i = book.levels.length - 1; i >= 0; i--) {
      for (let h = book.levels[i].head; h !== -1; h = this.o_next[h]) {
        out.push({ order_id: this.o_id[h], price: this.o_price[h], qty: this.o_qty[h] });
      }
    }
    return out;
  }

  /** Throws if the structures disagree with each other. For tests and debugging. */
  check_invariants(): void {
    let orders = 0;
    for (const book of [this.bids, this.asks]) {
      const side: Side = book.is_bid ? side_bid : side_ask;
      if (book.by_price.size !== book.levels.length) throw new Error('level map and level array differ');
      for (let i = 0; i < book.levels.length; i++) {
        const level = book.levels[i];
        if (book.by_price.get(level.price) !== level) throw new Error(`level ${level.price} not in its map`);
        if (i > 0 && (book.is_bid ? level.price <= book.levels[i - 1].price : level.price >= book.levels[i - 1].price)) {
          throw new Error('levels out of order');
        }
        let size = 0;
        let count = 0;
        let prev = -1;
        for (let h = level.head; h !== -1; h = this.o_next[h]) {
          if (this.o_prev[h] !== prev || this.o_level[h] !== level || this.o_side[h] !== side || this.o_price[h] !== level.price) {
            throw new Error(`order ${this.o_id[h]} linked wrongly`);
          }
          if (!(this.o_qty[h] > 0)) throw new Error(`order ${this.o_id[h]} has no size`);
          if (this.handle_by_id.get(this.o_id[h]) !== h) throw new Error(`order ${this.o_id[h]} not in the id map`);
          size += this.o_qty[h];
          count++;
          prev = h;
        }
        if (level.tail !== prev || level.size !== size || level.orders !== count || count === 0) {
          throw new Error(`level ${level.price}: size/orders/tail disagree with its queue`);
        }
        orders += count;
      }
    }
    if (orders !== this.live_count || orders !== this.handle_by_id.size) throw new Error('resting order counts disagree');
    const best_bid = this.bids.at(0);
    const best_ask = this.asks.at(0);
    if (best_bid && best_ask && best_bid.price >= best_ask.price) throw new Error('book is crossed');
  }

  // ---- Internals.

  private begin(ts_ns: number): void {
    this.now_ns = ts_ns;
    this.last_ts_ns = ts_ns;
  }

  /** Matches an incoming order against the other side; returns the size left. */
  private take(taker_id: number, side: Side, limit_price: number, qty: number): number {
    const book = side === side_bid ? this.asks : this.bids;
    const levels = book.levels;
    const is_buy = side === side_bid;
    while (qty > 0 && levels.length > 0) {
      const level = levels[levels.length - 1];
      if (is_buy ? level.price > limit_price : level.price < limit_price) break;
      let h = level.head;
      while (h !== -1 && qty > 0) {
        const resting = this.o_qty[h];
        const fill = resting < qty ? resting : qty;
        const left = resting - fill;
        qty -= fill;
        level.size -= fill;
        this.o_qty[h] = left;
        this.emit(event_execute, this.o_id[h], taker_id, ++this.last_trade_id, level.price, fill, left,
          this.o_side[h] as Side, side);
        const next = this.o_next[h];
        if (left === 0) {
          // Always the head of its level: unlink at the front.
          level.head = next;
          if (next !== -1) this.o_prev[next] = -1; else level.tail = -1;
          level.orders--;
          this.free_order(h);
        }
        h = next;
      }
      if (level.orders === 0) {
        levels.pop();
        book.by_price.delete(level.price);
        this.free_levels.push(level);
      }
    }
    return qty;
  }

  private rest(order_id: number, side: Side, price: number, qty: number): void {
    const book = side === side_bid ? this.bids : this.asks;
    let level = book.by_price.get(price);
    if (level === undefined) {
      level = this.free_levels.pop() ?? new Level();
      level.price = price;
      level.size = 0;
      level.orders = 0;
      level.head = -1;
      level.tail = -1;
      book.insert(level);
    }
    const h = this.alloc_order();
    this.o_id[h] = order_id;
    this.o_price[h] = price;
    this.o_qty[h] = qty;
    this.o_side[h] = side;
    this.o_level[h] = level;
    this.o_next[h] = -1;
    this.o_prev[h] = level.tail;
    if (level.tail === -1) level.head = h; else this.o_next[level.tail] = h;
    level.tail = h;
    level.size += qty;
    level.orders++;
    this.handle_by_id.set(order_id, h);
    this.o_live_index[h] = this.live_count;
    this.live[this.live_count++] = h;
    this.emit(event_add, order_id, 0, 0, price, qty, qty, side, side_bid);
  }

  /** Unlinks a resting order from anywhere in its queue and frees it (no event). */
  private remove_order(h: number): void {
    const level = this.o_level[h] as Level;
    const prev = this.o_prev[h];
    const next = this.o_next[h];
    if (prev === -1) level.head = next; else this.o_next[prev] = next;
    if (next === -1) level.tail = prev; else this.o_prev[next] = prev;
    level.size -= this.o_qty[h];
    level.orders--;
    if (level.orders === 0) {
      (this.o_side[h] === side_bid ? this.bids : this.asks).remove(level);
      this.free_levels.push(level);
    }
    this.free_order(h);
  }

  private alloc_order(): number {
    if (this.free_head !== -1) {
      const h = this.free_head;
      this.free_head = this.o_next[h];
      return h;
    }
    if (this.pool_used === this.capacity) this.grow();
    return this.pool_used++;
  }

  private free_order(h: number): void {
    this.handle_by_id.delete(this.o_id[h]);
    const index = this.o_live_index[h];
    const last = this.live[--this.live_count];
    this.live[index] = last;
    this.o_live_index[last] = index;
    this.o_level[h] = null;
    this.o_next[h] = this.free_head;
    this.free_head = h;
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    this.o_id = grown(this.o_id, new Float64Array(capacity));
    this.o_price = grown(this.o_price, new Float64Array(capacity));
    this.o_qty = grown(this.o_qty, new Float64Array(capacity));
    this.o_side = grown(this.o_side, new Uint8Array(capacity));
    this.o_next = grown(this.o_next, new Int32Array(capacity));
    this.o_prev = grown(this.o_prev, new Int32Array(capacity));
    this.o_live_index = grown(this.o_live_index, new Int32Array(capacity));
    this.live = grown(this.live, new Int32Array(capacity));
    for (let i = this.capacity; i < capacity; i++) this.o_level.push(null);
    this.capacity = capacity;
  }

  /** aggressor: the incoming order's side on an execute; side_bid (the wire's 0) on adds and reduces. */
  private emit(kind: EventKind, order_id: number, taker_order_id: number, trade_id: number, price: number,
    qty: number, remaining: number, side: Side, aggressor: Side): void {
    const ev = this.pending;
    if (this.has_pending) this.sink(ev);
    ev.seq = ++this.seq;
    ev.ts_engine_ns = this.now_ns;
    ev.order_id = order_id;
    ev.taker_order_id = taker_order_id;
    ev.trade_id = trade_id;
    ev.price = price;
    ev.qty = qty;
    ev.remaining = remaining;
    ev.kind = kind;
    ev.side = side;
    ev.aggressor = aggressor;
    ev.flags = 0;
    this.has_pending = true;
  }

  /** Closes the engine event: its last book event carries the end marker. */
  private end(): void {
    if (!this.has_pending) return;
    this.pending.flags = flag_end_of_engine_event;
    this.has_pending = false;
    this.sink(this.pending);
  }
}

function check_new(side: number, price: number, qty: number): Outcome {
  if (side !== side_bid && side !== side_ask) return outcome.bad_side;
  if (!(price >= 1 && price <= price_ticks_max) || Math.floor(price) !== price) return outcome.bad_price;
  if (!(qty >= 1 && qty <= qty_lots_max) || Math.floor(qty) !== qty) return outcome.bad_qty;
  return outcome.ok;
}

function grown<T extends Float64Array | Int32Array | Uint8Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

function l2_levels(book: BookSide): L2Level[] {
  const out: L2Level[] = new Array(book.levels.length);
  for (let i = book.levels.length - 1, j = 0; i >= 0; i--, j++) {
    const level = book.levels[i];
    out[j] = { price: level.price, size: level.size, orders: level.orders };
  }
  return out;
}
