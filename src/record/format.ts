// The recording file format (docs/RECORDING.md is its specification; change
// one, change both). Pure byte layout: no I/O here, so the writer, the reader
// and the tests share one definition.
//
//   segment file  <dir>/seg-<start ms, 13 digits>-<n, 6 digits>.dcrec
//     header      16 bytes: magic "DCRECSEG", u32 version (1), u32 header bytes (16)
//     records     appended one after another, never rewritten:
//       u32 body_bytes   length of the body that follows the 8-byte prefix
//       u32 crc32        zlib CRC-32 of the body
//       body: u32 recv_ns_lo, u32 recv_ns_hi, u16 subject_bytes, subject (UTF-8), payload
//   index file    <segment>.idx: header "DCRECIDX" + version + 16, then 16-byte
//                 entries (u64 recv time ns, u64 offset of a record in the segment)
//
// All integers little-endian. A record whose prefix or body is cut short, whose
// CRC does not match, or whose lengths are absurd is a torn tail: a reader
// stops there, and everything before it is intact (records are only appended).
// Cost: encoding copies the payload once into the output; decoding is views
// into the read buffer plus one subject string.

import { crc32 } from 'node:zlib';

export const segment_magic = 'DCRECSEG';
export const index_magic = 'DCRECIDX';
export const format_version = 1;
export const header_bytes = 16;
export const record_prefix_bytes = 8;
/** recv time (8) + subject length (2). */
const body_fixed_bytes = 10;
export const index_entry_bytes = 16;
/** A body longer than this is corruption, not a record (bus payloads are at most a few MiB). */
export const record_body_bytes_max = 64 * 1024 * 1024;
export const subject_bytes_max = 1024;
export const segment_suffix = '.dcrec';
export const index_suffix = '.idx';

const two_32 = 4294967296;
const utf8 = new TextEncoder();
const utf8_decoder = new TextDecoder('utf-8', { fatal: true });

export function encode_header(magic: string): Uint8Array {
  const out = new Uint8Array(header_bytes);
  out.set(utf8.encode(magic), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, format_version, true);
  view.setUint32(12, header_bytes, true);
  return out;
}

/** Undefined when `bytes` starts with a valid header of `magic`; else why not. */
export function header_problem(bytes: Uint8Array, magic: string): string | undefined {
  if (bytes.byteLength < header_bytes) return `shorter than its ${header_bytes}-byte header`;
  if (utf8_decoder.decode(bytes.subarray(0, 8)) !== magic) return `not a depthcast recording file (magic is not ${magic})`;
  const view = new DataView(bytes.buffer, bytes.byteOffset, header_bytes);
  const version = view.getUint32(8, true);
  if (version !== format_version) return `format version ${version}; this depthcast reads version ${format_version}`;
  if (view.getUint32(12, true) !== header_bytes) return 'unexpected header size';
  return undefined;
}

/** The bytes of one record (prefix + body). */
export function encode_record(subject: string, payload: Uint8Array, recv_ns: number): Uint8Array {
  const subject_utf8 = utf8.encode(subject);
  if (subject_utf8.byteLength > subject_bytes_max) throw new Error(`subject longer than ${subject_bytes_max} bytes`);
  const body_bytes = body_fixed_bytes + subject_utf8.byteLength + payload.byteLength;
  if (body_bytes > record_body_bytes_max) throw new Error(`record of ${body_bytes} bytes is over ${record_body_bytes_max}`);
  const out = new Uint8Array(record_prefix_bytes + body_bytes);
  const view = new DataView(out.buffer);
  const ns = Math.floor(recv_ns);
  const lo = ns % two_32;
  view.setUint32(8, lo, true);
  view.setUint32(12, (ns - lo) / two_32, true);
  view.setUint16(16, subject_utf8.byteLength, true);
  out.set(subject_utf8, 18);
  out.set(payload, 18 + subject_utf8.byteLength);
  view.setUint32(0, body_bytes, true);
  view.setUint32(4, crc32(out.subarray(record_prefix_bytes)), true);
  return out;
}

