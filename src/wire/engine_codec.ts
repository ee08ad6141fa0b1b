// The engine's wire format (schemas/engine_events.fbs): the only module that
// touches engine FlatBuffers. Hot path: EventBatchEncoder / EventBatchReader
// move BookEvents as plain numbers, never bigint, with no allocation per event.
//
// int64 fields travel as two 32-bit halves. Ids, seq, prices and sizes must be
// below 2^53 (the reader refuses larger ones, so they are exact as numbers);
// timestamps (ns since 1970, about 2^60) are read as the nearest double, which
// keeps ~256 ns granularity at today's dates.
import * as flatbuffers from 'flatbuffers';
import {
  BookSnapshot as FbBookSnapshot, EngineError as FbEngineError, EngineReply as FbEngineReply,
  EngineReplyBody, Instrument as FbInstrument, InstrumentList as FbInstrumentList,
} from './generated/engine_events_generated.js';
// The generated index leaves out tables only reachable from another root type.
import { EventBatch as FbEventBatch } from './generated/depthcast/engine/event-batch.js';
import type { BookEvent, EventKind, Instrument, L2Level, L2Snapshot, Side } from '../book/types.js';
import { error_code } from './codes.js';
import { count_unlimited, FlatbufferReader, guarded_call, TableRef } from './flatbuffer_reader.js';
import { levels_vector } from './flatbuffer_write.js';
import { WireError } from './wire_error.js';

export { WireError } from './wire_error.js';

/** EngineError.code values (engine replies; the feed maps them to its own client codes). */
export const engine_error_code = {
  bad_request: 1,     // malformed request (body where none is expected, invalid symbol token)
  unknown_symbol: 2,  // a valid symbol this engine does not run
  internal: 3,        // the engine failed to answer; retry later
} as const;

/** Size of one BookEvent struct on the wire. */
export const book_event_bytes = 72;
const words_per_event = book_event_bytes / 4;
const two_pow_32 = 4294967296;

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  // The encoder stages events in a Uint32Array in wire (little-endian) order.
  throw new Error('depthcast wire codec needs a little-endian host');
}

/**
 * Upper bound of the encoded size of an EventBatch with `events` events and a
 * symbol of `symbol_utf8_bytes` bytes (root offset, table, vtable, string,
 * vector and alignment padding included). Checked against real output in tests.
 */
export function event_batch_bytes_max(symbol_utf8_bytes: number, events: number): number {
  return 96 + symbol_utf8_bytes + book_event_bytes * events;
}

/**
 * Builds EventBatch messages. Events are staged in wire layout as they come
 * (add), then copied into one reused flatbuffers Builder at finish. A batch can
 * be finished short (finish(ts, n) with n < count): the remaining events stay
 * staged and start the next batch, which lets the publisher cut at an
 * engine-event boundary after the fact.
 */
export class EventBatchEncoder {
  private readonly builder = new flatbuffers.Builder(64 * 1024);
  private words: Uint32Array;
  private symbol = '';
  private epoch = 0;
  private seq_first = 0;
  /** Events staged for the current batch. */
  count = 0;

  constructor(initial_events = 512) {
    this.words = new Uint32Array(Math.max(1, initial_events) * words_per_event);
  }

  begin(symbol: string, epoch: number): void {
    this.symbol = symbol;
    this.epoch = epoch;
    this.count = 0;
  }

  /** Stages one event. Seq must continue the staged ones (events[i].seq == seq_first + i). */
  add(ev: Readonly<BookEvent>): void {
    if (this.count === 0) {
      this.seq_first = ev.seq;
    } else if (ev.seq !== this.seq_first + this.count) {
      throw new Error(`EventBatchEncoder: seq ${ev.seq} does not follow ${this.seq_first + this.count - 1}`);
    }
    if ((this.count + 1) * words_per_event > this.words.length) {
      const grown = new Uint32Array(this.words.length * 2);
      grown.set(this.words);
      this.words = grown;
    }
    const w = this.words;
    const base = this.count * words_per_event;
    put_64(w, base, ev.seq);
    put_64(w, base + 2, Math.floor(ev.ts_engine_ns));
    put_64(w, base + 4, ev.order_id);
    put_64(w, base + 6, ev.taker_order_id);
    put_64(w, base + 8, ev.trade_id);
    put_64(w, base + 10, ev.price);
    put_64(w, base + 12, ev.qty);
    put_64(w, base + 14, ev.remaining);
    w[base + 16] = ev.kind | (ev.side << 8) | (ev.aggressor << 16) | (ev.flags << 24);
    w[base + 17] = 0;
    this.count++;
  }

