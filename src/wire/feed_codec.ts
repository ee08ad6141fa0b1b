// Codec of the client protocol (schemas/feed.fbs): one binary Frame per
// WebSocket message, its body a union.
//
// API:
//   const enc = new FrameEncoder()      one reusable flatbuffers Builder; every method
//                                       returns a fresh COPY of the frame's bytes
//   server → client: enc.snapshot(m), enc.delta(m), enc.heartbeat(m), enc.status(m),
//                    enc.error(m), enc.pong(m)
//   client → server: enc.subscribe(m), enc.unsubscribe(m), enc.resync(m), enc.ping(m), enc.ack(m)
//   enc.server(msg: ServerMsg), enc.client(msg: ClientMsg)   dispatch on msg.type
//   decode_server_frame(bytes): ServerMsg    what a client receives
//   decode_client_frame(bytes): ClientMsg    what the server receives: attacker input
//
// Encoding: `m` is the message of src/wire/feed_types.ts, `type` optional; the
// level and trade arrays may be longer than what is sent, with `bid_count`,
// `ask_count`, `trade_count` saying how many (reusable arrays from BookView).
// Server messages are trusted: no per-level checks on the hot path. Client
// messages are checked against the limits the decoder enforces (WireError).
// int64 fields are written from numbers as two 32-bit halves: no BigInt.
//
// Decoding: FlatbufferReader (flatbuffer_reader.ts) checks every offset before
// following it and every length before allocating; on top of it the decoders
// check strings against their limits, enums and union types, required fields.
// Any failure is a WireError with a code from codes.ts: bad_frame (malformed),
// not_a_client_message (a server body sent by a client), bad_request (over a
// limit named in feed_types.ts).
// Unknown trailing fields (a newer schema) are skipped, as flatbuffers intends.

import * as flatbuffers from 'flatbuffers';
import type { Side } from '../book/types.js';
import { error_code } from './codes.js';
import {
  decimal_string_bytes_max, error_message_bytes_max, resume_names, symbol_bytes_max, symbol_state_names, symbols_per_message_max,
  type AckMsg, type ClientMsg, type DeltaMsg, type ErrorMsg, type HeartbeatMsg, type PingMsg, type PongMsg,
  type ResumeName, type ResyncMsg, type ServerMsg, type SnapshotMsg, type StatusMsg, type SubscribeMsg, type SymbolStatusRec,
  type TradeAggregateRec, type TradeRec, type UnsubscribeMsg,
} from './feed_types.js';
import { count_unlimited, FlatbufferReader, guarded, TableRef } from './flatbuffer_reader.js';
import { add_i64, levels_vector, write_i64 } from './flatbuffer_write.js';
import { Body } from './generated/depthcast/feed/body.js';
import { WireError } from './wire_error.js';

type Fields<T> = Omit<T, 'type'>;
export type SnapshotFields = Fields<SnapshotMsg> & { bid_count?: number; ask_count?: number; trade_count?: number };
export type DeltaFields = Fields<DeltaMsg> & { bid_count?: number; ask_count?: number; trade_count?: number };

// Field slots (declaration order in feed.fbs). The tests cross-check them with
// the flatc-generated readers and builders.
const frame_slot = { body_type: 0, body: 1 } as const;
const snapshot_slot = {
  symbol: 0, depth: 1, epoch: 2, seq: 3, digest: 4, tick_size: 5, lot_size: 6, price_decimals: 7, size_decimals: 8,
  bids: 9, asks: 10, ts_engine_ns: 11, ts_ingest_ns: 12, ts_send_ns: 13, trades: 14, trade_aggregate: 15, group: 16,
} as const;
export const delta_slot = {
  symbol: 0, depth: 1, epoch: 2, seq_first: 3, seq: 4, digest: 5, bids: 6, asks: 7, trades: 8, trade_aggregate: 9,
  updates_merged: 10, conflated: 11, ts_engine_ns: 12, ts_ingest_ns: 13, ts_send_ns: 14, group: 15,
} as const;
const aggregate_slot = { count: 0, first_trade_id: 1, last_trade_id: 2, volume: 3, vwap: 4, high: 5, low: 6, last: 7, buy_volume: 8 } as const;
const subscribe_slot = { symbols: 0, depth: 1, interval_ms: 2, resume_epochs: 3, resume_seqs: 4, group: 5 } as const;
const unsubscribe_slot = { symbols: 0, depth: 1, group: 2 } as const;
const resync_slot = { symbol: 0, depth: 1, group: 2 } as const;

