// FrameEncoder / decoders: every message type round-trips (fast-check), the
// bytes agree with the flatc-generated readers and builders of
// schemas/feed.fbs both ways, and hand-made malformed frames get WireErrors
// with the documented codes.
import * as flatbuffers from 'flatbuffers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { error_code } from '../../src/wire/codes.js';
import { decode_client_frame, decode_server_frame } from '../../src/wire/feed_decoder.js';
import { FrameEncoder } from '../../src/wire/feed_encoder.js';
import {
  resume_names, symbol_bytes_max, symbols_per_message_max, type ClientMsg, type DeltaMsg, type ServerMsg, type SnapshotMsg,
  type TradeAggregateRec, type TradeRec,
} from '../../src/wire/feed_types.js';
import { Ack } from '../../src/wire/generated/depthcast/feed/ack.js';
import { Refresh } from '../../src/wire/generated/depthcast/feed/refresh.js';
import { Refreshed } from '../../src/wire/generated/depthcast/feed/refreshed.js';
import { Body } from '../../src/wire/generated/depthcast/feed/body.js';
import { Delta } from '../../src/wire/generated/depthcast/feed/delta.js';
import { Frame } from '../../src/wire/generated/depthcast/feed/frame.js';
import { Level } from '../../src/wire/generated/depthcast/feed/level.js';
import { Snapshot } from '../../src/wire/generated/depthcast/feed/snapshot.js';
import { Status } from '../../src/wire/generated/depthcast/feed/status.js';
import { Side } from '../../src/wire/generated/depthcast/feed/side.js';
import { Subscribe } from '../../src/wire/generated/depthcast/feed/subscribe.js';
import { SymbolState } from '../../src/wire/generated/depthcast/feed/symbol-state.js';
import { SymbolStatus } from '../../src/wire/generated/depthcast/feed/symbol-status.js';
import { Trade } from '../../src/wire/generated/depthcast/feed/trade.js';
import { TradeAggregate } from '../../src/wire/generated/depthcast/feed/trade-aggregate.js';
import { WireError } from '../../src/wire/wire_error.js';
import { side_ask, type L2Level } from '../../src/book/types.js';

const utf8 = new TextEncoder();
const exact_int = fc.oneof(fc.integer({ min: -1_000_000, max: 1_000_000_000 }), fc.maxSafeInteger(), fc.constantFrom(0, -1, 2 ** 32, 2 ** 32 - 1, 2 ** 53 - 1, -(2 ** 53 - 1)));
const exact_nat = fc.oneof(fc.integer({ min: 0, max: 1_000_000_000 }), fc.maxSafeNat(), fc.constantFrom(0, 2 ** 32, 2 ** 53 - 1));
const time_ns = fc.oneof(fc.constant(0), fc.bigInt({ min: 0n, max: 2n ** 63n }).map(Number), fc.constant(1.7e18 + 512));
const symbol = fc.string({ unit: 'binary', maxLength: 12 }).filter((s) => utf8.encode(s).length <= symbol_bytes_max);
const decimal = fc.stringMatching(/^[0-9]{1,8}(\.[0-9]{1,8})?$/);
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

/** A message of a grouped view half the time: group > 1 (1 is the same as absent, and decodes as absent). */
function with_group<T extends object>(arb: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return arb.chain((m) => fc.option(fc.integer({ min: 2, max: 0xffffffff }), { nil: null }).map((group) => (group === null ? m : { ...m, group })));
}

const level: fc.Arbitrary<L2Level> = fc.record({ price: exact_int, size: exact_int, orders: u32 });
const trade: fc.Arbitrary<TradeRec> = fc.record({ trade_id: exact_nat, price: exact_int, size: exact_int, ts_engine_ns: time_ns, aggressor: fc.constantFrom(0 as const, 1 as const) });
const aggregate: fc.Arbitrary<TradeAggregateRec> = fc.record({
  count: u32, first_trade_id: exact_nat, last_trade_id: exact_nat, volume: exact_int,
  vwap: fc.double({ noNaN: true }).map((x) => (x === 0 ? 0 : x)), high: exact_int, low: exact_int, last: exact_int, buy_volume: exact_int,
});

