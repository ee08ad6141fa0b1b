// What it measures: Delta frames/s through the client-protocol codec
// (FrameEncoder.delta, decode_server_frame) for a typical streaming Delta
// (3 bid and 3 ask levels, 1 trade), EventBatch reads/s through the engine
// codec (EventBatchReader: verify, then read 4 events in place; what the feed
// does per bus message), and digest work per level change.
// Baselines in the same run:
//   encode: the same message through the flatc-generated builder API (BigInt
//           int64 fields, what the generated code invites), and JSON.stringify
//           + UTF-8 encode (what users would write);
//   decode: JSON.parse of that JSON text (no verification at all);
//   engine batch: the same batch read through the flatc-generated classes
//           (BigInt fields, no verification);
//   digest: recomputing a depth-10 view's digest from scratch per change,
//           which the O(1) incremental digest replaces.
// Caveats: one core; frames are tiny, so fixed per-frame costs dominate.
// Runs alternate and the median is reported.
// Run: npx tsx bench/micro/codec.bench.ts [--frames N] [--runs N]

import * as flatbuffers from 'flatbuffers';
import { digest_add, digest_of, digest_sub, level_hash } from '../../src/book/digest.js';
import { decode_server_frame } from '../../src/wire/feed_decoder.js';
import { FrameEncoder } from '../../src/wire/feed_encoder.js';
import type { DeltaMsg } from '../../src/wire/feed_types.js';
import { Body } from '../../src/wire/generated/depthcast/feed/body.js';
import { Delta } from '../../src/wire/generated/depthcast/feed/delta.js';
import { Frame } from '../../src/wire/generated/depthcast/feed/frame.js';
import { Level } from '../../src/wire/generated/depthcast/feed/level.js';
import { Trade } from '../../src/wire/generated/depthcast/feed/trade.js';
import { BookEvent as FbBookEvent } from '../../src/wire/generated/depthcast/engine/book-event.js';
import { EventBatch as FbEventBatch } from '../../src/wire/generated/depthcast/engine/event-batch.js';
import { EventBatchEncoder, EventBatchReader } from '../../src/wire/engine_codec.js';
import { new_book_event, side_bid, type BookEvent } from '../../src/book/types.js';
import { median, write_result } from '../lib.js';
import { arg } from '../e2e/harness/args.js';

const frames = arg('--frames', 200_000);
const runs = arg('--runs', 7);
const digest_ops = frames * 10;

const msg: DeltaMsg = {
  type: 'delta', symbol: 'BTC-USD', depth: 10, epoch: 3, seq_first: 1_000_001, seq: 1_000_003, digest: 0x9e3779b9,
  bids: [{ price: 6_500_012, size: 40, orders: 3 }, { price: 6_500_010, size: 0, orders: 0 }, { price: 6_499_990, size: 12, orders: 1 }],
  asks: [{ price: 6_500_013, size: 5, orders: 1 }, { price: 6_500_020, size: 33, orders: 4 }, { price: 6_500_031, size: 0, orders: 0 }],
  trades: [{ trade_id: 77_001, price: 6_500_013, size: 2, ts_engine_ns: 1.7e18, aggressor: side_bid }],
  trade_aggregate: null, updates_merged: 2, conflated: false,
  ts_engine_ns: 1.7e18, ts_ingest_ns: 1.7e18 + 20_000, ts_send_ns: 1.7e18 + 45_000,
};

function encode_ours(enc: FrameEncoder): number {
  let bytes = 0;
  for (let i = 0; i < frames; i++) {
    msg.seq = 1_000_003 + i;
    bytes += enc.delta(msg).length;
  }
  return bytes;
}

