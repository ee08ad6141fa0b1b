// One update stream for every server in a fan-out run, so they all carry the
// same updates at the same frames per tick:
//   - the engine's EventBatches, grouped by tick (one tick = 1 ms of virtual
//     engine time; each symbol publishes at most one batch per tick), which
//     depthcast's Feed ingests from a MemoryBus;
//   - the Delta frames depthcast's Feed makes from those batches when it
//     flushes once per tick (recorded by running the real Feed with one
//     in-memory session), which the baseline servers send pre-encoded (uWS,
//     NATS) or decoded and JSON-encoded (ws, socket.io).
// Stored in one binary file so every server process loads the same bytes.
import { readFileSync, writeFileSync } from 'node:fs';
import { MemoryBus } from '../../../src/bus/memory_bus.js';
import { Subjects } from '../../../src/bus/subjects.js';
import { type Config, default_config } from '../../../src/config.js';
import { EngineCore } from '../../../src/engine/engine_core.js';
import { instrument_spec } from '../../../src/engine/instruments.js';
import { Feed } from '../../../src/feed/feed.js';
import type { ClientTransport } from '../../../src/feed/transport.js';
import { encode_snapshot_reply } from '../../../src/wire/engine_codec.js';
import { decode_server_frame } from '../../../src/wire/feed_decoder.js';
import { FrameEncoder } from '../../../src/wire/feed_encoder.js';
import { view_key } from '../../../src/util/symbol.js';

export const tick_ns_virtual = 1e6;
export const recording_epoch = 7;

export interface RecordingMeta {
  format: 'depthcast.bench.recording.v1';
  ticks: number;
  orders_per_tick: number;
  symbols: string[];
  /** Depths every client subscribes to, for every symbol. */
  depths: number[];
  /** Topic per view, `${symbol}|${depth}`; a frame's view is an index into this. */
  views: string[];
  epoch: number;
  events: number;
  batches: number;
  frames: number;
  frame_bytes: number;
}

export interface Frame {
  view: number;
  bytes: Uint8Array;
}

export interface Batch {
  subject: string;
  bytes: Uint8Array;
}

export interface Recording {
  meta: RecordingMeta;
  /** batches_by_tick[k]: what the engine published during tick k (tick 0 holds the prefilled books). */
  batches_by_tick: Batch[][];
  /** frames_by_tick[k]: the Deltas depthcast sends every subscriber after ingesting tick k. */
  frames_by_tick: Frame[][];
}

export function bench_config(orders_per_tick: number, symbols?: string[]): Readonly<Config> {
  const base = default_config();
  return Object.freeze({
    ...base,
    symbols: symbols ?? base.symbols,
    rate_orders_per_s: orders_per_tick * (1e9 / tick_ns_virtual),
    // One batch per symbol per tick: a batch is due once its first event is a tick old.
    batch_interval_ms_max: tick_ns_virtual / 1e6,
    port: 0,
    ui: false,
    log_level: 'warn',
    // A replayed recording has no engine heartbeats, and servers sit idle between
    // measured windows: engine-silence detection would (rightly) call that a dead engine.
    engine_silence_ms_max: 600_000,
  });
}

/** The engine's stream, tick by tick (the same code as the live engine, on a virtual clock). */
function record_batches(config: Readonly<Config>, ticks: number): Batch[][] {
  const by_tick: Batch[][] = [[]];
  let now = 1.7e18;
  const core = new EngineCore({
    config, subjects: new Subjects(config.subject_prefix), epoch: recording_epoch, clock_ns: () => now,
    publish: (subject, bytes) => { by_tick[by_tick.length - 1].push({ subject, bytes: bytes.slice() }); },
  });
  core.start();
  for (let k = 1; k < ticks; k++) {
    by_tick.push([]);
    now += tick_ns_virtual;
    core.advance(now, 1e9);
  }
  return by_tick;
}

/** An empty book at seq 0 of the recording's epoch: the stream's batches start at seq 1. */
export function serve_empty_snapshots(bus: MemoryBus, config: Readonly<Config>): void {
  const subjects = new Subjects(config.subject_prefix);
  bus.serve(subjects.snapshot_all, (_data, subject) => encode_snapshot_reply({
    instrument: instrument_spec(subjects.symbol_of(subject)).instrument,
    epoch: recording_epoch, seq: 0, last_trade_id: 0, ts_engine_ns: 1.7e18, bids: [], asks: [],
  }));
}

const next_turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Runs the real Feed over the batches, one flush per tick, and keeps the Delta frames one subscriber of every view gets. */
async function record_frames(config: Readonly<Config>, batches_by_tick: Batch[][], depths: number[]): Promise<{ frames: Frame[][]; views: string[] }> {
  const bus = new MemoryBus();
  serve_empty_snapshots(bus, config);
  const feed = new Feed(config, bus);
  feed.start();
  for (let i = 0; i < 200 && feed.health().ready === false; i++) await new Promise((r) => setTimeout(r, 5));
  if (!feed.health().ready) throw new Error('recording: the feed did not go live');
  let sent: Uint8Array[] = [];
  const transport: ClientTransport = {
    send: (frame) => { sent.push(frame.slice()); return 1; },
    buffered_bytes: () => 0,
    cork: (fn) => fn(),
    end: () => {},
    remote_address: 'recording',
  };
  const session = feed.open_session(transport);
  const encoder = new FrameEncoder();
  for (const depth of depths) feed.on_client_frame(session, encoder.subscribe({ symbols: config.symbols, depth, interval_ms: 0 }));
  await next_turn();
  await next_turn();
  sent = []; // the snapshots and status before the stream starts
  const views = depths.flatMap((depth) => config.symbols.map((s) => view_key(s, depth)));
  const frames: Frame[][] = [];
  for (const batches of batches_by_tick) {
    for (const b of batches) bus.publish(b.subject, b.bytes);
    await next_turn();
    await next_turn();
    const tick: Frame[] = [];
    for (const bytes of sent) {
      const msg = decode_server_frame(bytes);
      if (msg.type !== 'delta') continue;
      tick.push({ view: views.indexOf(view_key(msg.symbol, msg.depth)), bytes });
    }
    frames.push(tick);
    sent = [];
  }
  await feed.stop();
  await bus.close();
  return { frames, views };
}