const snapshot_arb: fc.Arbitrary<SnapshotMsg> = with_group(fc.record({
  type: fc.constant('snapshot' as const), symbol, depth: u16, epoch: exact_nat, seq: exact_nat, digest: u32, tick_size: decimal, lot_size: decimal,
  price_decimals: fc.integer({ min: 0, max: 255 }), size_decimals: fc.integer({ min: 0, max: 255 }),
  bids: fc.array(level, { maxLength: 60 }), asks: fc.array(level, { maxLength: 60 }), ts_engine_ns: time_ns, ts_ingest_ns: time_ns, ts_send_ns: time_ns,
  trades: fc.array(trade, { maxLength: 4 }), trade_aggregate: fc.option(aggregate, { nil: null }),
}));
const delta_arb: fc.Arbitrary<DeltaMsg> = with_group(fc.record({
  type: fc.constant('delta' as const), symbol, depth: u16, epoch: exact_nat, seq_first: exact_nat, seq: exact_nat, digest: u32,
  bids: fc.array(level, { maxLength: 20 }), asks: fc.array(level, { maxLength: 20 }), trades: fc.array(trade, { maxLength: 10 }),
  trade_aggregate: fc.option(aggregate, { nil: null }), updates_merged: u32, conflated: fc.boolean(), ts_engine_ns: time_ns, ts_ingest_ns: time_ns, ts_send_ns: time_ns,
}));
const server_arb: fc.Arbitrary<ServerMsg> = fc.oneof(
  snapshot_arb,
  delta_arb,
  fc.record({ type: fc.constant('heartbeat' as const), server_time_ns: time_ns }),
  fc.record({ type: fc.constant('status' as const), symbols: fc.array(fc.record({ symbol, state: fc.constantFrom('unknown' as const, 'recovering' as const, 'live' as const), epoch: exact_nat, seq: exact_nat, engine_silent: fc.boolean(), resume: fc.constantFrom(...resume_names), resume_depth: u16 }).chain((e) => fc.option(fc.integer({ min: 2, max: 0xffffffff }), { nil: null }).map((g) => (g === null ? e : { ...e, resume_group: g }))), { maxLength: 8 }) }),
  fc.record({ type: fc.constant('error' as const), code: u16, message: fc.string({ unit: 'binary', maxLength: 200 }), symbol: fc.oneof(fc.constant(''), symbol) }),
  fc.record({ type: fc.constant('pong' as const), nonce: exact_nat, client_time_ns: time_ns, server_time_ns: time_ns }),
  fc.record({ type: fc.constant('refreshed' as const), expires_at_ms: exact_nat }),
);
const client_arb: fc.Arbitrary<ClientMsg> = fc.oneof(
  with_group(fc.record({ type: fc.constant('subscribe' as const), symbols: fc.array(symbol, { maxLength: 20 }), depth: u16, interval_ms: u32 })),
  // With resume points (one per symbol, some null): decoded back exactly.
  fc.array(fc.tuple(symbol, fc.option(fc.record({ epoch: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), seq: exact_nat }), { nil: null })), { minLength: 1, maxLength: 20 })
    .filter((list) => list.some(([, p]) => p !== null))
    .chain((list) => fc.record({ type: fc.constant('subscribe' as const), symbols: fc.constant(list.map(([s]) => s)), depth: u16, interval_ms: u32, resume: fc.constant(list.map(([, p]) => p)) })),
  with_group(fc.record({ type: fc.constant('unsubscribe' as const), symbols: fc.array(symbol, { maxLength: 20 }), depth: u16 })),
  with_group(fc.record({ type: fc.constant('resync' as const), symbol, depth: u16 })),
  fc.record({ type: fc.constant('ping' as const), nonce: exact_nat, client_time_ns: time_ns }),
  fc.record({ type: fc.constant('ack' as const), bytes_processed: exact_nat }),
  fc.record({ type: fc.constant('refresh' as const), token: fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }) }),
);

