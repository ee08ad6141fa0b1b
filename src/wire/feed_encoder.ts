// Encoder of the client protocol (schemas/feed.fbs): one binary Frame per
// WebSocket message, its body a union. Both directions: the feed encodes
// server frames, the SDK (and tests, loadgen) client frames.
//
// API:
//   const enc = new FrameEncoder()      one reusable flatbuffers Builder; every method
//                                       returns a fresh COPY of the frame's bytes
//   server → client: enc.snapshot(m), enc.delta(m), enc.heartbeat(m), enc.status(m),
//                    enc.error(m), enc.pong(m)
//                    enc.refreshed(m)
//   client → server: enc.subscribe(m), enc.unsubscribe(m), enc.resync(m), enc.ping(m), enc.ack(m), enc.refresh(m)
//   enc.server(msg: ServerMsg), enc.client(msg: ClientMsg)   dispatch on msg.type
//
// `m` is the message of src/wire/feed_types.ts, `type` optional; the level and
// trade arrays may be longer than what is sent, with `bid_count`, `ask_count`,
// `trade_count` saying how many (reusable arrays from BookView).
//
// Cost per frame: the builder is cleared and reused (it grows once to the
// largest frame and stays), each symbol is UTF-8 encoded once and kept
// (symbol_cache_entries_max), int64 fields are written from numbers as two
// 32-bit halves (no BigInt); the one allocation is the copy returned, which
// the caller may keep (the builder's view is overwritten by the next frame).
// Server messages are trusted: no per-level checks on the hot path. Client
// messages are checked against the limits the decoder enforces (WireError
// bad_request), so an SDK never sends what the server would refuse.

import * as flatbuffers from 'flatbuffers';
import { error_code } from './codes.js';
import {
  error_message_bytes_max, resume_names, symbol_bytes_max, symbol_state_names, symbols_per_message_max,
  type AckMsg, type ClientMsg, type DeltaMsg, type ErrorMsg, type HeartbeatMsg, type PingMsg, type PongMsg,
  type ResyncMsg, type ServerMsg, type SnapshotMsg, type StatusMsg, type SubscribeMsg,
  type TradeAggregateRec, type TradeRec, type UnsubscribeMsg, type RefreshMsg, type RefreshedMsg, token_bytes_max,
} from './feed_types.js';
import {
  ack_slot, refresh_slot, refreshed_slot, aggregate_slot, delta_slot, error_slot, frame_slot, heartbeat_slot, ping_slot, pong_slot, resync_slot, snapshot_slot,
  status_slot, subscribe_slot, symbol_cache_entries_max, symbol_status_slot, trade_bytes, unsubscribe_slot,
} from './feed_slots.js';
import { add_i64, levels_vector, write_i64 } from './flatbuffer_write.js';
import { Body } from './generated/depthcast/feed/body.js';
import { WireError } from './wire_error.js';

type Fields<T> = Omit<T, 'type'>;
export type SnapshotFields = Fields<SnapshotMsg> & { bid_count?: number; ask_count?: number; trade_count?: number };
export type DeltaFields = Fields<DeltaMsg> & { bid_count?: number; ask_count?: number; trade_count?: number };

/** A view's group on the wire: absent (0) and 1 both mean ungrouped, written as absent. */
function wire_group(group: number | undefined): number {
  return group === undefined || group <= 1 ? 0 : group;
}

const u16_max = 0xffff;
const u32_max = 0xffffffff;

const utf8_encoder = new TextEncoder();

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
    b.startObject(19);
    if (m.missing_trades !== undefined) {
      add_i64(b, snapshot_slot.missing_last_trade_id, m.missing_trades.last_trade_id);
      add_i64(b, snapshot_slot.missing_first_trade_id, m.missing_trades.first_trade_id);
    }
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
    b.startObject(18);
    if (m.missing_trades !== undefined) {
      add_i64(b, delta_slot.missing_last_trade_id, m.missing_trades.last_trade_id);
      add_i64(b, delta_slot.missing_first_trade_id, m.missing_trades.first_trade_id);
    }
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

  refresh(m: Fields<RefreshMsg>): Uint8Array {
    const bytes = utf8_encoder.encode(m.token);
    if (bytes.byteLength === 0 || bytes.byteLength > token_bytes_max) throw new WireError(`token must be 1..${token_bytes_max} bytes`, error_code.bad_request);
    const b = this.begin();
    const token = b.createString(bytes);
    b.startObject(1);
    b.addFieldOffset(refresh_slot.token, token, 0);
    return this.finish(Body.Refresh, b.endObject());
  }

  refreshed(m: Fields<RefreshedMsg>): Uint8Array {
    check_uint('expires_at_ms', m.expires_at_ms, Number.MAX_SAFE_INTEGER);
    const b = this.begin();
    b.startObject(1);
    add_i64(b, refreshed_slot.expires_at_ms, m.expires_at_ms);
    return this.finish(Body.Refreshed, b.endObject());
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
      case 'refreshed': return this.refreshed(m);
    }
  }

  client(m: ClientMsg): Uint8Array {
    switch (m.type) {
      case 'subscribe': return this.subscribe(m);
      case 'unsubscribe': return this.unsubscribe(m);
      case 'resync': return this.resync(m);
      case 'ping': return this.ping(m);
      case 'ack': return this.ack(m);
      case 'refresh': return this.refresh(m);
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