export async function make_recording(ticks: number, orders_per_tick: number, depths: number[], symbols?: string[]): Promise<Recording> {
  const config = bench_config(orders_per_tick, symbols);
  const batches_by_tick = record_batches(config, ticks);
  const { frames, views } = await record_frames(config, batches_by_tick, depths);
  let events = 0;
  let batches = 0;
  for (const tick of batches_by_tick) {
    for (const b of tick) {
      batches++;
      events += event_count(b.bytes);
    }
  }
  let frame_count = 0;
  let frame_bytes = 0;
  for (const tick of frames) {
    frame_count += tick.length;
    for (const f of tick) frame_bytes += f.bytes.byteLength;
  }
  return {
    meta: {
      format: 'depthcast.bench.recording.v1', ticks, orders_per_tick, symbols: [...config.symbols], depths, views,
      epoch: recording_epoch, events, batches, frames: frame_count, frame_bytes,
    },
    batches_by_tick,
    frames_by_tick: frames,
  };
}

// ---- EventBatch timestamps, patched in place (no flatbuffers import outside src/wire) ----

/** Byte offsets of every BookEvent.ts_engine_ns in an EventBatch (schemas/engine_events.fbs: events is field 4, a vector of 72-byte structs, ts at +8). */
export function event_timestamp_offsets(bytes: Uint8Array): number[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const table = v.getUint32(0, true);
  const vtable = table - v.getInt32(table, true);
  const events_slot = 4 + 2 * 4;
  if (events_slot >= v.getUint16(vtable, true)) throw new Error('EventBatch without events');
  const field = table + v.getUint16(vtable + events_slot, true);
  const vector = field + v.getUint32(field, true);
  const count = v.getUint32(vector, true);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(vector + 4 + i * 72 + 8);
  return out;
}

function event_count(bytes: Uint8Array): number {
  return event_timestamp_offsets(bytes).length;
}

/** Writes `ns` as a little-endian u64 at each offset (ns < 2^53). */
export function patch_u64(view: DataView, offsets: readonly number[], ns: number): void {
  const low = ns % 4294967296;
  const high = (ns - low) / 4294967296;
  for (const at of offsets) {
    view.setUint32(at, low, true);
    view.setUint32(at + 4, high, true);
  }
}

// ---- file format: [u32 meta length][meta JSON][records], record = [u8 kind][u32 tick][u16 index][u32 length][bytes] ----

const kind_batch = 0;
const kind_frame = 1;

export function save_recording(path: string, r: Recording): void {
  const subjects = [...new Set(r.batches_by_tick.flatMap((t) => t.map((b) => b.subject)))];
  const meta = Buffer.from(JSON.stringify({ ...r.meta, subjects }));
  const parts: Buffer[] = [];
  const head = Buffer.alloc(4);
  head.writeUInt32LE(meta.byteLength);
  parts.push(head, meta);
  const record = (kind: number, tick: number, index: number, bytes: Uint8Array): void => {
    const h = Buffer.alloc(11);
    h.writeUInt8(kind, 0);
    h.writeUInt32LE(tick, 1);
    h.writeUInt16LE(index, 5);
    h.writeUInt32LE(bytes.byteLength, 7);
    parts.push(h, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  };
  r.batches_by_tick.forEach((tick, k) => { for (const b of tick) record(kind_batch, k, subjects.indexOf(b.subject), b.bytes); });
  r.frames_by_tick.forEach((tick, k) => { for (const f of tick) record(kind_frame, k, f.view, f.bytes); });
  writeFileSync(path, Buffer.concat(parts));
}

export function load_recording(path: string): Recording {
  const buf = readFileSync(path);
  const meta_length = buf.readUInt32LE(0);
  const parsed = JSON.parse(buf.subarray(4, 4 + meta_length).toString()) as RecordingMeta & { subjects: string[] };
  const { subjects, ...meta } = parsed;
  const batches_by_tick: Batch[][] = Array.from({ length: meta.ticks }, () => []);
  const frames_by_tick: Frame[][] = Array.from({ length: meta.ticks }, () => []);
  for (let at = 4 + meta_length; at < buf.byteLength;) {
    const kind = buf.readUInt8(at);
    const tick = buf.readUInt32LE(at + 1);
    const index = buf.readUInt16LE(at + 5);
    const length = buf.readUInt32LE(at + 7);
    const bytes = new Uint8Array(buf.subarray(at + 11, at + 11 + length)); // own copy: patched in place later
    at += 11 + length;
    if (kind === kind_batch) batches_by_tick[tick].push({ subject: subjects[index], bytes });
    else frames_by_tick[tick].push({ view: index, bytes });
  }
  return { meta, batches_by_tick, frames_by_tick };
}
