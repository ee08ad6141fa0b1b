// The engine wire codec: round trips (checked against the flatc-generated
// reader too), batch cutting, bounds, and bad input that must become WireError.
import * as flatbuffers from 'flatbuffers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BookEvent, type L2Snapshot, flag_end_of_engine_event, new_book_event, side_ask, side_bid } from '../../src/book/types.js';
import {
  EventBatchEncoder, EventBatchReader, WireError, book_event_bytes, decode_engine_reply, encode_engine_error,
  encode_instruments_reply, encode_snapshot_reply, engine_error_code, event_batch_bytes_max,
} from '../../src/wire/engine_codec.js';
import { EventBatch } from '../../src/wire/generated/depthcast/engine/event-batch.js';
import { instrument_spec } from '../../src/engine/instruments.js';

const safe = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const signed_safe = fc.integer({ min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });

const event_fields_arb = fc.record({
  ts_engine_ns: fc.oneof(safe, fc.integer({ min: 1_600_000_000, max: 1_900_000_000 }).map((s) => s * 1e9 + 256 * 12345)),
  order_id: safe, taker_order_id: safe, trade_id: safe, price: signed_safe, qty: signed_safe, remaining: signed_safe,
  kind: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>,
  side: fc.constantFrom(side_bid, side_ask),
  aggressor: fc.constantFrom(side_bid, side_ask),
  flags: fc.integer({ min: 0, max: 255 }),
});

function events_from(fields: Omit<BookEvent, 'seq'>[], seq_first: number): BookEvent[] {
  return fields.map((f, i) => ({ ...f, seq: seq_first + i }));
}

function encode(symbol: string, epoch: number, events: BookEvent[], ts_publish_ns = 1.7e18): Uint8Array {
  const encoder = new EventBatchEncoder(2);
  encoder.begin(symbol, epoch);
  for (const e of events) encoder.add(e);
  return encoder.finish(ts_publish_ns);
}

function read_all(bytes: Uint8Array): { reader: EventBatchReader; events: BookEvent[] } {
  const reader = new EventBatchReader();
  reader.read(bytes);
  const events: BookEvent[] = [];
  for (let i = 0; i < reader.count; i++) events.push({ ...reader.event(i, new_book_event()) });
  return { reader, events };
}

describe('EventBatch encoder and reader', () => {
  it('round-trips any events exactly (timestamps to the nearest double), as the generated reader sees them too', () => {
    fc.assert(fc.property(
      fc.array(event_fields_arb, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 2 ** 40 }), safe,
      fc.stringMatching(/^[A-Z0-9][A-Z0-9_-]{0,31}$/),
      (fields, seq_first, epoch, symbol) => {
        const events = events_from(fields, seq_first);
        const bytes = encode(symbol, epoch, events);
        expect(bytes.byteLength).toBeLessThanOrEqual(event_batch_bytes_max(symbol.length, events.length));
        const { reader, events: back } = read_all(bytes);
        expect([reader.symbol, reader.epoch, reader.seq_first, reader.count, reader.ts_publish_ns]).toEqual([symbol, epoch, seq_first, events.length, 1.7e18]);
        expect(back).toEqual(events);
        // Layout cross-check against flatc's own accessors (bigint).
        const generated = EventBatch.getRootAsEventBatch(new flatbuffers.ByteBuffer(bytes));
        expect(generated.symbol()).toBe(symbol);
        expect(generated.eventsLength()).toBe(events.length);
        events.forEach((e, i) => {
          const g = generated.events(i)!;
          expect([g.seq(), g.orderId(), g.price(), g.remaining(), g.kind(), g.side(), g.aggressor(), g.flags()])
            .toEqual([BigInt(e.seq), BigInt(e.order_id), BigInt(e.price), BigInt(e.remaining), e.kind, e.side, e.aggressor, e.flags]);
          expect(Number(g.tsEngineNs())).toBe(e.ts_engine_ns);
        });
      }), { seed: 7, numRuns: 150 });
  });

  it('finishes a prefix and carries the rest into the next batch with the right seq_first', () => {
    const encoder = new EventBatchEncoder(1);
    encoder.begin('BTC-USD', 5);
    const events = Array.from({ length: 7 }, (_, i) => ({ ...new_book_event(), seq: 10 + i, order_id: 100 + i, qty: 1, remaining: 1 }));
    for (const e of events) encoder.add(e);
    const first = read_all(encoder.finish(1, 3));
    expect(encoder.count).toBe(4);
    encoder.add({ ...new_book_event(), seq: 17, order_id: 107 });
    const second = read_all(encoder.finish(2));
    expect(encoder.count).toBe(0);
    expect(first.events.map((e) => e.order_id)).toEqual([100, 101, 102]);
    expect(second.reader.seq_first).toBe(13);
    expect(second.events.map((e) => e.order_id)).toEqual([103, 104, 105, 106, 107]);
  });

  it('refuses to stage a seq that does not continue the batch', () => {
    const encoder = new EventBatchEncoder();
    encoder.begin('X', 1);
    encoder.add({ ...new_book_event(), seq: 1 });
    expect(() => encoder.add({ ...new_book_event(), seq: 3 })).toThrow(/does not follow/);
  });

  const valid = encode('ETH-USD', 3, events_from([
    { ts_engine_ns: 1, order_id: 1, taker_order_id: 0, trade_id: 0, price: 100, qty: 5, remaining: 5, kind: 0, side: side_bid, aggressor: side_bid, flags: 0 },
    { ts_engine_ns: 1, order_id: 2, taker_order_id: 9, trade_id: 1, price: 101, qty: 2, remaining: 0, kind: 2, side: side_ask, aggressor: side_bid, flags: flag_end_of_engine_event },
  ], 41));

  it('throws WireError for every truncation of a valid batch', () => {
    const reader = new EventBatchReader();
    for (let n = 0; n < valid.byteLength; n++) {
      expect(() => reader.read(valid.subarray(0, n)), `truncated to ${n} bytes`).toThrow(WireError);
    }
  });

  it('accepts or refuses (WireError) arbitrary bytes and single-byte corruptions, never anything else', () => {
    const reader = new EventBatchReader();
    const out = new_book_event();
    const check = (bytes: Uint8Array): void => {
      try {
        reader.read(bytes);
        for (let i = 0; i < reader.count; i++) reader.event(i, out);
      } catch (err) {
        expect(err).toBeInstanceOf(WireError);
        expect((err as Error).message).not.toMatch(/internal decoder error/);
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), check), { seed: 11, numRuns: 2000 });
    fc.assert(fc.property(fc.nat({ max: valid.byteLength - 1 }), fc.integer({ min: 1, max: 255 }), (at, xor) => {
      const bytes = valid.slice();
      bytes[at] ^= xor;
      check(bytes);
    }), { seed: 12, numRuns: 2000 });
  });

  it('refuses a batch whose events skip a seq, ids at or above 2^53, and unknown kinds', () => {
    // events[0] is where seq 41 and seq 42 sit one struct apart.
    const events_at = valid.findIndex((b, i) => b === 41 && valid[i + book_event_bytes] === 42 && i % 8 === 0);
    expect(events_at).toBeGreaterThan(0);
    const reader = new EventBatchReader();
    reader.read(valid);
    expect(reader.seq_first).toBe(41);
    const gap = valid.slice();
    gap[events_at + book_event_bytes] = 43; // events[1].seq
    expect(() => reader.read(gap)).toThrow(/seq_first \+ 1/);
    const huge = valid.slice();
    huge[events_at + 16 + 6] = 0x20; // order_id high word = 0x200000 → 2^53
    expect(() => reader.read(huge)).toThrow(/2\^53/);
    const kind = valid.slice();
    kind[events_at + 64] = 3;
    expect(() => reader.read(kind)).toThrow(/unknown kind/);
    expect(() => reader.event(5, new_book_event())).toThrow(RangeError);
  });
});

