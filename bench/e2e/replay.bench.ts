// What it measures: how fast `depthcast replay --speed max` plays a recording
// into a feed, in book events per second, against the rate the live engine
// published that same recording at, in the same run. Also what recording
// costs: bytes per event on disk.
//
// Setup: embedded bus (MemoryBus), all in this process. Live: engine at
// --rate orders/s over the 4 default symbols for --seconds, a recorder and a
// feed with 2 WebSocket clients (depth 10 and full book, every symbol). Then
// --runs replays at max speed of that recording, each into a fresh feed with
// the same 2 clients, timed from play() to the last record published and to
// the clients holding the final books (the feed took it all). Medians.
// Caveats: 2 cores shared by engine/replay, feed, clients and whatever else
// runs; the replay's pace is the feed's (it yields every
// --replay-chunk-events-max events), so this is a feed-bound number. The live
// rate is the engine's configured flow, not its ceiling.
// Run: npx tsx bench/e2e/replay.bench.ts [--rate 2000] [--seconds 10] [--runs 5] [--chunk 4096]
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { start_feed_service } from '../../src/app.js';
import { MemoryBus } from '../../src/bus/memory_bus.js';
import { type Config, default_config } from '../../src/config.js';
import { start_engine } from '../../src/engine/engine.js';
import { start_recorder } from '../../src/record/recorder.js';
import { start_replay } from '../../src/record/replay.js';
import { ProtocolClient } from '../../test/helpers/protocol_client.js';
import { median, round, write_result } from '../lib.js';
import { arg } from './harness/args.js';

const seconds = arg('--seconds', 10);
const runs = arg('--runs', 5);
const chunk_events_max = arg('--chunk', 4096);
const dir = mkdtempSync(join(tmpdir(), 'depthcast-replay-bench-'));
const config: Config = {
  ...default_config(), port: 0, ui: false, log_level: 'warn', rate_orders_per_s: arg('--rate', 2000), recording_dir: dir,
};
/** One client per depth, subscribed to every symbol. */
const depths = [10, 0];

async function feed_with_clients(bus: MemoryBus) {
  const feed = await start_feed_service(config, bus);
  const clients: ProtocolClient[] = [];
  for (const depth of depths) {
    const c = await ProtocolClient.connect(feed.url);
    c.subscribe(config.symbols, depth);
    clients.push(c);
  }
  return { feed, clients, async stop() { for (const c of clients) c.close(); await feed.stop(); } };
}

// Live: record the engine.
const live_bus = new MemoryBus();
const recorder = start_recorder(config, live_bus);
const engine = await start_engine(config, live_bus);
const live = await feed_with_clients(live_bus);
await sleep(1000); // books built, JIT warm
const events_before = engine.stats().events;
const t_live = performance.now();
await sleep(seconds * 1000);
const live_events = engine.stats().events - events_before;
const live_s = (performance.now() - t_live) / 1000;
engine.pause(600_000);
await sleep(500);
const final = Object.fromEntries(config.symbols.map((s) => [s, engine.snapshot(s).seq]));
await recorder.stop();
const recorded = recorder.stats();
await live.stop();
await engine.stop();

interface Run { events: number; publish_s: number; taken_s: number }
async function replay_once(): Promise<Run> {
  const bus = new MemoryBus();
  const replay = start_replay({
    recording_dir: dir, subject_prefix: config.subject_prefix, speed: 'max', loop: false, chunk_events_max,
    heartbeat_interval_ms: config.engine_heartbeat_interval_ms,
  }, bus);
  const f = await feed_with_clients(bus);
  for (let t0 = Date.now(); !config.symbols.every((s) => f.clients.every((c, i) => c.book(s, depths[i]) !== undefined));) {
    if (Date.now() - t0 > 20_000) throw new Error('replay feed never went live');
    await sleep(20);
  }
  const t0 = performance.now();
  await replay.play();
  const publish_s = (performance.now() - t0) / 1000;
  while (!config.symbols.every((s) => f.clients.every((c, i) => c.book(s, depths[i])?.seq === final[s]))) await new Promise((r) => setImmediate(r));
  const taken_s = (performance.now() - t0) / 1000;
  const events = replay.status().events;
  const violations = f.clients.flatMap((c) => c.violations);
  if (violations.length > 0) throw new Error(`replayed clients saw protocol violations: ${violations.slice(0, 3).join('; ')}`);
  await replay.stop();
  await f.stop();
  return { events, publish_s, taken_s };
}

await replay_once(); // warm-up
const got: Run[] = [];
for (let i = 0; i < runs; i++) got.push(await replay_once());
rmSync(dir, { recursive: true, force: true });

const live_eps = live_events / live_s;
const replay_eps = median(got.map((r) => r.events / r.taken_s));
const result = {
  what: 'replay --speed max into a feed with 2 clients (depth 10 and full, every symbol), book events/s until the clients hold the final books, against the live engine\'s publish rate of the same recording, same run',
  rate_orders_per_s: config.rate_orders_per_s, seconds_recorded: round(live_s, 2), symbols: config.symbols.length, runs, chunk_events_max,
  live: { events: live_events, events_per_s: Math.round(live_eps) },
  recording: { records: recorded.records, bytes: recorded.bytes, bytes_per_event: round(recorded.bytes / Math.max(1, median(got.map((r) => r.events))), 1), checkpoints: recorded.checkpoints, segments: recorded.segments_started },
  replay_max: {
    events_median: median(got.map((r) => r.events)),
    events_per_s_median: Math.round(replay_eps),
    publish_events_per_s_median: Math.round(median(got.map((r) => r.events / r.publish_s))),
    seconds: got.map((r) => round(r.taken_s, 3)),
  },
  ratios: { replay_max_over_live: round(replay_eps / live_eps, 1) },
};
const path = write_result('replay', result);
process.stdout.write(`${JSON.stringify(result, null, 2)}\nwrote ${path}\n`);
process.exit(0);