function encode_generated(b: flatbuffers.Builder): number {
  let bytes = 0;
  for (let i = 0; i < frames; i++) {
    b.clear();
    const symbol = b.createString(msg.symbol);
    Delta.startBidsVector(b, msg.bids.length);
    for (let k = msg.bids.length - 1; k >= 0; k--) Level.createLevel(b, BigInt(msg.bids[k].price), BigInt(msg.bids[k].size), msg.bids[k].orders);
    const bids = b.endVector();
    Delta.startAsksVector(b, msg.asks.length);
    for (let k = msg.asks.length - 1; k >= 0; k--) Level.createLevel(b, BigInt(msg.asks[k].price), BigInt(msg.asks[k].size), msg.asks[k].orders);
    const asks = b.endVector();
    Delta.startTradesVector(b, 1);
    const t = msg.trades[0];
    Trade.createTrade(b, BigInt(t.trade_id), BigInt(t.price), BigInt(t.size), BigInt(t.ts_engine_ns), t.aggressor);
    const trades = b.endVector();
    Delta.startDelta(b);
    Delta.addSymbol(b, symbol);
    Delta.addDepth(b, msg.depth);
    Delta.addEpoch(b, BigInt(msg.epoch));
    Delta.addSeqFirst(b, BigInt(msg.seq_first));
    Delta.addSeq(b, BigInt(1_000_003 + i));
    Delta.addDigest(b, msg.digest);
    Delta.addBids(b, bids);
    Delta.addAsks(b, asks);
    Delta.addTrades(b, trades);
    Delta.addUpdatesMerged(b, msg.updates_merged);
    Delta.addTsEngineNs(b, BigInt(msg.ts_engine_ns));
    Delta.addTsIngestNs(b, BigInt(msg.ts_ingest_ns));
    Delta.addTsSendNs(b, BigInt(msg.ts_send_ns));
    b.finish(Frame.createFrame(b, Body.Delta, Delta.endDelta(b)));
    bytes += b.asUint8Array().slice().length;
  }
  return bytes;
}

const utf8 = new TextEncoder();
const utf8_decoder = new TextDecoder();

function encode_json(): number {
  let bytes = 0;
  for (let i = 0; i < frames; i++) {
    msg.seq = 1_000_003 + i;
    bytes += utf8.encode(JSON.stringify(msg)).length;
  }
  return bytes;
}

function decode_ours(frame: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < frames; i++) {
    const m = decode_server_frame(frame);
    if (m.type === 'delta') n += m.bids.length;
  }
  return n;
}

function decode_json(text: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < frames; i++) {
    const m = JSON.parse(utf8_decoder.decode(text)) as DeltaMsg;
    n += m.bids.length;
  }
  return n;
}

/** A typical bus message: one engine event of 4 book events (a sweep of two levels and the rest posted). */
function engine_batch(): Uint8Array {
  const e = new EventBatchEncoder();
  e.begin('BTC-USD', 3);
  for (let i = 0; i < 4; i++) {
    const ev = new_book_event();
    ev.seq = 5_000_001 + i;
    ev.ts_engine_ns = 1.7e18;
    ev.order_id = 900_000 + i;
    ev.taker_order_id = i < 2 ? 901_000 : 0;
    ev.trade_id = i < 2 ? 77_001 + i : 0;
    ev.price = 6_500_013 + i;
    ev.qty = 5;
    ev.remaining = i < 2 ? 0 : 5;
    ev.kind = i < 2 ? 2 : 0;
    ev.flags = i === 3 ? 1 : 0;
    e.add(ev);
  }
  return e.finish(1.7e18 + 10_000).slice();
}

function engine_batch_ours(bytes: Uint8Array): number {
  const reader = new EventBatchReader();
  const ev: BookEvent = new_book_event();
  let n = 0;
  for (let i = 0; i < frames; i++) {
    reader.read(bytes);
    for (let k = 0; k < reader.count; k++) n += reader.event(k, ev).qty;
  }
  return n;
}

function engine_batch_generated(bytes: Uint8Array): number {
  const bb = new flatbuffers.ByteBuffer(bytes);
  const batch = new FbEventBatch();
  const ev = new FbBookEvent();
  let n = 0;
  for (let i = 0; i < frames; i++) {
    FbEventBatch.getRootAsEventBatch(bb, batch);
    for (let k = 0; k < batch.eventsLength(); k++) n += Number(batch.events(k, ev)!.qty());
  }
  return n;
}

