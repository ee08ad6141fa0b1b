// The shown levels of a view of depth N > 0: per side the top-N window,
// best first, held in its own short typed arrays. One of the two ShownLevels
// of a BookView (./view.ts; the other is ./view_full.ts).
//
// Cost: update_side looks only at the shown window between the lowest and
// highest changed price inside it, plus the levels crossing the window's
// bottom edge (a level inserted above pushes one out; a removal lets one in);
// the levels below the changes move as one block. Changes outside a full
// window cost one comparison each. No allocation after construction.
//
// Invariants: after every update_side/reset_from the window equals the book's
// top min(N, levels) of that side and `digest` is the digest of both windows
// (BookView.check asserts both; update_side throws BookError if the count is off).
import { digest_add, digest_sub, level_hash } from './digest.js';
import { BookError, type L2Book } from './l2_book.js';
import type { Ladder, PriceList } from './ladder.js';
import { side_ask, side_bid, type L2Level, type Side } from './types.js';
import { put, type ShownLevels } from './view_levels.js';

/**
 * The shown top-N window of one side, best first: keys (price for bids,
 * -price for asks) descending. Changes cluster at the touch, so the levels
 * that stay put (the worse part of the window) only ever move as one block.
 */
class Window {
  keys: Float64Array;
  sizes: Float64Array;
  orders: Float64Array;
  count = 0;

  constructor(capacity: number) {
    this.keys = new Float64Array(capacity);
    this.sizes = new Float64Array(capacity);
    this.orders = new Float64Array(capacity);
  }

  /** Copies `count` ladder levels, best first, from ladder index `from` downwards, to window index `at`. */
  copy_from(ladder: Ladder, from: number, count: number, at: number): void {
    const { keys, sizes, orders } = ladder;
    for (let k = 0; k < count; k++) {
      this.keys[at + k] = keys[from - k];
      this.sizes[at + k] = sizes[from - k];
      this.orders[at + k] = orders[from - k];
    }
  }

  /** Moves window entries [start, end) to `at` (overlap allowed). */
  move(at: number, start: number, end: number): void {
    // Loops, not copyWithin: windows are short and the builtin's call overhead dominates.
    const { keys, sizes, orders } = this;
    if (at < start) {
      for (let k = start, t = at; k < end; k++, t++) {
        keys[t] = keys[k];
        sizes[t] = sizes[k];
        orders[t] = orders[k];
      }
    } else if (at > start) {
      for (let k = end - 1, t = at + (end - start) - 1; k >= start; k--, t--) {
        keys[t] = keys[k];
        sizes[t] = sizes[k];
        orders[t] = orders[k];
      }
    }
  }

  /** First index whose key is < key (count if none): keys are descending. */
  first_below(key: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid] < key) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** First index whose key is <= key (count if none). */
  first_at_or_below(key: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid] <= key) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

export class WindowedLevels implements ShownLevels {
  digest = 0;
  private readonly windows: readonly [Window, Window];

  constructor(private readonly depth: number) {
    this.windows = [new Window(depth), new Window(depth)];
  }

  reset_from(book: L2Book): void {
    let d = 0;
    for (const side of [side_bid, side_ask]) {
      const src = book.side_ladder(side);
      const w = this.windows[side];
      w.count = Math.min(this.depth, src.count);
      w.copy_from(src, src.count - 1, w.count, 0);
      for (let i = 0; i < w.count; i++) d = digest_add(d, level_hash(side, w.keys[i] * src.sign, w.sizes[i], w.orders[i]));
    }
    this.digest = d;
  }