function expect_wire_error(fn: () => unknown, code: number, message?: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(WireError);
  expect((caught as WireError).code).toBe(code);
  if (message) expect((caught as WireError).message).toMatch(message);
}

describe('feed codec round trip', () => {
  const enc = new FrameEncoder();

  it('server messages decode to what was encoded', () => {
    fc.assert(fc.property(server_arb, (msg) => {
      expect(decode_server_frame(enc.server(msg))).toEqual(msg);
    }), { seed: 3301, numRuns: 600 });
  });

  it('client messages decode to what was encoded', () => {
    fc.assert(fc.property(client_arb, (msg) => {
      expect(decode_client_frame(enc.client(msg))).toEqual(msg);
    }), { seed: 3302, numRuns: 600 });
  });

  it('returns copies: a frame survives the next encode', () => {
    const a = enc.heartbeat({ server_time_ns: 1 });
    const before = Array.from(a);
    enc.heartbeat({ server_time_ns: 2 });
    expect(Array.from(a)).toEqual(before);
    expect(decode_server_frame(a)).toEqual({ type: 'heartbeat', server_time_ns: 1 });
    expect(decode_server_frame(a.slice().buffer)).toEqual({ type: 'heartbeat', server_time_ns: 1 });
  });

  it('sends only the first bid_count / ask_count / trade_count entries of reusable arrays', () => {
    fc.assert(fc.property(delta_arb, fc.nat(), fc.nat(), fc.nat(), (msg, a, b, c) => {
      const bid_count = a % (msg.bids.length + 1);
      const ask_count = b % (msg.asks.length + 1);
      const trade_count = c % (msg.trades.length + 1);
      const got = decode_server_frame(enc.delta({ ...msg, bid_count, ask_count, trade_count }));
      expect(got).toEqual({ ...msg, bids: msg.bids.slice(0, bid_count), asks: msg.asks.slice(0, ask_count), trades: msg.trades.slice(0, trade_count) });
    }), { seed: 3303, numRuns: 200 });
  });

  it('truncates an overlong error message on a character boundary', () => {
    const got = decode_server_frame(enc.error({ code: 12, message: 'é'.repeat(2000), symbol: '' }));
    expect(got.type === 'error' && got.message).toBe('é'.repeat(512));
  });

  it('refuses to encode client messages the server would refuse', () => {
    expect_wire_error(() => enc.subscribe({ symbols: ['X'.repeat(symbol_bytes_max + 1)], depth: 10, interval_ms: 0 }), error_code.bad_request);
    expect_wire_error(() => enc.subscribe({ symbols: Array(symbols_per_message_max + 1).fill('A'), depth: 10, interval_ms: 0 }), error_code.bad_request);
    expect_wire_error(() => enc.resync({ symbol: 'A', depth: 70000 }), error_code.bad_request);
    expect_wire_error(() => enc.ping({ nonce: 2 ** 53, client_time_ns: 0 }), error_code.bad_request);
  });
});