/** A view's group on the wire: absent (0) and 1 both mean ungrouped, written as absent. */
function wire_group(group: number | undefined): number {
  return group === undefined || group <= 1 ? 0 : group;
}

/** The group field of a decoded message: present only for a grouped view (> 1), so ungrouped messages read as before. */
function read_group(r: FlatbufferReader, t: TableRef, slot: number): { group?: number } {
  const g = r.u32(t, slot);
  return g > 1 ? { group: g } : {};
}
const ping_slot = { nonce: 0, client_time_ns: 1 } as const;
const ack_slot = { bytes_processed: 0 } as const;
const heartbeat_slot = { server_time_ns: 0 } as const;
const symbol_status_slot = { symbol: 0, state: 1, epoch: 2, seq: 3, engine_silent: 4, resume: 5, resume_depth: 6, resume_group: 7 } as const;
const status_slot = { symbols: 0 } as const;
const error_slot = { code: 0, message: 1, symbol: 2 } as const;
const pong_slot = { nonce: 0, client_time_ns: 1, server_time_ns: 2 } as const;

export const trade_bytes = 40; // struct Trade { trade_id, price, size, ts_engine_ns: 8 each; aggressor: ubyte; pad 7 }
const u16_max = 0xffff;
const u32_max = 0xffffffff;
/** Symbols kept encoded (FrameEncoder) or interned (DeltaReader) at most; past it the cache starts over. */
export const symbol_cache_entries_max = 4096;

const utf8_encoder = new TextEncoder();

// ───────────────────────────── encoding ─────────────────────────────

export class FrameEncoder {
  private readonly b = new flatbuffers.Builder(4096);
  // Symbols recur in every frame: encode each to UTF-8 once.
  private readonly symbol_bytes = new Map<string, Uint8Array>();

  snapshot(m: SnapshotFields): Uint8Array {
    const b = this.begin();
    const symbol = this.symbol(m.symbol);
    const tick_size = b.createString(m.tick_size);
    const lot_size = b.createString(m.lot_size);
    const bids = levels_vector(b, m.bids, m.bid_count ?? m.bids.length);
    const asks = levels_vector(b, m.asks, m.ask_count ?? m.asks.length);
    const trade_count = m.trade_count ?? m.trades?.length ?? 0;
    const trades = trade_count > 0 ? trades_vector(b, m.trades!, trade_count) : 0;
    const aggregate = m.trade_aggregate ? aggregate_table(b, m.trade_aggregate) : 0;
    b.startObject(17);
    add_i64(b, snapshot_slot.ts_send_ns, m.ts_send_ns);
    add_i64(b, snapshot_slot.ts_ingest_ns, m.ts_ingest_ns);
    add_i64(b, snapshot_slot.ts_engine_ns, m.ts_engine_ns);
    add_i64(b, snapshot_slot.seq, m.seq);
    add_i64(b, snapshot_slot.epoch, m.epoch);
    b.addFieldOffset(snapshot_slot.symbol, symbol, 0);
    b.addFieldOffset(snapshot_slot.tick_size, tick_size, 0);
    b.addFieldOffset(snapshot_slot.lot_size, lot_size, 0);
    b.addFieldOffset(snapshot_slot.bids, bids, 0);
    b.addFieldOffset(snapshot_slot.asks, asks, 0);
    if (trades) b.addFieldOffset(snapshot_slot.trades, trades, 0);
    if (aggregate) b.addFieldOffset(snapshot_slot.trade_aggregate, aggregate, 0);
    b.addFieldInt32(snapshot_slot.digest, m.digest, 0);
    b.addFieldInt32(snapshot_slot.group, wire_group(m.group), 0);
    b.addFieldInt16(snapshot_slot.depth, m.depth, 0);
    b.addFieldInt8(snapshot_slot.price_decimals, m.price_decimals, 0);
    b.addFieldInt8(snapshot_slot.size_decimals, m.size_decimals, 0);
    return this.finish(Body.Snapshot, b.endObject());
  }