  /**
   * Encodes the first `events` staged events (default: all) as one EventBatch
   * and returns a copy of the bytes (safe to keep after the next batch).
   */
  finish(ts_publish_ns: number, events: number = this.count): Uint8Array {
    if (events < 1 || events > this.count) throw new Error(`EventBatchEncoder.finish: ${events} of ${this.count} staged events`);
    const b = this.builder;
    b.clear();
    const symbol_offset = b.createString(this.symbol);
    // The builder writes back to front: push the staged words last-first so
    // they land in order, as one contiguous vector of structs.
    b.startVector(book_event_bytes, events, 8);
    const w = this.words;
    for (let k = events * words_per_event - 1; k >= 0; k--) b.writeInt32(w[k]);
    const events_offset = b.endVector();
    FbEventBatch.startEventBatch(b);
    FbEventBatch.addSymbol(b, symbol_offset);
    FbEventBatch.addEpoch(b, BigInt(this.epoch));
    FbEventBatch.addSeqFirst(b, BigInt(this.seq_first));
    FbEventBatch.addTsPublishNs(b, BigInt(Math.floor(ts_publish_ns)));
    FbEventBatch.addEvents(b, events_offset);
    b.finish(FbEventBatch.endEventBatch(b));
    const out = b.asUint8Array().slice();
    if (events < this.count) w.copyWithin(0, events * words_per_event, this.count * words_per_event);
    this.count -= events;
    this.seq_first += events;
    return out;
  }
}

/**
 * An engine heartbeat: an EventBatch with no events whose seq_first is the
 * symbol's next seq. It says "nothing happened up to seq_first - 1", so a
 * consumer that missed the last batch of a quiet market sees the gap at once,
 * and a consumer that hears nothing at all knows the engine is gone.
 */
export function encode_heartbeat_batch(symbol: string, epoch: number, next_seq: number, ts_publish_ns: number): Uint8Array {
  const b = new flatbuffers.Builder(128);
  const symbol_offset = b.createString(symbol);
  b.startVector(book_event_bytes, 0, 8);
  const events_offset = b.endVector();
  FbEventBatch.startEventBatch(b);
  FbEventBatch.addSymbol(b, symbol_offset);
  FbEventBatch.addEpoch(b, BigInt(epoch));
  FbEventBatch.addSeqFirst(b, BigInt(next_seq));
  FbEventBatch.addTsPublishNs(b, BigInt(Math.floor(ts_publish_ns)));
  FbEventBatch.addEvents(b, events_offset);
  b.finish(FbEventBatch.endEventBatch(b));
  return b.asUint8Array().slice();
}

/** Little-endian 64-bit two's complement of an integral number, as two words. */
function put_64(w: Uint32Array, at: number, value: number): void {
  const low = value >>> 0; // exact: ToUint32 is the integer modulo 2^32
  w[at] = low;
  w[at + 1] = (value - low) / two_pow_32; // negative highs wrap to two's complement on store
}

/**
 * Reads one EventBatch. read() checks the whole message (bounds, required
 * fields, seq contiguity, enum ranges, ids below 2^53) and throws WireError;
 * after that event(i, out) reads struct fields in place into a reused object.
 */
export class EventBatchReader {
  private readonly reader = new FlatbufferReader();
  private readonly batch_table = new TableRef();
  private events_at = 0;
  symbol = '';
  epoch = 0;
  seq_first = 0;
  ts_publish_ns = 0;
  count = 0;

  read(bytes: Uint8Array): void {
    this.count = 0;
    guarded_call(this, this.read_checked, bytes);
  }

