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
// below the changes move as one block. Changes outside a full window cost one
// comparison each. Depth 0 costs O(log levels) per changed price.
//
// Which of the two it is (./view_window.ts for N > 0, ./view_full.ts for the
// full book) is decided once, at construction; no method branches on depth.

import { digest_of } from './digest.js';
import { BookError, type L2Book } from './l2_book.js';
import type { PriceList } from './ladder.js';
import { side_ask, side_bid, type L2Level, type Side } from './types.js';
import { FullLevels } from './view_full.js';
import { ViewLevels, type ShownLevels } from './view_levels.js';
import { WindowedLevels } from './view_window.js';

export { ViewLevels } from './view_levels.js';

export class BookView {
  readonly depth: number;
  private readonly shown: ShownLevels;

  constructor(depth: number) {
    if (!Number.isSafeInteger(depth) || depth < 0) throw new BookError(`view depth must be an integer >= 0, got ${depth}`);
    this.depth = depth;
    this.shown = depth > 0 ? new WindowedLevels(depth) : new FullLevels();
  }

  /** The digest of what the view shows now (uint32). */
  get digest(): number {
    return this.shown.digest;
  }

  reset_from(book: L2Book): void {
    this.shown.reset_from(book);
  }

  update(book: L2Book, changed_bids: PriceList, changed_asks: PriceList, out: ViewLevels): number {
    const shown = this.shown;
    out.bid_count = shown.update_side(book.bids, changed_bids, out.bids);
    out.ask_count = shown.update_side(book.asks, changed_asks, out.asks);
    out.digest = shown.digest;
    return out.bid_count + out.ask_count;
  }

  /** What the view shows at `price` now, written into `out` (size and orders 0 when not shown). */
  shown_level(side: Side, price: number, out: L2Level): L2Level {
    out.price = price;
    out.size = 0;
    out.orders = 0;
    this.shown.level(side, price, out);
    return out;
  }

  snapshot(out: ViewLevels): void {
    out.bid_count = this.shown.snapshot_side(side_bid, out.bids);
    out.ask_count = this.shown.snapshot_side(side_ask, out.asks);
    out.digest = this.shown.digest;
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
    book.top(side_bid, this.depth, want_bids);
    book.top(side_ask, this.depth, want_asks);
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
