// Reads FlatBuffers from untrusted bytes; both codecs decode with it. The
// flatbuffers JS runtime has no verifier: its accessors follow whatever offsets
// the bytes contain and return garbage (or throw RangeError deep inside) on a
// truncated or hostile message. So the decoders read the bytes themselves and
// check every offset before following it: root and tables in bounds and
// aligned, vtables in bounds, every field inside its table, every vector and
// string inside the buffer (lengths checked against their limit and the buffer
// before anything is allocated, so allocation is bounded by the message's
// size), strings NUL-terminated and valid UTF-8, exact integers below 2^53.
// Any failure is a WireError, code bad_frame unless the caller names another.
//
// 64-bit integers are read as two 32-bit halves into a number:
//   *_exact — refuse values of magnitude 2^53 or more (ids, seq, prices, sizes);
//   *_time  — the nearest double (ns since 1970 are ~2^60, so timestamps keep
//             ~256 ns granularity).
import { error_code } from './codes.js';
import { level_bytes } from './flatbuffer_write.js';
import type { L2Level } from '../book/types.js';
import { WireError } from './wire_error.js';

const two_32 = 4294967296;
/** A vector or string length that no u32 count exceeds: no limit but the buffer. */
export const count_unlimited = 0xffffffff;

const utf8_decoder = new TextDecoder('utf-8', { fatal: true });

/** A checked table: its position, its vtable and their sizes. Reused, so reading allocates nothing. */
export class TableRef {
  pos = 0;
  vt = 0;
  vt_size = 0;
  size = 0;
}

/** Reads one message at a time, checking every position before use. Not reentrant. */
export class FlatbufferReader {
  /** The current message and a view over it; valid until the next reset(). */
  bytes: Uint8Array = new Uint8Array(0);
  view: DataView = new DataView(new ArrayBuffer(0));
  private len = 0;

  private copy = new Uint8Array(0);
  private copy_view = new DataView(this.copy.buffer);

  reset(bytes: Uint8Array): void {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.len = bytes.byteLength;
  }

  /**
   * reset() over a copy of the bytes in a buffer this reader keeps: no view
   * allocated per message (for per-frame readers; a copy of a few hundred
   * bytes costs less than the garbage). Messages over `copy_bytes_max` are
   * read in place, so the buffer stays small.
   */
  reset_copy(bytes: Uint8Array, copy_bytes_max: number): void {
    const n = bytes.byteLength;
    if (n > copy_bytes_max) return this.reset(bytes);
    if (n > this.copy.byteLength) {
      this.copy = new Uint8Array(Math.min(copy_bytes_max, Math.max(n, 2 * this.copy.byteLength, 1024)));
      this.copy_view = new DataView(this.copy.buffer);
    }
    this.copy.set(bytes);
    this.bytes = this.copy;
    this.view = this.copy_view;
    this.len = n;
  }

  /** Bytes in the current message (bytes.length may be larger: reset_copy's buffer). */
  get length(): number {
    return this.len;
  }

  fail(message: string, code: number = error_code.bad_frame): never {
    throw new WireError(message, code);
  }

  private in_bounds(pos: number, width: number): boolean {
    return pos >= 0 && pos + width <= this.len;
  }

  u32_at(pos: number, what: string): number {
    if (!this.in_bounds(pos, 4)) this.fail(`${what}: out of bounds`);
    return this.view.getUint32(pos, true);
  }

  /** Position of the root table (check it with table()). */
  root(what: string): number {
    if (this.len < 8) this.fail(`${what} of ${this.len} bytes is too short`);
    return this.u32_at(0, 'root offset');
  }

  /** Checks the table at `pos` and its vtable, into `ref`. */
  table(ref: TableRef, pos: number, what: string): TableRef {
    if (pos % 4 !== 0 || !this.in_bounds(pos, 4)) this.fail(`${what}: table out of bounds or misaligned`);
    const vt = pos - this.view.getInt32(pos, true);
    if (vt % 2 !== 0 || !this.in_bounds(vt, 4)) this.fail(`${what}: vtable out of bounds`);
    const vt_size = this.view.getUint16(vt, true);
    const size = this.view.getUint16(vt + 2, true);
    if (vt_size < 4 || vt_size % 2 !== 0 || !this.in_bounds(vt, vt_size)) this.fail(`${what}: bad vtable size ${vt_size}`);
    if (size < 4 || !this.in_bounds(pos, size)) this.fail(`${what}: bad table size ${size}`);
    ref.pos = pos;
    ref.vt = vt;
    ref.vt_size = vt_size;
    ref.size = size;
    return ref;
  }

