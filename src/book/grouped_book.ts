// A grouped book: the levels of an L2Book summed into price buckets of
// `group` ticks, kept as an L2Book of its own so that BookView (windows,
// digests, conflation) works on it unchanged. Pure.
//
//   bucket(side, price)     bids floor to a multiple of group, asks ceil: a
//                           grouped book is never crossed when its book is not
//                           (floor(bid) <= bid < ask <= ceil(ask))
//   reset_from(raw)         every bucket from scratch (a new epoch, a recovery)
//   update(raw, changes)    the buckets of the prices the raw book touched
//                           (raw.take_changes()), recomputed from the raw book;
//                           the grouped book's own changes then feed its views
//   book: L2Book            the grouped levels; a bucket's size and orders are sums
//
// Cost: per touched bucket (at most one per changed raw price, each computed
// once per update: a reused open-addressing set remembers which, so an update
// allocates nothing) a search and a walk over the raw levels in it:
// O(log levels + levels per bucket). Group 1 is not built: the raw book is
// its own grouped book.

import { L2Book, type BookChanges } from './l2_book.js';
import { side_ask, side_bid, type Side } from './types.js';

/** Largest bucket, in ticks (the protocol's limit; docs/PROTOCOL.md §3). */
export const group_ticks_max = 1_000_000;

/** A group a view may have: an integer from 1 to group_ticks_max. */
export function is_valid_group(group: number): boolean {
  return Number.isInteger(group) && group >= 1 && group <= group_ticks_max;
}

export class GroupedBook {
  readonly book = new L2Book();
  /** Buckets recomputed in the current update of a side (reused). */
  private readonly done = new StampSet();

  constructor(readonly group: number) {
    if (!is_valid_group(group)) throw new RangeError(`group must be an integer from 1 to ${group_ticks_max}, got ${group}`);
  }

  bucket(side: Side, price: number): number {
    const g = this.group;
    return side === side_bid ? Math.floor(price / g) * g : Math.ceil(price / g) * g;
  }

  reset_from(raw: L2Book): void {
    this.book.clear();
    for (const side of [side_bid, side_ask] as const) {
      const ladder = raw.side_ladder(side);
      let bucket = Number.NaN;
      let size = 0;
      let orders = 0;
      for (let rank = 0; rank < ladder.count; rank++) {
        const b = this.bucket(side, ladder.price_at(rank));
        if (b !== bucket) {
          if (size > 0) this.book.set_level(side, bucket, size, orders);
          bucket = b;
          size = 0;
          orders = 0;
        }
        size += ladder.size_at(rank);
        orders += ladder.orders_at(rank);
      }
      if (size > 0) this.book.set_level(side, bucket, size, orders);
    }
  }

  update(raw: L2Book, changes: BookChanges): void {
    this.update_side(raw, side_bid, changes.bids.prices, changes.bids.count);
    this.update_side(raw, side_ask, changes.asks.prices, changes.asks.count);
  }

  private update_side(raw: L2Book, side: Side, prices: Float64Array, count: number): void {
    const done = this.done;
    done.next_round();
    const ladder = raw.side_ladder(side);
    const g = this.group;
    for (let k = 0; k < count; k++) {
      const b = this.bucket(side, prices[k]);
      if (!done.add(b)) continue;
      // The bucket's prices as ladder keys (price × sign): one contiguous run of g keys.
      const key_lo = side === side_bid ? b : -b;
      let size = 0;
      let orders = 0;
      for (let i = ladder.lower_bound(key_lo); i < ladder.count && ladder.keys[i] <= key_lo + g - 1; i++) {
        size += ladder.sizes[i];
        orders += ladder.orders[i];
      }
      this.book.set_level(side, b, size, orders);
    }
  }
}

/**
 * A set of numbers emptied in O(1) (a new round stamps entries anew), for the
 * buckets of one update: open addressing over typed arrays, no allocation
 * once grown to the largest update.
 */
class StampSet {
  private keys = new Float64Array(64);
  private stamps = new Uint32Array(64);
  private round = 1;
  private size = 0;

  next_round(): void {
    this.round++;
    this.size = 0;
    if (this.round === 0xffffffff) {
      this.stamps.fill(0);
      this.round = 1;
    }
  }

  /** True if `key` was not in the set this round (and is now). */
  add(key: number): boolean {
    if (2 * (this.size + 1) > this.keys.length) this.grow();
    const mask = this.keys.length - 1;
    for (let i = slot_of(key) & mask; ; i = (i + 1) & mask) {
      if (this.stamps[i] !== this.round) {
        this.stamps[i] = this.round;
        this.keys[i] = key;
        this.size++;
        return true;
      }
      if (this.keys[i] === key) return false;
    }
  }

  private grow(): void {
    const old_keys = this.keys;
    const old_stamps = this.stamps;
    this.keys = new Float64Array(old_keys.length * 2);
    this.stamps = new Uint32Array(old_keys.length * 2);
    this.size = 0;
    for (let i = 0; i < old_keys.length; i++) if (old_stamps[i] === this.round) this.add(old_keys[i]);
  }
}

/** A hash of an integer price (exact below 2^53): both 32-bit halves mixed. */
function slot_of(key: number): number {
  const lo = key >>> 0;
  const hi = Math.floor(key / 4294967296) >>> 0;
  return Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b) >>> 16 ^ lo;
}
