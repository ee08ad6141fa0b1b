// Writers both codecs share: int64 fields from numbers (no BigInt on the hot
// path) and vectors of the Level struct, which schemas/feed.fbs and
// schemas/engine_events.fbs lay out the same way:
//   struct Level { price: long; size: long; orders: uint; (pad 4) }   24 bytes, 8-aligned
// FlatbufferReader.levels reads what levels_vector writes.
import type { Builder } from 'flatbuffers';
import type { L2Level } from '../book/types.js';

export const level_bytes = 24;

const two_32 = 4294967296;
const u64_ceiling = two_32 * two_32;

/**
 * Writes a 64-bit integer as two 32-bit halves (integers below 2^53 exactly,
 * larger ones as their double's value; negatives as two's complement).
 */
export function write_i64(b: Builder, x: number): void {
  // The builder writes downwards: the high half first lands above the low half (little endian).
  if (x >= u64_ceiling) {
    // 2^64 - 1 read back as a double rounds up to 2^64: write it back as 2^64 - 1.
    b.writeInt32(-1);
    b.writeInt32(-1);
    return;
  }
  b.writeInt32(Math.floor(x / two_32) | 0);
  b.writeInt32(x | 0);
}

/** Adds an int64/uint64 table field from a number; 0 is the default and is left out. */
export function add_i64(b: Builder, slot: number, x: number): void {
  if (x === 0) return;
  b.prep(8, 0);
  write_i64(b, x);
  b.slot(slot);
}

/** A vector of the first `count` levels, in order. */
export function levels_vector(b: Builder, levels: readonly L2Level[], count: number): number {
  b.startVector(level_bytes, count, 8);
  for (let i = count - 1; i >= 0; i--) {
    const l = levels[i];
    b.prep(8, level_bytes);
    b.pad(4);
    b.writeInt32(l.orders | 0);
    write_i64(b, l.size);
    write_i64(b, l.price);
  }
  return b.endVector();
}
