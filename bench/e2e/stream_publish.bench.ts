// What it measures: the live path's two candidates for the engine's event
// batches on one nats-server with JetStream, the durable stream capturing the
// events subjects in both (as in production):
//   core       NatsBus.publish (fire and forget); the stream stores a copy
//   jetstream  JetStream publish awaiting each PubAck, a window of 64 in flight
// For each: flat-out throughput (batches/s until a subscriber on its own
// connection has them all) and, paced at a live-like 1,000 batches/s, the
// publish → subscriber latency (p50, p99) — what a feed would see.
// Ratios jetstream ÷ core in the same run. The batches are the engine's own
// (generate_event_batches: same sizes and subjects as the live engine).
//
// Caveats: 2 cores — this process (publisher + subscriber) on one, nats-server
// (file store) on the other. Runs alternate; medians.
// Run: npx tsx bench/e2e/stream_publish.bench.ts [--orders N] [--runs N]
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { NatsBus } from '../../src/bus/nats_bus.js';
import { Subjects } from '../../src/bus/subjects.js';
import { type Config, default_config } from '../../src/config.js';
import { generate_event_batches } from '../../src/engine/engine.js';
import { start_nats_server } from '../../test/helpers/nats_server.js';
import { median, round, write_result } from '../lib.js';
import { arg } from './harness/args.js';

const orders = arg('--orders', 60_000);
const runs = arg('--runs', 3);
const paced_batches = arg('--paced-batches', 2000);
const window = 64;
const config: Config = { ...default_config(), rate_orders_per_s: 20_000, log_level: 'warn' };
const subjects = new Subjects('bench');

const server = await start_nats_server({ jetstream: true });
const pub_bus = await NatsBus.connect({ url: server.url, name: 'bench-pub', reconnect_wait_ms: 200 });
const stream = pub_bus.event_stream(subjects);
await stream.ensure({ age_s_max: 600, bytes_max: 4 * 1024 ** 3, replicas: 1 });
const js_nc = await connect({ servers: server.url, name: 'bench-js-pub' });
const js = jetstream(js_nc);
const sub_bus = await NatsBus.connect({ url: server.url, name: 'bench-sub', reconnect_wait_ms: 200 });

const batches = generate_event_batches({ ...config, subject_prefix: 'bench' }, { orders, epoch: 1 });
const bytes_total = batches.reduce((s, b) => s + b.bytes.byteLength, 0);

// Messages arrive in publish order (one publishing connection): the i-th received is the i-th published.
let received = 0;
let sent_at: Float64Array = new Float64Array(0);
let latencies: number[] = [];
sub_bus.subscribe(subjects.events_all, () => {
  if (received < sent_at.length && sent_at[received] > 0) latencies.push(performance.now() - sent_at[received]);
  received++;
});
await sub_bus.flush();

type Mode = 'core' | 'jetstream';

async function until_received(n: number): Promise<void> {
  for (let i = 0; received < n; i++) {
    if (i > 60_000) throw new Error(`subscriber got ${received} of ${n}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Publishes `list`; `gap_ms` > 0 paces one batch per gap. Returns when the subscriber has all. */
async function publish_all(mode: Mode, list: typeof batches, gap_ms: number): Promise<void> {
  received = 0;
  latencies = [];
  sent_at = new Float64Array(list.length);
  const in_flight = new Set<Promise<unknown>>();
  let next_at = performance.now();
  for (let i = 0; i < list.length; i++) {
    if (gap_ms > 0) {
      next_at += gap_ms;
      while (performance.now() < next_at) await new Promise((r) => setImmediate(r));
    }
    sent_at[i] = performance.now();
    if (mode === 'core') {
      pub_bus.publish(list[i].subject, list[i].bytes);
      if (gap_ms === 0 && i % 256 === 255) await new Promise((r) => setImmediate(r));
    } else {
      const p = js.publish(list[i].subject, list[i].bytes).finally(() => in_flight.delete(p));
      in_flight.add(p);
      if (in_flight.size >= window) await Promise.race(in_flight);
    }
  }
  await Promise.all(in_flight);
  await pub_bus.flush();
  await until_received(list.length);
}

function pct(list: number[], q: number): number {
  const s = [...list].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

const flat: Record<Mode, number[]> = { core: [], jetstream: [] };
const p50: Record<Mode, number[]> = { core: [], jetstream: [] };
const p99: Record<Mode, number[]> = { core: [], jetstream: [] };
const paced = batches.slice(0, paced_batches);
const stored_before = (await stream.info())?.messages ?? 0;
for (let run = 0; run < runs; run++) {
  for (const mode of (run % 2 === 0 ? ['core', 'jetstream'] : ['jetstream', 'core']) as Mode[]) {
    const t0 = performance.now();
    await publish_all(mode, batches, 0);
    flat[mode].push(batches.length / ((performance.now() - t0) / 1000));
    await publish_all(mode, paced, 1);
    p50[mode].push(pct(latencies, 0.5));
    p99[mode].push(pct(latencies, 0.99));
  }
}
const stored = ((await stream.info())?.messages ?? 0) - stored_before;
const expected_stored = runs * 2 * (batches.length + paced.length);

const result = {
  what: 'engine event batches on the live path: core NATS publish (stream captures) vs JetStream publish awaiting acks (window 64), one nats-server -js, file store',
  batches: batches.length, bytes_per_batch_mean: round(bytes_total / batches.length, 1), runs,
  stored_in_stream: stored, expected_stored,
  core: { batches_per_s: round(median(flat.core), 0), paced_latency_ms_p50: round(median(p50.core), 3), paced_latency_ms_p99: round(median(p99.core), 3) },
  jetstream: { batches_per_s: round(median(flat.jetstream), 0), paced_latency_ms_p50: round(median(p50.jetstream), 3), paced_latency_ms_p99: round(median(p99.jetstream), 3) },
  ratios: {
    throughput_jetstream_over_core: round(median(flat.jetstream) / median(flat.core), 3),
    latency_p50_jetstream_over_core: round(median(p50.jetstream) / median(p50.core), 2),
    latency_p99_jetstream_over_core: round(median(p99.jetstream) / median(p99.core), 2),
  },
  chosen: 'core NATS for the live path; the stream captures the same subjects and serves recovery',
};
const path = write_result('stream_publish', result);
process.stdout.write(`${JSON.stringify(result, null, 2)}\nwrote ${path}\n`);
await js_nc.close();
await pub_bus.close();
await sub_bus.close();
await server.stop();
