// What it measures: the CPU the Feed spends per engine tick, without sockets,
// split into a fixed part and a part per subscriber, so e2e/fanout's numbers
// can be traced to code. The real Feed (MemoryBus ingest → books → views →
// one encode per view → per-session queue and corked flush) replays the
// recorded engine stream (bench/e2e/harness/recording.ts) one tick per
// event-loop turn, with N in-memory sessions subscribed to every symbol at
// depth 10 whose transport only counts frames.
//   fixed µs/tick       the Feed with 1 session
//   µs per session-tick (cost with N sessions − cost with 1) ÷ (N − 1)
//   bus µs/tick         MemoryBus alone: the tick's batches published to the
//                       Feed's four subscriptions, handlers doing nothing
// Baseline in the same run: the same recorded frames fanned out by a bare
// loop over N identical in-memory transports (cork + one send per frame): the
// least any per-socket fan-out from JavaScript does. ratio = baseline ÷ Feed
// per session-tick.
//
// CPU is this process's (process.cpuUsage), so the numbers hold on a shared
// machine; phases alternate, medians reported. Caveats: no kernel, no uWS
// (e2e/fanout has those); the in-memory transport is monomorphic here, the
// uWS one in production does a few native calls more per send.
// Run: npx tsx bench/micro/feed_fanout.bench.ts [--sessions N] [--ticks N] [--runs N] [--quick]
import '../e2e/harness/quiet.js';
import { MemoryBus } from '../../src/bus/memory_bus.js';
import { Subjects } from '../../src/bus/subjects.js';
import { Feed } from '../../src/feed/feed.js';
import type { ClientTransport } from '../../src/feed/transport.js';
import { FrameEncoder } from '../../src/wire/feed_encoder.js';
import { bench_config, event_timestamp_offsets, make_recording, patch_u64, serve_empty_snapshots } from '../e2e/harness/recording.js';
import { machine_description, round, write_result } from '../lib.js';
import { arg, quick } from '../e2e/harness/args.js';

const sessions = arg('--sessions', 200);
const ticks = arg('--ticks', quick ? 1500 : 5000);
const runs = arg('--runs', quick ? 1 : 3);
const prime_ticks = 1000;
const orders_per_tick = 8;
const started = performance.now();

const recording = await make_recording(prime_ticks + ticks, orders_per_tick, [10]);
const config = bench_config(orders_per_tick, recording.meta.symbols);
const prepared = recording.batches_by_tick.map((tick) => tick.map((b) => ({
  subject: b.subject, bytes: b.bytes, view: new DataView(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength), ts: event_timestamp_offsets(b.bytes),
})));
const measured_frames = recording.frames_by_tick.slice(prime_ticks).reduce((sum, t) => sum + t.length, 0);

const next_turn = (): Promise<void> => new Promise((resolve) => queueMicrotask(() => setImmediate(resolve)));
let frames_sent = 0;
function counting_transport(): ClientTransport {
  return { send: () => { frames_sent++; return 1; }, buffered_bytes: () => 0, cork: (fn) => fn(), end: () => {}, remote_address: 'bench' };
}

function cpu_us(): number {
  const c = process.cpuUsage();
  return c.user + c.system;
}

/** CPU µs per measured tick of the real Feed with n sessions. */
async function feed_cost(n: number): Promise<number> {
  const bus = new MemoryBus();
  serve_empty_snapshots(bus, config);
  const feed = new Feed(config, bus);
  feed.start();
  for (let i = 0; i < 400 && !feed.health().ready; i++) await new Promise((r) => setTimeout(r, 5));
  const subscribe = new FrameEncoder().subscribe({ symbols: config.symbols, depth: 10, interval_ms: 0 });
  for (let i = 0; i < n; i++) feed.on_client_frame(feed.open_session(counting_transport()), subscribe);
  const play = async (from: number, to: number): Promise<void> => {
    for (let k = from; k < to; k++) {
      for (const b of prepared[k]) {
        patch_u64(b.view, b.ts, Date.now() * 1e6);
        bus.publish(b.subject, b.bytes);
      }
      await next_turn();
    }
  };
  await play(0, prime_ticks);
  frames_sent = 0;
  const c0 = cpu_us();
  await play(prime_ticks, prime_ticks + ticks);
  const cost = (cpu_us() - c0) / ticks;
  if (frames_sent !== measured_frames * n) throw new Error(`feed sent ${frames_sent} frames to ${n} sessions; the recording has ${measured_frames} per session`);
  await feed.stop();
  await bus.close();
  return cost;
}