describe('feed codec agrees with the flatc-generated code', () => {
  const enc = new FrameEncoder();

  it('generated readers read our Delta and Snapshot frames', () => {
    fc.assert(fc.property(delta_arb, snapshot_arb, (d, s) => {
      const frame = Frame.getRootAsFrame(new flatbuffers.ByteBuffer(enc.delta(d)));
      expect(frame.bodyType()).toBe(Body.Delta);
      const g = frame.body(new Delta()) as Delta;
      expect([g.symbol(), g.depth(), Number(g.epoch()), Number(g.seqFirst()), Number(g.seq()), g.digest(), g.updatesMerged(), g.conflated()])
        .toEqual([d.symbol, d.depth, d.epoch, d.seq_first, d.seq, d.digest, d.updates_merged, d.conflated]);
      expect([Number(g.tsEngineNs()), Number(g.tsIngestNs()), Number(g.tsSendNs())]).toEqual([d.ts_engine_ns, d.ts_ingest_ns, d.ts_send_ns]);
      // The slot of the appended group field, as the generated reader sees it (absent = 0 = ungrouped).
      expect(g.group()).toBe(d.group ?? 0);
      const levels = (n: number, at: (i: number) => Level | null) => Array.from({ length: n }, (_, i) => {
        const l = at(i)!;
        return { price: Number(l.price()), size: Number(l.size()), orders: l.orders() };
      });
      expect(levels(g.bidsLength(), (i) => g.bids(i))).toEqual(d.bids);
      expect(levels(g.asksLength(), (i) => g.asks(i))).toEqual(d.asks);
      const trades = Array.from({ length: g.tradesLength() }, (_, i) => {
        const t = g.trades(i) as Trade;
        return { trade_id: Number(t.tradeId()), price: Number(t.price()), size: Number(t.size()), ts_engine_ns: Number(t.tsEngineNs()), aggressor: t.aggressor() };
      });
      expect(trades).toEqual(d.trades);
      const a = g.tradeAggregate();
      expect(a === null).toBe(d.trade_aggregate === null);
      if (a && d.trade_aggregate) {
        expect({
          count: a.count(), first_trade_id: Number(a.firstTradeId()), last_trade_id: Number(a.lastTradeId()), volume: Number(a.volume()), vwap: a.vwap(),
          high: Number(a.high()), low: Number(a.low()), last: Number(a.last()), buy_volume: Number(a.buyVolume()),
        }).toEqual(d.trade_aggregate);
      }
      const sf = Frame.getRootAsFrame(new flatbuffers.ByteBuffer(enc.snapshot(s)));
      const gs = sf.body(new Snapshot()) as Snapshot;
      expect([gs.symbol(), gs.depth(), Number(gs.epoch()), Number(gs.seq()), gs.digest(), gs.tickSize(), gs.lotSize(), gs.priceDecimals(), gs.sizeDecimals()])
        .toEqual([s.symbol, s.depth, s.epoch, s.seq, s.digest, s.tick_size, s.lot_size, s.price_decimals, s.size_decimals]);
      expect(levels(gs.bidsLength(), (i) => gs.bids(i))).toEqual(s.bids);
      expect(Number(gs.tsSendNs())).toBe(s.ts_send_ns);
      expect(gs.group()).toBe(s.group ?? 0);
      expect(gs.tradesLength()).toBe(s.trades!.length);
      expect(gs.tradeAggregate()?.count() ?? null).toBe(s.trade_aggregate?.count ?? null);
    }), { seed: 3304, numRuns: 150 });
  });

  it('an Ack built with the generated builder decodes to its byte count', () => {
    const b = new flatbuffers.Builder(64);
    const ack = Ack.createAck(b, BigInt(2 ** 40 + 3));
    b.finish(Frame.createFrame(b, Body.Ack, ack));
    expect(decode_client_frame(b.asUint8Array())).toEqual({ type: 'ack', bytes_processed: 2 ** 40 + 3 });
    const read = Frame.getRootAsFrame(new flatbuffers.ByteBuffer(enc.ack({ bytes_processed: 12345 })));
    expect(read.bodyType()).toBe(Body.Ack);
    expect((read.body(new Ack()) as Ack).bytesProcessed()).toBe(12345n);
  });

  it('Refresh and Refreshed match the generated builders and readers, both ways', () => {
    const b = new flatbuffers.Builder(64);
    const token = b.createString('eyJhbGciOiJIUzI1NiJ9.e30.sig');
    b.finish(Frame.createFrame(b, Body.Refresh, Refresh.createRefresh(b, token)));
    expect(decode_client_frame(b.asUint8Array())).toEqual({ type: 'refresh', token: 'eyJhbGciOiJIUzI1NiJ9.e30.sig' });
    const read = Frame.getRootAsFrame(new flatbuffers.ByteBuffer(enc.refreshed({ expires_at_ms: 1_767_225_600_123 })));
    expect(read.bodyType()).toBe(Body.Refreshed);
    expect((read.body(new Refreshed()) as Refreshed).expiresAtMs()).toBe(1_767_225_600_123n);
    expect(() => enc.refresh({ token: 'x'.repeat(8193) })).toThrow(/token must be/);
    expect_wire_error(() => decode_client_frame(enc.refreshed({ expires_at_ms: 1 })), error_code.not_a_client_message);
  });

  it('our decoders read frames built with the generated builders', () => {
    const b = new flatbuffers.Builder(256);
    const sym = b.createString('BTC-USD');
    const bids = (() => {
      Delta.startBidsVector(b, 2);
      Level.createLevel(b, 99n, 7n, 2);
      Level.createLevel(b, 100n, 5n, 1);
      return b.endVector();
    })();
    const trades = (() => {
      Delta.startTradesVector(b, 1);
      Trade.createTrade(b, 77n, 100n, 3n, 1_700_000_000_000_000_000n, 1);
      return b.endVector();
    })();
    const agg = TradeAggregate.createTradeAggregate(b, 4, 70n, 77n, 12n, 100.25, 101n, 99n, 100n, 5n);
    Delta.startDelta(b);
    Delta.addSymbol(b, sym);
    Delta.addDepth(b, 10);
    Delta.addEpoch(b, 3n);
    Delta.addSeqFirst(b, 41n);
    Delta.addSeq(b, 42n);
    Delta.addDigest(b, 0xdeadbeef);
    Delta.addBids(b, bids);
    Delta.addTrades(b, trades);
    Delta.addTradeAggregate(b, agg);
    Delta.addUpdatesMerged(b, 2);
    Delta.addConflated(b, true);
    Delta.addTsEngineNs(b, 5n);
    const delta = Delta.endDelta(b);
    b.finish(Frame.createFrame(b, Body.Delta, delta));
    expect(decode_server_frame(b.asUint8Array())).toEqual({
      type: 'delta', symbol: 'BTC-USD', depth: 10, epoch: 3, seq_first: 41, seq: 42, digest: 0xdeadbeef,
      bids: [{ price: 100, size: 5, orders: 1 }, { price: 99, size: 7, orders: 2 }], asks: [],
      trades: [{ trade_id: 77, price: 100, size: 3, ts_engine_ns: 1.7e18, aggressor: side_ask }],
      trade_aggregate: { count: 4, first_trade_id: 70, last_trade_id: 77, volume: 12, vwap: 100.25, high: 101, low: 99, last: 100, buy_volume: 5 },
      updates_merged: 2, conflated: true, ts_engine_ns: 5, ts_ingest_ns: 0, ts_send_ns: 0,
    });

    b.clear();
    const s1 = b.createString('ETH-USD');
    const entry = SymbolStatus.createSymbolStatus(b, s1, 1, 9n, 10n, true, 3, 50, 0);
    const list = Status.createSymbolsVector(b, [entry]);
    b.finish(Frame.createFrame(b, Body.Status, Status.createStatus(b, list)));
    expect(decode_server_frame(b.asUint8Array())).toEqual({ type: 'status', symbols: [{ symbol: 'ETH-USD', state: 'recovering', epoch: 9, seq: 10, engine_silent: true, resume: 'too_old', resume_depth: 50 }] });

    b.clear();
    const names = Subscribe.createSymbolsVector(b, [b.createString('A'), b.createString('B')]);
    b.finish(Frame.createFrame(b, Body.Subscribe, Subscribe.createSubscribe(b, names, 50, 100, 0, 0, 0)));
    expect(decode_client_frame(b.asUint8Array())).toEqual({ type: 'subscribe', symbols: ['A', 'B'], depth: 50, interval_ms: 100 });
    b.clear();
    const grouped = Subscribe.createSymbolsVector(b, [b.createString('A')]);
    b.finish(Frame.createFrame(b, Body.Subscribe, Subscribe.createSubscribe(b, grouped, 10, 0, 0, 0, 25)));
    expect(decode_client_frame(b.asUint8Array())).toEqual({ type: 'subscribe', symbols: ['A'], depth: 10, interval_ms: 0, group: 25 });
  });
});

