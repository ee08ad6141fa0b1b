// A book view (symbol, depth): what a client of that view currently sees, the
// top `depth` levels per side (0 = all), and the digest of exactly that. Pure.
//
// API (the feed keeps one BookView per (symbol, depth) and updates it from the
// book's changes at each frame boundary, i.e. after a whole engine event):
//   new BookView(depth)
//   reset_from(book): void        show the book's current top (new subscriber state, new epoch)
//   update(book, changed_bids, changed_asks, out: ViewLevels): number
//       levels whose shown value changed since the last update/reset, written
//       into `out` (size 0 = the level left the window or the book); returns
//       out.bid_count + out.ask_count; out.digest = the view's digest after them.
//       `changed_*` must cover every price the book touched since then
//       (L2Book.take_changes()); the same lists can feed every view of the book.
//   snapshot(out: ViewLevels): void   the window, best first, with digest
//   shown_level(side, price, out): L2Level   what the view shows at one price (size 0: nothing)
//   digest: number                    current digest (uint32)
//   check(book): void                 recomputes window and digest from scratch; throws
//                                     BookError on a mismatch (tests, debug assertions)
//
// Cost: depth N looks only at the shown window between the lowest and highest
// changed price inside it, plus the levels crossing the window's bottom edge
// (a level inserted above pushes one out; a removal lets one in); the levels
// below the changes move as one block (copyWithin). Changes outside a full
// window cost one comparison each. Depth 0 costs O(log levels) per changed price.

import { digest_add, digest_of, digest_sub, level_hash } from './digest.js';
import { BookError, Ladder, type L2Book, type PriceList } from './l2_book.js';
import type { L2Level, Side } from './types.js';

/** Levels per side with counts and a digest; arrays and their objects are reused. */
export class ViewLevels {
  bids: L2Level[] = [];
  bid_count = 0;
  asks: L2Level[] = [];
  ask_count = 0;
  digest = 0;
}

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

function put(levels: L2Level[], k: number, price: number, size: number, orders: number): void {
  const l = levels[k] ?? (levels[k] = { price: 0, size: 0, orders: 0 });
  l.price = price;
  l.size = size;
  l.orders = orders;
}

export class BookView {
  readonly depth: number;
  digest = 0;
  // depth > 0: the shown window per side.
  private readonly windows: Window[] = [];
  // depth 0: the whole shown book.
  private readonly shown: Ladder[] = [];

  constructor(depth: number) {
    if (!Number.isSafeInteger(depth) || depth < 0) throw new BookError(`view depth must be an integer >= 0, got ${depth}`);
    this.depth = depth;
    if (depth > 0) {
      this.windows.push(new Window(depth), new Window(depth));
    } else {
      this.shown.push(new Ladder(0), new Ladder(1));
    }
  }

  reset_from(book: L2Book): void {
    let d = 0;
    for (const side of [0, 1] as const) {
      const src = book.side_ladder(side);
      if (this.depth > 0) {
        const w = this.windows[side];
        w.count = Math.min(this.depth, src.count);
        w.copy_from(src, src.count - 1, w.count, 0);
        for (let i = 0; i < w.count; i++) d = digest_add(d, level_hash(side, w.keys[i] * src.sign, w.sizes[i], w.orders[i]));
      } else {
        const dst = this.shown[side];
        dst.reserve(src.count);
        dst.keys.set(src.keys.subarray(0, src.count));
        dst.sizes.set(src.sizes.subarray(0, src.count));
        dst.orders.set(src.orders.subarray(0, src.count));
        dst.count = src.count;
        for (let i = 0; i < src.count; i++) d = digest_add(d, level_hash(side, src.keys[i] * src.sign, src.sizes[i], src.orders[i]));
      }
    }
    this.digest = d;
  }

  update(book: L2Book, changed_bids: PriceList, changed_asks: PriceList, out: ViewLevels): number {
    if (this.depth > 0) {
      out.bid_count = this.update_window(book.bids, changed_bids, out.bids);
      out.ask_count = this.update_window(book.asks, changed_asks, out.asks);
    } else {
      out.bid_count = this.update_full(book.bids, changed_bids, out.bids);
      out.ask_count = this.update_full(book.asks, changed_asks, out.asks);
    }
    out.digest = this.digest;
    return out.bid_count + out.ask_count;
  }