  update_side(ladder: Ladder, changed: PriceList, out: L2Level[]): number {
    if (changed.count === 0) return 0;
    const side = ladder.side;
    const sign = ladder.sign;
    const w = this.windows[side];
    const n = this.depth;
    // The range of changed keys that can matter. A full window only changes
    // through changes at or above its worst level: anything that enters from
    // below needs room that only such a change can make.
    const floor_key = w.count === n ? w.keys[n - 1] : -Infinity;
    let lo_key = Infinity;
    let hi_key = -Infinity;
    const prices = changed.prices;
    for (let k = 0; k < changed.count; k++) {
      const key = prices[k] * sign;
      if (key < floor_key) continue;
      if (key < lo_key) lo_key = key;
      if (key > hi_key) hi_key = key;
    }
    if (lo_key === Infinity) return 0;

    // The window in three parts, best first:
    //   head    keys > hi_key: nothing changed there; same levels, same places.
    //   middle  keys in [lo_key, hi_key]: merged with the book's new levels there.
    //   tail    keys < lo_key: nothing shown there changed either, so the old
    //           and new tails are the same levels from the top, and differ only
    //           in how many fit (the window's bottom edge moved).
    const new_count = ladder.count < n ? ladder.count : n;
    const base = ladder.count - new_count; // ladder index of the new window's worst level
    const book_lo = ladder.lower_bound(lo_key);
    const new_lo = book_lo > base ? book_lo : base; // new middle: ladder [new_lo, new_hi)
    const new_hi = ladder.upper_bound(hi_key);
    const new_middle = new_hi > new_lo ? new_hi - new_lo : 0;
    const new_tail = book_lo > base ? book_lo - base : 0; // ladder [base, book_lo)
    const head = w.first_at_or_below(hi_key); // old middle: window [head, old_tail_at)
    const old_tail_at = w.first_below(lo_key);
    const old_tail = w.count - old_tail_at;

    let d = this.digest;
    let emitted = 0;
    let i = head;
    let j = new_hi - 1;
    while (i < old_tail_at || j >= new_lo) {
      const old_key = i < old_tail_at ? w.keys[i] : -Infinity;
      const new_key = j >= new_lo ? ladder.keys[j] : -Infinity;
      if (old_key > new_key) {
        // Shown, and now gone from the book or pushed out of the window.
        const price = old_key * sign;
        d = digest_sub(d, level_hash(side, price, w.sizes[i], w.orders[i]));
        put(out, emitted++, price, 0, 0);
        i++;
        continue;
      }
      const price = new_key * sign;
      const size = ladder.sizes[j];
      const orders = ladder.orders[j];
      if (old_key === new_key) {
        if (w.sizes[i] !== size || w.orders[i] !== orders) {
          d = digest_sub(d, level_hash(side, price, w.sizes[i], w.orders[i]));
          d = digest_add(d, level_hash(side, price, size, orders));
          put(out, emitted++, price, size, orders);
        }
        i++;
      } else {
        d = digest_add(d, level_hash(side, price, size, orders));
        put(out, emitted++, price, size, orders);
      }
      j--;
    }
    // The bottom edge: the worst old tail levels leave, or book levels below it enter.
    for (let k = old_tail_at + new_tail; k < w.count; k++) {
      const price = w.keys[k] * sign;
      d = digest_sub(d, level_hash(side, price, w.sizes[k], w.orders[k]));
      put(out, emitted++, price, 0, 0);
    }
    const entering = new_tail - old_tail; // ladder [base, base + entering)
    for (let k = base; k < base + entering; k++) {
      const price = ladder.keys[k] * sign;
      d = digest_add(d, level_hash(side, price, ladder.sizes[k], ladder.orders[k]));
      put(out, emitted++, price, ladder.sizes[k], ladder.orders[k]);
    }

    // Now the window itself: move the kept tail, write the new middle, append what entered.
    const kept = old_tail < new_tail ? old_tail : new_tail;
    w.move(head + new_middle, old_tail_at, old_tail_at + kept);
    w.copy_from(ladder, new_hi - 1, new_middle, head);
    if (entering > 0) w.copy_from(ladder, base + entering - 1, entering, head + new_middle + kept);
    w.count = head + new_middle + new_tail;
    if (w.count !== new_count) throw new BookError(`view depth ${n}: window holds ${w.count} levels, book top has ${new_count}`);
    this.digest = d;
    return emitted;
  }

  level(side: Side, price: number, out: L2Level): void {
    const w = this.windows[side];
    const key = price * (side === side_bid ? 1 : -1);
    const i = w.first_at_or_below(key);
    if (i < w.count && w.keys[i] === key) {
      out.size = w.sizes[i];
      out.orders = w.orders[i];
    }
  }

  snapshot_side(side: Side, out: L2Level[]): number {
    const w = this.windows[side];
    const sign = side === side_bid ? 1 : -1;
    for (let r = 0; r < w.count; r++) put(out, r, w.keys[r] * sign, w.sizes[r], w.orders[r]);
    return w.count;
  }
}
