// The L2 order book of one symbol: price → (size, orders) per side. Pure.
//
// API (the feed's ingest owns one L2Book per symbol; one writer):
//   new L2Book()
//   apply(ev: BookEvent): void            Add / Reduce / Execute; throws BookError on an
//                                         impossible event and leaves the book unchanged
//   load(bids, asks): void                replace the content (snapshot levels, best first)
//   set_level(side, price, size, orders)  one level's new value (size 0 removes): derived
//                                         books (grouped_book.ts), not engine events
//   clear(): void
//   take_changes(): BookChanges           prices touched since the previous call (see below)
//   best(side), level(side, price, out?), level_count(side), top(side, n, out), is_crossed()
//   side_ladder(side): Ladder             read access by rank for views (rank 0 = best)
//
// Layout: each side is a Ladder (./ladder.ts), parallel typed arrays sorted by a key that is
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

import { Ladder, PriceList } from './ladder.js';
import { event_add, event_execute, event_reduce, side_ask, side_bid, type BookEvent, type L2Level, type Side } from './types.js';

export class BookError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BookError';
  }
}

/** Prices touched since the previous take_changes(), per side. */
export interface BookChanges {
  readonly bids: PriceList;
  readonly asks: PriceList;
}

function side_name(side: number): string {
  return side === side_bid ? 'bid' : 'ask';
}

export class L2Book {
  readonly bids = new Ladder(side_bid);
  readonly asks = new Ladder(side_ask);
  // Double-buffered change lists: [generation & 1].
  private readonly changed_bids = [new PriceList(), new PriceList()];
  private readonly changed_asks = [new PriceList(), new PriceList()];
  private readonly changes_out = { bids: this.changed_bids[0], asks: this.changed_asks[0] };
  // Starts at 1 so that the zeroed marks of fresh array slots never match.
  private generation = 1;

  side_ladder(side: Side): Ladder {
    return side === side_bid ? this.bids : this.asks;
  }

  private changed_list(side: Side): PriceList {
    return (side === side_bid ? this.changed_bids : this.changed_asks)[this.generation & 1];
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
    if (side !== side_bid && side !== side_ask) throw new BookError(`seq ${ev.seq}: unknown side ${side}`);
    const ladder = side === side_bid ? this.bids : this.asks;
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
    check_snapshot_side(bids, side_bid);
    check_snapshot_side(asks, side_ask);
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

  /**
   * Sets one level (size 0 removes it) and records the price as changed if
   * its value moved. For books derived from another (grouped_book.ts); the
   * engine's events go through apply().
   */
  set_level(side: Side, price: number, size: number, orders: number): void {
    const ladder = this.side_ladder(side);
    if (!ladder.set(price, size, orders)) return;
    const i = ladder.index_of(price);
    if (i >= 0) {
      if (ladder.marks[i] === this.generation) return; // already listed in this generation
      ladder.marks[i] = this.generation;
    }
    this.changed_list(side).push(price);
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
    out.bids = this.changed_list(side_bid);
    out.asks = this.changed_list(side_ask);
    this.generation++;
    this.changed_list(side_bid).count = 0;
    this.changed_list(side_ask).count = 0;
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
    const bid = this.best(side_bid);
    const ask = this.best(side_ask);
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
    if (r > 0 && (side === side_bid ? l.price >= prev : l.price <= prev)) throw new BookError(`${where}: prices must be strictly ${side === side_bid ? 'descending' : 'ascending'} (best first)`);
    prev = l.price;
  }
}
