// What it measures: the SDK's cost per Delta, decode + verify + apply + the
// two latency samples, on a depth-10 view: what FeedClient.on_message does per
// streaming frame, without the socket and the events.
//   sdk (subject): DeltaReader.read (checks the frame in place) +
//     ClientBook.apply_delta_from + HopRecorder.record x2 (resolved once);
//   decoder (baseline, the SDK's path before issue 11): decode_server_frame
//     (a DeltaMsg with level and trade objects) + ClientBook.apply_delta +
//     HopHistograms.record by name x2.
// Both apply the same pre-encoded stream (1..4 level changes per side, a
// trade in 30% of frames, real digests) to a fresh book per pass of the
// stream; every verdict must be 'ok' (checked per frame: a path that skipped
// work would be refused). Reported: µs per Delta (median of runs, runs
// alternate), the ratio in the same run, and minor GCs per 100k Deltas (V8's
// young-generation collections: the allocation on each path, as V8 sees it).
// The stream is --frames Deltas (~300 B each) applied --passes times: small
// enough to stay in cache, as a frame just read from the socket is.
// Caveats: one core; ClientBook.apply_delta now runs through a small
// adapter (book.ts ArrayDelta), so the baseline is today's decoder on
// today's book; the snapshot load at the start of each pass (1 per
// --frames) is in both timings.
// Run: npx tsx bench/micro/client_delta.bench.ts [--frames N] [--runs N]
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { ClientBook } from '../../src/client/book.js';
import { digest_of } from '../../src/book/digest.js';
import { side_ask, side_bid, type L2Level, type Side } from '../../src/book/types.js';
import { HopHistograms, client_hops } from '../../src/metrics/hop_histograms.js';
import { seeded_random } from '../../src/util/random.js';
import { body_delta, DeltaReader } from '../../src/wire/delta_reader.js';
import { decode_server_frame } from '../../src/wire/feed_decoder.js';
import { FrameEncoder } from '../../src/wire/feed_encoder.js';
import { median, round, write_result } from '../lib.js';
import { arg } from '../e2e/harness/args.js';

const frames = arg('--frames', 4000);
const runs = arg('--runs', 7);
const passes = arg('--passes', 50);
const depth = 10;

/** A depth-10 view's snapshot and `frames` Deltas after it (the book's top 10 per side stays exactly 10 levels). */
function stream(): { snapshot: Uint8Array; deltas: Uint8Array[] } {
  const r = seeded_random(11);
  const enc = new FrameEncoder();
  const bids = new Map<number, L2Level>();
  const asks = new Map<number, L2Level>();
  // 10 fixed prices per side; changes only resize them (size > 0), so the window never moves.
  for (let i = 0; i < depth; i++) {
    bids.set(6_500_000 - i, { price: 6_500_000 - i, size: 10 + i, orders: 1 });
    asks.set(6_500_001 + i, { price: 6_500_001 + i, size: 10 + i, orders: 1 });
  }
  const snap = enc.snapshot({ symbol: 'BTC-USD', depth, epoch: 3, seq: 1, digest: digest_of([...bids.values()], [...asks.values()]), tick_size: '0.01', lot_size: '0.0001',
    price_decimals: 2, size_decimals: 4, bids: [...bids.values()], asks: [...asks.values()], ts_engine_ns: 1.7e18, ts_ingest_ns: 1.7e18, ts_send_ns: 1.7e18 });
  const deltas: Uint8Array[] = [];
  for (let f = 0; f < frames; f++) {
    const changed = (side: Side, book: Map<number, L2Level>): L2Level[] => {
      const out: L2Level[] = [];
      for (let k = 1 + Math.floor(r() * 4); k > 0; k--) {
        const price = side === side_bid ? 6_500_000 - Math.floor(r() * depth) : 6_500_001 + Math.floor(r() * depth);
        const level = { price, size: 1 + Math.floor(r() * 500), orders: 1 + Math.floor(r() * 9) };
        book.set(price, level);
        out.push(level);
      }
      return out;
    };
    const b = changed(side_bid, bids);
    const a = changed(side_ask, asks);
    const trades = r() < 0.3 ? [{ trade_id: f + 1, price: 6_500_001, size: 2, ts_engine_ns: 1.7e18, aggressor: side_bid }] : [];
    deltas.push(enc.delta({ symbol: 'BTC-USD', depth, epoch: 3, seq_first: f + 2, seq: f + 2, digest: digest_of([...bids.values()], [...asks.values()]),
      bids: b, asks: a, trades, trade_aggregate: null, updates_merged: 1, conflated: false, ts_engine_ns: 1.7e18, ts_ingest_ns: 1.7e18 + 2e4, ts_send_ns: 1.7e18 + 4e4 }));
  }
  return { snapshot: snap, deltas };
}