/** Keeps a depth-10 view's digest as levels change: subtract the old hash, add the new. */
function digest_incremental(): number {
  const sizes = new Float64Array(10).fill(5);
  let d = 0;
  for (let r = 0; r < 10; r++) d = digest_add(d, level_hash(side_bid, 1000 - r, 5, 1));
  for (let i = 0; i < digest_ops; i++) {
    const r = i % 10;
    const size = 1 + (i & 15);
    d = digest_sub(d, level_hash(side_bid, 1000 - r, sizes[r], 1));
    d = digest_add(d, level_hash(side_bid, 1000 - r, size, 1));
    sizes[r] = size;
  }
  return d;
}

function digest_recompute(): number {
  const levels = Array.from({ length: 10 }, (_, r) => ({ price: 1000 - r, size: 5, orders: 1 }));
  let d = 0;
  for (let i = 0; i < digest_ops; i++) {
    levels[i % 10].size = 1 + (i & 15);
    d = digest_of(levels, []);
  }
  return d;
}

function timed(fn: () => number): { ms: number; result: number } {
  const t0 = performance.now();
  const result = fn();
  return { ms: performance.now() - t0, result };
}

const enc = new FrameEncoder();
const builder = new flatbuffers.Builder(1024);
const frame = enc.delta(msg);
const json = utf8.encode(JSON.stringify(msg));
const batch = engine_batch();
if (engine_batch_ours(batch) !== engine_batch_generated(batch)) throw new Error('engine batch readers disagree');
if (digest_incremental() !== digest_recompute()) throw new Error('incremental digest disagrees with the recomputed one');

const names = ['encode_ours', 'encode_generated_bigint', 'encode_json', 'decode_ours', 'decode_json', 'engine_batch_ours', 'engine_batch_generated', 'digest_incremental', 'digest_recompute'] as const;
const bodies: Record<(typeof names)[number], () => number> = {
  encode_ours: () => encode_ours(enc),
  encode_generated_bigint: () => encode_generated(builder),
  encode_json,
  decode_ours: () => decode_ours(frame),
  decode_json: () => decode_json(json),
  engine_batch_ours: () => engine_batch_ours(batch),
  engine_batch_generated: () => engine_batch_generated(batch),
  digest_incremental,
  digest_recompute,
};
const ms: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
for (let round = 0; round <= runs; round++) {
  for (const name of names) {
    const t = timed(bodies[name]);
    if (round > 0) ms[name].push(t.ms);
  }
}

const rate = (name: string, count: number) => Math.round(count / (median(ms[name]) / 1000));
const ratio = (a: string, b: string) => Number((median(ms[b]) / median(ms[a])).toFixed(3));
const result = {
  what: 'Delta frames/s through FrameEncoder / decode_server_frame, EventBatch reads/s through EventBatchReader, and digest updates/s, against baselines in the same run',
  frames,
  runs,
  delta_frame_bytes: frame.length,
  delta_json_bytes: json.length,
  encode_frames_per_s: rate('encode_ours', frames),
  encode_generated_bigint_frames_per_s: rate('encode_generated_bigint', frames),
  encode_json_frames_per_s: rate('encode_json', frames),
  ratio_encode_to_generated_bigint: ratio('encode_ours', 'encode_generated_bigint'),
  ratio_encode_to_json: ratio('encode_ours', 'encode_json'),
  decode_verified_frames_per_s: rate('decode_ours', frames),
  decode_json_frames_per_s: rate('decode_json', frames),
  ratio_decode_to_json_parse: ratio('decode_ours', 'decode_json'),
  engine_batch_bytes: batch.length,
  engine_batch_reads_per_s: rate('engine_batch_ours', frames),
  engine_batch_generated_reads_per_s: rate('engine_batch_generated', frames),
  ratio_engine_batch_to_generated: ratio('engine_batch_ours', 'engine_batch_generated'),
  digest_level_changes_per_s: rate('digest_incremental', digest_ops),
  digest_recompute_depth10_per_s: rate('digest_recompute', digest_ops),
  ratio_incremental_to_recompute_depth10: ratio('digest_incremental', 'digest_recompute'),
  runs_ms: Object.fromEntries(names.map((n) => [n, ms[n].map((x) => Number(x.toFixed(1)))])),
};
write_result('micro_codec', result);
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
