// The L2 order book of one symbol: price → (size, orders) per side. Pure.
//
// API (the feed's ingest owns one L2Book per symbol; one writer):
//   new L2Book()
//   apply(ev: BookEvent): void            Add / Reduce / Execute; throws BookError on an
//                                         impossible event and leaves the book unchanged
//   load(bids, asks): void                replace the content (snapshot levels, best first)
//   clear(): void
//   take_changes(): BookChanges           prices touched since the previous call (see below)
//   best(side), level(side, price, out?), level_count(side), top(side, n, out), is_crossed()
//   side_ladder(side): Ladder             read access by rank for views (rank 0 = best)
//
// Layout: each side is a Ladder, parallel typed arrays sorted by a key that is
// `price` for bids and `-price` for asks, ascending, so the best level of both
// sides sits at the END. Events cluster at the touch, so the search gallops
// from the end and inserts/removals shift only the few levels better than the
// changed one. No Map, no objects per level, no allocation per event once the
// arrays have grown to the book's size.
//
// Changes: every apply/load/clear records the touched price once per
// "generation" (a mark per level). take_changes() hands out the lists and
// starts a new generation; the lists are double-buffered, so what it returns
// stays valid until the next take_changes(). A price may appear twice (a level
// removed then re-added in one generation) and a listed level may end up
// unchanged (added then cancelled): consumers compare values, as BookView does.

import { event_add, event_execute, event_reduce, type BookEvent, type L2Level, type Side } from './types.js';

export class BookError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BookError';
  }
}

const capacity_initial = 64;
// Below this many elements a hand loop beats the copyWithin call overhead.
const shift_loop_max = 16;

/** A growable list of prices; `prices[0..count)` is valid. */
export class PriceList {
  prices = new Float64Array(capacity_initial);
  count = 0;

  push(price: number): void {
    if (this.count === this.prices.length) this.prices = grow(this.prices, this.count * 2);
    this.prices[this.count++] = price;
  }
}

/** Prices touched since the previous take_changes(), per side. */
export interface BookChanges {
  readonly bids: PriceList;
  readonly asks: PriceList;
}

function grow(from: Float64Array, capacity: number): Float64Array<ArrayBuffer> {
  const to = new Float64Array(capacity);
  to.set(from);
  return to;
}

/**
 * One side of a book: levels sorted by key (bid: price, ask: -price) ascending,
 * best last. Also used by BookView (depth 0) to hold what clients were shown.
 */
export class Ladder {
  readonly side: Side;
  /** +1 for bids, -1 for asks: key = price * sign. */
  readonly sign: number;
  count = 0;
  keys = new Float64Array(capacity_initial);
  sizes = new Float64Array(capacity_initial);
  orders = new Float64Array(capacity_initial);
  /** Generation in which the level was last recorded as changed (L2Book only). */
  marks = new Float64Array(capacity_initial);

  constructor(side: Side) {
    this.side = side;
    this.sign = side === 0 ? 1 : -1;
  }