const { snapshot, deltas } = stream();
const decoded_snapshot = decode_server_frame(snapshot);
if (decoded_snapshot.type !== 'snapshot') throw new Error('stream(): not a snapshot');
const snapshot_msg = decoded_snapshot;
const receive_ns = 1.7e18 + 1e5;

function sdk_path(hops: HopHistograms): number {
  const reader = new DeltaReader();
  const e2r = hops.recorder('engine_to_receive');
  const s2r = hops.recorder('send_to_receive');
  let n = 0;
  for (let p = 0; p < passes; p++) {
    const book = new ClientBook('BTC-USD', depth);
    if (book.load_snapshot(snapshot_msg) !== 'ok') throw new Error('snapshot refused');
    for (const bytes of deltas) {
      if (reader.read(bytes) !== body_delta) throw new Error('not a Delta');
      if (book.apply_delta_from(reader) !== 'ok') throw new Error(`sdk path: ${book.last_problem}`);
      e2r.record(receive_ns - reader.ts_engine_ns);
      s2r.record(receive_ns - reader.ts_send_ns);
      n++;
    }
  }
  return n;
}

function decoder_path(hops: HopHistograms): number {
  let n = 0;
  for (let p = 0; p < passes; p++) {
    const book = new ClientBook('BTC-USD', depth);
    if (book.load_snapshot(snapshot_msg) !== 'ok') throw new Error('snapshot refused');
    for (const bytes of deltas) {
      const msg = decode_server_frame(bytes);
      if (msg.type !== 'delta') throw new Error('not a Delta');
      if (book.apply_delta(msg) !== 'ok') throw new Error(`decoder path: ${book.last_problem}`);
      hops.record('engine_to_receive', receive_ns - msg.ts_engine_ns);
      hops.record('send_to_receive', receive_ns - msg.ts_send_ns);
      n++;
    }
  }
  return n;
}

// Minor GCs (scavenges) seen while a path ran; entries arrive asynchronously (later than setImmediate), so each run is followed by a short wait.
let minor_gcs = 0;
const gc_observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor_gcs++;
});
gc_observer.observe({ entryTypes: ['gc'] });
const turn = () => new Promise<void>((resolve) => setTimeout(resolve, 30));

const paths = { sdk: sdk_path, decoder: decoder_path } as const;
const us_per_delta: Record<keyof typeof paths, number[]> = { sdk: [], decoder: [] };
const gcs_per_100k: Record<keyof typeof paths, number[]> = { sdk: [], decoder: [] };
for (let run = 0; run <= runs; run++) {
  for (const name of ['sdk', 'decoder'] as const) {
    const hops = new HopHistograms(client_hops);
    await turn();
    const gcs_before = minor_gcs;
    const t0 = performance.now();
    const n = paths[name](hops);
    const ms = performance.now() - t0;
    await turn();
    if (run === 0) continue; // warm-up
    us_per_delta[name].push((ms * 1000) / n);
    gcs_per_100k[name].push(((minor_gcs - gcs_before) * 100_000) / n);
  }
}
gc_observer.disconnect();

const sdk_us = median(us_per_delta.sdk);
const decoder_us = median(us_per_delta.decoder);
const result = {
  what: 'SDK cost per Delta (decode + verify + apply + 2 latency samples) on a depth-10 view: DeltaReader + apply_delta_from vs decode_server_frame + apply_delta, same stream, same run',
  frames_per_pass: frames,
  passes,
  runs,
  delta_frame_bytes_mean: round(deltas.reduce((s, d) => s + d.length, 0) / deltas.length, 1),
  sdk_us_per_delta: round(sdk_us, 3),
  decoder_us_per_delta: round(decoder_us, 3),
  ratio_decoder_to_sdk: round(decoder_us / sdk_us, 2),
  goal_us_per_delta_max: 2,
  goal_met: sdk_us <= 2,
  sdk_minor_gcs_per_100k_deltas: round(median(gcs_per_100k.sdk), 2),
  decoder_minor_gcs_per_100k_deltas: round(median(gcs_per_100k.decoder), 2),
  runs_us_per_delta: { sdk: us_per_delta.sdk.map((x) => round(x, 3)), decoder: us_per_delta.decoder.map((x) => round(x, 3)) },
};
write_result('client_delta', result);
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
