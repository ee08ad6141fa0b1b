// What it measures (issue 6, "Benchmarks", end to end): the same clients, the
// same update stream and the same run against
//   depthcast  the real Feed + uWS server (engine stream from a MemoryBus),
//   uws        bare uWebSockets.js app.publish of the same pre-encoded frames (the limit),
//   ws         `ws` server, JSON.stringify + send per client (what users would write),
//   socketio   socket.io 4, rooms per view, io.to(view).emit(object),
//   nats       nats-server's WebSocket listener (transport floor; publisher over TCP),
// reporting delivered frames/s, server CPU per delivered frame and
// stamp-to-client latency p50/p99/p99.9/max.
//
// Paced windows (the latency numbers): --ticks-per-s ticks offered on a fixed
// schedule. The driver busy-waits the last stretch before a tick is due and
// stamps it with the time it really went out (harness/server_main.ts), so
// its own timer lateness is not server latency; that lateness is reported on
// its own (schedule lag), and the latency against the due time is a separate
// column (coordinated-omission corrected: a server that falls behind delays
// the following ticks, which shows there, not in the stamped figure).
// Stamps: for depthcast the engine time written into the events it ingests
// (ts_engine_ns of each Delta: engine → bus → ingest → views → encode → send
// → client), with the hops engine→ingest, ingest→send, send→receive from
// the frame's own stamps; for the baselines the time the frame was handed to
// the server (they have no engine or ingest in front). The floor of every
// latency: bare uWS app.publish of the same frames to the same clients in
// the same run (uws); ratios to it per round. The client process's own
// event-loop lag is reported beside (it adds to every sample). Saturation
// windows (delivered frames/s): as in e2e/fanout, one tick per loop turn,
// credit-limited.
//
// Cores (2): every server process (and nats-server with its publisher) pinned
// to core 0, each server's clients in one process pinned to core 1; servers
// are measured in alternation while all stay connected; raw WebSocket
// clients, 1 in --sample-every decodes and records latency. Latency is one
// host clock (performance.timeOrigin-based, so processes agree to µs).
// Caveats: socket.io and ws carry JSON objects, uws and nats the binary
// frames: each as its users would send them. On a shared machine other
// processes' CPU shows as runqueue wait.
// Run: npx tsx bench/e2e/transports.bench.ts [--clients N] [--ticks-per-s N] [--depths 10,50,0] [--rounds N] [--quick]
import './harness/quiet.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machine_description, round, si, write_result } from '../lib.js';
import { client_core, prime_ticks_default, server_core, start_pairs, type Pair, type TrialResult, type WindowSpec } from './harness/orchestrate.js';
import { make_recording, save_recording } from './harness/recording.js';
import { rotate, round_ratios, summarize_trials, window_line } from './harness/stats.js';
import { target_kinds, type TargetKind } from './harness/target.js';
import { arg, list_arg, quick } from './harness/args.js';

/** Depths every client subscribes to, for every symbol (more views = more frames per socket write). */
const depths = list_arg('--depths', [10]);
const clients = arg('--clients', quick ? 50 : 100);
const ticks_per_s = arg('--ticks-per-s', 50);
const rounds = arg('--rounds', quick ? 1 : 2);
const warmup_s = arg('--warmup-s', quick ? 0.3 : 1);
const measure_s = arg('--measure-s', quick ? 1 : 3);
const saturation_rounds = arg('--saturation-rounds', quick ? 0 : 1);
const window_ticks = arg('--window-ticks', 100);
const sample_every = arg('--sample-every', 10);
const orders_per_tick = arg('--orders-per-tick', 8);
/** Highest saturation tick rate the recording covers for depthcast (see e2e/fanout). */
const saturation_ticks_per_s_max = Math.min(3000, Math.ceil(600_000 / clients));
const kinds: TargetKind[] = [...target_kinds];

const started = performance.now();
const load_average_1m_start = machine_description().load_average_1m;
const dir = mkdtempSync(join(tmpdir(), 'depthcast-bench-transports-'));
const recording_path = join(dir, 'recording.bin');
const ticks = Math.ceil((ticks_per_s * rounds + saturation_ticks_per_s_max * saturation_rounds) * (warmup_s + measure_s) * 1.2) + prime_ticks_default;
const recording = await make_recording(ticks, orders_per_tick, depths);
save_recording(recording_path, recording);
process.stdout.write(`  recorded ${recording.meta.ticks} ticks (${recording.meta.frames} frames) in ${round((performance.now() - started) / 1000, 1)} s\n`);

const paced: WindowSpec = { mode: 'paced', ticks_per_s, window_ticks, warmup_s, measure_s };
const saturation: WindowSpec = { mode: 'saturation', ticks_per_s: 0, window_ticks, warmup_s, measure_s };
const trials: TrialResult[] = [];
let pairs: Pair[] = [];
try {
  pairs = await start_pairs(kinds.map((kind) => ({ kind, clients, sample_every, recording_path, views: recording.meta.views })));
  process.stdout.write(`  ${kinds.length} servers up with ${clients} clients each at ${round((performance.now() - started) / 1000, 1)} s\n`);
  const schedule: { w: WindowSpec; round: number }[] = [
    ...Array.from({ length: rounds }, (_, r) => ({ w: paced, round: r })),
    ...Array.from({ length: saturation_rounds }, (_, r) => ({ w: saturation, round: r })),
  ];
  for (const [i, { w, round: r }] of schedule.entries()) {
    for (const kind of rotate(kinds, i)) {
      const t = { ...(await pairs[kinds.indexOf(kind)].window(w)), round: r };
      trials.push(t);
      process.stdout.write(window_line(t, w.mode === 'paced' ? rounds : saturation_rounds));
    }
  }
} finally {
  for (const p of pairs) await p.close();
  rmSync(dir, { recursive: true, force: true });
}

