// The 32-bit digest of a book view: order-independent, kept in O(1) per level
// change (subtract the old level's hash, add the new one). Specified with test
// vectors in docs/PROTOCOL.md ("Digest"); change one, change both.
//
//   level_hash(side, price, size, orders): number   uint32
//   digest_add(d, h), digest_sub(d, h): number       uint32, mod 2^32
//   digest_of(bids, asks): number                    from scratch (tests, checks, clients)
//
// level_hash: FNV-1a over six 32-bit words [side, price_lo, price_hi, size_lo,
// size_hi, orders], then murmur3's fmix32 so that nearby prices spread over all
// bits (a plain sum of FNV values would let small changes cancel too easily).
// The int64 halves are those of two's complement, which for the safe-integer
// range JS numbers cover is lo = x >>> 0, hi = Math.floor(x / 2^32) >>> 0.

import { side_ask, side_bid, type L2Level, type Side } from './types.js';

const two_32 = 4294967296;

export function level_hash(side: Side, price: number, size: number, orders: number): number {
  let h = 0x811c9dc5;
  h = Math.imul(h ^ side, 0x01000193);
  h = Math.imul(h ^ (price >>> 0), 0x01000193);
  h = Math.imul(h ^ (Math.floor(price / two_32) >>> 0), 0x01000193);
  h = Math.imul(h ^ (size >>> 0), 0x01000193);
  h = Math.imul(h ^ (Math.floor(size / two_32) >>> 0), 0x01000193);
  h = Math.imul(h ^ (orders >>> 0), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function digest_add(digest: number, hash: number): number {
  return (digest + hash) >>> 0;
}

export function digest_sub(digest: number, hash: number): number {
  return (digest - hash) >>> 0;
}

/** The digest of a whole view (levels in any order). The empty view's digest is 0. */
export function digest_of(bids: readonly L2Level[], asks: readonly L2Level[]): number {
  let d = 0;
  for (const l of bids) d = digest_add(d, level_hash(side_bid, l.price, l.size, l.orders));
  for (const l of asks) d = digest_add(d, level_hash(side_ask, l.price, l.size, l.orders));
  return d;
}