  /** Absolute position of a field of `width` bytes, or 0 when absent. */
  field(t: TableRef, slot: number, width: number): number {
    const entry = 4 + 2 * slot;
    if (entry + 2 > t.vt_size) return 0;
    const o = this.view.getUint16(t.vt + entry, true);
    if (o === 0) return 0;
    if (o < 4 || o + width > t.size) this.fail(`field ${slot} lies outside its table`);
    return t.pos + o;
  }

  // Scalar fields: the default (0) when absent.

  u8(t: TableRef, slot: number): number {
    const p = this.field(t, slot, 1);
    return p === 0 ? 0 : this.bytes[p];
  }

  u16(t: TableRef, slot: number): number {
    const p = this.field(t, slot, 2);
    return p === 0 ? 0 : this.view.getUint16(p, true);
  }

  u32(t: TableRef, slot: number): number {
    const p = this.field(t, slot, 4);
    return p === 0 ? 0 : this.view.getUint32(p, true);
  }

  f64(t: TableRef, slot: number): number {
    const p = this.field(t, slot, 8);
    return p === 0 ? 0 : this.view.getFloat64(p, true);
  }

  /** uint64 that must be exact (ids, seqs, epochs, nonces). */
  u64_exact(t: TableRef, slot: number, what: string): number {
    const p = this.field(t, slot, 8);
    return p === 0 ? 0 : this.u64_exact_at(p, what);
  }

  u64_exact_at(p: number, what: string): number {
    const hi = this.view.getUint32(p + 4, true);
    if (hi > 0x1fffff) this.fail(`${what} is 2^53 or more`);
    return hi * two_32 + this.view.getUint32(p, true);
  }

  /** int64 that must be exact (prices, sizes, volumes). */
  i64_exact(t: TableRef, slot: number, what: string): number {
    const p = this.field(t, slot, 8);
    return p === 0 ? 0 : this.i64_exact_at(p, what);
  }

  i64_exact_at(p: number, what: string): number {
    const x = this.view.getInt32(p + 4, true) * two_32 + this.view.getUint32(p, true);
    if (!Number.isSafeInteger(x)) this.fail(`${what} is outside ±2^53`);
    return x;
  }

  /** uint64 nanosecond timestamp as a double (rounded above 2^53). */
  u64_time(t: TableRef, slot: number): number {
    const p = this.field(t, slot, 8);
    return p === 0 ? 0 : this.u64_time_at(p);
  }

  u64_time_at(p: number): number {
    return this.view.getUint32(p + 4, true) * two_32 + this.view.getUint32(p, true);
  }

  /** Target of an offset field, or 0 when absent. */
  target(t: TableRef, slot: number, what: string): number {
    const p = this.field(t, slot, 4);
    return p === 0 ? 0 : this.follow(p, what);
  }

  /** Follows the uoffset at `p` (in bounds: a checked field or vector element); always forward, so no cycles. */
  follow(p: number, what: string): number {
    const off = this.view.getUint32(p, true);
    if (off === 0 || p + off >= this.len) this.fail(`${what}: offset out of bounds`);
    return p + off;
  }

  /**
   * Element count of the vector at `pos`, checked against `count_max` (over it:
   * `code`) and the buffer. `body_align`: the alignment its elements need
   * (8 for structs holding 64-bit fields, where the schema's writer guarantees it).
   */
  vector(pos: number, elem_bytes: number, count_max: number, what: string, code: number = error_code.bad_frame, body_align = 4): number {
    if (pos % 4 !== 0 || !this.in_bounds(pos, 4)) this.fail(`${what}: vector out of bounds or misaligned`);
    const n = this.view.getUint32(pos, true);
    if (n > count_max) this.fail(`${what}: ${n} elements, at most ${count_max} allowed`, code);
    if (!this.in_bounds(pos + 4, n * elem_bytes)) this.fail(`${what}: ${n} elements run past the end of the frame`);
    if ((pos + 4) % body_align !== 0) this.fail(`${what}: vector misaligned at ${pos + 4}`);
    return n;
  }

  /** Checks the string at `pos` (bounds, length limit, NUL) but not its UTF-8; returns its byte length (bytes start at pos + 4). */
  string_length(pos: number, bytes_max: number, what: string, code: number = error_code.bad_frame): number {
    if (pos % 4 !== 0 || !this.in_bounds(pos, 4)) this.fail(`${what}: string out of bounds or misaligned`);
    const n = this.view.getUint32(pos, true);
    if (n > bytes_max) this.fail(`${what}: ${n} bytes, at most ${bytes_max} allowed`, code);
    if (!this.in_bounds(pos + 4, n + 1)) this.fail(`${what}: string runs past the end of the frame`);
    if (this.bytes[pos + 4 + n] !== 0) this.fail(`${what}: string not NUL-terminated`);
    return n;
  }