export interface DecodedRecord {
  subject: string;
  /** A view into the scanned buffer: copy it to keep it past the next read. */
  payload: Uint8Array;
  recv_ns: number;
  /** Bytes of the whole record (prefix + body). */
  bytes: number;
}

/** What decode_record found at a position. */
export type DecodeOutcome =
  | { kind: 'record'; record: DecodedRecord }
  /** The buffer ends inside the record: read more, or (at the end of the file) a torn tail. */
  | { kind: 'short'; needed_bytes: number }
  | { kind: 'torn'; reason: string };

/** Decodes the record at `at` in `buf`; never throws. */
export function decode_record(buf: Uint8Array, at: number): DecodeOutcome {
  const available = buf.byteLength - at;
  if (available < record_prefix_bytes) return { kind: 'short', needed_bytes: record_prefix_bytes };
  const view = new DataView(buf.buffer, buf.byteOffset + at, available);
  const body_bytes = view.getUint32(0, true);
  if (body_bytes < body_fixed_bytes || body_bytes > record_body_bytes_max) return { kind: 'torn', reason: `record length ${body_bytes} out of range` };
  const total = record_prefix_bytes + body_bytes;
  if (available < total) return { kind: 'short', needed_bytes: total };
  const body = buf.subarray(at + record_prefix_bytes, at + total);
  if (crc32(body) !== view.getUint32(4, true)) return { kind: 'torn', reason: 'CRC mismatch' };
  const recv_ns = view.getUint32(12, true) * two_32 + view.getUint32(8, true);
  const subject_bytes = view.getUint16(16, true);
  if (body_fixed_bytes + subject_bytes > body_bytes) return { kind: 'torn', reason: 'subject longer than its record' };
  let subject: string;
  try {
    subject = utf8_decoder.decode(body.subarray(body_fixed_bytes, body_fixed_bytes + subject_bytes));
  } catch {
    return { kind: 'torn', reason: 'subject is not UTF-8' };
  }
  return { kind: 'record', record: { subject, payload: body.subarray(body_fixed_bytes + subject_bytes), recv_ns, bytes: total } };
}

export function encode_index_entry(recv_ns: number, offset: number): Uint8Array {
  const out = new Uint8Array(index_entry_bytes);
  const view = new DataView(out.buffer);
  const ns = Math.floor(recv_ns);
  view.setUint32(0, ns % two_32, true);
  view.setUint32(4, Math.floor(ns / two_32), true);
  view.setUint32(8, offset % two_32, true);
  view.setUint32(12, Math.floor(offset / two_32), true);
  return out;
}

export interface IndexEntry { recv_ns: number; offset: number }

/** The whole entries of an index file's bytes (a torn last entry is left out). */
export function decode_index(bytes: Uint8Array): IndexEntry[] {
  if (header_problem(bytes, index_magic) !== undefined) return [];
  const out: IndexEntry[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = header_bytes; at + index_entry_bytes <= bytes.byteLength; at += index_entry_bytes) {
    out.push({
      recv_ns: view.getUint32(at + 4, true) * two_32 + view.getUint32(at, true),
      offset: view.getUint32(at + 12, true) * two_32 + view.getUint32(at + 8, true),
    });
  }
  return out;
}

/** Segment file name for a segment started at `start_ms`, the `n`th of this recorder. */
export function segment_name(start_ms: number, n: number): string {
  return `seg-${String(Math.floor(start_ms)).padStart(13, '0')}-${String(n).padStart(6, '0')}${segment_suffix}`;
}

const segment_name_re = /^seg-(\d{13})-(\d{6})\.dcrec$/;

/** The start time (ms) in a segment file name, or undefined for another file. */
export function segment_start_ms(name: string): number | undefined {
  const m = segment_name_re.exec(name);
  return m === null ? undefined : Number(m[1]);
}