if (trials.some((t) => t.stream_exhausted)) process.stdout.write('  WARNING: depthcast ran out of recorded ticks in a window (its numbers are cut short)\n');
const paced_summary = summarize_trials(trials.filter((t) => t.mode === 'paced'), kinds);
const saturation_summary = summarize_trials(trials.filter((t) => t.mode === 'saturation'), kinds);
const ratios: Record<string, unknown> = {};
for (const b of kinds.filter((k) => k !== 'depthcast')) {
  ratios[`depthcast_to_${b}_frames_per_server_cpu_s_paced`] = round_ratios(trials, 'depthcast', b, 'frames_per_server_cpu_s', 'paced');
  ratios[`depthcast_to_${b}_latency_p99_paced`] = round_ratios(trials, 'depthcast', b, (t) => t.latency_us.p99, 'paced');
  ratios[`depthcast_to_${b}_latency_p50_paced`] = round_ratios(trials, 'depthcast', b, (t) => t.latency_us.p50, 'paced');
  if (saturation_rounds > 0) {
    ratios[`depthcast_to_${b}_delivered_frames_per_s_saturation`] = round_ratios(trials, 'depthcast', b, 'delivered_frames_per_s', 'saturation');
    ratios[`depthcast_to_${b}_frames_per_server_cpu_s_saturation`] = round_ratios(trials, 'depthcast', b, 'frames_per_server_cpu_s', 'saturation');
  }
}
const m = machine_description();
const result = {
  what: 'same clients, stream and run against depthcast, bare uWS publish, ws per-client JSON, socket.io rooms, nats-server WebSocket: delivered frames/s, server CPU per frame, stamp-to-client latency',
  cores: `servers (and nats-server) pinned to core ${server_core}, clients in one process per server pinned to core ${client_core}; parent unpinned`,
  latency_stamp: 'depthcast: ts_engine_ns written into the ingested engine events; baselines: time the frame was handed to the server; paced ticks are stamped with the time they really went out (the driver busy-waits the last 1.5 ms before a due time), the driver\'s lateness is the schedule lag, latency against the due time is the CO-corrected column',
  floor: 'uws',
  workload: {
    clients, depths, views_per_client: recording.meta.views.length, views: recording.meta.views, orders_per_tick, tick_engine_ms: 1,
    paced_ticks_per_s: ticks_per_s, frames_per_tick: round(recording.meta.frames / recording.meta.ticks, 3),
    bytes_per_frame: Math.round(recording.meta.frame_bytes / recording.meta.frames),
    rounds, saturation_rounds, warmup_s, measure_s, window_ticks, sample_every,
  },
  paced: paced_summary,
  saturation: saturation_summary,
  ratios,
  trials,
  load_average_1m_start,
  duration_s: round((performance.now() - started) / 1000, 1),
};
// The default workload writes transports.json; others their own file, so both can stand in the README.
const path = write_result(depths.join(',') === '10' ? 'transports' : `transports_depths_${depths.join('_')}`, result);
const lines = [`transports bench on ${m.cpu_model} (${m.cores} cores, load ${m.load_average_1m}), node ${m.node}: ${clients} clients × ${recording.meta.views.length} views`];
lines.push(`  paced at ${ticks_per_s} ticks/s (${result.workload.frames_per_tick} frames/tick):`);
for (const k of kinds) {
  const s = paced_summary[k];
  if (s === undefined) continue;
  lines.push(`    ${k.padEnd(9)} ${si(s.delivered_frames_per_s)} frames/s${s.kept_up ? '' : ' (fell behind)'}, ${s.server_cpu_us_per_frame} µs server CPU/frame, ` +
    `latency p50/p99/p99.9/max ${s.latency_us.p50}/${s.latency_us.p99}/${s.latency_us.p99_9}/${s.latency_us.max} µs, ` +
    `CO-corrected p99 ${s.co_latency_us?.p99 ?? '–'} µs; schedule lag p99 ${s.schedule_lag_us?.p99 ?? '–'} µs, client loop lag p99 ${s.client_loop_lag_us.p99} µs`);
  if (s.hops_us !== null) lines.push(`      hops p50/p99 µs: ${Object.entries(s.hops_us).map(([h, v]) => `${h} ${v.p50}/${v.p99}`).join(', ')}`);
}
if (saturation_rounds > 0) {
  lines.push('  saturation:');
  for (const k of kinds) {
    const s = saturation_summary[k];
    if (s !== undefined) lines.push(`    ${k.padEnd(9)} ${si(s.delivered_frames_per_s)} frames/s, ${s.server_cpu_us_per_frame} µs server CPU/frame, bottleneck ${s.bottleneck}`);
  }
}
lines.push(`  wrote ${path} (${result.duration_s} s)`, '');
process.stdout.write(lines.join('\n'));