  private read_checked(bytes: Uint8Array): void {
    const r = this.reader;
    r.reset(bytes);
    const table = r.table(this.batch_table, r.root('EventBatch'), 'EventBatch');
    this.symbol = r.required_string(table, 0, count_unlimited, 'EventBatch.symbol');
    this.epoch = r.u64_exact(table, 1, 'EventBatch.epoch');
    this.seq_first = r.u64_exact(table, 2, 'EventBatch.seq_first');
    this.ts_publish_ns = r.u64_time(table, 3);
    const events = r.target(table, 4, 'EventBatch.events');
    if (events === 0) r.fail('EventBatch.events is required');
    const count = r.vector(events, book_event_bytes, count_unlimited, 'EventBatch.events', error_code.bad_frame, 8);
    // count 0 is an engine heartbeat (encode_heartbeat_batch).
    if (this.seq_first < 1) throw new WireError('EventBatch: seq_first must be at least 1');
    const at = events + 4;
    const b = r.bytes;
    for (let i = 0; i < count; i++) {
      const p = at + i * book_event_bytes;
      if (r.u64_exact_at(p, 'BookEvent.seq') !== this.seq_first + i) {
        throw new WireError(`EventBatch: events[${i}].seq is not seq_first + ${i}`);
      }
      r.u64_exact_at(p + 16, 'BookEvent.order_id');
      r.u64_exact_at(p + 24, 'BookEvent.taker_order_id');
      r.u64_exact_at(p + 32, 'BookEvent.trade_id');
      r.i64_exact_at(p + 40, 'BookEvent.price');
      r.i64_exact_at(p + 48, 'BookEvent.qty');
      r.i64_exact_at(p + 56, 'BookEvent.remaining');
      if (b[p + 64] > 2 || b[p + 65] > 1 || b[p + 66] > 1) throw new WireError(`EventBatch: events[${i}] has an unknown kind or side`);
    }
    this.events_at = at;
    this.count = count;
  }

  /** Event i of the last read() batch, written into `out` (no allocation). */
  event(i: number, out: BookEvent): BookEvent {
    if (i < 0 || i >= this.count) throw new RangeError(`event ${i} of ${this.count}`);
    const v = this.reader.view;
    const p = this.events_at + i * book_event_bytes;
    out.seq = this.seq_first + i;
    out.ts_engine_ns = v.getUint32(p + 12, true) * two_pow_32 + v.getUint32(p + 8, true);
    out.order_id = v.getUint32(p + 20, true) * two_pow_32 + v.getUint32(p + 16, true);
    out.taker_order_id = v.getUint32(p + 28, true) * two_pow_32 + v.getUint32(p + 24, true);
    out.trade_id = v.getUint32(p + 36, true) * two_pow_32 + v.getUint32(p + 32, true);
    out.price = v.getInt32(p + 44, true) * two_pow_32 + v.getUint32(p + 40, true);
    out.qty = v.getInt32(p + 52, true) * two_pow_32 + v.getUint32(p + 48, true);
    out.remaining = v.getInt32(p + 60, true) * two_pow_32 + v.getUint32(p + 56, true);
    out.kind = v.getUint8(p + 64) as EventKind;
    out.side = v.getUint8(p + 65) as Side;
    out.aggressor = v.getUint8(p + 66) as Side;
    out.flags = v.getUint8(p + 67);
    return out;
  }
}

// ---- Replies (snapshot, instruments, errors): not hot, one builder reused.

const reply_builder = new flatbuffers.Builder(64 * 1024);

function build_instrument(b: flatbuffers.Builder, inst: Instrument): flatbuffers.Offset {
  const symbol = b.createString(inst.symbol);
  const tick = b.createString(inst.tick_size);
  const lot = b.createString(inst.lot_size);
  return FbInstrument.createInstrument(b, symbol, tick, lot, inst.price_decimals, inst.size_decimals);
}

function finish_reply(b: flatbuffers.Builder, type: EngineReplyBody, body: flatbuffers.Offset): Uint8Array {
  b.finish(FbEngineReply.createEngineReply(b, type, body));
  return b.asUint8Array().slice();
}

export function encode_snapshot_reply(s: Readonly<L2Snapshot>): Uint8Array {
  const b = reply_builder;
  b.clear();
  const instrument = build_instrument(b, s.instrument);
  const bids = levels_vector(b, s.bids, s.bids.length);
  const asks = levels_vector(b, s.asks, s.asks.length);
  const body = FbBookSnapshot.createBookSnapshot(b, instrument, BigInt(s.epoch), BigInt(s.seq), BigInt(s.last_trade_id),
    BigInt(Math.floor(s.ts_engine_ns)), bids, asks);
  return finish_reply(b, EngineReplyBody.BookSnapshot, body);
}

export function encode_instruments_reply(list: readonly Instrument[], epoch: number): Uint8Array {
  const b = reply_builder;
  b.clear();
  const offsets = list.map((inst) => build_instrument(b, inst));
  const body = FbInstrumentList.createInstrumentList(b, FbInstrumentList.createInstrumentsVector(b, offsets), BigInt(epoch));
  return finish_reply(b, EngineReplyBody.InstrumentList, body);
}

export function encode_engine_error(code: number, message: string): Uint8Array {
  const b = reply_builder;
  b.clear();
  const body = FbEngineError.createEngineError(b, code, b.createString(message));
  return finish_reply(b, EngineReplyBody.EngineError, body);
}

