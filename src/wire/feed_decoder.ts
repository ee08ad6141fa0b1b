// Decoders of the client protocol (schemas/feed.fbs): bytes → the messages
// of src/wire/feed_types.ts.
//
// API:
//   decode_server_frame(bytes): ServerMsg    what a client receives
//   decode_client_frame(bytes): ClientMsg    what the server receives: attacker input
//   and the parts delta_reader.ts (the SDK's flyweight Delta reader) shares, so
//   that it refuses exactly the frames these refuse: open_frame_in,
//   decode_aggregate, trade_vector, trade_into.
//
// Checks: FlatbufferReader (flatbuffer_reader.ts) checks every offset before
// following it and every length before allocating; on top of it the decoders
// check strings against their limits, enums and union types, required fields.
// Any failure is a WireError with a code from codes.ts: bad_frame (malformed),
// not_a_client_message (a server body sent by a client), bad_request (over a
// limit named in feed_types.ts). Unknown trailing fields (a newer schema) are
// skipped, as flatbuffers intends.
//
// Cost per frame: one module-level reader and its tables, reused (not
// reentrant); the message is built as plain objects (one per level and trade),
// bounded by the frame's size. Hot client paths read Deltas with DeltaReader
// instead, which builds nothing.

import { side_bid, type Side } from '../book/types.js';
import { error_code } from './codes.js';
import {
  decimal_string_bytes_max, error_message_bytes_max, resume_names, symbol_bytes_max, symbol_state_names, symbols_per_message_max,
  type ClientMsg, type DeltaMsg, type ResumeName, type ServerMsg, type SnapshotMsg, type StatusMsg, type SubscribeMsg, type SymbolStatusRec,
  type TradeAggregateRec, type TradeIdRange, type TradeRec, token_bytes_max,
} from './feed_types.js';
import {
  ack_slot, refresh_slot, refreshed_slot, aggregate_slot, delta_slot, error_slot, frame_slot, heartbeat_slot, ping_slot, pong_slot, resync_slot, snapshot_slot,
  status_slot, subscribe_slot, symbol_status_slot, trade_bytes, unsubscribe_slot,
} from './feed_slots.js';
import { as_wire_error, count_unlimited, FlatbufferReader, TableRef } from './flatbuffer_reader.js';
import { Body } from './generated/depthcast/feed/body.js';
import { WireError } from './wire_error.js';

/** The group field of a decoded message: present only for a grouped view (> 1), so ungrouped messages read as before. */
function read_group(r: FlatbufferReader, t: TableRef, slot: number): { group?: number } {
  const g = r.u32(t, slot);
  return g > 1 ? { group: g } : {};
}

/** The last union member this decoder knows; the schema only appends (docs/PROTOCOL.md §7). */
const body_type_known_max: number = Body.Refreshed;

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
  if (type > body_type_known_max) r.fail(`unknown body type ${type}`);
  const body = r.target(frame, frame_slot.body, 'body');
  if (body === 0) r.fail(`${Body[type]} body is missing`);
  r.table(body_t, body, Body[type]);
  return type;
}

/**
 * Whether bytes that failed to decode are a well-formed Frame of a message
 * type this decoder does not know (a newer protocol's), rather than garbage:
 * the root table and the body table are in bounds and the union type is past
 * the last one known. Only for telling the two apart after a failure (the
 * client's error codes); it checks nothing else.
 */
export function is_unknown_message(input: Uint8Array | ArrayBuffer): boolean {
  try {
    reader.reset(as_bytes(input));
    const frame = reader.table(frame_table, reader.root('frame'), 'Frame');
    const type = reader.u8(frame, frame_slot.body_type);
    if (type <= body_type_known_max) return false;
    const body = reader.target(frame, frame_slot.body, 'body');
    if (body === 0) return false;
    reader.table(body_table, body, 'body'); // throws when out of bounds: garbage
    return true;
  } catch {
    return false;
  }
}

/** Decodes a frame a client sent. Throws WireError (bad_frame, not_a_client_message, bad_request). */
export function decode_client_frame(input: Uint8Array | ArrayBuffer): ClientMsg {
  try {
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
      case Body.Refresh:
        return { type: 'refresh', token: r.required_string(t, refresh_slot.token, token_bytes_max, 'token', error_code.bad_request) };
      default:
        throw new WireError(`a client may not send ${Body[type]}`, error_code.not_a_client_message);
    }
  } catch (e) {
    throw as_wire_error(e);
  }
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
  try {
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
      case Body.Refreshed:
        return { type: 'refreshed', expires_at_ms: r.u64_exact(t, refreshed_slot.expires_at_ms, 'expires_at_ms') };
      default:
        return r.fail(`${Body[type]} is a client message, not a server frame`);
    }
  } catch (e) {
    throw as_wire_error(e);
  }
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
    ...read_missing_trades(r, t, snapshot_slot),
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
    ...read_missing_trades(r, t, delta_slot),
  };
}

/** A Delta's or catch-up Snapshot's missing trade ids (§5.5): present only when the feed lost some, so other frames read as before. */
function read_missing_trades(r: FlatbufferReader, t: TableRef,
  slots: { missing_first_trade_id: number; missing_last_trade_id: number }): { missing_trades?: TradeIdRange } {
  const first = r.u64_exact(t, slots.missing_first_trade_id, 'missing_first_trade_id');
  if (first === 0) return {};
  const last = r.u64_exact(t, slots.missing_last_trade_id, 'missing_last_trade_id');
  if (last < first) r.fail(`missing trades ${first}..${last}: last before first`);
  return { missing_trades: { first_trade_id: first, last_trade_id: last } };
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
  for (let i = 0; i < n; i++) out[i] = trade_into(r, pos + 4 + trade_bytes * i, { trade_id: 0, price: 0, size: 0, ts_engine_ns: 0, aggressor: side_bid });
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