  delta(m: DeltaFields): Uint8Array {
    const b = this.begin();
    const symbol = this.symbol(m.symbol);
    const bid_count = m.bid_count ?? m.bids.length;
    const ask_count = m.ask_count ?? m.asks.length;
    const trade_count = m.trade_count ?? m.trades.length;
    const bids = bid_count > 0 ? levels_vector(b, m.bids, bid_count) : 0;
    const asks = ask_count > 0 ? levels_vector(b, m.asks, ask_count) : 0;
    const trades = trade_count > 0 ? trades_vector(b, m.trades, trade_count) : 0;
    const aggregate = m.trade_aggregate ? aggregate_table(b, m.trade_aggregate) : 0;
    b.startObject(16);
    add_i64(b, delta_slot.ts_send_ns, m.ts_send_ns);
    add_i64(b, delta_slot.ts_ingest_ns, m.ts_ingest_ns);
    add_i64(b, delta_slot.ts_engine_ns, m.ts_engine_ns);
    add_i64(b, delta_slot.seq, m.seq);
    add_i64(b, delta_slot.seq_first, m.seq_first);
    add_i64(b, delta_slot.epoch, m.epoch);
    b.addFieldOffset(delta_slot.symbol, symbol, 0);
    if (bids) b.addFieldOffset(delta_slot.bids, bids, 0);
    if (asks) b.addFieldOffset(delta_slot.asks, asks, 0);
    if (trades) b.addFieldOffset(delta_slot.trades, trades, 0);
    if (aggregate) b.addFieldOffset(delta_slot.trade_aggregate, aggregate, 0);
    b.addFieldInt32(delta_slot.digest, m.digest, 0);
    b.addFieldInt32(delta_slot.updates_merged, m.updates_merged, 0);
    b.addFieldInt32(delta_slot.group, wire_group(m.group), 0);
    b.addFieldInt16(delta_slot.depth, m.depth, 0);
    b.addFieldInt8(delta_slot.conflated, m.conflated ? 1 : 0, 0);
    return this.finish(Body.Delta, b.endObject());
  }

  heartbeat(m: Fields<HeartbeatMsg>): Uint8Array {
    const b = this.begin();
    b.startObject(1);
    add_i64(b, heartbeat_slot.server_time_ns, m.server_time_ns);
    return this.finish(Body.Heartbeat, b.endObject());
  }

  status(m: Fields<StatusMsg>): Uint8Array {
    const b = this.begin();
    const entries: number[] = [];
    for (const s of m.symbols) {
      const symbol = this.symbol(s.symbol);
      b.startObject(8);
      add_i64(b, symbol_status_slot.seq, s.seq);
      add_i64(b, symbol_status_slot.epoch, s.epoch);
      b.addFieldOffset(symbol_status_slot.symbol, symbol, 0);
      b.addFieldInt8(symbol_status_slot.state, symbol_state_names.indexOf(s.state), 0);
      b.addFieldInt8(symbol_status_slot.engine_silent, s.engine_silent === true ? 1 : 0, 0);
      b.addFieldInt16(symbol_status_slot.resume_depth, s.resume_depth ?? 0, 0);
      b.addFieldInt32(symbol_status_slot.resume_group, wire_group(s.resume_group), 0);
      b.addFieldInt8(symbol_status_slot.resume, s.resume === undefined ? 0 : resume_names.indexOf(s.resume), 0);
      entries.push(b.endObject());
    }
    const symbols = offsets_vector(b, entries);
    b.startObject(1);
    b.addFieldOffset(status_slot.symbols, symbols, 0);
    return this.finish(Body.Status, b.endObject());
  }

  error(m: Fields<ErrorMsg>): Uint8Array {
    const b = this.begin();
    const message = b.createString(truncate_utf8(m.message, error_message_bytes_max));
    const symbol = m.symbol ? b.createString(truncate_utf8(m.symbol, symbol_bytes_max)) : 0;
    b.startObject(3);
    b.addFieldOffset(error_slot.message, message, 0);
    if (symbol) b.addFieldOffset(error_slot.symbol, symbol, 0);
    b.addFieldInt16(error_slot.code, m.code, 0);
    return this.finish(Body.Error, b.endObject());
  }

  pong(m: Fields<PongMsg>): Uint8Array {
    const b = this.begin();
    b.startObject(3);
    add_i64(b, pong_slot.server_time_ns, m.server_time_ns);
    add_i64(b, pong_slot.client_time_ns, m.client_time_ns);
    add_i64(b, pong_slot.nonce, m.nonce);
    return this.finish(Body.Pong, b.endObject());
  }

