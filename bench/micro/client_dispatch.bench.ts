// What it measures: the SDK's own CPU per Delta in Node, without the socket:
// what FeedClient does per frame once the bytes are in (dispatch, decode,
// verify, apply, events, progress, pongs' bookkeeping), for N clients of one
// depth-10 view each, as in bench/e2e/client_cost (kind sdk_net) and loadgen.
// The e2e bench's per-round noise (±20% on this shared 2-core box, the kernel
// ~half of it) hides a change of a few percent in the SDK; this one does not.
//   sdk (subject): N FeedClients (connect() with an in-memory WebSocket that
//     has pong(), as NodeWebSocket: no Acks), each frame handed to its
//     onmessage as a Uint8Array, as NodeWebSocket hands it;
//   decode_apply (baseline, same run): per client a DeltaReader and a
//     ClientBook, read + apply_delta_from only (bench/micro/client_delta's
//     subject): the floor the rest of the SDK adds to.
// The stream: the real Feed's Deltas of the engine's seeded order flow
// (bench/e2e/harness/recording.ts: 4 symbols, depth 10), delivered tick by
// tick to every client of the frame's view, the clients interleaved as a
// process reading N sockets sees them (so each frame touches another
// client's state: the cache misses are in). Each pass starts every client
// from a Snapshot (not timed); every verdict must be 'ok' (counted).
// Reported: µs per Delta per kind (median of alternating runs), the
// difference (what the SDK adds to decode+apply), minor GCs per 100k Deltas.
// Run: npx tsx bench/micro/client_dispatch.bench.ts [--clients 300] [--ticks 1500] [--runs 5]
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { ClientBook } from '../../src/client/book.js';
import type { WebSocketLike } from '../../src/client/connection.js';
import { connect, type FeedClient } from '../../src/client/feed_client.js';
import { instrument_spec } from '../../src/engine/instruments.js';
import { body_delta, DeltaReader } from '../../src/wire/delta_reader.js';
import { decode_server_frame } from '../../src/wire/feed_decoder.js';
import { FrameEncoder } from '../../src/wire/feed_encoder.js';
import { median, round, write_result } from '../lib.js';
import { arg } from '../e2e/harness/args.js';
import { make_recording, recording_epoch } from '../e2e/harness/recording.js';

const clients = arg('--clients', 300);
const ticks = arg('--ticks', 1500);
const runs = arg('--runs', 5);

const recording = await make_recording(ticks, 8, [10]);
const views = recording.meta.views;
const enc = new FrameEncoder();
const snapshots = views.map((key) => {
  const symbol = key.split('|')[0];
  const i = instrument_spec(symbol).instrument;
  return enc.snapshot({
    symbol, depth: 10, epoch: recording_epoch, seq: 0, digest: 0, tick_size: i.tick_size, lot_size: i.lot_size,
    price_decimals: i.price_decimals, size_decimals: i.size_decimals, bids: [], asks: [], ts_engine_ns: 0, ts_ingest_ns: 0, ts_send_ns: 0,
  });
});
/** frames[t][v]: view v's Delta of tick t, or null. */
const frames: (Uint8Array | null)[][] = recording.frames_by_tick.map((tick) => {
  const out: (Uint8Array | null)[] = views.map(() => null);
  for (const f of tick) {
    if (out[f.view] !== null) throw new Error('two frames of one view in one tick');
    out[f.view] = f.bytes;
  }
  return out;
});
const view_of = (c: number): number => c % views.length;

/** An in-memory WebSocket with pong(), as NodeWebSocket (so the SDK sends no Acks). */
class MemorySocket implements WebSocketLike {
  static made: MemorySocket[] = [];
  binaryType = 'nodebuffer';
  readyState = 0;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onopen: ((event: any) => void) | null = null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onmessage: ((event: any) => void) | null = null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onclose: ((event: any) => void) | null = null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onerror: ((event: any) => void) | null = null;
  sent = 0;
  readonly event = { type: 'message', data: null as unknown };
  constructor() {
    MemorySocket.made.push(this);
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({ type: 'open' });
  }
  deliver(bytes: Uint8Array): void {
    this.event.data = bytes;
    this.onmessage!(this.event);
  }
  send(): void {
    this.sent++;
  }
  pong(): void {}
  close(): void {
    this.readyState = 3;
  }
}

