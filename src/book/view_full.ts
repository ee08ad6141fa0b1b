// The shown levels of a full-book view (depth 0): per side a Ladder copy of
// what clients were shown. One of the two ShownLevels of a BookView
// (./view.ts; the other is ./view_window.ts).
//
// Cost: update_side costs O(log levels) per changed price (one lookup in the
// book, one in the shown ladder, a shift of the levels better than it);
// reset_from copies the book's arrays. Allocates only when the shown ladder
// grows.
//
// Invariants: after every update_side/reset_from the shown ladders equal the
// book's sides and `digest` is their digest (BookView.check asserts both).
import { digest_add, digest_sub, level_hash } from './digest.js';
import type { L2Book } from './l2_book.js';
import { Ladder, type PriceList } from './ladder.js';
import { side_ask, side_bid, type L2Level, type Side } from './types.js';
import { put, type ShownLevels } from './view_levels.js';

export class FullLevels implements ShownLevels {
  digest = 0;
  private readonly shown: readonly [Ladder, Ladder] = [new Ladder(side_bid), new Ladder(side_ask)];

  reset_from(book: L2Book): void {
    let d = 0;
    for (const side of [side_bid, side_ask]) {
      const src = book.side_ladder(side);
      const dst = this.shown[side];
      dst.reserve(src.count);
      dst.keys.set(src.keys.subarray(0, src.count));
      dst.sizes.set(src.sizes.subarray(0, src.count));
      dst.orders.set(src.orders.subarray(0, src.count));
      dst.count = src.count;
      for (let i = 0; i < src.count; i++) d = digest_add(d, level_hash(side, src.keys[i] * src.sign, src.sizes[i], src.orders[i]));
    }
    this.digest = d;
  }

  update_side(ladder: Ladder, changed: PriceList, out: L2Level[]): number {
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

  level(side: Side, price: number, out: L2Level): void {
    const shown = this.shown[side];
    const i = shown.index_of(price);
    if (i >= 0) {
      out.size = shown.sizes[i];
      out.orders = shown.orders[i];
    }
  }

  snapshot_side(side: Side, out: L2Level[]): number {
    const shown = this.shown[side];
    for (let r = 0; r < shown.count; r++) put(out, r, shown.price_at(r), shown.size_at(r), shown.orders_at(r));
    return shown.count;
  }
}