  subscribe(m: Fields<SubscribeMsg>): Uint8Array {
    check_symbols(m.symbols);
    check_uint('depth', m.depth, u16_max);
    check_uint('interval_ms', m.interval_ms, u32_max);
    const resume = m.resume;
    if (resume !== undefined && resume.length !== 0 && resume.length !== m.symbols.length) {
      throw new WireError(`resume has ${resume.length} points for ${m.symbols.length} symbols`, error_code.bad_request);
    }
    const b = this.begin();
    const symbols = this.symbols_vector(m.symbols);
    // Resume points (cold path: a reconnect's subscribes): epoch 0 = none held.
    let epochs = 0;
    let seqs = 0;
    if (resume !== undefined && resume.some((p) => p !== null)) {
      for (const p of resume) if (p !== null) { check_uint('resume epoch', p.epoch, Number.MAX_SAFE_INTEGER); check_uint('resume seq', p.seq, Number.MAX_SAFE_INTEGER); }
      epochs = u64_vector(b, resume.map((p) => p?.epoch ?? 0));
      seqs = u64_vector(b, resume.map((p) => p?.seq ?? 0));
    }
    b.startObject(6);
    if (epochs !== 0) b.addFieldOffset(subscribe_slot.resume_epochs, epochs, 0);
    if (seqs !== 0) b.addFieldOffset(subscribe_slot.resume_seqs, seqs, 0);
    b.addFieldOffset(subscribe_slot.symbols, symbols, 0);
    b.addFieldInt32(subscribe_slot.interval_ms, m.interval_ms, 0);
    b.addFieldInt32(subscribe_slot.group, wire_group(m.group), 0);
    b.addFieldInt16(subscribe_slot.depth, m.depth, 0);
    return this.finish(Body.Subscribe, b.endObject());
  }

  unsubscribe(m: Fields<UnsubscribeMsg>): Uint8Array {
    check_symbols(m.symbols);
    check_uint('depth', m.depth, u16_max);
    const b = this.begin();
    const symbols = this.symbols_vector(m.symbols);
    b.startObject(3);
    b.addFieldOffset(unsubscribe_slot.symbols, symbols, 0);
    b.addFieldInt32(unsubscribe_slot.group, wire_group(m.group), 0);
    b.addFieldInt16(unsubscribe_slot.depth, m.depth, 0);
    return this.finish(Body.Unsubscribe, b.endObject());
  }

  resync(m: Fields<ResyncMsg>): Uint8Array {
    check_symbols([m.symbol]);
    check_uint('depth', m.depth, u16_max);
    const b = this.begin();
    const symbol = this.symbol(m.symbol);
    b.startObject(3);
    b.addFieldOffset(resync_slot.symbol, symbol, 0);
    b.addFieldInt32(resync_slot.group, wire_group(m.group), 0);
    b.addFieldInt16(resync_slot.depth, m.depth, 0);
    return this.finish(Body.Resync, b.endObject());
  }

  ping(m: Fields<PingMsg>): Uint8Array {
    check_uint('nonce', m.nonce, Number.MAX_SAFE_INTEGER);
    const b = this.begin();
    b.startObject(2);
    add_i64(b, ping_slot.client_time_ns, m.client_time_ns);
    add_i64(b, ping_slot.nonce, m.nonce);
    return this.finish(Body.Ping, b.endObject());
  }

  ack(m: Fields<AckMsg>): Uint8Array {
    check_uint('bytes_processed', m.bytes_processed, Number.MAX_SAFE_INTEGER);
    const b = this.begin();
    b.startObject(1);
    add_i64(b, ack_slot.bytes_processed, m.bytes_processed);
    return this.finish(Body.Ack, b.endObject());
  }

  server(m: ServerMsg): Uint8Array {
    switch (m.type) {
      case 'snapshot': return this.snapshot(m);
      case 'delta': return this.delta(m);
      case 'heartbeat': return this.heartbeat(m);
      case 'status': return this.status(m);
      case 'error': return this.error(m);
      case 'pong': return this.pong(m);
    }
  }

  client(m: ClientMsg): Uint8Array {
    switch (m.type) {
      case 'subscribe': return this.subscribe(m);
      case 'unsubscribe': return this.unsubscribe(m);
      case 'resync': return this.resync(m);
      case 'ping': return this.ping(m);
      case 'ack': return this.ack(m);
    }
  }

  private begin(): flatbuffers.Builder {
    this.b.clear();
    return this.b;
  }