  string(pos: number, bytes_max: number, what: string, code: number = error_code.bad_frame): string {
    const n = this.string_length(pos, bytes_max, what, code);
    const start = pos + 4;
    // Symbols and decimals are ASCII: skip TextDecoder for them.
    let ascii = '';
    for (let i = start; i < start + n; i++) {
      const c = this.bytes[i];
      if (c >= 0x80) return this.utf8(start, n, what);
      ascii += String.fromCharCode(c);
    }
    return ascii;
  }

  private utf8(start: number, n: number, what: string): string {
    try {
      return utf8_decoder.decode(this.bytes.subarray(start, start + n));
    } catch {
      return this.fail(`${what}: invalid UTF-8`);
    }
  }

  required_string(t: TableRef, slot: number, bytes_max: number, what: string, code?: number): string {
    const pos = this.target(t, slot, what);
    if (pos === 0) this.fail(`${what} is required`);
    return this.string(pos, bytes_max, what, code);
  }

  optional_string(t: TableRef, slot: number, bytes_max: number, what: string): string {
    const pos = this.target(t, slot, what);
    return pos === 0 ? '' : this.string(pos, bytes_max, what);
  }

  /** A vector of Level structs (layout in flatbuffer_write.ts); absent: [] or, when required, a failure. */
  levels(t: TableRef, slot: number, required: boolean, what: string, body_align = 4): L2Level[] {
    const pos = this.level_vector(t, slot, required, what, body_align);
    if (pos === 0) return [];
    const n = this.view.getUint32(pos, true);
    const out = new Array<L2Level>(n);
    for (let i = 0, p = pos + 4; i < n; i++, p += level_bytes) out[i] = { price: this.level_price(p), size: this.level_size(p), orders: this.level_orders(p) };
    return out;
  }

  /**
   * Checks a vector of Level structs (every price and size exact) without
   * building anything: its position (count at pos, levels from pos + 4,
   * level_bytes apart), or 0 when absent and not required.
   */
  level_vector(t: TableRef, slot: number, required: boolean, what: string, body_align = 4): number {
    const pos = this.target(t, slot, what);
    if (pos === 0) {
      if (required) this.fail(`${what} is required`);
      return 0;
    }
    const n = this.vector(pos, level_bytes, this.len, what, error_code.bad_frame, body_align);
    for (let i = 0, p = pos + 4; i < n; i++, p += level_bytes) {
      // Messages built only on failure (a template literal per level would allocate).
      if (!Number.isSafeInteger(this.level_price(p))) this.fail(`${what} price is outside ±2^53`);
      if (!Number.isSafeInteger(this.level_size(p))) this.fail(`${what} size is outside ±2^53`);
    }
    return pos;
  }

  // One Level struct at p (layout in flatbuffer_write.ts), after checked_levels.
  level_price(p: number): number {
    return this.view.getInt32(p + 4, true) * two_32 + this.view.getUint32(p, true);
  }

  level_size(p: number): number {
    return this.view.getInt32(p + 12, true) * two_32 + this.view.getUint32(p + 8, true);
  }

  level_orders(p: number): number {
    return this.view.getUint32(p + 16, true);
  }
}

/**
 * What a decoder throws for anything caught while decoding. Every read is
 * checked first, so nothing but WireError should escape; should a check be
 * missing, the caller still gets a WireError (labelled "internal", so the fuzz
 * tests can tell), never a RangeError. Hot paths write the try/catch inline
 * (`try { … } catch (e) { throw as_wire_error(e); }`): no closure per frame.
 */
export function as_wire_error(e: unknown): WireError {
  if (e instanceof WireError) return e;
  return new WireError(`internal decoder error: ${(e as Error)?.message ?? String(e)}`, error_code.bad_frame);
}

/**
 * Runs fn with `this` = self and one argument, turning anything it throws into
 * a WireError (see as_wire_error). Takes the function and its argument rather
 * than a closure: per-frame decoders must not make one per call.
 */
export function guarded_call<S, A, T>(self: S, fn: (this: S, arg: A) => T, arg: A): T {
  try {
    return fn.call(self, arg);
  } catch (e) {
    throw as_wire_error(e);
  }
}