const sdk_clients: FeedClient[] = [];
const sockets: MemorySocket[] = [];
for (let c = 0; c < clients; c++) {
  const client = connect('ws://memory/ws', { WebSocket: MemorySocket as never, reconnect: false });
  const ws = MemorySocket.made[c];
  ws.open();
  client.subscribe(views[view_of(c)].split('|')[0], { depth: 10 });
  sdk_clients.push(client);
  sockets.push(ws);
}

function sdk_pass(): number {
  for (let c = 0; c < clients; c++) sockets[c].deliver(snapshots[view_of(c)]);
  const before = deltas_ok();
  const t0 = performance.now();
  for (const tick of frames) {
    for (let c = 0; c < clients; c++) {
      const bytes = tick[view_of(c)];
      if (bytes !== null) sockets[c].deliver(bytes);
    }
  }
  const ms = performance.now() - t0;
  const n = deltas_ok() - before;
  if (sdk_clients.some((cl) => cl.counters.resyncs > 0 || cl.counters.decode_errors > 0)) throw new Error('sdk: a verdict was not ok');
  return (ms * 1000) / n;
}

function deltas_ok(): number {
  let n = 0;
  for (const cl of sdk_clients) n += cl.counters.deltas;
  return n;
}

const readers = Array.from({ length: clients }, () => new DeltaReader());
const books = Array.from({ length: clients }, (_, c) => new ClientBook(views[view_of(c)].split('|')[0], 10));
const decoded_snapshots = snapshots.map((s) => {
  const m = decode_server_frame(s);
  if (m.type !== 'snapshot') throw new Error('not a snapshot');
  return m;
});

function decode_apply_pass(): number {
  for (let c = 0; c < clients; c++) if (books[c].load_snapshot(decoded_snapshots[view_of(c)]) !== 'ok') throw new Error('snapshot refused');
  let n = 0;
  const t0 = performance.now();
  for (const tick of frames) {
    for (let c = 0; c < clients; c++) {
      const bytes = tick[view_of(c)];
      if (bytes === null) continue;
      const reader = readers[c];
      if (reader.read(bytes) !== body_delta) throw new Error('not a Delta');
      if (books[c].apply_delta_from(reader) !== 'ok') throw new Error(`decode_apply: ${books[c].last_problem}`);
      n++;
    }
  }
  return ((performance.now() - t0) * 1000) / n;
}

let minor_gcs = 0;
const gc_observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor_gcs++;
});
gc_observer.observe({ entryTypes: ['gc'] });
const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 30));

const kinds = { sdk: sdk_pass, decode_apply: decode_apply_pass } as const;
const us: Record<keyof typeof kinds, number[]> = { sdk: [], decode_apply: [] };
const gcs: Record<keyof typeof kinds, number[]> = { sdk: [], decode_apply: [] };
const deltas_per_pass = frames.reduce((s, t) => s + t.filter((f) => f !== null).length, 0) * clients / views.length;
for (let run = 0; run <= runs; run++) {
  for (const name of ['sdk', 'decode_apply'] as const) {
    await turn();
    const gcs_before = minor_gcs;
    const value = kinds[name]();
    await turn();
    if (run === 0) continue; // warm-up
    us[name].push(value);
    gcs[name].push(((minor_gcs - gcs_before) * 100_000) / deltas_per_pass);
  }
}
gc_observer.disconnect();
for (const cl of sdk_clients) cl.close();

const sdk_us = median(us.sdk);
const base_us = median(us.decode_apply);
const result = {
  what: "The SDK's own CPU per Delta in Node without the socket (FeedClient.on_message: dispatch, decode, verify, apply, events, progress) vs DeltaReader.read + apply_delta_from alone, same frames, same run",
  clients,
  views: views.length,
  ticks,
  deltas_per_pass: Math.round(deltas_per_pass),
  runs,
  sdk_us_per_delta: round(sdk_us, 3),
  decode_apply_us_per_delta: round(base_us, 3),
  sdk_added_us_per_delta: round(sdk_us - base_us, 3),
  ratio_sdk_to_decode_apply: round(sdk_us / base_us, 2),
  sdk_minor_gcs_per_100k_deltas: round(median(gcs.sdk), 2),
  decode_apply_minor_gcs_per_100k_deltas: round(median(gcs.decode_apply), 2),
  runs_us_per_delta: { sdk: us.sdk.map((x) => round(x, 3)), decode_apply: us.decode_apply.map((x) => round(x, 3)) },
};
write_result('client_dispatch', result);
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
process.exit(0);
