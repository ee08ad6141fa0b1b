// What a book view hands out, and the contract its two implementations share
// (the windowed top-N of ./view_window.ts and the full book of ./view_full.ts).
// BookView (./view.ts) picks one at construction; nothing branches on depth
// per call after that.
//
// Cost: ViewLevels reuses its arrays and their level objects across frames
// (put() writes into them): no allocation per frame once they have grown.
import type { L2Book } from './l2_book.js';
import type { Ladder, PriceList } from './ladder.js';
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
 * What a view shows, both sides. `digest` is the digest of exactly what is
 * shown; every method that changes the content keeps it current.
 */
export interface ShownLevels {
  digest: number;
  /** Show the book's current top. */
  reset_from(book: L2Book): void;
  /** See BookView.update; one side at a time, out[0..return) written. */
  update_side(ladder: Ladder, changed: PriceList, out: L2Level[]): number;
  /** Size and orders shown at `price` written into out (0 when not shown). */
  level(side: Side, price: number, out: L2Level): void;
  /** The side's shown levels, best first, into out[0..return). */
  snapshot_side(side: Side, out: L2Level[]): number;
}

/** Writes a level into a reused array slot (creating the slot's object once). */
export function put(levels: L2Level[], k: number, price: number, size: number, orders: number): void {
  const l = levels[k] ?? (levels[k] = { price: 0, size: 0, orders: 0 });
  l.price = price;
  l.size = size;
  l.orders = orders;
}