  private finish(type: Body, body: number): Uint8Array {
    const b = this.b;
    b.startObject(2);
    b.addFieldOffset(frame_slot.body, body, 0);
    b.addFieldInt8(frame_slot.body_type, type, 0);
    b.finish(b.endObject());
    // asUint8Array() is a view into the builder's buffer, reused by the next frame.
    return b.asUint8Array().slice();
  }

  private symbol(s: string): number {
    let bytes = this.symbol_bytes.get(s);
    if (bytes === undefined) {
      if (this.symbol_bytes.size >= symbol_cache_entries_max) this.symbol_bytes.clear();
      bytes = utf8_encoder.encode(s);
      this.symbol_bytes.set(s, bytes);
    }
    return this.b.createString(bytes);
  }

  private symbols_vector(symbols: readonly string[]): number {
    const offsets = symbols.map((s) => this.symbol(s));
    return offsets_vector(this.b, offsets);
  }
}

function trades_vector(b: flatbuffers.Builder, trades: readonly TradeRec[], count: number): number {
  b.startVector(trade_bytes, count, 8);
  for (let i = count - 1; i >= 0; i--) {
    const t = trades[i];
    b.prep(8, trade_bytes);
    b.pad(7);
    b.writeInt8(t.aggressor);
    write_i64(b, t.ts_engine_ns);
    write_i64(b, t.size);
    write_i64(b, t.price);
    write_i64(b, t.trade_id);
  }
  return b.endVector();
}

function aggregate_table(b: flatbuffers.Builder, a: TradeAggregateRec): number {
  b.startObject(9);
  add_i64(b, aggregate_slot.buy_volume, a.buy_volume);
  add_i64(b, aggregate_slot.last, a.last);
  add_i64(b, aggregate_slot.low, a.low);
  add_i64(b, aggregate_slot.high, a.high);
  b.addFieldFloat64(aggregate_slot.vwap, a.vwap, 0);
  add_i64(b, aggregate_slot.volume, a.volume);
  add_i64(b, aggregate_slot.last_trade_id, a.last_trade_id);
  add_i64(b, aggregate_slot.first_trade_id, a.first_trade_id);
  b.addFieldInt32(aggregate_slot.count, a.count, 0);
  return b.endObject();
}

/** A vector of uint64 (each below 2^53). */
function u64_vector(b: flatbuffers.Builder, values: readonly number[]): number {
  b.startVector(8, values.length, 8);
  for (let i = values.length - 1; i >= 0; i--) b.addInt64(BigInt(values[i]));
  return b.endVector();
}

function offsets_vector(b: flatbuffers.Builder, offsets: readonly number[]): number {
  b.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) b.addOffset(offsets[i]);
  return b.endVector();
}

function check_uint(name: string, x: number, max: number): void {
  if (!Number.isSafeInteger(x) || x < 0 || x > max) throw new WireError(`${name} must be an integer in [0, ${max}], got ${x}`, error_code.bad_request);
}

function check_symbols(symbols: readonly string[]): void {
  if (symbols.length > symbols_per_message_max) {
    throw new WireError(`at most ${symbols_per_message_max} symbols per message, got ${symbols.length}`, error_code.bad_request);
  }
  for (const s of symbols) {
    if (typeof s !== 'string' || utf8_encoder.encode(s).length > symbol_bytes_max) {
      throw new WireError(`symbol must be a string of at most ${symbol_bytes_max} UTF-8 bytes`, error_code.bad_request);
    }
  }
}

function truncate_utf8(s: string, bytes_max: number): string {
  if (s.length * 3 <= bytes_max) return s;
  const bytes = utf8_encoder.encode(s);
  if (bytes.length <= bytes_max) return s;
  let end = bytes_max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // do not cut a character in two
  return new TextDecoder().decode(bytes.subarray(0, end));
}

// ───────────────────────────── decoding ─────────────────────────────

/** The frame being decoded: its root, its body, and one table inside the body (status entry, trade aggregate). */
const reader = new FlatbufferReader();
const frame_table = new TableRef();
const body_table = new TableRef();
const inner_table = new TableRef();

function as_bytes(input: Uint8Array | ArrayBuffer): Uint8Array {
  return input instanceof Uint8Array ? input : new Uint8Array(input);
}

/** Reads the Frame and its union type; positions body_table on the body. */
function open_frame(input: Uint8Array | ArrayBuffer): number {
  reader.reset(as_bytes(input));
  return open_frame_in(reader, frame_table, body_table);
}