  private update_window(ladder: Ladder, changed: PriceList, out: L2Level[]): number {
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

  private update_full(ladder: Ladder, changed: PriceList, out: L2Level[]): number {
    const side = ladder.side;
    const shown = this.shown[side];
    const prices = changed.prices;
    let d = this.digest;
    let emitted = 0;
    for (let k = 0; k < changed.count; k++) {
      const price = prices[k];
      const b = ladder.index_of(price);
      const size = b < 0 ? 0 : ladder.sizes[b];
      const orders = b < 0 ? 0 : ladder.orders[b];
      const key = price * shown.sign;
      const s = shown.lower_bound(key);
      const found = s < shown.count && shown.keys[s] === key;
      if (found) {
        if (shown.sizes[s] === size && shown.orders[s] === orders) continue;
        d = digest_sub(d, level_hash(side, price, shown.sizes[s], shown.orders[s]));
        if (size === 0) {
          shown.remove_at(s);
        } else {
          shown.sizes[s] = size;
          shown.orders[s] = orders;
        }
      } else {
        if (size === 0) continue;
        shown.insert_at(s, key, size, orders, 0);
      }
      if (size !== 0) d = digest_add(d, level_hash(side, price, size, orders));
      put(out, emitted++, price, size, orders);
    }
    this.digest = d;
    return emitted;
  }

  /** What the view shows at `price` now, written into `out` (size and orders 0 when not shown). */
  shown_level(side: Side, price: number, out: L2Level): L2Level {
    out.price = price;
    out.size = 0;
    out.orders = 0;
    if (this.depth > 0) {
      const w = this.windows[side];
      const key = price * (side === 0 ? 1 : -1);
      const i = w.first_at_or_below(key);
      if (i < w.count && w.keys[i] === key) {
        out.size = w.sizes[i];
        out.orders = w.orders[i];
      }
    } else {
      const shown = this.shown[side];
      const i = shown.index_of(price);
      if (i >= 0) {
        out.size = shown.sizes[i];
        out.orders = shown.orders[i];
      }
    }
    return out;
  }

  snapshot(out: ViewLevels): void {
    out.bid_count = this.snapshot_side(0, out.bids);
    out.ask_count = this.snapshot_side(1, out.asks);
    out.digest = this.digest;
  }

  private snapshot_side(side: Side, out: L2Level[]): number {
    if (this.depth > 0) {
      const w = this.windows[side];
      const sign = side === 0 ? 1 : -1;
      for (let r = 0; r < w.count; r++) put(out, r, w.keys[r] * sign, w.sizes[r], w.orders[r]);
      return w.count;
    }
    const shown = this.shown[side];
    for (let r = 0; r < shown.count; r++) put(out, r, shown.price_at(r), shown.size_at(r), shown.orders_at(r));
    return shown.count;
  }

  /**
   * Asserts the view equals the book's top `depth` and the digest equals one
   * computed from scratch. Valid right after update()/reset_from(), before the
   * book changes again. Allocates: for tests and debug checks.
   */
  check(book: L2Book): void {
    const shown = new ViewLevels();
    this.snapshot(shown);
    const want_bids: L2Level[] = [];
    const want_asks: L2Level[] = [];
    book.top(0, this.depth, want_bids);
    book.top(1, this.depth, want_asks);
    const problems: string[] = [];
    compare_side('bid', shown.bids.slice(0, shown.bid_count), want_bids, problems);
    compare_side('ask', shown.asks.slice(0, shown.ask_count), want_asks, problems);
    const want_digest = digest_of(want_bids, want_asks);
    if (this.digest !== want_digest) problems.push(`digest ${this.digest} != recomputed ${want_digest}`);
    if (problems.length) throw new BookError(`view depth ${this.depth} out of step with its book: ${problems.slice(0, 5).join('; ')}`);
  }
}

function compare_side(name: string, shown: L2Level[], want: L2Level[], problems: string[]): void {
  if (shown.length !== want.length) problems.push(`${name}s: shows ${shown.length} levels, book has ${want.length}`);
  const n = Math.min(shown.length, want.length);
  for (let r = 0; r < n; r++) {
    const a = shown[r];
    const b = want[r];
    if (a.price !== b.price || a.size !== b.size || a.orders !== b.orders) {
      problems.push(`${name} rank ${r}: shows ${a.price}x${a.size}/${a.orders}, book ${b.price}x${b.size}/${b.orders}`);
    }
  }
}
