// One side of an order book as parallel sorted typed arrays, and the growable
// price list the book records its changes in. Pure; no I/O, no clock.
//
//   Ladder     levels sorted by key ascending, key = price for bids and -price
//              for asks, so the best level of either side sits at the END;
//              ranks count from the best (rank 0 = best = index count - 1).
//              Used by L2Book (both sides), by BookView (what a full-depth view
//              showed) and by the client SDK's ClientBook.
//   PriceList  a growable Float64Array of prices, `prices[0..count)` valid
//
// Cost: lookups gallop from the best end (events cluster at the touch), so a
// level k ranks from the best is found in O(log k); an insert or removal
// shifts only the levels better than it (a hand loop below shift_loop_max
// elements, copyWithin above). No object per level; arrays double when full
// and never shrink.
//
// Invariants: keys[0..count) strictly ascending (one level per price); sizes
// of stored levels > 0 (set() with size 0 removes); marks are the L2Book's
// change generations and mean nothing to other users.
import { side_bid, type Side } from './types.js';

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
    this.sign = side === side_bid ? 1 : -1;
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