/** open_frame on a reader already reset() to the frame, with the caller's tables (delta_reader.ts has its own reader, so decoding here never moves it). */
export function open_frame_in(r: FlatbufferReader, frame_t: TableRef, body_t: TableRef): number {
  const frame = r.table(frame_t, r.root('frame'), 'Frame');
  const type = r.u8(frame, frame_slot.body_type);
  if (type === Body.NONE) r.fail('Frame has no body');
  if (type > Body.Ack) r.fail(`unknown body type ${type}`);
  const body = r.target(frame, frame_slot.body, 'body');
  if (body === 0) r.fail(`${Body[type]} body is missing`);
  r.table(body_t, body, Body[type]);
  return type;
}

/** Decodes a frame a client sent. Throws WireError (bad_frame, not_a_client_message, bad_request). */
export function decode_client_frame(input: Uint8Array | ArrayBuffer): ClientMsg {
  return guarded(() => {
    const type = open_frame(input);
    const r = reader;
    const t = body_table;
    switch (type) {
      case Body.Subscribe:
        return decode_subscribe(t);
      case Body.Unsubscribe:
        return { type: 'unsubscribe', symbols: symbol_list(t, unsubscribe_slot.symbols), depth: r.u16(t, unsubscribe_slot.depth), ...read_group(r, t, unsubscribe_slot.group) };
      case Body.Resync:
        return {
          type: 'resync', symbol: r.required_string(t, resync_slot.symbol, symbol_bytes_max, 'symbol', error_code.bad_request), depth: r.u16(t, resync_slot.depth),
          ...read_group(r, t, resync_slot.group),
        };
      case Body.Ping:
        return { type: 'ping', nonce: r.u64_exact(t, ping_slot.nonce, 'nonce'), client_time_ns: r.u64_time(t, ping_slot.client_time_ns) };
      case Body.Ack:
        return { type: 'ack', bytes_processed: r.u64_exact(t, ack_slot.bytes_processed, 'bytes_processed') };
      default:
        throw new WireError(`a client may not send ${Body[type]}`, error_code.not_a_client_message);
    }
  });
}

function decode_subscribe(t: TableRef): SubscribeMsg {
  const r = reader;
  const symbols = symbol_list(t, subscribe_slot.symbols);
  const msg: SubscribeMsg = {
    type: 'subscribe', symbols, depth: r.u16(t, subscribe_slot.depth), interval_ms: r.u32(t, subscribe_slot.interval_ms),
    ...read_group(r, t, subscribe_slot.group),
  };
  const epochs = u64_list(t, subscribe_slot.resume_epochs, symbols.length, 'resume_epochs');
  const seqs = u64_list(t, subscribe_slot.resume_seqs, symbols.length, 'resume_seqs');
  if (epochs === null && seqs === null) return msg;
  if (epochs === null || seqs === null || epochs.length !== symbols.length || seqs.length !== symbols.length) {
    return r.fail(`resume_epochs and resume_seqs must both be as long as symbols (${symbols.length})`, error_code.bad_request);
  }
  msg.resume = epochs.map((epoch, i) => (epoch === 0 ? null : { epoch, seq: seqs[i] }));
  return msg;
}

/** An optional vector of exact uint64 (below 2^53), at most count_max long; null when absent. */
function u64_list(t: TableRef, slot: number, count_max: number, what: string): number[] | null {
  const r = reader;
  const pos = r.target(t, slot, what);
  if (pos === 0) return null;
  const n = r.vector(pos, 8, count_max, what, error_code.bad_request);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = r.u64_exact_at(pos + 4 + 8 * i, what);
  return out;
}

function symbol_list(t: TableRef, slot: number): string[] {
  const r = reader;
  const pos = r.target(t, slot, 'symbols');
  if (pos === 0) r.fail('symbols is required');
  const n = r.vector(pos, 4, symbols_per_message_max, 'symbols', error_code.bad_request);
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const elem = pos + 4 + 4 * i;
    out[i] = r.string(r.follow(elem, 'symbol'), symbol_bytes_max, 'symbol', error_code.bad_request);
  }
  return out;
}