/** CPU µs per tick of the MemoryBus alone, with the Feed's subscriptions. */
async function bus_cost(): Promise<number> {
  const bus = new MemoryBus();
  const subjects = new Subjects(config.subject_prefix);
  let delivered = 0;
  for (const s of config.symbols) bus.subscribe(subjects.events(s), () => { delivered++; });
  const c0 = cpu_us();
  for (let k = prime_ticks; k < prime_ticks + ticks; k++) {
    for (const b of prepared[k]) bus.publish(b.subject, b.bytes);
    await next_turn();
  }
  const cost = (cpu_us() - c0) / ticks;
  await bus.close();
  if (delivered === 0) throw new Error('bus delivered nothing');
  return cost;
}

/** CPU µs per tick of the loop turns alone (what every phase pays to yield). */
async function turn_cost(): Promise<number> {
  const c0 = cpu_us();
  for (let k = 0; k < ticks; k++) await next_turn();
  return (cpu_us() - c0) / ticks;
}

/** CPU µs per tick of a bare fan-out of the recorded frames to n transports. */
async function bare_cost(n: number): Promise<number> {
  const transports = Array.from({ length: n }, counting_transport);
  frames_sent = 0;
  const c0 = cpu_us();
  for (let k = prime_ticks; k < prime_ticks + ticks; k++) {
    const frames = recording.frames_by_tick[k];
    if (frames.length > 0) {
      for (const t of transports) {
        t.cork(() => {
          for (const f of frames) t.send(f.bytes);
        });
      }
    }
    await next_turn();
  }
  const cost = (cpu_us() - c0) / ticks;
  if (frames_sent !== measured_frames * n) throw new Error('bare fan-out lost frames');
  return cost;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const samples = { feed_1: [] as number[], feed_n: [] as number[], bus: [] as number[], turn: [] as number[], bare_1: [] as number[], bare_n: [] as number[] };
await feed_cost(1); // warm-up of every path
await bare_cost(sessions);
for (let r = 0; r < runs; r++) {
  samples.feed_1.push(await feed_cost(1));
  samples.feed_n.push(await feed_cost(sessions));
  samples.bus.push(await bus_cost());
  samples.turn.push(await turn_cost());
  samples.bare_1.push(await bare_cost(1));
  samples.bare_n.push(await bare_cost(sessions));
}

const frames_per_tick = measured_frames / ticks;
const feed_fixed = median(samples.feed_1);
const feed_per_session = (median(samples.feed_n) - feed_fixed) / (sessions - 1);
const bare_per_session = (median(samples.bare_n) - median(samples.bare_1)) / (sessions - 1);
const result = {
  what: 'Feed CPU per engine tick without sockets: fixed part and per subscriber, vs a bare per-socket fan-out loop of the same frames',
  baseline: 'the recorded frames sent by a bare loop (cork + send per frame) to the same in-memory transports',
  sessions,
  ticks,
  runs,
  frames_per_tick: round(frames_per_tick, 3),
  events_per_tick: round(recording.meta.events / recording.meta.ticks, 2),
  feed_fixed_us_per_tick: round(feed_fixed, 2),
  feed_us_per_session_tick: round(feed_per_session, 3),
  feed_us_per_frame_per_session: round(feed_per_session / frames_per_tick, 3),
  feed_us_per_tick_with_n_sessions: round(median(samples.feed_n), 1),
  memory_bus_us_per_tick: round(median(samples.bus) - median(samples.turn), 2),
  loop_turn_us: round(median(samples.turn), 2),
  bare_us_per_session_tick: round(bare_per_session, 3),
  ratio_bare_to_feed_per_session: round(bare_per_session / feed_per_session, 3),
  samples_us_per_tick: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, v.map((x) => round(x, 2))])),
  duration_s: round((performance.now() - started) / 1000, 1),
};
const path = write_result('feed_fanout', result);
const m = machine_description();
process.stdout.write([
  `feed fan-out cost on ${m.cpu_model} (${m.cores} cores, load ${m.load_average_1m}), node ${m.node}; ${result.frames_per_tick} frames and ${result.events_per_tick} events per tick`,
  `  Feed fixed:          ${result.feed_fixed_us_per_tick} µs CPU per tick (of which MemoryBus ${result.memory_bus_us_per_tick} µs, loop turn ${result.loop_turn_us} µs)`,
  `  Feed per session:    ${result.feed_us_per_session_tick} µs per session-tick (${result.feed_us_per_frame_per_session} µs per frame), ${sessions} sessions: ${result.feed_us_per_tick_with_n_sessions} µs per tick`,
  `  bare fan-out loop:   ${result.bare_us_per_session_tick} µs per session-tick → ratio bare/Feed ${result.ratio_bare_to_feed_per_session}`,
  `  wrote ${path} (${result.duration_s} s)`,
  '',
].join('\n'));