describe('feed decoders refuse malformed frames', () => {
  const enc = new FrameEncoder();

  /** A frame whose body is a raw table built by `fill` (no required-field checks). */
  function raw(type: number, fill: (b: flatbuffers.Builder) => number): Uint8Array {
    const b = new flatbuffers.Builder(256);
    const body = fill(b);
    b.startObject(2);
    if (body) b.addFieldOffset(1, body, 0);
    b.addFieldInt8(0, type, 0);
    b.finish(b.endObject());
    return b.asUint8Array().slice();
  }

  function u32_at(bytes: Uint8Array, pos: number, value: number): Uint8Array {
    const out = bytes.slice();
    new DataView(out.buffer).setUint32(pos, value, true);
    return out;
  }

  it('structural damage is bad_frame', () => {
    const ok = enc.resync({ symbol: 'BTC-USD', depth: 10 });
    expect_wire_error(() => decode_client_frame(new Uint8Array(0)), error_code.bad_frame, /too short/);
    expect_wire_error(() => decode_client_frame(new Uint8Array(3)), error_code.bad_frame);
    expect_wire_error(() => decode_client_frame(u32_at(ok, 0, ok.length)), error_code.bad_frame, /out of bounds/);
    expect_wire_error(() => decode_client_frame(u32_at(ok, 0, 0xfffffffc)), error_code.bad_frame, /out of bounds/);
    expect_wire_error(() => decode_client_frame(u32_at(ok, 0, 2)), error_code.bad_frame, /misaligned/);
    const root = new DataView(ok.buffer).getUint32(0, true);
    expect_wire_error(() => decode_client_frame(u32_at(ok, root, 0x7ffffff0)), error_code.bad_frame, /vtable/);
    expect_wire_error(() => decode_client_frame(ok.subarray(0, ok.length - 4)), error_code.bad_frame);
    expect_wire_error(() => decode_client_frame(raw(0, () => 0)), error_code.bad_frame, /no body/);
    expect_wire_error(() => decode_client_frame(raw(14, (b) => { b.startObject(0); return b.endObject(); })), error_code.bad_frame, /unknown body type 14/);
    expect_wire_error(() => decode_client_frame(raw(Body.Resync, () => 0)), error_code.bad_frame, /missing/);
    expect_wire_error(() => decode_client_frame(raw(Body.Subscribe, (b) => { b.startObject(3); return b.endObject(); })), error_code.bad_frame, /symbols is required/);
  });

  it('huge vector and string lengths fail before any allocation', () => {
    const sub = enc.subscribe({ symbols: ['AAAA'], depth: 10, interval_ms: 0 });
    const snap = enc.snapshot({ symbol: 'S', depth: 0, epoch: 1, seq: 1, digest: 0, tick_size: '0.01', lot_size: '1', price_decimals: 2, size_decimals: 0, bids: [{ price: 7777, size: 1, orders: 1 }], asks: [], ts_engine_ns: 0, ts_ingest_ns: 0, ts_send_ns: 0 });
    const find = (bytes: Uint8Array, value: number) => {
      const v = new DataView(bytes.buffer);
      for (let p = 0; p + 4 <= bytes.length; p += 4) if (v.getUint32(p, true) === value) return p;
      throw new Error('not found');
    };
    // The length prefix of the string 'AAAA' (0x41414141), then the vector length 1 of bids.
    const aaaa_len = find(sub, 0x41414141) - 4;
    expect_wire_error(() => decode_client_frame(u32_at(sub, aaaa_len, 0xffffffff)), error_code.bad_request, /at most 32/);
    expect_wire_error(() => decode_client_frame(u32_at(sub, aaaa_len, 20)), error_code.bad_frame, /past the end|NUL/);
    const bids_len = find(snap, 7777) - 4;
    expect(decode_server_frame(snap).type).toBe('snapshot');
    expect_wire_error(() => decode_server_frame(u32_at(snap, bids_len, 0xffffffff)), error_code.bad_frame);
  });

  it('limits and body kinds get their own codes', () => {
    expect_wire_error(() => decode_client_frame(enc.heartbeat({ server_time_ns: 1 })), error_code.not_a_client_message, /Heartbeat/);
    expect_wire_error(() => decode_server_frame(enc.ping({ nonce: 1, client_time_ns: 1 })), error_code.bad_frame, /client message/);
    const many = raw(Body.Subscribe, (b) => {
      const names = Array.from({ length: symbols_per_message_max + 1 }, () => b.createString('A'));
      const vec = Subscribe.createSymbolsVector(b, names);
      b.startObject(3);
      b.addFieldOffset(0, vec, 0);
      return b.endObject();
    });
    expect_wire_error(() => decode_client_frame(many), error_code.bad_request, /at most 256/);
    const long_symbol = raw(Body.Resync, (b) => {
      const s = b.createString('X'.repeat(33));
      b.startObject(2);
      b.addFieldOffset(0, s, 0);
      return b.endObject();
    });
    expect_wire_error(() => decode_client_frame(long_symbol), error_code.bad_request, /33 bytes/);
    const bad_utf8 = raw(Body.Resync, (b) => {
      const s = b.createString(new Uint8Array([0x41, 0xff, 0xfe]));
      b.startObject(2);
      b.addFieldOffset(0, s, 0);
      return b.endObject();
    });
    expect_wire_error(() => decode_client_frame(bad_utf8), error_code.bad_frame, /UTF-8/);
  });

  it('out-of-range values are bad_frame', () => {
    const big_seq = raw(Body.Ping, (b) => {
      b.startObject(2);
      b.addFieldInt64(0, 2n ** 53n, 0n);
      return b.endObject();
    });
    expect_wire_error(() => decode_client_frame(big_seq), error_code.bad_frame, /nonce is 2\^53/);
    const bad_state = raw(Body.Status, (b) => {
      const s = b.createString('A');
      const entry = SymbolStatus.createSymbolStatus(b, s, 3 as SymbolState, 0n, 0n, false, 0, 0, 0);
      const list = Status.createSymbolsVector(b, [entry]);
      return Status.createStatus(b, list);
    });
    expect_wire_error(() => decode_server_frame(bad_state), error_code.bad_frame, /symbol state 3/);
    const bad_aggressor = raw(Body.Delta, (b) => {
      const sym = b.createString('A');
      Delta.startTradesVector(b, 1);
      Trade.createTrade(b, 1n, 1n, 1n, 1n, 2 as Side);
      const trades = b.endVector();
      Delta.startDelta(b);
      Delta.addSymbol(b, sym);
      Delta.addTrades(b, trades);
      return Delta.endDelta(b);
    });
    expect_wire_error(() => decode_server_frame(bad_aggressor), error_code.bad_frame, /aggressor 2/);
    const huge_price = raw(Body.Delta, (b) => {
      const sym = b.createString('A');
      Delta.startBidsVector(b, 1);
      Level.createLevel(b, -(2n ** 60n), 1n, 1);
      const bids = b.endVector();
      Delta.startDelta(b);
      Delta.addSymbol(b, sym);
      Delta.addBids(b, bids);
      return Delta.endDelta(b);
    });
    expect_wire_error(() => decode_server_frame(huge_price), error_code.bad_frame, /bids price is outside/);
  });

  it('a Status whose entries all point at one table decodes in bounded work', () => {
    // 2,000 offsets to one SymbolStatus: a DAG, legal in flatbuffers; work stays linear in the frame size.
    const frame = raw(Body.Status, (b) => {
      const entry = SymbolStatus.createSymbolStatus(b, b.createString('X'.repeat(32)), 2, 1n, 1n, false, 0, 0, 0);
      const list = Status.createSymbolsVector(b, Array(2000).fill(entry));
      return Status.createStatus(b, list);
    });
    const got = decode_server_frame(frame);
    expect(got.type === 'status' && got.symbols.length).toBe(2000);
  });
});
