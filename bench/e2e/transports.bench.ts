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
import { machine_description, round, si, write_result } from '../lib.js';
import { client_core, prime_ticks_default, server_core, type TrialResult, type WindowSpec } from './harness/orchestrate.js';
import { measure_in_turn, paired_run_options, recording_workload, start_paired_run, stream_exhausted_warning, ticks_per_s_max_default } from './harness/setup.js';
import { round_ratios, summarize_trials } from './harness/stats.js';
import { target_kinds, type TargetKind } from './harness/target.js';
import { arg, quick } from './harness/args.js';

const { depths, clients, rounds, warmup_s, measure_s, window_ticks, sample_every, orders_per_tick } = paired_run_options({ clients: quick ? 50 : 100, rounds: quick ? 1 : 2 });
const ticks_per_s = arg('--ticks-per-s', 50);
const saturation_rounds = arg('--saturation-rounds', quick ? 0 : 1);
/** Highest saturation tick rate the recording covers for depthcast (see harness/setup.ts). */
const saturation_ticks_per_s_max = ticks_per_s_max_default(clients);
const kinds: TargetKind[] = [...target_kinds];

const started = performance.now();
const load_average_1m_start = machine_description().load_average_1m;
const ticks = Math.ceil((ticks_per_s * rounds + saturation_ticks_per_s_max * saturation_rounds) * (warmup_s + measure_s) * 1.2) + prime_ticks_default;
const run = await start_paired_run({ bench: 'transports', kinds, ticks, orders_per_tick, depths, clients, sample_every, started_ms: started });
const { recording } = run;

const paced: WindowSpec = { mode: 'paced', ticks_per_s, window_ticks, warmup_s, measure_s };
const saturation: WindowSpec = { mode: 'saturation', ticks_per_s: 0, window_ticks, warmup_s, measure_s };
const trials: TrialResult[] = [];
try {
  const schedule: { w: WindowSpec; round: number }[] = [
    ...Array.from({ length: rounds }, (_, r) => ({ w: paced, round: r })),
    ...Array.from({ length: saturation_rounds }, (_, r) => ({ w: saturation, round: r })),
  ];
  for (const [i, { w, round: r }] of schedule.entries()) {
    trials.push(...await measure_in_turn(run.pairs, kinds, w, r, i, w.mode === 'paced' ? rounds : saturation_rounds));
  }
} finally {
  await run.close();
}

if (trials.some((t) => t.stream_exhausted)) process.stdout.write(stream_exhausted_warning);
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
  workload: { ...recording_workload(recording, clients), paced_ticks_per_s: ticks_per_s, rounds, saturation_rounds, warmup_s, measure_s, window_ticks, sample_every },
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