/** Decodes a frame the server sent. Throws WireError (bad_frame). */
export function decode_server_frame(input: Uint8Array | ArrayBuffer): ServerMsg {
  return guarded(() => {
    const type = open_frame(input);
    const r = reader;
    const t = body_table;
    switch (type) {
      case Body.Snapshot:
        return decode_snapshot(t);
      case Body.Delta:
        return decode_delta(t);
      case Body.Heartbeat:
        return { type: 'heartbeat', server_time_ns: r.u64_time(t, heartbeat_slot.server_time_ns) };
      case Body.Status:
        return decode_status(t);
      case Body.Error:
        return {
          type: 'error',
          code: r.u16(t, error_slot.code),
          message: r.optional_string(t, error_slot.message, error_message_bytes_max, 'message'),
          symbol: r.optional_string(t, error_slot.symbol, symbol_bytes_max, 'symbol'),
        };
      case Body.Pong:
        return { type: 'pong', nonce: r.u64_exact(t, pong_slot.nonce, 'nonce'), client_time_ns: r.u64_time(t, pong_slot.client_time_ns), server_time_ns: r.u64_time(t, pong_slot.server_time_ns) };
      default:
        return r.fail(`${Body[type]} is a client message, not a server frame`);
    }
  });
}

function decode_snapshot(t: TableRef): SnapshotMsg {
  const r = reader;
  return {
    type: 'snapshot',
    symbol: r.required_string(t, snapshot_slot.symbol, symbol_bytes_max, 'symbol'),
    depth: r.u16(t, snapshot_slot.depth),
    epoch: r.u64_exact(t, snapshot_slot.epoch, 'epoch'),
    seq: r.u64_exact(t, snapshot_slot.seq, 'seq'),
    digest: r.u32(t, snapshot_slot.digest),
    tick_size: r.optional_string(t, snapshot_slot.tick_size, decimal_string_bytes_max, 'tick_size'),
    lot_size: r.optional_string(t, snapshot_slot.lot_size, decimal_string_bytes_max, 'lot_size'),
    price_decimals: r.u8(t, snapshot_slot.price_decimals),
    size_decimals: r.u8(t, snapshot_slot.size_decimals),
    bids: r.levels(t, snapshot_slot.bids, true, 'bids'),
    asks: r.levels(t, snapshot_slot.asks, true, 'asks'),
    ts_engine_ns: r.u64_time(t, snapshot_slot.ts_engine_ns),
    ts_ingest_ns: r.u64_time(t, snapshot_slot.ts_ingest_ns),
    ts_send_ns: r.u64_time(t, snapshot_slot.ts_send_ns),
    trades: read_trades(t, snapshot_slot.trades),
    trade_aggregate: decode_aggregate(reader, t, snapshot_slot.trade_aggregate, inner_table),
    ...read_group(r, t, snapshot_slot.group),
  };
}

function decode_delta(t: TableRef): DeltaMsg {
  const r = reader;
  return {
    type: 'delta',
    symbol: r.required_string(t, delta_slot.symbol, symbol_bytes_max, 'symbol'),
    depth: r.u16(t, delta_slot.depth),
    epoch: r.u64_exact(t, delta_slot.epoch, 'epoch'),
    seq_first: r.u64_exact(t, delta_slot.seq_first, 'seq_first'),
    seq: r.u64_exact(t, delta_slot.seq, 'seq'),
    digest: r.u32(t, delta_slot.digest),
    bids: r.levels(t, delta_slot.bids, false, 'bids'),
    asks: r.levels(t, delta_slot.asks, false, 'asks'),
    trades: read_trades(t, delta_slot.trades),
    trade_aggregate: decode_aggregate(reader, t, delta_slot.trade_aggregate, inner_table),
    updates_merged: r.u32(t, delta_slot.updates_merged),
    conflated: r.u8(t, delta_slot.conflated) !== 0,
    ts_engine_ns: r.u64_time(t, delta_slot.ts_engine_ns),
    ts_ingest_ns: r.u64_time(t, delta_slot.ts_ingest_ns),
    ts_send_ns: r.u64_time(t, delta_slot.ts_send_ns),
    ...read_group(r, t, delta_slot.group),
  };
}

