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
// Cost: depth N compares the new top N with the shown window, O(N), only when
// a changed price lies inside the window (or the window is not full); other
// changes cost one comparison each. Depth 0 costs O(log levels) per changed price.

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

/** The shown top-N window of one side, best first. */
class Window {
  prices: Float64Array;
  sizes: Float64Array;
  orders: Float64Array;
  count = 0;

  constructor(capacity: number) {
    this.prices = new Float64Array(capacity);
    this.sizes = new Float64Array(capacity);
    this.orders = new Float64Array(capacity);
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
  // depth > 0: shown windows and spares to build the next ones in, per side.
  private readonly windows: Window[] = [];
  private readonly spares: Window[] = [];
  // depth 0: the whole shown book.
  private readonly shown: Ladder[] = [];

  constructor(depth: number) {
    if (!Number.isSafeInteger(depth) || depth < 0) throw new BookError(`view depth must be an integer >= 0, got ${depth}`);
    this.depth = depth;
    if (depth > 0) {
      for (let s = 0; s < 2; s++) {
        this.windows.push(new Window(depth));
        this.spares.push(new Window(depth));
      }
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
        for (let r = 0; r < w.count; r++) {
          w.prices[r] = src.price_at(r);
          w.sizes[r] = src.size_at(r);
          w.orders[r] = src.orders_at(r);
          d = digest_add(d, level_hash(side, w.prices[r], w.sizes[r], w.orders[r]));
        }
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
    const old = this.windows[side];
    const n = this.depth;
    if (old.count === n) {
      // A full window only changes if a change lies at or inside its worst price.
      const worst_key = old.prices[n - 1] * sign;
      const prices = changed.prices;
      let touched = false;
      for (let k = 0; k < changed.count; k++) {
        if (prices[k] * sign >= worst_key) {
          touched = true;
          break;
        }
      }
      if (!touched) return 0;
    }
    const next = this.spares[side];
    const new_count = ladder.count < n ? ladder.count : n;
    let d = this.digest;
    let emitted = 0;
    let i = 0; // in old
    let j = 0; // in the book's top, rank j = array index ladder.count - 1 - j
    while (i < old.count || j < new_count) {
      const old_key = i < old.count ? old.prices[i] * sign : -Infinity;
      const idx = ladder.count - 1 - j;
      const new_key = j < new_count ? ladder.keys[idx] : -Infinity;
      if (old_key > new_key) {
        // Left the window (removed, or pushed out by better levels).
        d = digest_sub(d, level_hash(side, old.prices[i], old.sizes[i], old.orders[i]));
        put(out, emitted++, old.prices[i], 0, 0);
        i++;
        continue;
      }
      const price = new_key * sign;
      const size = ladder.sizes[idx];
      const orders = ladder.orders[idx];
      next.prices[j] = price;
      next.sizes[j] = size;
      next.orders[j] = orders;
      if (old_key === new_key) {
        if (old.sizes[i] !== size || old.orders[i] !== orders) {
          d = digest_sub(d, level_hash(side, price, old.sizes[i], old.orders[i]));
          d = digest_add(d, level_hash(side, price, size, orders));
          put(out, emitted++, price, size, orders);
        }
        i++;
      } else {
        d = digest_add(d, level_hash(side, price, size, orders));
        put(out, emitted++, price, size, orders);
      }
      j++;
    }
    next.count = new_count;
    this.windows[side] = next;
    this.spares[side] = old;
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
      for (let r = 0; r < w.count; r++) {
        if (w.prices[r] === price) {
          out.size = w.sizes[r];
          out.orders = w.orders[r];
          break;
        }
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
      for (let r = 0; r < w.count; r++) put(out, r, w.prices[r], w.sizes[r], w.orders[r]);
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