  /** First index whose key is >= key (count if none); gallops from the best end. */
  lower_bound(key: number): number {
    const keys = this.keys;
    let hi = this.count; // keys[hi] >= key, or hi === count
    let step = 1;
    let lo = hi - 1;
    while (lo >= 0 && keys[lo] >= key) {
      hi = lo;
      step += step;
      lo = hi - step;
    }
    lo = lo < 0 ? 0 : lo + 1; // keys[lo - 1] < key: the answer is in [lo, hi]
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid] >= key) hi = mid;
      else lo = mid + 1;
    }
    return hi;
  }

  /** First index whose key is > key (count if none). */
  upper_bound(key: number): number {
    const keys = this.keys;
    let hi = this.count; // keys[hi] > key, or hi === count
    let step = 1;
    let lo = hi - 1;
    while (lo >= 0 && keys[lo] > key) {
      hi = lo;
      step += step;
      lo = hi - step;
    }
    lo = lo < 0 ? 0 : lo + 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid] > key) hi = mid;
      else lo = mid + 1;
    }
    return hi;
  }

  /** Array index of the level at `price`, or -1. */
  index_of(price: number): number {
    const key = price * this.sign;
    const i = this.lower_bound(key);
    return i < this.count && this.keys[i] === key ? i : -1;
  }

  /** Rank (0 = best) of the level at `price`, or -1. */
  rank_of(price: number): number {
    const i = this.index_of(price);
    return i < 0 ? -1 : this.count - 1 - i;
  }

  price_at(rank: number): number {
    return this.keys[this.count - 1 - rank] * this.sign;
  }

  size_at(rank: number): number {
    return this.sizes[this.count - 1 - rank];
  }

  orders_at(rank: number): number {
    return this.orders[this.count - 1 - rank];
  }

  /** Opens a slot at index i (levels at i.. move up by one) and fills it. */
  insert_at(i: number, key: number, size: number, orders: number, mark: number): void {
    if (this.count === this.keys.length) this.reserve(this.count * 2);
    const n = this.count - i;
    const { keys, sizes } = this;
    const ords = this.orders;
    const marks = this.marks;
    if (n <= shift_loop_max) {
      for (let j = this.count; j > i; j--) {
        keys[j] = keys[j - 1];
        sizes[j] = sizes[j - 1];
        ords[j] = ords[j - 1];
        marks[j] = marks[j - 1];
      }
    } else {
      keys.copyWithin(i + 1, i, this.count);
      sizes.copyWithin(i + 1, i, this.count);
      ords.copyWithin(i + 1, i, this.count);
      marks.copyWithin(i + 1, i, this.count);
    }
    keys[i] = key;
    sizes[i] = size;
    ords[i] = orders;
    marks[i] = mark;
    this.count++;
  }

  remove_at(i: number): void {
    const last = this.count - 1;
    const { keys, sizes } = this;
    const ords = this.orders;
    const marks = this.marks;
    if (last - i <= shift_loop_max) {
      for (let j = i; j < last; j++) {
        keys[j] = keys[j + 1];
        sizes[j] = sizes[j + 1];
        ords[j] = ords[j + 1];
        marks[j] = marks[j + 1];
      }
    } else {
      keys.copyWithin(i, i + 1, this.count);
      sizes.copyWithin(i, i + 1, this.count);
      ords.copyWithin(i, i + 1, this.count);
      marks.copyWithin(i, i + 1, this.count);
    }
    this.count = last;
  }

  /** Sets the level at `price` (size 0 removes it). Returns true if anything changed. */
  set(price: number, size: number, orders: number): boolean {
    const key = price * this.sign;
    const i = this.lower_bound(key);
    const found = i < this.count && this.keys[i] === key;
    if (size === 0) {
      if (!found) return false;
      this.remove_at(i);
      return true;
    }
    if (!found) {
      this.insert_at(i, key, size, orders, 0);
      return true;
    }
    if (this.sizes[i] === size && this.orders[i] === orders) return false;
    this.sizes[i] = size;
    this.orders[i] = orders;
    return true;
  }

  clear(): void {
    this.count = 0;
  }

  reserve(capacity: number): void {
    if (capacity <= this.keys.length) return;
    this.keys = grow(this.keys, capacity);
    this.sizes = grow(this.sizes, capacity);
    this.orders = grow(this.orders, capacity);
    this.marks = grow(this.marks, capacity);
  }
}

function side_name(side: number): string {
  return side === 0 ? 'bid' : 'ask';
}

export class L2Book {
  readonly bids = new Ladder(0);
  readonly asks = new Ladder(1);
  // Double-buffered change lists: [generation & 1].
  private readonly changed_bids = [new PriceList(), new PriceList()];
  private readonly changed_asks = [new PriceList(), new PriceList()];
  private readonly changes_out = { bids: this.changed_bids[0], asks: this.changed_asks[0] };
  // Starts at 1 so that the zeroed marks of fresh array slots never match.
  private generation = 1;

  side_ladder(side: Side): Ladder {
    return side === 0 ? this.bids : this.asks;
  }

  private changed_list(side: Side): PriceList {
    return (side === 0 ? this.changed_bids : this.changed_asks)[this.generation & 1];
  }

  /**
   * Applies one engine book event. Add: size += qty, orders += 1. Reduce and
   * Execute: size -= qty, orders -= 1 when the order's remaining qty is 0.
   * Throws BookError (book unchanged) on an event this book cannot have seen:
   * unknown side/kind, qty <= 0, reduce of an unknown level, size going
   * negative, or size and order count disagreeing about an empty level.
   */
  apply(ev: BookEvent): void {
    const side = ev.side;
    if (side !== 0 && side !== 1) throw new BookError(`seq ${ev.seq}: unknown side ${side}`);
    const ladder = side === 0 ? this.bids : this.asks;
    const price = ev.price;
    const qty = ev.qty;
    if (!Number.isSafeInteger(qty) || qty <= 0) throw new BookError(`seq ${ev.seq}: qty must be a positive integer, got ${qty}`);
    const key = price * ladder.sign;
    const i = ladder.lower_bound(key);
    const found = i < ladder.count && ladder.keys[i] === key;
    const gen = this.generation;
    const kind = ev.kind;
    if (kind === event_add) {
      if (found) {
        ladder.sizes[i] += qty;
        ladder.orders[i] += 1;
        if (ladder.marks[i] !== gen) {
          ladder.marks[i] = gen;
          this.changed_list(side).push(price);
        }
      } else {
        if (!Number.isSafeInteger(price)) throw new BookError(`seq ${ev.seq}: price must be an integer tick, got ${price}`);
        ladder.insert_at(i, key, qty, 1, gen);
        this.changed_list(side).push(price);
      }
      return;
    }
    if (kind !== event_reduce && kind !== event_execute) throw new BookError(`seq ${ev.seq}: unknown event kind ${kind}`);
    if (!found) throw new BookError(`seq ${ev.seq}: ${kind === event_reduce ? 'reduce' : 'execute'} of unknown ${side_name(side)} level ${price}`);
    const size = ladder.sizes[i] - qty;
    const orders = ev.remaining === 0 ? ladder.orders[i] - 1 : ladder.orders[i];
    if (size < 0) throw new BookError(`seq ${ev.seq}: ${side_name(side)} level ${price} would go negative (${ladder.sizes[i]} - ${qty})`);
    if ((size === 0) !== (orders === 0)) {
      throw new BookError(`seq ${ev.seq}: ${side_name(side)} level ${price} would have size ${size} with ${orders} orders`);
    }
    if (ladder.marks[i] !== gen) this.changed_list(side).push(price);
    if (size === 0) {
      ladder.remove_at(i);
    } else {
      ladder.sizes[i] = size;
      ladder.orders[i] = orders;
      ladder.marks[i] = gen;
    }
  }