/** The optional TradeAggregate at `slot` of t, read with r (its table into `inner`); null when absent. */
export function decode_aggregate(r: FlatbufferReader, t: TableRef, slot: number, inner: TableRef): TradeAggregateRec | null {
  const pos = r.target(t, slot, 'trade_aggregate');
  if (pos === 0) return null;
  const a = r.table(inner, pos, 'TradeAggregate');
  return {
    count: r.u32(a, aggregate_slot.count),
    first_trade_id: r.u64_exact(a, aggregate_slot.first_trade_id, 'first_trade_id'),
    last_trade_id: r.u64_exact(a, aggregate_slot.last_trade_id, 'last_trade_id'),
    volume: r.i64_exact(a, aggregate_slot.volume, 'volume'),
    vwap: r.f64(a, aggregate_slot.vwap),
    high: r.i64_exact(a, aggregate_slot.high, 'high'),
    low: r.i64_exact(a, aggregate_slot.low, 'low'),
    last: r.i64_exact(a, aggregate_slot.last, 'last'),
    buy_volume: r.i64_exact(a, aggregate_slot.buy_volume, 'buy_volume'),
  };
}

function resume_name(code: number): ResumeName {
  if (code >= resume_names.length) reader.fail(`unknown resume outcome ${code}`);
  return resume_names[code];
}

function decode_status(t: TableRef): StatusMsg {
  const r = reader;
  const pos = r.target(t, status_slot.symbols, 'symbols');
  if (pos === 0) r.fail('symbols is required');
  // Each entry is at least a 4-byte offset, so the buffer bounds the count.
  const n = r.vector(pos, 4, count_unlimited, 'symbols');
  const symbols = new Array<SymbolStatusRec>(n);
  for (let i = 0; i < n; i++) {
    const s = r.table(inner_table, r.follow(pos + 4 + 4 * i, 'symbol status'), 'SymbolStatus');
    const state = r.u8(s, symbol_status_slot.state);
    if (state >= symbol_state_names.length) r.fail(`unknown symbol state ${state}`);
    symbols[i] = {
      symbol: r.required_string(s, symbol_status_slot.symbol, symbol_bytes_max, 'symbol'),
      state: symbol_state_names[state],
      epoch: r.u64_exact(s, symbol_status_slot.epoch, 'epoch'),
      seq: r.u64_exact(s, symbol_status_slot.seq, 'seq'),
      engine_silent: r.u8(s, symbol_status_slot.engine_silent) !== 0,
      resume: resume_name(r.u8(s, symbol_status_slot.resume)),
      resume_depth: r.u16(s, symbol_status_slot.resume_depth),
      ...(r.u32(s, symbol_status_slot.resume_group) > 1 ? { resume_group: r.u32(s, symbol_status_slot.resume_group) } : {}),
    };
  }
  return { type: 'status', symbols };
}

function read_trades(t: TableRef, slot: number): TradeRec[] {
  const r = reader;
  const pos = trade_vector(r, t, slot);
  if (pos === 0) return [];
  const n = r.view.getUint32(pos, true);
  const out = new Array<TradeRec>(n);
  for (let i = 0; i < n; i++) out[i] = trade_into(r, pos + 4 + trade_bytes * i, { trade_id: 0, price: 0, size: 0, ts_engine_ns: 0, aggressor: 0 });
  return out;
}

/**
 * Checks the optional vector of Trade structs at `slot` (every id, price and
 * size exact, aggressor a side) without building anything: its position (count
 * at pos, trades from pos + 4, trade_bytes apart), or 0 when absent.
 */
export function trade_vector(r: FlatbufferReader, t: TableRef, slot: number): number {
  const pos = r.target(t, slot, 'trades');
  if (pos === 0) return 0;
  const n = r.vector(pos, trade_bytes, r.length, 'trades');
  const bytes = r.bytes;
  for (let i = 0, p = pos + 4; i < n; i++, p += trade_bytes) {
    if (bytes[p + 32] > 1) r.fail(`trade aggressor ${bytes[p + 32]} is not a side`);
    r.u64_exact_at(p, 'trade_id');
    r.i64_exact_at(p + 8, 'trade price');
    r.i64_exact_at(p + 16, 'trade size');
  }
  return pos;
}

/** The Trade struct at p (checked by trade_vector) written into out. */
export function trade_into(r: FlatbufferReader, p: number, out: TradeRec): TradeRec {
  out.trade_id = r.u64_exact_at(p, 'trade_id');
  out.price = r.i64_exact_at(p + 8, 'trade price');
  out.size = r.i64_exact_at(p + 16, 'trade size');
  out.ts_engine_ns = r.u64_time_at(p + 24);
  out.aggressor = r.bytes[p + 32] as Side;
  return out;
}