export type EngineReplyDecoded =
  | { kind: 'snapshot'; snapshot: L2Snapshot }
  | { kind: 'instruments'; instruments: Instrument[]; epoch: number }
  | { kind: 'error'; code: number; message: string };

const reply_reader = new FlatbufferReader();
const reply_root = new TableRef();
const reply_body = new TableRef();
/** A table inside the body: the snapshot's instrument, an instrument of the list. */
const reply_inner = new TableRef();

/** Decodes an EngineReply, checking every offset and the book's invariants; throws WireError. */
export function decode_engine_reply(bytes: Uint8Array): EngineReplyDecoded {
  return guarded_call(undefined, decode_reply_checked, bytes);
}

function decode_reply_checked(bytes: Uint8Array): EngineReplyDecoded {
  const r = reply_reader;
  r.reset(bytes);
  const root = r.table(reply_root, r.root('EngineReply'), 'EngineReply');
  const type = r.u8(root, 0);
  const body_field = r.field(root, 1, 4);
  if (type === EngineReplyBody.NONE || body_field === 0) throw new WireError('EngineReply: no body');
  const body = r.table(reply_body, r.follow(body_field, 'EngineReply.body'), 'EngineReply.body');
  switch (type) {
    case EngineReplyBody.BookSnapshot:
      return { kind: 'snapshot', snapshot: decode_snapshot(r, body) };
    case EngineReplyBody.InstrumentList: {
      const list = r.target(body, 0, 'InstrumentList.instruments');
      if (list === 0) r.fail('InstrumentList.instruments is required');
      const n = r.vector(list, 4, count_unlimited, 'InstrumentList.instruments');
      const instruments: Instrument[] = [];
      for (let i = 0; i < n; i++) {
        instruments.push(decode_instrument(r, r.table(reply_inner, r.follow(list + 4 + 4 * i, 'InstrumentList.instruments[]'), 'Instrument')));
      }
      return { kind: 'instruments', instruments, epoch: r.u64_exact(body, 1, 'InstrumentList.epoch') };
    }
    case EngineReplyBody.EngineError:
      return {
        kind: 'error',
        code: r.u16(body, 0),
        message: r.optional_string(body, 1, count_unlimited, 'EngineError.message'),
      };
    default:
      throw new WireError(`EngineReply: unknown body type ${type}`);
  }
}

function decode_instrument(r: FlatbufferReader, table: TableRef): Instrument {
  return {
    symbol: r.required_string(table, 0, count_unlimited, 'Instrument.symbol'),
    tick_size: r.optional_string(table, 1, count_unlimited, 'Instrument.tick_size'),
    lot_size: r.optional_string(table, 2, count_unlimited, 'Instrument.lot_size'),
    price_decimals: r.u8(table, 3),
    size_decimals: r.u8(table, 4),
  };
}

function decode_snapshot(r: FlatbufferReader, body: TableRef): L2Snapshot {
  const instrument_at = r.target(body, 0, 'BookSnapshot.instrument');
  if (instrument_at === 0) r.fail('BookSnapshot.instrument is required');
  const instrument = decode_instrument(r, r.table(reply_inner, instrument_at, 'Instrument'));
  const snapshot: L2Snapshot = {
    instrument,
    epoch: r.u64_exact(body, 1, 'BookSnapshot.epoch'),
    seq: r.u64_exact(body, 2, 'BookSnapshot.seq'),
    last_trade_id: r.u64_exact(body, 3, 'BookSnapshot.last_trade_id'),
    ts_engine_ns: r.u64_time(body, 4),
    bids: checked_levels(r.levels(body, 5, true, 'BookSnapshot.bids', 8), -1, 'BookSnapshot.bids'),
    asks: checked_levels(r.levels(body, 6, true, 'BookSnapshot.asks', 8), 1, 'BookSnapshot.asks'),
  };
  if (snapshot.bids.length > 0 && snapshot.asks.length > 0 && snapshot.bids[0].price >= snapshot.asks[0].price) {
    throw new WireError('BookSnapshot: crossed book (best bid at or above best ask)');
  }
  return snapshot;
}

/** direction: -1 = prices strictly falling (bids), 1 = strictly rising (asks). */
function checked_levels(levels: L2Level[], direction: number, what: string): L2Level[] {
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i];
    if (level.size <= 0 || level.orders === 0) throw new WireError(`${what}[${i}]: empty level`);
    if (i > 0 && (level.price - levels[i - 1].price) * direction <= 0) throw new WireError(`${what}[${i}]: levels out of order`);
  }
  return levels;
}