describe('engine replies', () => {
  const instrument = instrument_spec('BTC-USD').instrument;
  const snapshot: L2Snapshot = {
    instrument, epoch: 1_717_000_000_123, seq: 987_654, last_trade_id: 4321, ts_engine_ns: 1.7e18 + 2048,
    bids: [{ price: 6_500_000, size: 12, orders: 2 }, { price: 6_499_990, size: 2 ** 40, orders: 70_000 }],
    asks: [{ price: 6_500_003, size: 1, orders: 1 }],
  };

  it('round-trips snapshots, instrument lists and errors', () => {
    expect(decode_engine_reply(encode_snapshot_reply(snapshot))).toEqual({ kind: 'snapshot', snapshot });
    const empty = { ...snapshot, bids: [], asks: [] };
    expect(decode_engine_reply(encode_snapshot_reply(empty))).toEqual({ kind: 'snapshot', snapshot: empty });
    const instruments = ['BTC-USD', 'XRP-USD', 'NEW-COIN'].map((s) => instrument_spec(s).instrument);
    expect(decode_engine_reply(encode_instruments_reply(instruments, 77))).toEqual({ kind: 'instruments', instruments, epoch: 77 });
    expect(decode_engine_reply(encode_engine_error(engine_error_code.unknown_symbol, 'unknown symbol \'Ω\'')))
      .toEqual({ kind: 'error', code: engine_error_code.unknown_symbol, message: 'unknown symbol \'Ω\'' });
  });

  it('refuses crossed or unordered books in a snapshot', () => {
    const crossed = { ...snapshot, asks: [{ price: 6_500_000, size: 1, orders: 1 }] };
    expect(() => decode_engine_reply(encode_snapshot_reply(crossed))).toThrow(/crossed/);
    const unordered = { ...snapshot, bids: [...snapshot.bids].reverse() };
    expect(() => decode_engine_reply(encode_snapshot_reply(unordered))).toThrow(/out of order/);
  });

  it('throws only WireError on truncated, corrupted or random replies', () => {
    const bytes = encode_snapshot_reply(snapshot);
    for (let n = 0; n < bytes.byteLength; n++) expect(() => decode_engine_reply(bytes.subarray(0, n))).toThrow(WireError);
    const check = (b: Uint8Array): void => {
      try {
        decode_engine_reply(b);
      } catch (err) {
        expect(err).toBeInstanceOf(WireError);
        expect((err as Error).message).not.toMatch(/internal decoder error/);
      }
    };
    fc.assert(fc.property(fc.nat({ max: bytes.byteLength - 1 }), fc.integer({ min: 1, max: 255 }), (at, xor) => {
      const b = bytes.slice();
      b[at] ^= xor;
      check(b);
    }), { seed: 13, numRuns: 2000 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), check), { seed: 14, numRuns: 1000 });
  });
});
