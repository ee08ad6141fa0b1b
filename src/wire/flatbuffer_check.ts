// Bounds checks for reading FlatBuffers from untrusted bytes. The flatbuffers
// JS runtime has no verifier: its accessors follow whatever offsets the bytes
// contain and return garbage (or throw RangeError deep inside) on a truncated
// or hostile message. Every offset a decoder follows goes through here first,
// so a bad message becomes one WireError with a message naming the field.
//
// 64-bit integers are read as two 32-bit halves into a JS number:
//   *_exact  — refuse values at or above 2^53 (ids, seq, prices, sizes);
//   *_nearest — the nearest double (timestamps in ns since 1970 are ~2^60,
//               so they keep ~256 ns granularity; documented in util/clock).
import { WireError } from './wire_error.js';

const two_pow_32 = 4294967296;
/** A high word below this keeps the 64-bit value below 2^53. */
const exact_high_word_max = 0x200000;

const utf8_strict = new TextDecoder('utf-8', { fatal: true });

export class FlatbufferCheck {
  private bytes: Uint8Array = new Uint8Array(0);
  /** DataView over the current message; valid until the next reset(). */
  view: DataView = new DataView(new ArrayBuffer(0));
  length = 0;
  /** Element count of the vector or string checked last. */
  vector_length = 0;

  reset(bytes: Uint8Array): void {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.length = bytes.byteLength;
  }

  /** Position of the root table, checked. */
  root(what: string): number {
    if (this.length < 12) throw new WireError(`${what}: ${this.length} bytes is too short for a FlatBuffer`);
    return this.table(this.view.getUint32(0, true), what);
  }

  /** Checks the table at `pos` and its vtable; returns `pos`. */
  table(pos: number, what: string): number {
    const v = this.view;
    if (pos % 4 !== 0 || pos + 4 > this.length) throw new WireError(`${what}: table offset ${pos} outside the ${this.length}-byte message`);
    const vtable = pos - v.getInt32(pos, true);
    if (vtable < 0 || vtable % 2 !== 0 || vtable + 4 > this.length) throw new WireError(`${what}: vtable offset ${vtable} out of bounds`);
    const vtable_bytes = v.getUint16(vtable, true);
    const table_bytes = v.getUint16(vtable + 2, true);
    if (vtable_bytes < 4 || vtable_bytes % 2 !== 0 || vtable + vtable_bytes > this.length) {
      throw new WireError(`${what}: vtable of ${vtable_bytes} bytes at ${vtable} out of bounds`);
    }
    if (table_bytes < 4 || pos + table_bytes > this.length) throw new WireError(`${what}: table of ${table_bytes} bytes at ${pos} out of bounds`);
    return pos;
  }

  /** Absolute position of field `id` (of `size` bytes) in a checked table, or 0 when absent. */
  field(table: number, id: number, size: number, what: string): number {
    const v = this.view;
    const vtable = table - v.getInt32(table, true);
    const slot = 4 + 2 * id;
    if (slot + 2 > v.getUint16(vtable, true)) return 0;
    const offset = v.getUint16(vtable + slot, true);
    if (offset === 0) return 0;
    if (offset < 4 || offset + size > v.getUint16(vtable + 2, true)) throw new WireError(`${what}: field outside its table`);
    return table + offset;
  }

  required_field(table: number, id: number, size: number, what: string): number {
    const pos = this.field(table, id, size, what);
    if (pos === 0) throw new WireError(`${what}: required field missing`);
    return pos;
  }

  /** Follows the uoffset stored at `pos` (always forward, so no cycles); returns the target. */
  indirect(pos: number, what: string): number {
    const target = pos + this.view.getUint32(pos, true);
    if (target % 4 !== 0 || target + 4 > this.length) throw new WireError(`${what}: offset ${target} outside the ${this.length}-byte message`);
    return target;
  }

  /** Checks the vector referenced at `pos`; returns the position of element 0 and sets vector_length. */
  vector(pos: number, element_bytes: number, align: number, what: string): number {
    const start = this.indirect(pos, what);
    const count = this.view.getUint32(start, true);
    const body = start + 4;
    if (body + count * element_bytes > this.length) throw new WireError(`${what}: ${count} elements overrun the ${this.length}-byte message`);
    if (body % align !== 0) throw new WireError(`${what}: vector misaligned at ${body}`);
    this.vector_length = count;
    return body;
  }

  /** The UTF-8 string referenced at `pos` (must be valid UTF-8 and NUL-terminated). */
  string(pos: number, what: string): string {
    const body = this.vector(pos, 1, 1, what);
    const n = this.vector_length;
    if (body + n >= this.length || this.bytes[body + n] !== 0) throw new WireError(`${what}: string not terminated inside the message`);
    try {
      return utf8_strict.decode(this.bytes.subarray(body, body + n));
    } catch {
      throw new WireError(`${what}: not valid UTF-8`);
    }
  }

  optional_string(table: number, id: number, what: string): string {
    const pos = this.field(table, id, 4, what);
    return pos === 0 ? '' : this.string(pos, what);
  }

  u8(pos: number): number {
    return this.view.getUint8(pos);
  }

  u16(pos: number): number {
    return this.view.getUint16(pos, true);
  }

  u32(pos: number): number {
    return this.view.getUint32(pos, true);
  }

  u64_exact(pos: number, what: string): number {
    const high = this.view.getUint32(pos + 4, true);
    if (high >= exact_high_word_max) throw new WireError(`${what}: value at or above 2^53`);
    return high * two_pow_32 + this.view.getUint32(pos, true);
  }

  i64_exact(pos: number, what: string): number {
    const high = this.view.getInt32(pos + 4, true);
    if (high >= exact_high_word_max || high < -exact_high_word_max) throw new WireError(`${what}: magnitude at or above 2^53`);
    return high * two_pow_32 + this.view.getUint32(pos, true);
  }

  u64_nearest(pos: number): number {
    return this.view.getUint32(pos + 4, true) * two_pow_32 + this.view.getUint32(pos, true);
  }

  /** Scalar table fields: the default (0) when absent. */
  field_u64_exact(table: number, id: number, what: string): number {
    const pos = this.field(table, id, 8, what);
    return pos === 0 ? 0 : this.u64_exact(pos, what);
  }

  field_u64_nearest(table: number, id: number, what: string): number {
    const pos = this.field(table, id, 8, what);
    return pos === 0 ? 0 : this.u64_nearest(pos);
  }

  field_u8(table: number, id: number, what: string): number {
    const pos = this.field(table, id, 1, what);
    return pos === 0 ? 0 : this.u8(pos);
  }

  field_u16(table: number, id: number, what: string): number {
    const pos = this.field(table, id, 2, what);
    return pos === 0 ? 0 : this.u16(pos);
  }
}
