// What it measures: how fast the engine publishes book events onto a real
// nats-server (events/s, batches/s, MB/s), counted as received by a subscriber
// on its own connection, so every byte really went through the server.
// The engine runs flat out: EngineCore (generator, matcher, publisher,
// encoder) on a virtual clock that advances 1 ms per turn of the event loop
// at --rate orders/s (default 200k/s over the four default symbols, about
// 240k events/s of simulated time), yielding to I/O between turns as the
// live engine does when behind.
//
// Baseline in the same run: the very same batches, pre-encoded (same bytes,
// same sizes, same subjects), published with NatsBus.publish with the same
// yield pattern. ratio = engine ÷ baseline: the share of the bus's throughput
// the engine keeps while also generating, matching and encoding.
//
// Caveats: 2 cores — this process (engine + a subscriber that only counts)
// on one thread, nats-server on the other core. Runs alternate; medians.
// Run: npx tsx bench/e2e/publish.bench.ts [--orders N] [--runs N] [--rate N]
import { NatsBus } from '../../src/bus/nats_bus.js';
import { Subjects } from '../../src/bus/subjects.js';
import { type Config, default_config } from '../../src/config.js';
import { generate_event_batches } from '../../src/engine/engine.js';
import { EngineCore } from '../../src/engine/engine_core.js';
import { start_nats_server } from '../../test/helpers/nats_server.js';
import { compare, machine_description, round, si, write_result } from '../lib.js';
import { arg } from './harness/args.js';

const orders = arg('--orders', 800_000);
const runs = arg('--runs', 3);
const config: Config = { ...default_config(), rate_orders_per_s: arg('--rate', 200_000), log_level: 'warn' };
const subjects = new Subjects(config.subject_prefix);
const tick_ns = 1e6;
const start_ns = 1.7e18;
const epoch = 1;

const started = performance.now();
const server = await start_nats_server();
const publisher_bus = await NatsBus.connect({ url: server.url, name: 'bench-publisher', reconnect_wait_ms: 200 });
const subscriber_bus = await NatsBus.connect({ url: server.url, name: 'bench-subscriber', reconnect_wait_ms: 200 });
let received = 0;
subscriber_bus.subscribe(subjects.events_all, () => { received++; });
await subscriber_bus.flush();

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Waits until the subscriber has every message published so far. */
async function drained(expected: number): Promise<void> {
  await publisher_bus.flush();
  for (let i = 0; received < expected; i++) {
    if (i > 10_000) throw new Error(`subscriber got ${received} of ${expected} messages`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

// The stream both sides publish (deterministic: same config, same bytes).
const batches = generate_event_batches(config, { orders, epoch, start_ns, tick_ns });
let events = 0;
let bytes = 0;
let turns = 0;
for (const b of batches) bytes += b.bytes.byteLength;

async function run_engine(): Promise<number> {
  received = 0;
  let now = start_ns;
  let published = 0;
  const core = new EngineCore({
    config, subjects, epoch, clock_ns: () => now,
    publish: (subject, data) => { publisher_bus.publish(subject, data); published++; },
  });
  core.start();
  turns = 0;
  for (let done = 0; done < orders; turns++) {
    now += tick_ns;
    done += core.advance(now, orders - done);
    await turn();
  }
  core.flush();
  await drained(published);
  if (published !== batches.length) throw new Error(`engine published ${published} batches, the recorded stream has ${batches.length}`);
  events = Object.values(core.stats_by_symbol()).reduce((sum, s) => sum + s.events, 0);
  return events;
}

async function run_baseline(): Promise<number> {
  received = 0;
  const per_turn = Math.max(1, Math.round(batches.length / Math.max(1, turns)));
  for (let i = 0; i < batches.length; i++) {
    publisher_bus.publish(batches[i].subject, batches[i].bytes);
    if (i % per_turn === per_turn - 1) await turn();
  }
  await drained(batches.length);
  return events;
}

await run_engine(); // sets `events` and `turns` for the baseline's pacing
const comparison = await compare(run_engine, run_baseline, runs);
const batches_per_event = batches.length / events;
const bytes_per_event = bytes / events;
const rates = (events_per_s: number) => ({
  events_per_s: events_per_s,
  batches_per_s: Math.round(events_per_s * batches_per_event),
  megabytes_per_s: round((events_per_s * bytes_per_event) / 1e6, 2),
});

const result = {
  what: 'engine (generator + matcher + publisher + encoder) publishing onto a real nats-server, counted at a subscriber',
  baseline: 'the same pre-encoded batches published with NatsBus.publish, same yield pattern',
  orders,
  events,
  batches: batches.length,
  bytes,
  events_per_batch: round(events / batches.length, 1),
  bytes_per_batch: Math.round(bytes / batches.length),
  config: { rate_orders_per_s: config.rate_orders_per_s, batch_events_max: config.batch_events_max, batch_bytes_max: config.batch_bytes_max, batch_interval_ms_max: config.batch_interval_ms_max, symbols: config.symbols },
  runs,
  engine: { ...rates(comparison.subject.ops_per_s), runs_events_per_s: comparison.subject.runs_ops_per_s },
  baseline_raw_publish: { ...rates(comparison.baseline.ops_per_s), runs_events_per_s: comparison.baseline.runs_ops_per_s },
  ratio_engine_to_baseline: comparison.ratio,
  goal_events_per_s: 200_000,
  meets_goal: comparison.subject.ops_per_s >= 200_000,
  cores: '2: this process (engine and counting subscriber, one thread) + nats-server',
  duration_s: 0,
};
await publisher_bus.close();
await subscriber_bus.close();
await server.stop();
result.duration_s = round((performance.now() - started) / 1000, 1);
const path = write_result('publish', result);
const m = machine_description();
process.stdout.write([
  `publish bench on ${m.cpu_model} (${m.cores} cores, load ${m.load_average_1m}), node ${m.node}, nats-server`,
  `  ${si(events)} events in ${batches.length} batches (${result.events_per_batch} events, ${result.bytes_per_batch} bytes each)`,
  `  engine → NATS → subscriber: ${si(result.engine.events_per_s)} events/s, ${si(result.engine.batches_per_s)} batches/s, ${result.engine.megabytes_per_s} MB/s`,
  `  baseline raw publish:       ${si(result.baseline_raw_publish.events_per_s)} events/s, ${si(result.baseline_raw_publish.batches_per_s)} batches/s, ${result.baseline_raw_publish.megabytes_per_s} MB/s`,
  `  ratio engine/baseline ${result.ratio_engine_to_baseline}; goal 200k events/s: ${result.meets_goal ? 'met' : 'NOT met'}`,
  `  wrote ${path} (${result.duration_s} s)`,
  '',
].join('\n'));