  /**
   * Replaces the book with snapshot levels (each side best first). Every old
   * and new price is recorded as changed, so a view updated afterwards emits
   * exactly the difference. Throws BookError (book unchanged) on unsorted or
   * duplicate prices, non-integer values, size <= 0 or orders < 1.
   */
  load(bids: readonly L2Level[], asks: readonly L2Level[]): void {
    check_snapshot_side(bids, 0);
    check_snapshot_side(asks, 1);
    this.clear();
    this.load_side(this.bids, bids);
    this.load_side(this.asks, asks);
  }

  private load_side(ladder: Ladder, levels: readonly L2Level[]): void {
    const n = levels.length;
    const changed = this.changed_list(ladder.side);
    ladder.reserve(n);
    // Worst level first in the array, so index n-1-r holds rank r.
    for (let r = 0; r < n; r++) {
      const l = levels[r];
      const i = n - 1 - r;
      ladder.keys[i] = l.price * ladder.sign;
      ladder.sizes[i] = l.size;
      ladder.orders[i] = l.orders;
      ladder.marks[i] = this.generation;
      changed.push(l.price);
    }
    ladder.count = n;
  }

  /** Empties the book, recording every removed price as changed. */
  clear(): void {
    for (const ladder of [this.bids, this.asks]) {
      const changed = this.changed_list(ladder.side);
      for (let i = 0; i < ladder.count; i++) {
        if (ladder.marks[i] !== this.generation) changed.push(ladder.keys[i] * ladder.sign);
      }
      ladder.clear();
    }
  }

  /**
   * Prices touched since the previous call, per side; starts a new generation.
   * The returned lists stay valid (and unchanged) until the next call.
   */
  take_changes(): BookChanges {
    const out = this.changes_out;
    out.bids = this.changed_list(0);
    out.asks = this.changed_list(1);
    this.generation++;
    this.changed_list(0).count = 0;
    this.changed_list(1).count = 0;
    return out;
  }

  /** Best price of a side, or undefined when the side is empty. */
  best(side: Side): number | undefined {
    const ladder = this.side_ladder(side);
    return ladder.count === 0 ? undefined : ladder.price_at(0);
  }

  /** The level at `price` (written into `out` if given), or null. */
  level(side: Side, price: number, out?: L2Level): L2Level | null {
    const ladder = this.side_ladder(side);
    const i = ladder.index_of(price);
    if (i < 0) return null;
    const l = out ?? { price: 0, size: 0, orders: 0 };
    l.price = price;
    l.size = ladder.sizes[i];
    l.orders = ladder.orders[i];
    return l;
  }

  level_count(side: Side): number {
    return this.side_ladder(side).count;
  }

  /**
   * Writes the best `n` levels (n = 0: all) best first into `out`, reusing its
   * objects and creating only missing ones; returns how many were written.
   */
  top(side: Side, n: number, out: L2Level[]): number {
    const ladder = this.side_ladder(side);
    const count = n === 0 || n > ladder.count ? ladder.count : n;
    for (let r = 0; r < count; r++) {
      const i = ladder.count - 1 - r;
      const l = out[r] ?? (out[r] = { price: 0, size: 0, orders: 0 });
      l.price = ladder.keys[i] * ladder.sign;
      l.size = ladder.sizes[i];
      l.orders = ladder.orders[i];
    }
    return count;
  }

  /** True when best bid >= best ask: a state a matching engine never rests in. */
  is_crossed(): boolean {
    const bid = this.best(0);
    const ask = this.best(1);
    return bid !== undefined && ask !== undefined && bid >= ask;
  }
}

function check_snapshot_side(levels: readonly L2Level[], side: Side): void {
  let prev = 0;
  for (let r = 0; r < levels.length; r++) {
    const l = levels[r];
    const where = `snapshot ${side_name(side)} level ${r}`;
    if (!Number.isSafeInteger(l.price) || !Number.isSafeInteger(l.size) || !Number.isSafeInteger(l.orders)) {
      throw new BookError(`${where}: price, size and orders must be integers`);
    }
    if (l.size <= 0 || l.orders < 1) throw new BookError(`${where}: size must be > 0 and orders >= 1 (size ${l.size}, orders ${l.orders})`);
    if (r > 0 && (side === 0 ? l.price >= prev : l.price <= prev)) throw new BookError(`${where}: prices must be strictly ${side === 0 ? 'descending' : 'ascending'} (best first)`);
    prev = l.price;
  }
}
